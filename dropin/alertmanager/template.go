package alertmanager

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"github.com/dingrecall/dingrecall/dingtalk"
)

//go:embed templates/*.tmpl
var builtinFS embed.FS

// Languages are the languages of the built-in templates (BOT_LANG).
var Languages = []string{"en", "zh"}

// Names of the templates a message is rendered with. A template file of a
// route renders the firing message with its body and may redefine any of
// these; what it leaves out comes from the built-in template.
const (
	tplTitle         = "title"
	tplFiring        = "firing"
	tplResolvedTitle = "resolved.title"
	tplResolved      = "resolved"
)

// maxText bounds a rendered text, leaving room in msgParam for the title and
// JSON escaping; longer texts are cut.
const maxText = 12000

// funcs are the functions templates may call besides text/template's own.
var funcs = template.FuncMap{
	"toUpper": strings.ToUpper,
	"toLower": strings.ToLower,
	"join":    func(elems []string, sep string) string { return strings.Join(elems, sep) },
	// date formats t with a Go layout, such as "2006-01-02 15:04 MST".
	"date": func(layout string, t time.Time) string { return t.Format(layout) },
}

// Data is what a template renders: the notification, with .Alerts narrowed
// to the resolved alerts announced when rendering a resolved notice.
type Data struct {
	Payload
	// Route is the name of the Alertmanager route.
	Route string
}

// Template renders alert messages.
type Template struct {
	t *template.Template
	// body is the template that renders the firing message's text.
	body string
}

// Builtin returns the built-in template of lang (one of Languages).
func Builtin(lang string) (*Template, error) {
	raw, err := builtinFS.ReadFile("templates/" + lang + ".tmpl")
	if err != nil {
		return nil, fmt.Errorf("alert template %q: no built-in template for that language", lang)
	}
	t, err := template.New("builtin-" + lang).Funcs(funcs).Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("built-in alert template %s: %w", lang, err)
	}
	return &Template{t: t, body: tplFiring}, nil
}

// ParseTemplate parses a route's template file (name names it in errors)
// over the built-in template of lang, and renders it once on a sample
// notification so that a mistake shows at start-up rather than at the
// first alert.
func ParseTemplate(lang, name, text string) (*Template, error) {
	base, err := Builtin(lang)
	if err != nil {
		return nil, err
	}
	clone, err := base.t.Clone()
	if err != nil {
		return nil, err
	}
	custom, err := clone.New(name).Parse(text)
	if err != nil {
		return nil, err
	}
	tpl := &Template{t: custom, body: tplFiring}
	if custom.Tree != nil && !parse.IsEmptyTree(custom.Tree.Root) {
		tpl.body = name
	}
	sample := samplePayload()
	if _, err := tpl.Firing(Data{Payload: sample, Route: "sample"}); err != nil {
		return nil, err
	}
	sample.Alerts = sample.Alerts.Resolved()
	if _, err := tpl.Resolved(Data{Payload: sample, Route: "sample"}); err != nil {
		return nil, err
	}
	return tpl, nil
}

// Firing renders the message of the firing alerts.
func (t *Template) Firing(d Data) (dingtalk.Message, error) {
	return t.render(d, tplTitle, t.body)
}

// Resolved renders the notice of d.Alerts, which resolved.
func (t *Template) Resolved(d Data) (dingtalk.Message, error) {
	return t.render(d, tplResolvedTitle, tplResolved)
}

// render executes the title and text templates into a markdown message,
// cutting a text too long for DingTalk.
func (t *Template) render(d Data, title, text string) (dingtalk.Message, error) {
	var tb, xb bytes.Buffer
	if err := t.t.ExecuteTemplate(&tb, title, d); err != nil {
		return dingtalk.Message{}, err
	}
	if err := t.t.ExecuteTemplate(&xb, text, d); err != nil {
		return dingtalk.Message{}, err
	}
	ti := clip(strings.TrimSpace(tb.String()), 200)
	if ti == "" {
		ti = "Alertmanager"
	}
	body := strings.TrimSpace(xb.String())
	if body == "" {
		body = ti
	}
	for limit := maxText; ; limit /= 2 {
		m := dingtalk.Markdown(ti, clip(body, limit))
		if len(m.MsgParam) <= dingtalk.MaxMsgParamBytes {
			return m, nil
		}
	}
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// samplePayload is a notification with a firing and a resolved alert, on
// which template files are tried.
func samplePayload() Payload {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return Payload{
		Version: PayloadVersion, GroupKey: `{}:{alertname="Sample"}`, Status: StatusFiring, Receiver: "sample",
		GroupLabels: KV{"alertname": "Sample"}, CommonLabels: KV{"alertname": "Sample"}, CommonAnnotations: KV{},
		ExternalURL: "http://alertmanager.example:9093",
		Alerts: Alerts{
			{Status: StatusFiring, Labels: KV{"alertname": "Sample", "instance": "a:9100"}, Annotations: KV{"summary": "sample"},
				StartsAt: at, GeneratorURL: "http://prometheus.example:9090/graph", Fingerprint: "0000000000000001"},
			{Status: StatusResolved, Labels: KV{"alertname": "Sample", "instance": "b:9100"}, Annotations: KV{"summary": "sample"},
				StartsAt: at, EndsAt: at.Add(time.Minute), Fingerprint: "0000000000000002"},
		},
	}
}
