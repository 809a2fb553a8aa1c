package handlers

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/store"
)

func TestSendCard(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantField string
		wantKind  store.Kind
		wantParam string
	}{
		{name: "a card with a Recall button", body: `{"conversationId":"cidA==","card":{"title":"deploy 42","text":"**prod**","recallButton":true},"tag":"d42","ttl":"10m"}`,
			wantKind: store.KindGroup, wantParam: `{"title":"deploy 42","text":"**prod**","recallButton":true}`},
		{name: "one-to-one, no button", body: `{"chatType":"oto","userId":"staff-1","card":{"title":"hi"}}`,
			wantKind: store.KindOTO, wantParam: `{"title":"hi","text":""}`},
		{name: "an empty card", body: `{"conversationId":"cidA==","card":{"title":" ","text":""}}`, wantField: "card"},
		{name: "a card and text", body: `{"conversationId":"cidA==","card":{"title":"x"},"text":"y"}`, wantField: "text"},
		{name: "into a private chat", body: `{"conversationId":"cidA==","chatType":"private","card":{"title":"x"}}`, wantField: "chatType"},
		{name: "an unknown card field", body: `{"conversationId":"cidA==","card":{"title":"x","buttons":[]}}`, wantField: "buttons"},
		{name: "recallButton not a boolean", body: `{"conversationId":"cidA==","card":{"title":"x","recallButton":"yes"}}`, wantField: "card.recallButton"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRouter(t)
			r.bot.sendMsg = store.Message{Key: "carrier-1", ChatID: "cidA==", Kind: store.KindGroup, SentAt: testNow}
			rec := r.do(http.MethodPost, "/api/v1/messages", tt.body)
			if tt.wantField != "" {
				wantError(t, rec, http.StatusBadRequest, "invalid_request", tt.wantField)
				assert.Empty(t, r.bot.sent)
				return
			}
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			require.Len(t, r.bot.sent, 1)
			o := r.bot.sent[0]
			assert.Equal(t, tt.wantKind, o.Kind)
			assert.Equal(t, bot.MsgKeyCard, o.Message.MsgKey)
			assert.JSONEq(t, tt.wantParam, o.Message.MsgParam)
			var out map[string]any
			decode(t, rec, &out)
			assert.Equal(t, "carrier-1", out["processQueryKey"], "the card's key is its carrierId")
		})
	}
}

func TestRecallReason(t *testing.T) {
	r := newTestRouter(t)
	rec := r.do(http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","last":2,"reason":"pipeline failed"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, r.bot.actors, 1)
	assert.Equal(t, "pipeline failed", r.bot.actors[0].Reason, "a tombstone shows it")
}
