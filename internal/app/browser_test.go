package app

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// browserMessage is a message as the sandbox page shows it.
type browserMessage struct {
	From     string `json:"from"`
	User     string `json:"user"`
	Callback string `json:"callback"`
	Recalled string `json:"recalled"`
	Text     string `json:"text"`
}

// browserMessagesJS lists the messages of a chat column in the page, in
// order, as browserMessage values. %s is the chat's id on the page.
const browserMessagesJS = `Array.from(document.querySelectorAll('#messages-%s .msg')).map(e => ({
	from: e.dataset.from, user: e.dataset.user || '', callback: e.dataset.callback || '',
	recalled: e.dataset.recalled || '', text: e.querySelector('.text').textContent}))`

// chromiumPath is the browser the browser tests drive. It skips the test when
// there is none, unless DINGRECALL_REQUIRE_BROWSER=1 (CI), which fails it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("DINGRECALL_REQUIRE_BROWSER") == "1" {
		t.Fatal("DINGRECALL_REQUIRE_BROWSER=1 but chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium), so the browser test is skipped; DINGRECALL_REQUIRE_BROWSER=1 makes this a failure")
	return ""
}

// startSandboxApp runs the whole app in sandbox mode (no DINGTALK_APP_KEY)
// with ACK_STYLE ack and returns its base URL once /healthz answers; it
// stops when the test ends.
func startSandboxApp(t *testing.T, ack string) string {
	t.Helper()
	env := map[string]string{"LOG_LEVEL": "error", "REPLY_TTL": "0", "ACK_STYLE": ack}
	ln := listen(t)
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, ln, func(k string) string { return env[k] }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the app did not shut down")
		}
	})
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("app stopped at start-up: %v", err)
	default:
	}
	return base
}

// newBrowser starts a headless chromium with a fresh profile and returns a
// tab's context, which ends after timeout.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(1440, 900),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancel := context.WithTimeout(tabCtx, timeout)
	t.Cleanup(func() {
		cancel()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// pollFor waits until the JavaScript expression is true in the page.
func pollFor(ctx context.Context, t *testing.T, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "waiting for %s", what)
}

// pageMessages returns the messages the page shows in a chat.
func pageMessages(ctx context.Context, t *testing.T, chat string) []browserMessage {
	t.Helper()
	msgs, err := chromedp.Run(ctx, chromedp.Evaluate[[]browserMessage](strings.ReplaceAll(browserMessagesJS, "%s", chat)))
	require.NoError(t, err)
	return msgs
}

// botPosts returns the recalled flag of each of the bot's posts whose text
// starts with prefix, in page order.
func botPosts(msgs []browserMessage, prefix string) map[string]string {
	out := map[string]string{}
	for _, m := range msgs {
		if m.From == "bot" && strings.HasPrefix(m.Text, prefix) {
			out[m.Text] = m.Recalled
		}
	}
	return out
}

// TestBrowserSandboxRecall drives the sandbox page in a real browser: the bot
// posts five messages into the group through the page, an allowed person
// recalls the last three, and a stranger is refused. It checks the page shows
// exactly that, live, and saves a screenshot (to DINGRECALL_SCREENSHOT too,
// when set).
func TestBrowserSandboxRecall(t *testing.T) {
	ctx := newBrowser(t, 30*time.Second) // skips without chromium, before the app starts
	base := startSandboxApp(t, "reply")  // it reads the bot's reply to every command

	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1440, 1120),
		chromedp.Navigate(base+"/sandbox"),
		chromedp.WaitVisible(chromedp.ID("bot-ops-alerts-text")),
	))
	// The bot posts 5 messages into ops-alerts through the page (/api/v1/messages).
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("bot-ops-alerts-text"), "ALERT disk 91% on db-3"),
		chromedp.SetValue(chromedp.ID("bot-ops-alerts-count"), "5"),
		chromedp.Click(chromedp.ID("bot-ops-alerts-send")),
	))
	pollFor(ctx, t, "the bot's 5 posts", `document.querySelectorAll('#messages-ops-alerts .msg[data-from="bot"][data-recalled="false"]').length === 5`)

	// oncall, a recall user, types "recall 3" (a signed callback).
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("say-ops-alerts-user"), "oncall"),
		chromedp.SendKeys(chromedp.ID("say-ops-alerts-text"), "recall 3"),
		chromedp.Click(chromedp.ID("say-ops-alerts-send")),
	))
	pollFor(ctx, t, "the recall and its reply", `document.querySelectorAll('#messages-ops-alerts .msg[data-from="bot"][data-recalled="true"]').length === 3 &&
		Array.from(document.querySelectorAll('#messages-ops-alerts .msg[data-from="bot"] .text')).some(e => e.textContent.includes('Recalled 3 messages'))`)
	posts := botPosts(pageMessages(ctx, t, "ops-alerts"), "ALERT disk 91% on db-3")
	assert.Equal(t, map[string]string{
		"ALERT disk 91% on db-3 (1/5)": "false",
		"ALERT disk 91% on db-3 (2/5)": "false",
		"ALERT disk 91% on db-3 (3/5)": "true",
		"ALERT disk 91% on db-3 (4/5)": "true",
		"ALERT disk 91% on db-3 (5/5)": "true",
	}, posts, "exactly the 3 newest are recalled")
	recalledLabels, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#messages-ops-alerts .msg.recalled .recalled-label').length`))
	require.NoError(t, err)
	assert.Equal(t, 3, recalledLabels, "each recalled message is labelled")

	// A stranger types "recall 1": refused, nothing more recalled.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("say-ops-alerts-user"), "stranger"),
		chromedp.SendKeys(chromedp.ID("say-ops-alerts-text"), "recall 1"),
		chromedp.Click(chromedp.ID("say-ops-alerts-send")),
	))
	pollFor(ctx, t, "the refusal", `Array.from(document.querySelectorAll('#messages-ops-alerts .msg[data-from="bot"] .text')).some(e => e.textContent.includes('not allowed'))`)
	msgs := pageMessages(ctx, t, "ops-alerts")
	assert.Equal(t, posts, botPosts(msgs, "ALERT disk 91% on db-3"), "the stranger recalled nothing")
	recalled := 0
	for _, m := range msgs {
		if m.Recalled == "true" {
			recalled++
		}
	}
	assert.Equal(t, 3, recalled)
	var typed []browserMessage
	for _, m := range msgs {
		if m.From == "user" {
			typed = append(typed, m)
		}
	}
	assert.Equal(t, []browserMessage{
		{From: "user", User: "oncall", Callback: "200", Text: "recall 3"},
		{From: "user", User: "stranger", Callback: "200", Text: "recall 1"},
	}, typed, "both commands went through the signed callback")
	last := msgs[len(msgs)-1]
	assert.Equal(t, "bot", last.From)
	assert.Contains(t, last.Text, "not allowed", "the refusal is the newest message")

	// The one-to-one chat: ops-lead asks for the chats; the bot answers there
	// (oToMessages/batchSend to ops-lead), and the deploys group gets a post.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("bot-deploys-send"))))
	pollFor(ctx, t, "the deploy post", `document.querySelectorAll('#messages-deploys .msg[data-from="bot"]').length === 1`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("say-dm-ops-lead-text"), "chats"),
		chromedp.Click(chromedp.ID("say-dm-ops-lead-send")),
	))
	pollFor(ctx, t, "the answer in the one-to-one chat", `Array.from(document.querySelectorAll('#messages-dm-ops-lead .msg[data-from="bot"] .text')).some(e => e.textContent.includes('ops-alerts'))`)
	dm := pageMessages(ctx, t, "dm-ops-lead")
	require.Len(t, dm, 2)
	assert.Equal(t, browserMessage{From: "user", User: "ops-lead", Callback: "200", Text: "chats"}, dm[0])
	assert.Contains(t, dm[1].Text, "ops-alerts (cidSandboxOps==): 2", "ops-alerts has 2 recallable posts left")

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), "sandbox.png"), png, 0o644))
	if path := os.Getenv("DINGRECALL_SCREENSHOT"); path != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, png, 0o644))
		t.Logf("screenshot written to %s", path)
	}
}

// TestBrowserSandboxQuote drives quote to recall in a real browser, with the
// default ACK_STYLE (reaction): the bot posts three alerts, on-call quotes
// the second ("↩ quote") and says "recall": exactly that alert goes, and
// on-call's message shows the done reaction, with no reply. Then a stranger
// quotes the third: refused, with the failed reaction and a reply saying
// why. It saves a screenshot of the chat (quote.png, next to
// DINGRECALL_SCREENSHOT too, when set).
func TestBrowserSandboxQuote(t *testing.T) {
	ctx := newBrowser(t, 30*time.Second) // skips without chromium, before the app starts
	base := startSandboxApp(t, "")       // ACK_STYLE unset: reactions

	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1440, 1000),
		chromedp.Navigate(base+"/sandbox"),
		chromedp.WaitVisible(chromedp.ID("bot-ops-alerts-text")),
		chromedp.SetValue(chromedp.ID("bot-ops-alerts-text"), "ALERT disk 91% on db-3"),
		chromedp.SetValue(chromedp.ID("bot-ops-alerts-count"), "3"),
		chromedp.Click(chromedp.ID("bot-ops-alerts-send")),
	))
	pollFor(ctx, t, "the bot's 3 posts", `document.querySelectorAll('#messages-ops-alerts .msg[data-from="bot"]').length === 3`)
	idOf := func(text string) string {
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('#messages-ops-alerts .msg[data-from="bot"]')).find(e => e.querySelector('.text').textContent === `+jsString(text)+`).dataset.id`))
		require.NoError(t, err)
		require.NotEmpty(t, id)
		return id
	}
	second, third := idOf("ALERT disk 91% on db-3 (2/3)"), idOf("ALERT disk 91% on db-3 (3/3)")

	// on-call quotes the second alert and says "recall".
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("quote-"+second)),
		chromedp.WaitVisible(chromedp.ID("say-ops-alerts-quote")),
	))
	bar, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("say-ops-alerts-quote-text")))
	require.NoError(t, err)
	assert.Equal(t, "dingrecall: ALERT disk 91% on db-3 (2/3)", bar)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("say-ops-alerts-user"), "oncall"),
		chromedp.SendKeys(chromedp.ID("say-ops-alerts-text"), "recall"),
		chromedp.Click(chromedp.ID("say-ops-alerts-send")),
	))
	pollFor(ctx, t, "the quoted alert recalled and the done reaction", `document.querySelector('#msg-`+second+`').dataset.recalled === 'true' &&
		document.querySelector('#messages-ops-alerts .msg[data-from="user"]').dataset.reactions === '`+dingtalk.EmotionDone.Text+`'`)
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('say-ops-alerts-quote').hidden`))
	require.NoError(t, err)
	assert.True(t, hidden, "the quote is used once")
	posts := botPosts(pageMessages(ctx, t, "ops-alerts"), "ALERT disk 91% on db-3")
	assert.Equal(t, map[string]string{
		"ALERT disk 91% on db-3 (1/3)": "false",
		"ALERT disk 91% on db-3 (2/3)": "true",
		"ALERT disk 91% on db-3 (3/3)": "false",
	}, posts, "exactly the quoted alert is recalled")
	quoteOf, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#messages-ops-alerts .msg[data-from="user"]').dataset.quoteOf`))
	require.NoError(t, err)
	assert.Equal(t, second, quoteOf, "the page shows what was quoted")

	// A stranger quotes the third: refused, with the failed reaction and a reply.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("quote-"+third)),
		chromedp.WaitVisible(chromedp.ID("say-ops-alerts-quote")),
		chromedp.SetValue(chromedp.ID("say-ops-alerts-user"), "stranger"),
		chromedp.SendKeys(chromedp.ID("say-ops-alerts-text"), "recall"),
		chromedp.Click(chromedp.ID("say-ops-alerts-send")),
	))
	pollFor(ctx, t, "the refusal and the failed reaction", `Array.from(document.querySelectorAll('#messages-ops-alerts .msg[data-from="bot"] .text')).some(e => e.textContent.includes('not allowed')) &&
		document.querySelector('#messages-ops-alerts .msg[data-user="stranger"]').dataset.reactions === '`+dingtalk.EmotionFailed.Text+`'`)
	msgs := pageMessages(ctx, t, "ops-alerts")
	assert.Equal(t, posts, botPosts(msgs, "ALERT disk 91% on db-3"), "the stranger recalled nothing")
	var replies []string
	for _, m := range msgs {
		if m.From == "bot" && !strings.HasPrefix(m.Text, "ALERT") {
			replies = append(replies, m.Text)
		}
	}
	require.Len(t, replies, 1, "one reply: the refusal; the recall was acknowledged by its reaction")
	assert.Contains(t, replies[0], "not allowed")

	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("chat-ops-alerts")))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), "quote.png"), png, 0o644))
	if path := os.Getenv("DINGRECALL_SCREENSHOT"); path != "" {
		out := filepath.Join(filepath.Dir(path), "quote.png")
		require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
		require.NoError(t, os.WriteFile(out, png, 0o644))
		t.Logf("screenshot written to %s", out)
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	raw, _ := json.Marshal(s) // a JSON string is a JavaScript string literal
	return string(raw)
}
