// Package botsfile reads BOTS_FILE: the DingTalk apps (bots) one dingrecall
// serves, in YAML. It checks the whole file and reports every mistake on a
// line of its own, naming the bot and the field; a secret appears in no
// message. A secret file that others may read is a warning, not a mistake.
package botsfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Callback modes: how a bot's callbacks come in.
const (
	ModeHTTP   = "http"
	ModeStream = "stream"
	ModeBoth   = "both"
)

// Modes are the callbackMode values.
var Modes = []string{ModeHTTP, ModeStream, ModeBoth}

// MaxQPS bounds qps.
const MaxQPS = 10000

// Bot is one DingTalk app of the file.
type Bot struct {
	// Name names the bot in paths (/dingtalk/callback/<name>), commands
	// ("for <name>"), the API ("bot") and metrics.
	Name string
	// AppKey and AppSecret are the app's credentials.
	AppKey, AppSecret string
	// RobotCode is the app's robot; the app key when the file gives none.
	RobotCode string
	// CoolAppCode goes with the bot's group and private chat messages.
	CoolAppCode string
	// QPS is the calls per second per API DingTalk allows the app.
	QPS int
	// MonthlyQuota is the calls the organisation may make in a calendar
	// month; 0 when unknown (counted, never limited).
	MonthlyQuota int64
	// CallbackMode is ModeHTTP, ModeStream or ModeBoth.
	CallbackMode string
}

// Defaults are the values of the fields a bot leaves out.
type Defaults struct {
	// QPS is qps's default (DINGTALK_QPS).
	QPS int
	// CallbackMode is callbackMode's default (CALLBACK_MODE).
	CallbackMode string
}

// Error lists the mistakes of a bots file.
type Error struct {
	// Source names the file.
	Source string
	// Problems are the mistakes, one each, naming the bot and field.
	Problems []string
}

// Error lists the problems one per line.
func (e *Error) Error() string {
	noun := "mistake"
	if len(e.Problems) != 1 {
		noun = "mistakes"
	}
	return fmt.Sprintf("BOTS_FILE %s: %d %s:\n  %s", e.Source, len(e.Problems), noun, strings.Join(e.Problems, "\n  "))
}

// NameRE is what a bot name may be: lower-case letters, digits, '-' and
// '_', starting with a letter or digit, at most 32.
var NameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Load reads and checks the file at path. Secret file paths are relative
// to the file's folder. Warnings (a secret file others may read) come back
// beside the bots.
// The file itself, when it holds an appSecret, is a warning too when
// others may read it.
func Load(path string, d Defaults) (bots []Bot, warnings []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, &Error{Source: path, Problems: []string{"cannot be read: " + pathError(err)}}
	}
	p := parse(path, data, filepath.Dir(path), d)
	if info, err := os.Stat(path); err == nil && p.inline && info.Mode().Perm()&0o077 != 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%s holds an appSecret and may be read by others (mode %04o); chmod 600 it, or use appSecretFile", path, info.Mode().Perm()))
	}
	return p.result(path)
}

// pathError is err without the path, which the caller names already.
func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse checks data (named source in errors), reading secret files from
// dir when their paths are relative.
func Parse(source string, data []byte, dir string, d Defaults) ([]Bot, []string, error) {
	return parse(source, data, dir, d).result(source)
}

// parse reads data into a parser's bots, problems and warnings.
func parse(source string, data []byte, dir string, d Defaults) *parser {
	p := &parser{dir: dir, d: d}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.problem("is not valid YAML: %s", err.Error())
		return p
	}
	if len(doc.Content) == 0 {
		p.problem("is empty: want a list of bots under the key bots")
	} else {
		p.file(doc.Content[0])
	}
	return p
}

// result is what Parse and Load return for the file named source.
func (p *parser) result(source string) ([]Bot, []string, error) {
	if len(p.problems) > 0 {
		return nil, p.warnings, &Error{Source: source, Problems: p.problems}
	}
	return p.bots, p.warnings, nil
}

// parser collects the bots, problems and warnings of one file.
type parser struct {
	dir      string
	d        Defaults
	bots     []Bot
	problems []string
	warnings []string
	// inline is true when a bot gives its appSecret in the file.
	inline bool
}

// problem records a mistake.
func (p *parser) problem(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

// file reads the top-level mapping.
func (p *parser) file(top *yaml.Node) {
	if top.Kind != yaml.MappingNode {
		p.problem("line %d: want a mapping with the key bots", top.Line)
		return
	}
	var list *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch {
		case k.Value != "bots":
			p.problem("line %d: unknown key %q: want bots", k.Line, k.Value)
		case list != nil:
			p.problem("line %d: bots is given twice", k.Line)
		default:
			list = v
		}
	}
	switch {
	case list == nil:
		p.problem("has no key bots: want a list of bots")
	case list.Kind != yaml.SequenceNode || len(list.Content) == 0:
		p.problem("bots (line %d): want a list of at least one bot (each starting with -)", list.Line)
	default:
		for i, n := range list.Content {
			p.bot(i, n)
		}
	}
}

// fields of a bot entry.
var fields = []string{"name", "appKey", "appSecret", "appSecretFile", "robotCode", "coolAppCode", "qps", "monthlyQuota", "callbackMode"}

// entry is one bot entry's fields, read as strings.
type entry struct {
	p     *parser
	label string // bots[i] and the name
	line  int    // the entry's line
	// fields are the values given; lines where each field is; refused the
	// fields given in a form reported already (a list, a mapping).
	fields  map[string]string
	lines   map[string]int
	refused map[string]bool
}

// fail records a mistake in field, at the field's line (the entry's when
// the field is not there).
func (e *entry) fail(field, format string, args ...any) {
	line, ok := e.lines[field]
	if !ok {
		line = e.line
	}
	e.p.problem("%s (line %d) %s: %s", e.label, line, field, fmt.Sprintf(format, args...))
}

// word returns a field that, when given, holds no blanks; required ones
// must be given.
func (e *entry) word(field string, required bool) string {
	v, ok := e.fields[field]
	switch {
	case e.refused[field]:
		return ""
	case !ok || strings.TrimSpace(v) == "":
		if required {
			e.fail(field, "is required")
		}
		return ""
	case strings.ContainsFunc(v, unicode.IsSpace):
		e.fail(field, "holds a blank or line break")
	}
	return v
}

// number reads an optional whole number in [lo, hi].
func (e *entry) number(field string, def, lo, hi int64) int64 {
	raw, ok := e.fields[field]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || n < lo || n > hi {
		e.fail(field, "is %q: want a whole number from %d to %d", raw, lo, hi)
		return def
	}
	return n
}

// bot reads bots[i].
func (p *parser) bot(i int, n *yaml.Node) {
	e := &entry{p: p, label: fmt.Sprintf("bots[%d]", i), line: n.Line, fields: map[string]string{}, lines: map[string]int{}, refused: map[string]bool{}}
	if n.Kind != yaml.MappingNode {
		p.problem("%s (line %d): want an entry of fields (%s)", e.label, e.line, strings.Join(fields, ", "))
		return
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		if k, v := n.Content[j], n.Content[j+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
			e.label = fmt.Sprintf("bots[%d] %q", i, v.Value)
		}
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		_, seen := e.lines[k.Value]
		if !seen {
			e.lines[k.Value] = k.Line
		}
		switch {
		case !slices.Contains(fields, k.Value):
			e.fail(k.Value, "is not a known field; want one of %s", strings.Join(fields, ", "))
		case seen:
			e.p.problem("%s (line %d) %s: is given twice", e.label, k.Line, k.Value)
		case v.Kind != yaml.ScalarNode:
			e.fail(k.Value, "want a single value, not a list or mapping")
			e.refused[k.Value] = true
		case v.Tag != "!!null":
			e.fields[k.Value] = v.Value
		}
	}
	b := Bot{
		Name: e.word("name", true), AppKey: e.word("appKey", true), RobotCode: e.word("robotCode", false),
		CoolAppCode: e.word("coolAppCode", false), CallbackMode: p.d.CallbackMode,
	}
	switch {
	case b.Name == "":
	case !NameRE.MatchString(b.Name):
		e.fail("name", "is %q: want 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter or digit (it is the path /dingtalk/callback/<name>)", b.Name)
	case slices.ContainsFunc(p.bots, func(o Bot) bool { return o.Name == b.Name }):
		e.fail("name", "%q names another bot too", b.Name)
	}
	if b.AppKey != "" && slices.ContainsFunc(p.bots, func(o Bot) bool { return o.AppKey == b.AppKey }) {
		e.fail("appKey", "is the app key of another bot too; each bot is its own DingTalk app")
	}
	if b.RobotCode == "" {
		b.RobotCode = b.AppKey
	}
	b.AppSecret = p.secret(e)
	b.QPS = int(e.number("qps", int64(p.d.QPS), 1, MaxQPS))
	b.MonthlyQuota = e.number("monthlyQuota", 0, 0, 1<<40)
	if raw, ok := e.fields["callbackMode"]; ok {
		b.CallbackMode = strings.TrimSpace(raw)
		if !slices.Contains(Modes, b.CallbackMode) {
			e.fail("callbackMode", "is %q: want http, stream or both", raw)
		}
	}
	p.bots = append(p.bots, b)
}

// secret reads appSecret or appSecretFile: exactly one of them.
func (p *parser) secret(e *entry) string {
	_, hasInline := e.fields["appSecret"]
	file, hasFile := e.fields["appSecretFile"]
	switch {
	case e.refused["appSecret"] || e.refused["appSecretFile"]:
		return ""
	case hasInline && hasFile:
		e.fail("appSecret", "give appSecret or appSecretFile, not both")
		return ""
	case hasInline:
		p.inline = true
		return e.word("appSecret", true)
	case !hasFile:
		e.fail("appSecret", "is required (or appSecretFile)")
		return ""
	}
	path := strings.TrimSpace(file)
	if path == "" {
		e.fail("appSecretFile", "is empty")
		return ""
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	info, err := os.Stat(path)
	if err != nil {
		e.fail("appSecretFile", "%s cannot be read: %s", path, pathError(err))
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		e.fail("appSecretFile", "%s cannot be read: %s", path, pathError(err))
		return ""
	}
	if info.Mode().Perm()&0o077 != 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%s appSecretFile: %s may be read by others (mode %04o); chmod 600 it", e.label, path, info.Mode().Perm()))
	}
	secret := strings.TrimRight(string(data), "\r\n")
	switch {
	case strings.TrimSpace(secret) == "":
		e.fail("appSecretFile", "%s is empty", path)
	case strings.ContainsFunc(secret, unicode.IsSpace):
		e.fail("appSecretFile", "%s holds a blank or a second line", path)
	}
	return secret
}
