package dingtalk_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
)

func TestQuoteSamples(t *testing.T) {
	const bot = "$:LWCP_v1:$botUserId"
	tests := []struct {
		file string
		text string
		want dingtalk.Quote
	}{
		{"group-quote-bot-text.json", " recall", dingtalk.Quote{
			MsgID: "msgBotAlert0007==", SenderID: bot, BotID: bot, MsgType: "text",
			CreatedAt: time.UnixMilli(1764112380512), Texts: []string{"ALERT disk 91% on db-3"}}},
		{"group-quote-bot-markdown.json", " recall preview", dingtalk.Quote{
			MsgID: "msgBotDeploy0011==", SenderID: bot, BotID: bot, MsgType: "markdown",
			CreatedAt: time.UnixMilli(1764112501200), Texts: []string{"deploy v1.2.3 started on prod", "deploy v1.2.3"}}},
		{"group-quote-bot-card.json", " 撤回", dingtalk.Quote{
			MsgID: "msgBotCard0003==", SenderID: bot, BotID: bot, MsgType: "interactiveCard",
			CreatedAt: time.UnixMilli(1764112440077), ProcessQueryKey: "carrier-0003-example=="}},
		{"group-quote-person.json", " recall", dingtalk.Quote{
			MsgID: "msgOps0040==", SenderID: "$:LWCP_v1:$senderId1002", BotID: bot, MsgType: "text",
			CreatedAt: time.UnixMilli(1764112600102), Texts: []string{"who restarted db-3?"}}},
		{"group-quote-bot-untracked.json", " 撤回", dingtalk.Quote{
			MsgID: "msgBotOld0001==", SenderID: bot, BotID: bot, MsgType: "text",
			CreatedAt: time.UnixMilli(1764020000000), Texts: []string{"nightly backup finished"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "callbacks", tt.file))
			require.NoError(t, err)
			cb, err := dingtalk.DecodeCallback(body)
			require.NoError(t, err)
			assert.Equal(t, tt.text, cb.PlainText())
			q, ok := cb.Quote()
			require.True(t, ok)
			assert.Equal(t, tt.want, q)
			byBot, known := q.ByBot()
			assert.True(t, known)
			assert.Equal(t, tt.want.SenderID == bot, byBot)
		})
	}
	t.Run("a plain command quotes nothing", func(t *testing.T) {
		body, err := os.ReadFile(filepath.Join("testdata", "callbacks", "group-text.json"))
		require.NoError(t, err)
		cb, err := dingtalk.DecodeCallback(body)
		require.NoError(t, err)
		_, ok := cb.Quote()
		assert.False(t, ok)
	})
}

// TestQuoteFieldsAreOptional feeds quote fields that are missing or of
// unexpected types: the callback still decodes, and what can be read is.
func TestQuoteFieldsAreOptional(t *testing.T) {
	const head = `{"conversationId":"cid","msgId":"m","chatbotUserId":"bot",`
	tests := []struct {
		name   string
		body   string
		quoted bool
		want   dingtalk.Quote
		byBot  bool
		known  bool
	}{
		{"isReplyMsg alone", head + `"text":{"content":"recall","isReplyMsg":true}}`, true,
			dingtalk.Quote{BotID: "bot"}, false, false},
		{"isReplyMsg as a string", head + `"text":{"content":"recall","isReplyMsg":"true"}}`, true,
			dingtalk.Quote{BotID: "bot"}, false, false},
		{"isReplyMsg false, nothing else", head + `"text":{"content":"recall","isReplyMsg":false}}`, false,
			dingtalk.Quote{}, false, false},
		{"isReplyMsg of another type", head + `"text":{"content":"recall","isReplyMsg":[1]}}`, false,
			dingtalk.Quote{}, false, false},
		{"originalMsgId alone", head + `"originalMsgId":"q1","text":{"content":"recall"}}`, true,
			dingtalk.Quote{MsgID: "q1", BotID: "bot"}, false, false},
		{"originalProcessQueryKey alone", head + `"originalProcessQueryKey":"k1","text":{"content":"recall"}}`, true,
			dingtalk.Quote{BotID: "bot", ProcessQueryKey: "k1"}, false, false},
		{"originalMsgId of another type", head + `"originalMsgId":{"a":1},"text":{"content":"recall"}}`, false,
			dingtalk.Quote{}, false, false},
		{"repliedMsg not an object", head + `"text":{"content":"recall","isReplyMsg":true,"repliedMsg":"msg"}}`, true,
			dingtalk.Quote{BotID: "bot"}, false, false},
		{"createdAt as a string", head + `"text":{"content":"recall","repliedMsg":{"senderId":"bot","createdAt":"1764112380512"}}}`, true,
			dingtalk.Quote{SenderID: "bot", BotID: "bot", CreatedAt: time.UnixMilli(1764112380512)}, true, true},
		{"createTime instead of createdAt", head + `"text":{"content":"recall","repliedMsg":{"senderId":"x","createTime":1764112380512}}}`, true,
			dingtalk.Quote{SenderID: "x", BotID: "bot", CreatedAt: time.UnixMilli(1764112380512)}, false, true},
		{"createdAt of another type", head + `"text":{"content":"recall","repliedMsg":{"createdAt":true,"msgId":7}}}`, true,
			dingtalk.Quote{MsgID: "7", BotID: "bot"}, false, false},
		{"negative createdAt", head + `"text":{"content":"recall","repliedMsg":{"createdAt":-5}}}`, true,
			dingtalk.Quote{BotID: "bot"}, false, false},
		{"content a string", head + `"text":{"content":"recall","repliedMsg":{"content":" hello "}}}`, true,
			dingtalk.Quote{BotID: "bot", Texts: []string{"hello"}}, false, false},
		{"content rich text", head + `"text":{"content":"recall","repliedMsg":{"content":{"richText":[{"text":"a"},{"downloadCode":"x"},{"text":"b"}]}}}}`, true,
			dingtalk.Quote{BotID: "bot", Texts: []string{"a b"}}, false, false},
		{"no bot id", `{"conversationId":"cid","msgId":"m","text":{"content":"recall","repliedMsg":{"senderId":"bot"}}}`, true,
			dingtalk.Quote{SenderID: "bot"}, false, false},
		{"text null", head + `"text":null}`, false, dingtalk.Quote{}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := dingtalk.DecodeCallback([]byte(tt.body))
			require.NoError(t, err)
			q, ok := cb.Quote()
			require.Equal(t, tt.quoted, ok)
			assert.Equal(t, tt.want, q)
			byBot, known := q.ByBot()
			assert.Equal(t, tt.byBot, byBot)
			assert.Equal(t, tt.known, known)
		})
	}
}

// TestQuoteRoundTrip checks that a decoded quote encodes to JSON that
// decodes to the same callback.
func TestQuoteRoundTrip(t *testing.T) {
	body := `{"conversationId":"cid","msgId":"m","originalMsgId":"q","originalProcessQueryKey":"k",
		"text":{"content":"recall","isReplyMsg":"TRUE","repliedMsg":{"msgId":"q","createdAt":"12","content":{ "text" : "<b>&" }}}}`
	cb, err := dingtalk.DecodeCallback([]byte(body))
	require.NoError(t, err)
	raw, err := json.Marshal(cb)
	require.NoError(t, err)
	again, err := dingtalk.DecodeCallback(raw)
	require.NoError(t, err)
	assert.Equal(t, cb, again)
	q, _ := again.Quote()
	assert.Equal(t, []string{"<b>&"}, q.Texts)
	assert.Equal(t, "k", again.OriginalProcessQueryKey)
}

func TestRepliedMsgUnmarshalOnItsOwn(t *testing.T) {
	var r dingtalk.RepliedMsg
	require.NoError(t, json.Unmarshal([]byte(`{"msgId":"a","content":null}`), &r))
	assert.Equal(t, dingtalk.RepliedMsg{MsgID: "a"}, r)
	require.NoError(t, json.Unmarshal([]byte(`["not","an","object"]`), &r))
	assert.Equal(t, dingtalk.RepliedMsg{}, r, "JSON that is no object leaves it empty")
	assert.Error(t, r.UnmarshalJSON([]byte(`{"msgId":`)), "malformed JSON fails")
	assert.Nil(t, r.Texts())
	assert.Nil(t, dingtalk.RepliedMsg{Content: []byte(`[1]`)}.Texts())
}
