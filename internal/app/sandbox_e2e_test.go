package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sandboxApp is the app started as "go run ." starts it (no settings, so
// sandbox mode), driven through the simulator page's endpoints.
type sandboxApp struct {
	t    *testing.T
	base string
}

// startSandboxMode runs the app in sandbox mode with env and waits until it
// is ready; it stops the app when the test ends.
func startSandboxMode(t *testing.T, env map[string]string) *sandboxApp {
	t.Helper()
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, ln, func(k string) string { return env[k] }) }()
	a := &sandboxApp{t: t, base: "http://" + ln.Addr().String()}
	require.Eventually(t, func() bool {
		resp, err := http.Get(a.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return a
}

// post calls a simulator endpoint and decodes its answer.
func (a *sandboxApp) post(path string, body any) (int, map[string]any) {
	a.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(a.t, err)
	resp, err := http.Post(a.base+path, "application/json", bytes.NewReader(raw))
	require.NoError(a.t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(a.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// sandboxMessage is one message of the simulator's state.
type sandboxMessage struct {
	ID        string   `json:"id"`
	From      string   `json:"from"`
	Text      string   `json:"text"`
	Recalled  bool     `json:"recalled"`
	Reactions []string `json:"reactions"`
}

// state reads the simulator's chats.
func (a *sandboxApp) state() (map[string][]sandboxMessage, map[string]any) {
	a.t.Helper()
	resp, err := http.Get(a.base + "/sandbox/api/state")
	require.NoError(a.t, err)
	defer resp.Body.Close()
	var raw struct {
		Chats []struct {
			ID       string           `json:"id"`
			Messages []sandboxMessage `json:"messages"`
		} `json:"chats"`
		Via      string `json:"via"`
		MaxCount int    `json:"maxCount"`
	}
	require.NoError(a.t, json.NewDecoder(resp.Body).Decode(&raw))
	chats := map[string][]sandboxMessage{}
	for _, c := range raw.Chats {
		chats[c.ID] = c.Messages
	}
	return chats, map[string]any{"via": raw.Via, "maxCount": raw.MaxCount}
}

// say types text into chat as user and waits for the bot's answer there.
func (a *sandboxApp) say(chat, user, text string) string {
	a.t.Helper()
	before := a.botReplies(chat)
	status, out := a.post("/sandbox/api/say", map[string]any{"chat": chat, "user": user, "text": text})
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	require.EqualValues(a.t, http.StatusOK, out["callbackStatus"], "%v", out)
	var reply string
	require.Eventually(a.t, func() bool {
		replies := a.botReplies(chat)
		if len(replies) > len(before) {
			reply = replies[len(replies)-1]
			return true
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the bot answers %q", text)
	return reply
}

// botReplies are the bot's messages in chat that are not the page's posts.
func (a *sandboxApp) botReplies(chat string) []string {
	chats, _ := a.state()
	var out []string
	for _, m := range chats[chat] {
		if m.From == "bot" && !strings.HasPrefix(m.Text, "post ") {
			out = append(out, m.Text)
		}
	}
	return out
}

// live counts the page's posts in chat that are not recalled.
func (a *sandboxApp) live(chat string) int {
	chats, _ := a.state()
	n := 0
	for _, m := range chats[chat] {
		if m.From == "bot" && strings.HasPrefix(m.Text, "post ") && !m.Recalled {
			n++
		}
	}
	return n
}

// TestSandboxChatsAreKnownByNameFromTheStart: the page's one-click chip
// "recall 2 in ops-alerts" works on a fresh start, before anyone wrote in
// ops-alerts.
func TestSandboxChatsAreKnownByNameFromTheStart(t *testing.T) {
	a := startSandboxMode(t, map[string]string{"LOG_LEVEL": "error", "REPLY_TTL": "0", "ACK_STYLE": "reply"})
	status, out := a.post("/sandbox/api/bot", map[string]any{"chat": "ops-alerts", "text": "post", "count": 3})
	require.Equal(t, http.StatusOK, status, "%v", out)
	reply := a.say("dm-ops-lead", "ops-lead", "recall 2 in ops-alerts")
	assert.NotContains(t, reply, "don't know")
	assert.Contains(t, reply, "2")
	assert.Equal(t, 1, a.live("ops-alerts"))
}

// TestSandboxLetsConfirmBeTriedAtOnce: the page can post more than
// RECALL_CONFIRM_OVER messages at once without the burst guard refusing, so
// "recall 25" asks for confirmation and "recall confirm" takes them.
func TestSandboxLetsConfirmBeTriedAtOnce(t *testing.T) {
	a := startSandboxMode(t, map[string]string{"LOG_LEVEL": "error", "REPLY_TTL": "0", "ACK_STYLE": "reply"})
	status, out := a.post("/sandbox/api/bot", map[string]any{"chat": "deploys", "text": "post", "count": 30})
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, 30, a.live("deploys"))
	_, st := a.state()
	assert.EqualValues(t, 50, st["maxCount"])

	preview := a.say("deploys", "ops-lead", "recall 25")
	assert.Contains(t, preview, "recall confirm")
	assert.Equal(t, 30, a.live("deploys"), "nothing is recalled before the confirmation")
	a.say("deploys", "ops-lead", "recall confirm")
	assert.Equal(t, 5, a.live("deploys"))
}

// TestSandboxBannerUsesThePagesChats: the banner's curl lines post into a
// chat the page shows by name.
func TestSandboxBannerUsesThePagesChats(t *testing.T) {
	var buf bytes.Buffer
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	ln := listen(t)
	defer ln.Close()
	sandboxBanner(&buf, cfg, ln.Addr(), true)
	assert.Contains(t, buf.String(), "cidSandboxOps==")
	assert.NotContains(t, buf.String(), "cidSandbox==")
	assert.Equal(t, sandboxBurstLimit, cfg.BurstLimit, "sandbox mode raises the burst limit")
	assert.Greater(t, cfg.BurstLimit, cfg.ConfirmOver)
}

// TestSandboxFiresAndResolvesASampleAlert: the page's Alertmanager buttons
// go through the built-in route: each fire replaces the group's message in
// ops-alerts, and resolving recalls it and leaves a notice.
func TestSandboxFiresAndResolvesASampleAlert(t *testing.T) {
	a := startSandboxMode(t, map[string]string{"LOG_LEVEL": "error"})
	resp, err := http.Get(a.base + "/sandbox/api/state")
	require.NoError(t, err)
	var st struct {
		AlertChat string `json:"alertChat"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	assert.Equal(t, sandboxAlertChat, st.AlertChat)

	alerts := func() (live, recalled []string) {
		chats, _ := a.state()
		for _, m := range chats["ops-alerts"] {
			if m.From != "bot" {
				continue
			}
			if m.Recalled {
				recalled = append(recalled, m.Text)
			} else {
				live = append(live, m.Text)
			}
		}
		return live, recalled
	}
	status, out := a.post("/sandbox/api/alert", map[string]any{"action": "fire"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.EqualValues(t, 1, out["firing"])
	live, _ := alerts()
	require.Len(t, live, 1)
	assert.Contains(t, live[0], "db-1")

	status, out = a.post("/sandbox/api/alert", map[string]any{"action": "fire"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Len(t, out["result"].(map[string]any)["recalled"], 1, "the group's message was replaced")
	live, recalled := alerts()
	require.Len(t, live, 1)
	assert.Contains(t, live[0], "db-2")
	assert.Len(t, recalled, 1)

	status, out = a.post("/sandbox/api/alert", map[string]any{"action": "resolve"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.EqualValues(t, 0, out["firing"])
	live, recalled = alerts()
	require.Len(t, live, 1, "only the resolved notice")
	assert.Contains(t, live[0], "db-1")
	assert.Contains(t, live[0], "db-2")
	assert.Len(t, recalled, 2)

	status, out = a.post("/sandbox/api/alert", map[string]any{"action": "resolve"})
	assert.Equal(t, http.StatusBadRequest, status, "nothing fires any more: %v", out)
	status, out = a.post("/sandbox/api/alert", map[string]any{"action": "explode"})
	assert.Equal(t, http.StatusBadRequest, status, "%v", out)
	assert.Contains(t, out["error"].(map[string]any)["message"], "want fire or resolve")
}

// TestSandboxWebhookRoute: the banner's custom robot curl line posts into
// deploys through the built-in webhook route.
func TestSandboxWebhookRoute(t *testing.T) {
	a := startSandboxMode(t, map[string]string{"LOG_LEVEL": "error"})
	resp, err := http.Post(a.base+"/robot/send?access_token="+sandboxWebhookToken, "application/json",
		strings.NewReader(`{"msgtype":"markdown","markdown":{"title":"deploy","text":"v1.2.3 is live"}}`))
	require.NoError(t, err)
	var ans map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
	resp.Body.Close()
	assert.EqualValues(t, 0, ans["errcode"], "%v", ans)
	chats, _ := a.state()
	require.NotEmpty(t, chats["deploys"])
	assert.Equal(t, "v1.2.3 is live", chats["deploys"][len(chats["deploys"])-1].Text)

	var buf bytes.Buffer
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	ln := listen(t)
	defer ln.Close()
	sandboxBanner(&buf, cfg, ln.Addr(), true)
	assert.Contains(t, buf.String(), "/robot/send?access_token="+sandboxWebhookToken)
	assert.Contains(t, buf.String(), "/alertmanager/"+sandboxAlertRoute)
}
