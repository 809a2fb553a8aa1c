package dingtalk_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// emotionServer is a stand-in for DingTalk's reaction calls: it records
// them and answers each with the next of answers (status and body), the
// last one again once they run out.
type emotionServer struct {
	mu       sync.Mutex
	answers  []emotionAnswer
	requests []recordedRequest
}

type emotionAnswer struct {
	status int
	body   string
}

func (s *emotionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == dingtalk.PathAccessToken {
		_ = json.NewEncoder(w).Encode(map[string]any{"accessToken": "tok", "expireIn": 7200})
		return
	}
	var body json.RawMessage
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	s.requests = append(s.requests, recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("x-acs-dingtalk-access-token"), string(body)})
	a := s.answers[min(len(s.requests), len(s.answers))-1]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func (s *emotionServer) recorded() []recordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedRequest(nil), s.requests...)
}

// newEmotionClient is a client with robot code "bot" for a server answering
// with answers.
func newEmotionClient(t *testing.T, answers ...emotionAnswer) (*dingtalk.Client, *emotionServer) {
	t.Helper()
	rec := &emotionServer{answers: answers}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := dingtalk.NewClient("k", "s", dingtalk.WithBaseURL(srv.URL), dingtalk.WithRobotCode("bot"), dingtalk.WithRetryPolicy(fastRetry))
	require.NoError(t, err)
	return c, rec
}

var ok200 = emotionAnswer{http.StatusOK, `{"success":true}`}

func TestEmotionWire(t *testing.T) {
	tests := []struct {
		name string
		call func(c *dingtalk.Client) error
		path string
		body string
	}{
		{"reply working", func(c *dingtalk.Client) error {
			return c.ReplyEmotion(context.Background(), "cidGroup==", "msgA==", dingtalk.EmotionWorking)
		}, dingtalk.PathEmotionReply,
			`{"robotCode":"bot","openMsgId":"msgA==","openConversationId":"cidGroup==","emotionType":2,"emotionName":"🤔思考中",
			  "textEmotion":{"emotionId":"2659900","emotionName":"🤔思考中","text":"🤔思考中","backgroundId":"im_bg_1"}}`},
		{"recall working", func(c *dingtalk.Client) error {
			return c.RecallEmotion(context.Background(), "cidGroup==", "msgA==", dingtalk.EmotionWorking)
		}, dingtalk.PathEmotionRecall,
			`{"robotCode":"bot","openMsgId":"msgA==","openConversationId":"cidGroup==","emotionType":2,"emotionName":"🤔思考中",
			  "textEmotion":{"emotionId":"2659900","emotionName":"🤔思考中","text":"🤔思考中","backgroundId":"im_bg_1"}}`},
		{"reply done", func(c *dingtalk.Client) error {
			return c.ReplyEmotion(context.Background(), "cidDirect==", "msgB==", dingtalk.EmotionDone)
		}, dingtalk.PathEmotionReply,
			`{"robotCode":"bot","openMsgId":"msgB==","openConversationId":"cidDirect==","emotionType":2,"emotionName":"✅已完成",
			  "textEmotion":{"emotionId":"2659900","emotionName":"✅已完成","text":"✅已完成","backgroundId":"im_bg_1"}}`},
		{"reply failed", func(c *dingtalk.Client) error {
			return c.ReplyEmotion(context.Background(), "cidGroup==", "msgC==", dingtalk.EmotionFailed)
		}, dingtalk.PathEmotionReply,
			`{"robotCode":"bot","openMsgId":"msgC==","openConversationId":"cidGroup==","emotionType":2,"emotionName":"❌未完成",
			  "textEmotion":{"emotionId":"2659900","emotionName":"❌未完成","text":"❌未完成","backgroundId":"im_bg_1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newEmotionClient(t, ok200)
			require.NoError(t, tt.call(c))
			reqs := rec.recorded()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].method)
			assert.Equal(t, tt.path, reqs[0].path)
			assert.Equal(t, "tok", reqs[0].token)
			assert.JSONEq(t, tt.body, reqs[0].body)
		})
	}
}

func TestEmotionAnswers(t *testing.T) {
	tests := []struct {
		name    string
		answers []emotionAnswer
		code    string // "" for success
		calls   int
	}{
		{"success", []emotionAnswer{ok200}, "", 1},
		{"success false", []emotionAnswer{{http.StatusOK, `{"success":false}`}}, dingtalk.CodeEmotionNotApplied, 1},
		{"empty answer", []emotionAnswer{{http.StatusOK, `{}`}}, dingtalk.CodeEmotionNotApplied, 1},
		{"not JSON", []emotionAnswer{{http.StatusOK, `{"success":`}}, dingtalk.CodeBadResponse, 1},
		{"system error is not retried", []emotionAnswer{{http.StatusInternalServerError, `{"code":"system.error","message":"boom"}`}}, dingtalk.CodeSystemError, 1},
		{"refused", []emotionAnswer{{http.StatusBadRequest, `{"code":"invalidParameter.param.invalid","message":"no"}`}}, dingtalk.CodeInvalidParam, 1},
		{"QPS limit is retried", []emotionAnswer{{http.StatusForbidden, `{"code":"Forbidden.AccessDenied.QpsLimitForApi","message":"slow down"}`}, ok200}, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newEmotionClient(t, tt.answers...)
			err := c.ReplyEmotion(context.Background(), "cid", "msg", dingtalk.EmotionDone)
			if tt.code == "" {
				require.NoError(t, err)
			} else {
				assert.True(t, dingtalk.HasCode(err, tt.code), "%v", err)
			}
			assert.Len(t, rec.recorded(), tt.calls)
		})
	}
}

func TestEmotionRefusesBadInputBeforeCalling(t *testing.T) {
	c, rec := newEmotionClient(t, ok200)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"no conversation", func() error { return c.ReplyEmotion(ctx, " ", "m", dingtalk.EmotionWorking) }},
		{"no message", func() error { return c.RecallEmotion(ctx, "cid", "", dingtalk.EmotionWorking) }},
		{"no text", func() error { return c.ReplyEmotion(ctx, "cid", "m", dingtalk.Emotion{ID: "1", Background: "b"}) }},
		{"no emotion id", func() error { return c.ReplyEmotion(ctx, "cid", "m", dingtalk.Emotion{Text: "x", Background: "b"}) }},
		{"no background", func() error { return c.ReplyEmotion(ctx, "cid", "m", dingtalk.Emotion{Text: "x", ID: "1"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.call(), dingtalk.ErrInvalidMessage)
		})
	}
	assert.Empty(t, rec.recorded())
}

func TestEmotionOnTheFake(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	ctx := context.Background()
	require.NoError(t, c.ReplyEmotion(ctx, "cidG", "msg1", dingtalk.EmotionWorking))
	assert.Equal(t, []string{dingtalk.EmotionWorking.Text}, fake.ReactionsShown("msg1"))
	require.NoError(t, c.RecallEmotion(ctx, "cidG", "msg1", dingtalk.EmotionWorking))
	require.NoError(t, c.ReplyEmotion(ctx, "cidG", "msg1", dingtalk.EmotionDone))
	assert.Equal(t, []string{dingtalk.EmotionDone.Text}, fake.ReactionsShown("msg1"))

	fake.RefuseEmotion(dingtalk.EmotionFailed.Text, http.StatusInternalServerError, dingtalk.CodeSystemError, "unknown error")
	err := c.ReplyEmotion(ctx, "cidG", "msg2", dingtalk.EmotionFailed)
	assert.True(t, dingtalk.HasCode(err, dingtalk.CodeSystemError), "%v", err)
	assert.Equal(t, 1, fake.CallCount(dingtalk.PathEmotionReply)-2, "a refused reaction is not tried again")
	err = c.RecallEmotion(ctx, "cidG", "msg2", dingtalk.EmotionWorking)
	assert.True(t, dingtalk.HasCode(err, dingtalk.CodeResourceNotFound), "%v", err)
}
