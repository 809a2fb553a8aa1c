package dingtalktest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// emotionBody is a valid reaction call body putting text on msgID in cid.
func emotionBody(s *dingtalktest.Server, cid, msgID, text string) map[string]any {
	return map[string]any{
		"robotCode": s.RobotCode(), "openMsgId": msgID, "openConversationId": cid,
		"emotionType": 2, "emotionName": text,
		"textEmotion": map[string]any{"emotionId": "2659900", "emotionName": text, "text": text, "backgroundId": "im_bg_1"},
	}
}

// emotionOK checks a reaction call answered {"success": true}.
func emotionOK(t *testing.T, a answer) {
	t.Helper()
	var res struct {
		Success bool `json:"success"`
	}
	requireOK(t, a, &res)
	assert.True(t, res.Success)
}

func TestReactions(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := dingtalktest.NewTest(t, dingtalktest.WithClock(c.Now))
	tok := issueToken(t, s)
	reply := func(msgID, text string) answer {
		return post(t, s, dingtalktest.PathEmotionReply, tok, emotionBody(s, "cidG", msgID, text))
	}
	recall := func(msgID, text string) answer {
		return post(t, s, dingtalktest.PathEmotionRecall, tok, emotionBody(s, "cidG", msgID, text))
	}

	emotionOK(t, reply("m1", "🤔思考中"))
	assert.Equal(t, []string{"🤔思考中"}, s.ReactionsShown("m1"))
	emotionOK(t, reply("m1", "🤔思考中"))
	assert.Len(t, s.Reactions("m1"), 1, "the same reaction twice is shown once")

	c.Advance(time.Second)
	emotionOK(t, recall("m1", "🤔思考中"))
	emotionOK(t, reply("m1", "✅已完成"))
	assert.Equal(t, []string{"✅已完成"}, s.ReactionsShown("m1"))
	got := s.Reactions("m1")
	require.Len(t, got, 2)
	assert.Equal(t, dingtalktest.Reaction{MsgID: "m1", ConversationID: "cidG", RobotCode: s.RobotCode(), Text: "🤔思考中",
		EmotionID: "2659900", BackgroundID: "im_bg_1", At: c.Now().Add(-time.Second), Recalled: true, RecalledAt: c.Now()}, got[0])
	assert.False(t, got[1].Recalled)

	requireError(t, recall("m1", "🤔思考中"), http.StatusBadRequest, "resource.not.found")
	requireError(t, recall("m2", "✅已完成"), http.StatusBadRequest, "resource.not.found")
	assert.Empty(t, s.Reactions("m2"))
	assert.Empty(t, s.ReactionsShown("m2"))
	emotionOK(t, reply("m1", "🤔思考中"))
	assert.Equal(t, []string{"✅已完成", "🤔思考中"}, s.ReactionsShown("m1"), "a recalled reaction may be put again")
}

func TestReactionValidation(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	tests := []struct {
		name   string
		change func(map[string]any)
		status int
		code   string
	}{
		{"no openMsgId", func(b map[string]any) { delete(b, "openMsgId") }, http.StatusBadRequest, "invalidParameter.param.invalid"},
		{"no openConversationId", func(b map[string]any) { delete(b, "openConversationId") }, http.StatusBadRequest, "miss.openConversationId"},
		{"no robotCode", func(b map[string]any) { delete(b, "robotCode") }, http.StatusBadRequest, "miss.chatbotId"},
		{"another robot", func(b map[string]any) { b["robotCode"] = "other" }, http.StatusBadRequest, "invalidParameter.robotCode.notExsit"},
		{"not a text emotion", func(b map[string]any) { b["emotionType"] = 1 }, http.StatusBadRequest, "invalidParameter.param.invalid"},
		{"no emotionName", func(b map[string]any) { delete(b, "emotionName") }, http.StatusBadRequest, "invalidParameter.param.invalid"},
		{"no textEmotion", func(b map[string]any) { delete(b, "textEmotion") }, http.StatusBadRequest, "invalidParameter.param.invalid"},
		{"not JSON", nil, http.StatusBadRequest, "invalidParameter.param.invalid"},
	}
	for _, path := range []string{dingtalktest.PathEmotionReply, dingtalktest.PathEmotionRecall} {
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				var body any = "{"
				if tt.change != nil {
					b := emotionBody(s, "cidG", "m1", "🤔思考中")
					tt.change(b)
					body = b
				}
				requireError(t, post(t, s, path, tok, body), tt.status, tt.code)
			})
		}
		t.Run(path+"/no token", func(t *testing.T) {
			requireError(t, post(t, s, path, "", emotionBody(s, "cidG", "m1", "🤔思考中")), http.StatusUnauthorized, "InvalidAuthentication")
		})
	}
	assert.Empty(t, s.Reactions("m1"))
}

func TestRefuseEmotion(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	s.RefuseEmotion("✅已完成", http.StatusInternalServerError, "system.error", "unknown error")
	requireError(t, post(t, s, dingtalktest.PathEmotionReply, tok, emotionBody(s, "cidG", "m1", "✅已完成")), http.StatusInternalServerError, "system.error")
	emotionOK(t, post(t, s, dingtalktest.PathEmotionReply, tok, emotionBody(s, "cidG", "m1", "🤔思考中")))
	emotionOK(t, post(t, s, dingtalktest.PathEmotionRecall, tok, emotionBody(s, "cidG", "m1", "🤔思考中")))
	assert.Empty(t, s.ReactionsShown("m1"))
	s.RefuseEmotion("✅已完成", 0, "", "")
	emotionOK(t, post(t, s, dingtalktest.PathEmotionReply, tok, emotionBody(s, "cidG", "m1", "✅已完成")))
	assert.Equal(t, []string{"✅已完成"}, s.ReactionsShown("m1"))

	s.FailCallWith(dingtalktest.PathEmotionReply, 1, http.StatusBadRequest, "bot.stopped", "robot stopped")
	requireError(t, post(t, s, dingtalktest.PathEmotionReply, tok, emotionBody(s, "cidG", "m2", "🤔思考中")), http.StatusBadRequest, "bot.stopped")
	assert.Empty(t, s.Reactions("m2"), "an injected fault changes nothing")
	assert.Equal(t, 4, s.CallCount(dingtalktest.PathEmotionReply))
}
