package app

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// tapCard has the person picked in chat's composer tap the button action of
// the chat's newest card, once the page enables it (the app's Stream
// connection for card clicks is up), and waits for the app's ack.
func tapCard(ctx context.Context, t *testing.T, chat, user, action string) {
	t.Helper()
	button := `#messages-` + chat + ` .msg[data-from="bot"]:last-of-type button.card-btn[data-action="` + action + `"]`
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("say-"+chat+"-user"), user)))
	pollFor(ctx, t, "the button enabled", `(() => { const b = document.querySelector('`+button+`'); return b !== null && !b.disabled; })()`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(button))))
	pollFor(ctx, t, "the app's ack of the click", `document.getElementById('status-`+chat+`').textContent.includes('acknowledged 200')`)
}

// TestBrowserSandboxCardButton drives the sandbox page in a real browser: the
// bot posts a card with a Recall button into deploys, a stranger taps it
// (nothing happens to the card; the stranger is told one-to-one), then
// oncall, a recall user, taps it and the card is recalled.
func TestBrowserSandboxCardButton(t *testing.T) {
	ctx := newBrowser(t, 45*time.Second) // skips without chromium, before the app starts
	base := startSandboxApp(t, "reply")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1440, 1120),
		chromedp.Navigate(base+"/sandbox"),
		chromedp.WaitVisible(chromedp.ID("bot-deploys-text")),
		chromedp.SetValue(chromedp.ID("bot-deploys-text"), "deploy v9 to PROD"),
		chromedp.Click(chromedp.ID("bot-deploys-card")),
		chromedp.Click(chromedp.ID("bot-deploys-send")),
	))
	pollFor(ctx, t, "the card with its Recall button",
		`document.querySelector('#messages-deploys .msg[data-from="bot"][data-recalled="false"] .bubble.card button.card-btn[data-action="recall"]') !== null`)

	tapCard(ctx, t, "deploys", "stranger", "recall")
	pollFor(ctx, t, "the stranger's one-to-one note",
		`Array.from(document.querySelectorAll('.chat .msg[data-from="bot"] .text')).some(e => e.textContent.startsWith('Your tap on Recall in deploys did nothing'))`)
	live, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`document.querySelectorAll('#messages-deploys .msg[data-from="bot"][data-recalled="true"]').length === 0`))
	require.NoError(t, err)
	require.True(t, live, "the stranger's tap recalled nothing")

	tapCard(ctx, t, "deploys", "oncall", "recall")
	pollFor(ctx, t, "the card recalled",
		`document.querySelectorAll('#messages-deploys .msg[data-from="bot"][data-recalled="true"]').length === 1`)
}
