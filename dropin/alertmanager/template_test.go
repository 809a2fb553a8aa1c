package alertmanager_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dropin/alertmanager"
)

// rendered is a markdown message's title and text.
func rendered(t *testing.T, m dingtalk.Message) (string, string) {
	t.Helper()
	require.Equal(t, dingtalk.MsgKeyMarkdown, m.MsgKey)
	var p struct{ Title, Text string }
	require.NoError(t, json.Unmarshal([]byte(m.MsgParam), &p))
	return p.Title, p.Text
}

func TestBuiltinTemplates(t *testing.T) {
	p := notification(alert("db-3", "firing"), alert("db-4", "resolved"))
	p.TruncatedAlerts = 2
	tests := []struct {
		lang                   string
		title, line, truncated string
		resolvedTitle          string
	}{
		{"en", "[FIRING:1] DiskFull", "**DiskFull** on db-3 (page): disk 91% on db-3", "and 2 more alerts", "[RESOLVED:1] DiskFull"},
		{"zh", "[告警:1] DiskFull", "**DiskFull**（db-3） [page]：disk 91% on db-3", "另有 2 条告警", "[已恢复:1] DiskFull"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			tpl, err := alertmanager.Builtin(tt.lang)
			require.NoError(t, err)
			m, err := tpl.Firing(alertmanager.Data{Payload: p, Route: "ops"})
			require.NoError(t, err)
			title, text := rendered(t, m)
			assert.Equal(t, tt.title, title)
			assert.Contains(t, text, tt.line)
			assert.Contains(t, text, tt.truncated)
			assert.Contains(t, text, "2026-05-01 09:00 UTC")
			assert.NotContains(t, text, "db-4", "the firing message shows what still fires")
			assert.Contains(t, text, "(http://127.0.0.1:9093)")

			resolved := p
			resolved.Alerts = p.Alerts.Resolved()
			m, err = tpl.Resolved(alertmanager.Data{Payload: resolved, Route: "ops"})
			require.NoError(t, err)
			title, text = rendered(t, m)
			assert.Equal(t, tt.resolvedTitle, title)
			assert.Contains(t, text, "db-4")
			assert.Contains(t, text, "2026-05-01 10:00 UTC")
		})
	}
	_, err := alertmanager.Builtin("fr")
	assert.Error(t, err)
}

func TestBuiltinTitleWithoutGroupLabels(t *testing.T) {
	p := notification(alert("db-3", "firing"))
	p.GroupLabels = alertmanager.KV{}
	tpl, err := alertmanager.Builtin("en")
	require.NoError(t, err)
	m, err := tpl.Firing(alertmanager.Data{Payload: p})
	require.NoError(t, err)
	title, _ := rendered(t, m)
	assert.Equal(t, "[FIRING:1] DiskFull", title)
}

func TestCustomTemplate(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		title     string
		body      string
		notice    string
		noticeHas string
	}{
		{"body only", `{{range .Alerts.Firing}}{{.Labels.instance | toUpper}} {{end}}on {{.Route}}`,
			"[FIRING:1] DiskFull", "DB-3 on ops", "[RESOLVED:1] DiskFull", "db-4"},
		{"defines only: the built-in body stays", `{{define "title"}}custom {{len .Alerts.Firing}}{{end}}`,
			"custom 1", "**DiskFull** on db-3", "[RESOLVED:1] DiskFull", "db-4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := alertmanager.ParseTemplate("en", "custom.tmpl", tt.text)
			require.NoError(t, err)
			p := notification(alert("db-3", "firing"), alert("db-4", "resolved"))
			m, err := tpl.Firing(alertmanager.Data{Payload: p, Route: "ops"})
			require.NoError(t, err)
			title, body := rendered(t, m)
			assert.Equal(t, tt.title, title)
			assert.Contains(t, body, tt.body)
			p.Alerts = p.Alerts.Resolved()
			m, err = tpl.Resolved(alertmanager.Data{Payload: p, Route: "ops"})
			require.NoError(t, err)
			title, body = rendered(t, m)
			assert.Equal(t, tt.notice, title)
			assert.Contains(t, body, tt.noticeHas)
		})
	}
}

func TestCustomTemplateOverridesEverything(t *testing.T) {
	text := `{{define "title"}}ALERT {{.CommonLabels.severity}}{{end}}{{define "resolved.title"}}OK{{end}}{{define "resolved"}}fixed: {{range .Alerts}}{{.Fingerprint}} {{end}}{{end}}firing: {{range .Alerts.Firing}}{{.Fingerprint}}{{end}}`
	tpl, err := alertmanager.ParseTemplate("zh", "all.tmpl", text)
	require.NoError(t, err)
	p := notification(alert("db-3", "firing"), alert("db-4", "resolved"))
	m, err := tpl.Firing(alertmanager.Data{Payload: p})
	require.NoError(t, err)
	title, body := rendered(t, m)
	assert.Equal(t, "ALERT page", title)
	assert.Equal(t, "firing: fp-db-3", body)
	p.Alerts = p.Alerts.Resolved()
	m, err = tpl.Resolved(alertmanager.Data{Payload: p})
	require.NoError(t, err)
	title, body = rendered(t, m)
	assert.Equal(t, "OK", title)
	assert.Equal(t, "fixed: fp-db-4", body)
}

func TestCustomTemplateErrors(t *testing.T) {
	for name, text := range map[string]string{
		"syntax":           `{{range .Alerts}}`,
		"unknown function": `{{split .Status}}`,
		"unknown field":    `{{.Alerts.Nope}}`,
		"wrong call":       `{{index .Alerts 5}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := alertmanager.ParseTemplate("en", "bad.tmpl", text)
			assert.Error(t, err)
		})
	}
}

func TestLongTextIsCut(t *testing.T) {
	var alerts []alertmanager.Alert
	for i := range 400 {
		a := alert(strings.Repeat("x", 40)+string(rune('a'+i%26))+strings.Repeat("y", i%7), "firing")
		a.Fingerprint = "fp" + strings.Repeat("0", i%5) + string(rune('A'+i%26)) + string(rune('a'+i/26))
		alerts = append(alerts, a)
	}
	tpl, err := alertmanager.Builtin("zh")
	require.NoError(t, err)
	m, err := tpl.Firing(alertmanager.Data{Payload: notification(alerts...)})
	require.NoError(t, err)
	assert.LessOrEqual(t, len(m.MsgParam), dingtalk.MaxMsgParamBytes)
	_, text := rendered(t, m)
	assert.True(t, strings.HasSuffix(text, "…"))
	assert.NoError(t, m.Validate())
}
