// Package routes reads ROUTES_FILE: the custom-robot-compatible webhooks
// and the Alertmanager receivers, in YAML. It validates the whole file and
// reports every mistake on a line of its own, naming the entry and the
// field; tokens and secrets appear in no message. A Table holds the routes
// in force and reloads them (on SIGHUP), keeping the old ones when the new
// file is wrong.
package routes

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/dingrecall/dingrecall/dropin/alertmanager"
	"github.com/dingrecall/dingrecall/dropin/webhook"
)

// DefaultNoticeTTL is the noticeTTL of a recall+notify route that sets none.
const DefaultNoticeTTL = time.Hour

// Options are the limits the routes are checked against.
type Options struct {
	// MaxTTL bounds ttl and noticeTTL: a message must still be tracked, and
	// within DingTalk's 24 hours, when it falls due.
	MaxTTL time.Duration
	// Lang is the language of the built-in alert template, which a route's
	// template file builds on (BOT_LANG).
	Lang string
	// Bots are the names a route's bot field may give (BOTS_FILE's bots
	// and "default" when the single-app settings define it); nil takes any
	// name (the fleet refuses an unknown one when the route is used).
	Bots []string
}

// Set is one reading of the file.
type Set struct {
	webhooks  map[[32]byte]webhook.Route
	receivers map[string]alertmanager.Route
	// names are the route names in file order, for logs.
	webhookNames, receiverNames []string
}

// Webhook returns the webhook route of an access_token.
func (s *Set) Webhook(token string) (webhook.Route, bool) {
	if token == "" {
		return webhook.Route{}, false
	}
	r, ok := s.webhooks[sha256.Sum256([]byte(token))]
	return r, ok
}

// Receiver returns the Alertmanager route called name.
func (s *Set) Receiver(name string) (alertmanager.Route, bool) {
	r, ok := s.receivers[name]
	return r, ok
}

// Names returns the names of the webhook and the Alertmanager routes, in
// file order (no token: names are safe to log).
func (s *Set) Names() (webhooks, receivers []string) {
	return slices.Clone(s.webhookNames), slices.Clone(s.receiverNames)
}

// Error lists the mistakes of a routes file.
type Error struct {
	// Source names the file.
	Source string
	// Problems are the mistakes, one each, naming the entry and field.
	Problems []string
}

// Error lists the problems one per line.
func (e *Error) Error() string {
	noun := "mistake"
	if len(e.Problems) != 1 {
		noun = "mistakes"
	}
	return fmt.Sprintf("ROUTES_FILE %s: %d %s:\n  %s", e.Source, len(e.Problems), noun, strings.Join(e.Problems, "\n  "))
}

// Load reads and checks the file at path. Template paths are relative to
// the file's folder.
func Load(path string, opts Options) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Source: path, Problems: []string{"cannot be read: " + pathError(err)}}
	}
	return Parse(path, data, filepath.Dir(path), opts)
}

// pathError is err without the path, which the caller names already.
func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse checks data (named source in errors), reading template files from
// dir when their paths are relative. A file with neither key is valid and
// declares no routes.
func Parse(source string, data []byte, dir string, opts Options) (*Set, error) {
	p := &parser{opts: opts, dir: dir, set: &Set{webhooks: map[[32]byte]webhook.Route{}, receivers: map[string]alertmanager.Route{}}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Source: source, Problems: []string{"is not valid YAML: " + err.Error()}}
	}
	if len(doc.Content) > 0 {
		p.file(doc.Content[0])
	}
	if len(p.problems) > 0 {
		return nil, &Error{Source: source, Problems: p.problems}
	}
	return p.set, nil
}

// parser collects the routes and the problems of one file.
type parser struct {
	opts     Options
	dir      string
	set      *Set
	problems []string
	tokens   map[[32]byte]string // token hash -> the entry that has it
}

// problem records a mistake.
func (p *parser) problem(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

// file reads the top-level mapping.
func (p *parser) file(top *yaml.Node) {
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return
	}
	if top.Kind != yaml.MappingNode {
		p.problem("line %d: want a mapping with the keys webhooks and alertmanager", top.Line)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if seen[k.Value] {
			p.problem("line %d: %s is given twice", k.Line, k.Value)
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "webhooks":
			for j, e := range p.list("webhooks", v) {
				p.webhook(j, e)
			}
		case "alertmanager":
			for j, e := range p.list("alertmanager", v) {
				p.receiver(j, e)
			}
		default:
			p.problem("line %d: unknown key %q: want webhooks or alertmanager", k.Line, k.Value)
		}
	}
}

// list returns the entries of a top-level list.
func (p *parser) list(key string, v *yaml.Node) []*yaml.Node {
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return nil
	case v.Kind != yaml.SequenceNode:
		p.problem("%s (line %d): want a list of entries (each starting with -)", key, v.Line)
		return nil
	}
	return v.Content
}

// entry is one list entry's fields, read as strings.
type entry struct {
	p      *parser
	label  string
	fields map[string]string
}

// readEntry reads a list entry whose fields are among known.
func (p *parser) readEntry(list string, i int, n *yaml.Node, known ...string) *entry {
	e := &entry{p: p, label: fmt.Sprintf("%s[%d] (line %d)", list, i, n.Line), fields: map[string]string{}}
	if n.Kind != yaml.MappingNode {
		p.problem("%s: want an entry of fields (%s)", e.label, strings.Join(known, ", "))
		return nil
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		if k, v := n.Content[j], n.Content[j+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
			e.label = fmt.Sprintf("%s[%d] %q (line %d)", list, i, v.Value, n.Line)
		}
	}
	seen := map[string]bool{}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		switch {
		case !slices.Contains(known, k.Value):
			p.problem("%s %s: is not a known field; want one of %s", e.label, k.Value, strings.Join(known, ", "))
		case seen[k.Value]:
			p.problem("%s %s: is given twice (line %d)", e.label, k.Value, k.Line)
		case v.Kind != yaml.ScalarNode:
			p.problem("%s %s: want a single value, not a list or mapping", e.label, k.Value)
		case v.Tag != "!!null":
			e.fields[k.Value] = v.Value
		}
		seen[k.Value] = true
	}
	return e
}

// fail records a mistake in field.
func (e *entry) fail(field, format string, args ...any) {
	e.p.problem("%s %s: %s", e.label, field, fmt.Sprintf(format, args...))
}

// required returns a field that must be there, without blanks.
func (e *entry) required(field string) string {
	v, ok := e.fields[field]
	switch {
	case !ok || strings.TrimSpace(v) == "":
		e.fail(field, "is required")
	case strings.ContainsFunc(v, unicode.IsSpace):
		e.fail(field, "holds a blank or line break")
	}
	return v
}

// duration reads an optional duration in (0, max].
func (e *entry) duration(field string, max time.Duration) (time.Duration, bool) {
	raw, ok := e.fields[field]
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	switch {
	case err != nil:
		e.fail(field, "is %q: want a duration such as 30m or 12h", raw)
	case d <= 0 || d > max:
		e.fail(field, "is %v: want above 0 and at most %v (DingTalk recalls within 24h; LEDGER_TTL keeps messages that long)", d, max)
	default:
		return d, true
	}
	return 0, false
}

// bot reads the optional bot field: one of Options.Bots.
func (e *entry) bot() string {
	name, ok := e.fields["bot"]
	bots := e.p.opts.Bots
	if !ok {
		if len(bots) > 1 && !slices.Contains(bots, "default") {
			e.fail("bot", "is required: there are several bots (%s) and none is called default", strings.Join(bots, ", "))
		}
		return ""
	}
	name = strings.TrimSpace(name)
	if bots != nil && !slices.Contains(bots, name) {
		e.fail("bot", "is %q: want one of the bots %s", name, strings.Join(bots, ", "))
	}
	return name
}

// nameRE is what a route name may be: it goes in logs and, for Alertmanager
// routes, in the URL path.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// webhook reads webhooks[i].
func (p *parser) webhook(i int, n *yaml.Node) {
	e := p.readEntry("webhooks", i, n, "name", "token", "conversationId", "secret", "tag", "ttl", "card", "bot")
	if e == nil {
		return
	}
	r := webhook.Route{Name: e.fields["name"], ConversationID: e.required("conversationId"), Tag: e.fields["tag"]}
	if r.Name == "" {
		r.Name = fmt.Sprintf("webhooks[%d]", i)
	} else if !nameRE.MatchString(r.Name) {
		e.fail("name", "is %q: want 1 to 64 letters, digits, '.', '_' or '-'", r.Name)
	} else if slices.Contains(p.set.webhookNames, r.Name) {
		e.fail("name", "%q names another webhook too", r.Name)
	}
	token := e.required("token")
	if len(token) > 256 {
		e.fail("token", "is %d characters long: want at most 256", len(token))
	}
	if _, ok := e.fields["secret"]; ok {
		r.Secret = webhook.Secret(e.required("secret"))
	}
	if len(r.Tag) > 128 {
		e.fail("tag", "is %d characters long: want at most 128", len(r.Tag))
	}
	r.TTL, _ = e.duration("ttl", p.opts.MaxTTL)
	r.Card = e.boolean("card")
	r.Bot = e.bot()
	r.Token = webhook.Secret(token)
	if token == "" {
		return
	}
	sum := sha256.Sum256([]byte(token))
	if p.tokens == nil {
		p.tokens = map[[32]byte]string{}
	}
	if other, dup := p.tokens[sum]; dup {
		e.fail("token", "is the token of %s too; each webhook needs its own", other)
		return
	}
	p.tokens[sum] = fmt.Sprintf("webhooks[%d]", i)
	p.set.webhooks[sum] = r
	p.set.webhookNames = append(p.set.webhookNames, r.Name)
}

// receiver reads alertmanager[i].
func (p *parser) receiver(i int, n *yaml.Node) {
	e := p.readEntry("alertmanager", i, n, "name", "conversationId", "resolved", "template", "noticeTTL", "card", "bot")
	if e == nil {
		return
	}
	r := alertmanager.Route{Name: e.required("name"), ConversationID: e.required("conversationId"), Resolved: alertmanager.ResolvedRecall}
	switch {
	case r.Name == "":
	case !nameRE.MatchString(r.Name):
		e.fail("name", "is %q: want 1 to 64 letters, digits, '.', '_' or '-' (it is the path /alertmanager/<name>)", r.Name)
	case slices.Contains(p.set.receiverNames, r.Name):
		e.fail("name", "%q names another Alertmanager route too", r.Name)
	}
	if raw, ok := e.fields["resolved"]; ok {
		r.Resolved = alertmanager.Resolved(strings.TrimSpace(raw))
		if !slices.Contains(alertmanager.Modes, r.Resolved) {
			e.fail("resolved", "is %q: want recall, notify or recall+notify", raw)
		}
	}
	ttl, set := e.duration("noticeTTL", p.opts.MaxTTL)
	switch {
	case set && r.Resolved == alertmanager.ResolvedRecall:
		e.fail("noticeTTL", "applies to resolved: notify and recall+notify, which post a notice")
	case set:
		r.NoticeTTL = ttl
	case r.Resolved == alertmanager.ResolvedRecallNotify:
		r.NoticeTTL = min(DefaultNoticeTTL, p.opts.MaxTTL)
	}
	if path, ok := e.fields["template"]; ok {
		r.Template = p.template(e, path)
	}
	r.Card = e.boolean("card")
	r.Bot = e.bot()
	if r.Name == "" || !nameRE.MatchString(r.Name) || slices.Contains(p.set.receiverNames, r.Name) {
		return
	}
	p.set.receivers[r.Name] = r
	p.set.receiverNames = append(p.set.receiverNames, r.Name)
}

// boolean reads field as exactly true or false; absent is false.
func (e *entry) boolean(field string) bool {
	raw, ok := e.fields[field]
	if !ok {
		return false
	}
	switch strings.TrimSpace(raw) {
	case "true":
		return true
	case "false":
		return false
	}
	e.fail(field, "is %q: want true or false", raw)
	return false
}

// template reads and checks a route's template file.
func (p *parser) template(e *entry, path string) *alertmanager.Template {
	if strings.TrimSpace(path) == "" {
		e.fail("template", "is empty: give a file path, or leave template out for the built-in one")
		return nil
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		e.fail("template", "%s cannot be read: %s", path, pathError(err))
		return nil
	}
	tpl, err := alertmanager.ParseTemplate(p.opts.Lang, filepath.Base(path), string(text))
	if err != nil {
		e.fail("template", "%s: %v", path, err)
		return nil
	}
	return tpl
}

// Table holds the routes in force. It is safe for concurrent use.
type Table struct {
	path string
	opts Options
	cur  atomic.Pointer[Set]
}

// Open loads the file at path into a new Table.
func Open(path string, opts Options) (*Table, error) {
	s, err := Load(path, opts)
	if err != nil {
		return nil, err
	}
	t := &Table{path: path, opts: opts}
	t.cur.Store(s)
	return t, nil
}

// Fixed is a Table of s that has no file to reload (the sandbox's routes).
func Fixed(s *Set) *Table {
	t := &Table{}
	t.cur.Store(s)
	return t
}

// ErrNoFile is returned by Reload on a Table without a file.
var ErrNoFile = errors.New("no ROUTES_FILE to reload: the routes are built in")

// Reload reads the file again. On any mistake it keeps the routes in force
// and returns the mistakes.
func (t *Table) Reload() error {
	if t.path == "" {
		return ErrNoFile
	}
	s, err := Load(t.path, t.opts)
	if err != nil {
		return err
	}
	t.cur.Store(s)
	return nil
}

// Path is the file the table reads ("" for Fixed).
func (t *Table) Path() string { return t.path }

// Current returns the routes in force.
func (t *Table) Current() *Set { return t.cur.Load() }

// Webhook returns the webhook route of an access_token.
func (t *Table) Webhook(token string) (webhook.Route, bool) { return t.cur.Load().Webhook(token) }

// Receiver returns the Alertmanager route called name.
func (t *Table) Receiver(name string) (alertmanager.Route, bool) { return t.cur.Load().Receiver(name) }
