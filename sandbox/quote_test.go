package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// lastCallback is the newest callback the stub app received, decoded as
// the app decodes it.
func (g *rig) lastCallback() (*dingtalk.Callback, map[string]any) {
	g.t.Helper()
	callbacks, _ := g.app.recorded()
	require.NotEmpty(g.t, callbacks)
	raw := callbacks[len(callbacks)-1]
	body, err := json.Marshal(raw)
	require.NoError(g.t, err)
	cb, err := dingtalk.DecodeCallback(body)
	require.NoError(g.t, err)
	return cb, raw
}

func TestSayQuotesABotMessage(t *testing.T) {
	g := newRig(t)
	status, out := g.post("/sandbox/api/bot", map[string]any{"chat": "ops-alerts", "text": "disk full", "count": 2})
	require.Equal(t, http.StatusOK, status, "%v", out)
	key := out["keys"].([]any)[1].(string)
	sent, ok := g.fake.Message(key)
	require.True(t, ok)

	status, out = g.post("/sandbox/api/say", map[string]any{"chat": "ops-alerts", "user": "oncall", "text": "recall", "quote": "bot-" + key})
	require.Equal(t, http.StatusOK, status, "%v", out)
	cb, raw := g.lastCallback()
	assert.Equal(t, map[string]any{
		"content": " recall", "isReplyMsg": true,
		"repliedMsg": map[string]any{"msgType": "text", "msgId": "sandbox-bot-" + key, "senderId": cb.ChatbotUserID,
			"createdAt": float64(sent.SentAt.UnixMilli()), "content": map[string]any{"text": "disk full (2/2)"}},
	}, raw["text"])
	assert.Equal(t, "sandbox-bot-"+key, raw["originalMsgId"])
	assert.NotContains(t, raw, "originalProcessQueryKey", "DingTalk sends it for quoted cards only")

	q, ok := cb.Quote()
	require.True(t, ok)
	byBot, known := q.ByBot()
	assert.True(t, byBot && known, "the quote is of the bot's message")
	assert.Equal(t, sent.SentAt.UnixMilli(), q.CreatedAt.UnixMilli())
	assert.Equal(t, []string{"disk full (2/2)"}, q.Texts)
	assert.Equal(t, " recall", cb.PlainText())

	chats, _ := g.state()
	msgs := chats["ops-alerts"].Messages
	require.Len(t, msgs, 3)
	assert.Equal(t, &quoteState{ID: "bot-" + key, Nick: "dingrecall", Text: "disk full (2/2)"}, msgs[2].Quote)
}

func TestSayQuotesATypedMessage(t *testing.T) {
	g := newRig(t)
	status, out := g.post("/sandbox/api/say", map[string]any{"chat": "deploys", "user": "stranger", "text": "who deployed?"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	id := out["id"].(string)
	status, out = g.post("/sandbox/api/say", map[string]any{"chat": "deploys", "user": "oncall", "text": "recall", "quote": id})
	require.Equal(t, http.StatusOK, status, "%v", out)
	cb, raw := g.lastCallback()
	q, ok := cb.Quote()
	require.True(t, ok)
	byBot, known := q.ByBot()
	assert.True(t, !byBot && known, "a person's message is not the bot's")
	assert.Equal(t, "$:LWCP_v1:$stranger", q.SenderID)
	assert.Equal(t, []string{"who deployed?"}, q.Texts)
	assert.NotEmpty(t, raw["originalMsgId"])
}

func TestSayRefusesABadQuote(t *testing.T) {
	g := newRig(t)
	status, out := g.post("/sandbox/api/bot", map[string]any{"chat": "ops-alerts", "text": "disk full", "count": 2})
	require.Equal(t, http.StatusOK, status, "%v", out)
	keys := out["keys"].([]any)
	_, err := g.app.client.RecallGroup(context.Background(), "cidSandboxOps==", []string{keys[0].(string)})
	require.NoError(t, err)
	for _, tt := range []struct{ name, chat, quote string }{
		{"unknown", "ops-alerts", "bot-nope"},
		{"in another chat", "deploys", "bot-" + keys[1].(string)},
		{"recalled", "ops-alerts", "bot-" + keys[0].(string)},
		{"a typed message that is not there", "ops-alerts", "u42"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, out := g.post("/sandbox/api/say", map[string]any{"chat": tt.chat, "user": "oncall", "text": "recall", "quote": tt.quote})
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, "quote", out["error"].(map[string]any)["field"])
		})
	}
	callbacks, _ := g.app.recorded()
	assert.Empty(t, callbacks, "nothing was posted")
}

func TestStateShowsReactions(t *testing.T) {
	g := newRig(t)
	status, out := g.post("/sandbox/api/say", map[string]any{"chat": "ops-alerts", "user": "oncall", "text": "recall"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	msgID := out["msgId"].(string)
	ctx := context.Background()
	require.NoError(t, g.app.client.ReplyEmotion(ctx, "cidSandboxOps==", msgID, dingtalk.EmotionWorking))
	chats, _ := g.state()
	assert.Equal(t, []string{dingtalk.EmotionWorking.Text}, chats["ops-alerts"].Messages[0].Reactions)

	require.NoError(t, g.app.client.RecallEmotion(ctx, "cidSandboxOps==", msgID, dingtalk.EmotionWorking))
	require.NoError(t, g.app.client.ReplyEmotion(ctx, "cidSandboxOps==", msgID, dingtalk.EmotionDone))
	chats, _ = g.state()
	assert.Equal(t, []string{dingtalk.EmotionDone.Text}, chats["ops-alerts"].Messages[0].Reactions, "a recalled reaction is not shown")
}
