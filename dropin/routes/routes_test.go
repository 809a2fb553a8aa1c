package routes_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dropin/alertmanager"
	"github.com/dingrecall/dingrecall/dropin/routes"
	"github.com/dingrecall/dingrecall/dropin/webhook"
)

var opts = routes.Options{MaxTTL: 24*time.Hour - time.Second, Lang: "en"}

const good = `
webhooks:                      # custom-robot-compatible senders
  - token: grafana-prod
    conversationId: cidAbC==
    secret: SECxxxx
    tag: grafana
    ttl: 12h
  - name: jenkins
    token: 0123456789abcdef
    conversationId: cidDeploy==
alertmanager:
  - name: ops
    conversationId: cidAbC==
    resolved: recall+notify
  - name: dev
    conversationId: cidDev==
    resolved: notify
    noticeTTL: 10m
  - name: quiet
    conversationId: cidQuiet==
`

func TestParseTheIssueExample(t *testing.T) {
	s, err := routes.Parse("routes.yaml", []byte(good), t.TempDir(), opts)
	require.NoError(t, err)
	r, ok := s.Webhook("grafana-prod")
	require.True(t, ok)
	assert.Equal(t, webhook.Route{Name: "webhooks[0]", Token: "grafana-prod", ConversationID: "cidAbC==", Secret: "SECxxxx", Tag: "grafana", TTL: 12 * time.Hour}, r)
	r, ok = s.Webhook("0123456789abcdef")
	require.True(t, ok)
	assert.Equal(t, "jenkins", r.Name)
	assert.Empty(t, r.Secret)
	_, ok = s.Webhook("")
	assert.False(t, ok)
	_, ok = s.Webhook("grafana")
	assert.False(t, ok)

	am, ok := s.Receiver("ops")
	require.True(t, ok)
	assert.Equal(t, alertmanager.Route{Name: "ops", ConversationID: "cidAbC==", Resolved: alertmanager.ResolvedRecallNotify, NoticeTTL: routes.DefaultNoticeTTL}, am)
	am, _ = s.Receiver("dev")
	assert.Equal(t, alertmanager.ResolvedNotify, am.Resolved)
	assert.Equal(t, 10*time.Minute, am.NoticeTTL)
	am, _ = s.Receiver("quiet")
	assert.Equal(t, alertmanager.ResolvedRecall, am.Resolved, "recall is the default")
	assert.Zero(t, am.NoticeTTL)
	_, ok = s.Receiver("nope")
	assert.False(t, ok)

	w, a := s.Names()
	assert.Equal(t, []string{"webhooks[0]", "jenkins"}, w)
	assert.Equal(t, []string{"ops", "dev", "quiet"}, a)
}

func TestEmptyFiles(t *testing.T) {
	for _, text := range []string{"", "# nothing yet\n", "webhooks:\nalertmanager:\n", "webhooks: []\n"} {
		s, err := routes.Parse("r.yaml", []byte(text), ".", opts)
		require.NoError(t, err, "%q", text)
		w, a := s.Names()
		assert.Empty(t, w)
		assert.Empty(t, a)
	}
}

func TestEveryMistakeOnItsOwnLine(t *testing.T) {
	text := `
webhooks:
  - token: same-token
    conversationId: cidA==
    ttl: 25h
  - token: same-token
    conversationId: cid with blanks
  - name: "bad name!"
    conversationId: cidB==
    colour: red
    secret: ""
  - conversationId: [cidC==]
    token: t3
    tag: ` + strings.Repeat("x", 129) + `
alertmanager:
  - name: ops
    resolved: maybe
  - name: ops
    conversationId: cidD==
    noticeTTL: 5m
  - conversationId: cidE==
    template: missing.tmpl
    noticeTTL: soon
  - just a string
extra: 1
`
	_, err := routes.Parse("routes.yaml", []byte(text), t.TempDir(), opts)
	var e *routes.Error
	require.ErrorAs(t, err, &e)
	want := []string{
		"webhooks[0] (line 3) ttl: is 25h0m0s: want above 0 and at most 23h59m59s",
		"webhooks[1] (line 6) conversationId: holds a blank or line break",
		"webhooks[1] (line 6) token: is the token of webhooks[0] too",
		"webhooks[2] \"bad name!\" (line 8) colour: is not a known field",
		"webhooks[2] \"bad name!\" (line 8) name: is \"bad name!\": want 1 to 64 letters",
		"webhooks[2] \"bad name!\" (line 8) token: is required",
		"webhooks[2] \"bad name!\" (line 8) secret: is required",
		"webhooks[3] (line 12) conversationId: want a single value",
		"webhooks[3] (line 12) conversationId: is required",
		"webhooks[3] (line 12) tag: is 129 characters long",
		"alertmanager[0] \"ops\" (line 16) conversationId: is required",
		"alertmanager[0] \"ops\" (line 16) resolved: is \"maybe\": want recall, notify or recall+notify",
		"alertmanager[1] \"ops\" (line 18) name: \"ops\" names another Alertmanager route too",
		"alertmanager[1] \"ops\" (line 18) noticeTTL: applies to resolved: notify and recall+notify",
		"alertmanager[2] (line 21) name: is required",
		"alertmanager[2] (line 21) noticeTTL: is \"soon\": want a duration",
		"alertmanager[2] (line 21) template: " + "",
		"alertmanager[3] (line 24): want an entry of fields",
		"line 25: unknown key \"extra\": want webhooks or alertmanager",
	}
	require.Len(t, e.Problems, len(want), strings.Join(e.Problems, "\n"))
	for i, w := range want {
		assert.True(t, strings.HasPrefix(e.Problems[i], w), "line %d:\n got %s\nwant %s…", i, e.Problems[i], w)
	}
	assert.Contains(t, e.Problems[16], "missing.tmpl cannot be read: no such file or directory")
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "ROUTES_FILE routes.yaml: 19 mistakes:\n  webhooks[0]"), msg)
	assert.NotContains(t, msg, "same-token", "tokens never appear in messages")
	assert.NotContains(t, msg, "t3")
}

func TestNotYAML(t *testing.T) {
	for name, text := range map[string]string{
		"syntax":          "webhooks: [\n",
		"a list":          "- token: x\n",
		"webhooks a map":  "webhooks:\n  token: x\n",
		"duplicate field": "webhooks:\n  - token: a\n    token: b\n    conversationId: c\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := routes.Parse("r.yaml", []byte(text), ".", opts)
			var e *routes.Error
			require.ErrorAs(t, err, &e)
			require.Len(t, e.Problems, 1)
			assert.NotContains(t, err.Error(), "token: x")
		})
	}
}

func TestTemplates(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alert.tmpl"), []byte(`{{range .Alerts.Firing}}{{.Labels.instance}} {{end}}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.tmpl"), []byte(`{{range .Alerts}}`), 0o600))
	abs := filepath.Join(dir, "alert.tmpl")
	text := "alertmanager:\n  - name: a\n    conversationId: c\n    template: alert.tmpl\n  - name: b\n    conversationId: c\n    template: " + abs + "\n"
	s, err := routes.Parse("r.yaml", []byte(text), dir, opts)
	require.NoError(t, err)
	for _, name := range []string{"a", "b"} {
		r, _ := s.Receiver(name)
		require.NotNil(t, r.Template, name)
	}

	_, err = routes.Parse("r.yaml", []byte("alertmanager:\n  - name: a\n    conversationId: c\n    template: broken.tmpl\n"), dir, opts)
	var e *routes.Error
	require.ErrorAs(t, err, &e)
	require.Len(t, e.Problems, 1)
	assert.Contains(t, e.Problems[0], `alertmanager[0] "a" (line 2) template: `+filepath.Join(dir, "broken.tmpl"))
}

func TestTableReloadKeepsTheOldRoutesOnAMistake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	require.NoError(t, os.WriteFile(path, []byte(good), 0o600))
	tbl, err := routes.Open(path, opts)
	require.NoError(t, err)
	assert.Equal(t, path, tbl.Path())
	_, ok := tbl.Webhook("grafana-prod")
	require.True(t, ok)

	require.NoError(t, os.WriteFile(path, []byte("webhooks:\n  - token: new-token\n"), 0o600))
	err = tbl.Reload()
	var e *routes.Error
	require.ErrorAs(t, err, &e)
	assert.Contains(t, e.Problems[0], "conversationId: is required")
	_, ok = tbl.Webhook("grafana-prod")
	assert.True(t, ok, "the old routes stay in force")
	_, ok = tbl.Receiver("ops")
	assert.True(t, ok)

	require.NoError(t, os.WriteFile(path, []byte("webhooks:\n  - token: new-token\n    conversationId: cidNew==\n"), 0o600))
	require.NoError(t, tbl.Reload())
	_, ok = tbl.Webhook("grafana-prod")
	assert.False(t, ok)
	r, ok := tbl.Webhook("new-token")
	require.True(t, ok)
	assert.Equal(t, "cidNew==", r.ConversationID)
	_, ok = tbl.Receiver("ops")
	assert.False(t, ok)

	require.NoError(t, os.Remove(path))
	err = tbl.Reload()
	require.ErrorAs(t, err, &e)
	assert.Contains(t, e.Problems[0], "cannot be read: no such file or directory")
	_, ok = tbl.Webhook("new-token")
	assert.True(t, ok)
}

func TestOpenFails(t *testing.T) {
	_, err := routes.Open(filepath.Join(t.TempDir(), "none.yaml"), opts)
	var e *routes.Error
	assert.ErrorAs(t, err, &e)
}

func TestFixedHasNothingToReload(t *testing.T) {
	s, err := routes.Parse("built-in", []byte(good), ".", opts)
	require.NoError(t, err)
	tbl := routes.Fixed(s)
	assert.True(t, errors.Is(tbl.Reload(), routes.ErrNoFile))
	assert.Same(t, s, tbl.Current())
	_, ok := tbl.Receiver("ops")
	assert.True(t, ok)
}

// card is exactly true or false on both kinds of route.
func TestCardField(t *testing.T) {
	set, err := routes.Parse("routes.yaml", []byte(`
webhooks:
  - name: cards
    token: t1
    conversationId: cidA==
    card: true
  - name: plain
    token: t2
    conversationId: cidA==
alertmanager:
  - name: ops
    conversationId: cidB==
    card: true
`), t.TempDir(), opts)
	require.NoError(t, err)
	r, ok := set.Webhook("t1")
	require.True(t, ok)
	assert.True(t, r.Card)
	r, ok = set.Webhook("t2")
	require.True(t, ok)
	assert.False(t, r.Card)
	am, ok := set.Receiver("ops")
	require.True(t, ok)
	assert.True(t, am.Card)

	_, err = routes.Parse("routes.yaml", []byte("webhooks:\n  - token: t1\n    conversationId: cidA==\n    card: yes\n"), t.TempDir(), opts)
	var e *routes.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, []string{`webhooks[0] (line 2) card: is "yes": want true or false`}, e.Problems)
}

func TestBotField(t *testing.T) {
	withBots := routes.Options{MaxTTL: opts.MaxTTL, Lang: "en", Bots: []string{"default", "alerts"}}
	text := `
webhooks:
  - {name: grafana, token: t1, conversationId: cidA==, bot: alerts}
  - {name: jenkins, token: t2, conversationId: cidA==}
alertmanager:
  - {name: ops, conversationId: cidA==, bot: alerts}
`
	s, err := routes.Parse("r.yaml", []byte(text), ".", withBots)
	require.NoError(t, err)
	w, _ := s.Webhook("t1")
	assert.Equal(t, "alerts", w.Bot)
	w, _ = s.Webhook("t2")
	assert.Empty(t, w.Bot, "no bot field: the default bot")
	a, _ := s.Receiver("ops")
	assert.Equal(t, "alerts", a.Bot)

	_, err = routes.Parse("r.yaml", []byte("webhooks:\n  - {name: g, token: t1, conversationId: cidA==, bot: deploys}\nalertmanager:\n  - {name: ops, conversationId: cidA==, bot: nobody}\n"), ".", withBots)
	var bad *routes.Error
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, []string{
		`webhooks[0] "g" (line 2) bot: is "deploys": want one of the bots default, alerts`,
		`alertmanager[0] "ops" (line 4) bot: is "nobody": want one of the bots default, alerts`,
	}, bad.Problems)
}

func TestBotRequiredWithoutADefault(t *testing.T) {
	text := "webhooks:\n  - {name: g, token: t1, conversationId: cidA==}\n"
	_, err := routes.Parse("r.yaml", []byte(text), ".", routes.Options{MaxTTL: opts.MaxTTL, Lang: "en", Bots: []string{"alerts", "deploys"}})
	var bad *routes.Error
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, []string{`webhooks[0] "g" (line 2) bot: is required: there are several bots (alerts, deploys) and none is called default`}, bad.Problems)
	// One bot alone, whatever its name, is the route's.
	_, err = routes.Parse("r.yaml", []byte(text), ".", routes.Options{MaxTTL: opts.MaxTTL, Lang: "en", Bots: []string{"alerts"}})
	require.NoError(t, err)
}
