package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// quoteSample reads a quote callback sample from the dingtalk package's
// testdata and makes it fresh: a new msgId, createAt now, the fake's robot
// code, and the chat conv.
func (a *testApp) quoteSample(name, conv string) map[string]any {
	a.t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "dingtalk", "testdata", "callbacks", name))
	require.NoError(a.t, err)
	var body map[string]any
	require.NoError(a.t, json.Unmarshal(raw, &body))
	body["msgId"] = fmt.Sprintf("quote-%d", a.msgSeq.Add(1))
	body["createAt"] = a.now().UnixMilli()
	body["robotCode"] = a.fake.RobotCode()
	body["conversationId"] = conv
	return body
}

// repliedMsg is the text.repliedMsg object of a quote callback body.
func repliedMsg(body map[string]any) map[string]any {
	return body["text"].(map[string]any)["repliedMsg"].(map[string]any)
}

// quoting makes body quote the bot's message with key as DingTalk would:
// repliedMsg.createdAt is DingTalk's (the fake's) send time of it.
func (a *testApp) quoting(body map[string]any, key string) map[string]any {
	a.t.Helper()
	m, ok := a.fake.Message(key)
	require.True(a.t, ok, "the fake has %s", key)
	repliedMsg(body)["createdAt"] = m.SentAt.UnixMilli()
	return body
}

// transports are the two ways a callback reaches the app: the signed HTTP
// callback and a frame on the Stream mode connection.
var transports = []struct {
	name string
	env  map[string]string
	send func(a *testApp, body map[string]any) dingtalktest.Message
}{
	{"http", nil, (*testApp).command},
	{"stream", map[string]string{"CALLBACK_MODE": "stream"}, (*testApp).push},
}

// startFor starts an app for transport env and waits until it takes
// callbacks that way.
func startFor(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	a := startApp(t, nil, env)
	a.waitReady(http.StatusOK)
	return a
}

// TestQuoteToRecallEndToEnd runs every branch of quote to recall on the
// samples, through the signed callback and through Stream mode.
func TestQuoteToRecallEndToEnd(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			a := startFor(t, tr.env)
			t.Run("a quoted text: the quoted words pick it among those sent with it", func(t *testing.T) {
				const conv = "cidQuoteText=="
				keys := a.send(conv, 3, nil) // alert 0, alert 1, alert 2, within milliseconds
				body := a.quoting(a.quoteSample("group-quote-bot-text.json", conv), keys[1])
				repliedMsg(body)["content"] = map[string]any{"text": "alert 1"}
				reply := tr.send(a, body)
				assert.Equal(t, "Recalled 1 message.", replyText(t, reply))
				assert.Equal(t, []string{keys[1]}, a.recalledOf(keys))
			})
			t.Run("a quoted markdown: recall preview shows it and recalls nothing", func(t *testing.T) {
				const conv = "cidQuoteMarkdown=="
				key := a.sendMarkdown(conv, "deploy v1.2.3", "deploy v1.2.3 started on prod")
				a.send(conv, 1, nil)
				reply := tr.send(a, a.quoting(a.quoteSample("group-quote-bot-markdown.json", conv), key))
				text := replyText(t, reply)
				assert.Contains(t, text, `"recall" on the message you quoted would take 1 message`)
				assert.Contains(t, text, "• deploy v1.2.3\nNothing was recalled.")
				assert.Empty(t, a.recalledOf([]string{key}))
			})
			t.Run("a quoted card: exactly its key, in Chinese", func(t *testing.T) {
				const conv = "cidQuoteCard=="
				card := a.sendRaw(conv, "sampleActionCard", `{"title":"approve deploy","text":"v1.2.3 to prod?","singleTitle":"open","singleURL":"https://example.com"}`)
				others := a.send(conv, 2, nil)
				body := a.quoteSample("group-quote-bot-card.json", conv)
				body["originalProcessQueryKey"] = card
				reply := tr.send(a, body)
				assert.Equal(t, "Recalled 1 message.", replyText(t, reply))
				assert.Equal(t, []string{card}, a.recalledOf(append(others, card)))
			})
			t.Run("a stranger quoting: refused, nothing recalled", func(t *testing.T) {
				const conv = "cidQuoteStranger=="
				keys := a.send(conv, 1, nil)
				body := a.quoting(a.quoteSample("group-quote-bot-text.json", conv), keys[0])
				body["senderStaffId"] = "staff-guest"
				body["isAdmin"] = false
				reply := tr.send(a, body)
				assert.Contains(t, replyText(t, reply), "not allowed")
				assert.Empty(t, a.recalledOf(keys))
			})
			t.Run("several sent then: a list, then quoting again picks by the words", func(t *testing.T) {
				const conv = "cidQuoteAgain=="
				keys := a.send(conv, 3, map[string]any{"text": "ALERT disk 91% on db-3"})
				body := a.quoting(a.quoteSample("group-quote-bot-text.json", conv), keys[1])
				assert.Contains(t, replyText(t, tr.send(a, body)), "3 of my messages here were sent within 3s")
				// Quoting again replaces the list: here a quote by key.
				again := a.quoteSample("group-quote-bot-card.json", conv)
				again["originalProcessQueryKey"] = keys[2]
				again["senderStaffId"], again["senderNick"] = body["senderStaffId"], body["senderNick"] // the same person
				assert.Equal(t, "Recalled 1 message.", replyText(t, tr.send(a, again)))
				assert.Equal(t, []string{keys[2]}, a.recalledOf(keys))
				// The list is gone: "recall 1" is an ordinary recall of the newest.
				pick := a.callbackBody("recall 1", func(b map[string]any) { b["conversationId"] = conv })
				assert.Equal(t, "Recalled 1 message.", replyText(t, tr.send(a, pick)))
				assert.Equal(t, []string{keys[1], keys[2]}, a.recalledOf(keys))
			})
			t.Run("a person's message: not the bot's, nothing recalled", func(t *testing.T) {
				const conv = "cidQuotePerson=="
				keys := a.send(conv, 2, nil)
				reply := tr.send(a, a.quoteSample("group-quote-person.json", conv))
				assert.Contains(t, replyText(t, reply), "The message you quoted is not mine, so I recalled nothing")
				assert.Empty(t, a.recalledOf(keys))
			})
			t.Run("no bot message sent then: not one the bot tracks", func(t *testing.T) {
				const conv = "cidQuoteNone=="
				keys := a.send(conv, 2, nil)
				reply := tr.send(a, a.quoteSample("group-quote-bot-untracked.json", conv))
				assert.Contains(t, replyText(t, reply), "I recalled nothing: the message you quoted is not one I track here.")
				assert.Empty(t, a.recalledOf(keys))
			})
			t.Run("several sent then: a list, and recall 2 of it", func(t *testing.T) {
				const conv = "cidQuoteList=="
				keys := a.send(conv, 3, map[string]any{"text": "ALERT disk 91% on db-3"}) // the words tell none apart
				body := a.quoting(a.quoteSample("group-quote-bot-text.json", conv), keys[1])
				list := replyText(t, tr.send(a, body))
				assert.Contains(t, list, "3 of my messages here were sent within 3s of the one you quoted:")
				assert.Contains(t, list, "1. ")
				assert.Contains(t, list, "3. ")
				assert.Empty(t, a.recalledOf(keys))

				pick := a.callbackBody("recall 2", func(b map[string]any) { b["conversationId"] = conv })
				assert.Equal(t, "Recalled 1 message.", replyText(t, tr.send(a, pick)))
				assert.Equal(t, []string{keys[1]}, a.recalledOf(keys), "number 2 of the list, in the order sent")
			})
			t.Run("recall 3 while quoting: the quoted one and the 2 before it", func(t *testing.T) {
				const conv = "cidQuoteThree=="
				keys := a.send(conv, 5, nil)
				body := a.quoting(a.quoteSample("group-quote-bot-text.json", conv), keys[3])
				body["text"].(map[string]any)["content"] = " recall 3"
				repliedMsg(body)["content"] = map[string]any{"text": "alert 3"}
				assert.Equal(t, "Recalled 3 messages.", replyText(t, tr.send(a, body)))
				assert.ElementsMatch(t, keys[1:4], a.recalledOf(keys))
			})
			t.Run("restore is unaffected by a quote", func(t *testing.T) {
				const conv = "cidQuoteRestore=="
				keys := a.send(conv, 2, nil)
				tr.send(a, a.callbackBody("recall 1", func(b map[string]any) { b["conversationId"] = conv }))
				body := a.quoting(a.quoteSample("group-quote-bot-text.json", conv), keys[0])
				body["text"].(map[string]any)["content"] = " restore"
				before := len(a.fake.Sent())
				assert.Equal(t, "alert 1", replyText(t, tr.send(a, body)), "the recalled message is sent again")
				assert.Contains(t, replyText(t, a.replyAfter(before+1)), "Sent back 1 of 1 message")
			})
		})
	}
}

// recalledOf returns those of keys the fake recalled, in the order given.
func (a *testApp) recalledOf(keys []string) []string {
	var out []string
	for _, k := range keys {
		if a.recalled(k) {
			out = append(out, k)
		}
	}
	return out
}

// sendMarkdown sends a markdown message into conv through the API and
// returns its key.
func (a *testApp) sendMarkdown(conv, title, text string) string {
	a.t.Helper()
	status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": conv, "markdown": map[string]any{"title": title, "text": text}})
	require.Equal(a.t, http.StatusCreated, status, "%v", out)
	return out["processQueryKey"].(string)
}

// sendRaw sends a message with a raw msgKey and msgParam into conv and
// returns its key.
func (a *testApp) sendRaw(conv, msgKey, msgParam string) string {
	a.t.Helper()
	status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": conv, "msgKey": msgKey, "msgParam": msgParam})
	require.Equal(a.t, http.StatusCreated, status, "%v", out)
	return out["processQueryKey"].(string)
}

// TestSandboxQuoteInStreamMode: the sandbox page's quote reaches the app
// over the Stream connection as DingTalk's would, and the page shows the
// reaction the bot put on the quoting message (ACK_STYLE unset: reactions).
func TestSandboxQuoteInStreamMode(t *testing.T) {
	a := startSandboxMode(t, map[string]string{"LOG_LEVEL": "error", "CALLBACK_MODE": "stream", "REPLY_TTL": "0"})
	status, out := a.post("/sandbox/api/bot", map[string]any{"chat": "ops-alerts", "text": "post", "count": 3})
	require.Equal(t, http.StatusOK, status, "%v", out)
	second := "bot-" + out["keys"].([]any)[1].(string)
	status, out = a.post("/sandbox/api/say", map[string]any{"chat": "ops-alerts", "user": "oncall", "text": "recall", "quote": second})
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, "stream", out["via"])
	var said sandboxMessage
	require.Eventually(t, func() bool {
		chats, _ := a.state()
		for _, m := range chats["ops-alerts"] {
			if m.From == "user" {
				said = m
			}
		}
		return len(said.Reactions) == 1 && said.Reactions[0] == reactDone
	}, 10*time.Second, 20*time.Millisecond, "the done reaction shows on the quoting message")
	chats, _ := a.state()
	var recalled []string
	for _, m := range chats["ops-alerts"] {
		if m.Recalled {
			recalled = append(recalled, m.ID)
		}
	}
	assert.Equal(t, []string{second}, recalled)
	assert.Len(t, a.botReplies("ops-alerts"), 0, "no reply: the reaction says it")
}
