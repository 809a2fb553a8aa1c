package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dropin/webhook"
	"github.com/dingrecall/dingrecall/store"
)

// routes is a fixed set of webhook routes.
type routes map[string]webhook.Route

func (r routes) Webhook(token string) (webhook.Route, bool) {
	rt, ok := r[token]
	return rt, ok
}

// sender records what it is asked to send and answers with err.
type sender struct {
	mu   sync.Mutex
	sent []bot.Outgoing
	err  error
}

func (s *sender) Send(_ context.Context, o bot.Outgoing) (store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, o)
	m := store.Message{Key: fmt.Sprintf("key-%d", len(s.sent)), Kind: o.Kind, ChatID: o.ChatID, MsgKey: o.Message.MsgKey, MsgParam: o.Message.MsgParam, Tag: o.Tag}
	if s.err != nil && !errors.Is(s.err, bot.ErrUntracked) {
		return store.Message{}, s.err
	}
	return m, s.err
}

var now = time.UnixMilli(1700000000001)

const (
	plainToken  = "tok-plain-7f3a"
	signedToken = "tok-signed-91bc"
)

// server serves the endpoint with two routes, one of them signed.
func server(t *testing.T, s *sender) (*httptest.Server, *test.Hook) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	r := gin.New()
	webhook.Register(r, webhook.Deps{
		Routes: routes{
			plainToken:  {Name: "grafana", Token: plainToken, ConversationID: "cidOps==", Tag: "grafana", TTL: 12 * time.Hour},
			signedToken: {Name: "jenkins", Token: signedToken, ConversationID: "cidDeploy==", Secret: fixtureSecret},
		},
		Sender: s, Now: func() time.Time { return now }, Log: log,
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, hook
}

// post sends body to /robot/send with the query and returns the status and answer.
func post(t *testing.T, srv *httptest.Server, query url.Values, body string) (int, webhook.Answer) {
	t.Helper()
	resp, err := http.Post(srv.URL+webhook.Path+"?"+query.Encode(), "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var a webhook.Answer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return resp.StatusCode, a
}

const textBody = `{"msgtype":"text","text":{"content":"hello"}}`

func signedQuery(token, timestamp, sign string) url.Values {
	return url.Values{"access_token": {token}, "timestamp": {timestamp}, "sign": {sign}}
}

func TestSendPostsThroughTheSendPath(t *testing.T) {
	s := &sender{}
	srv, _ := server(t, s)
	status, a := post(t, srv, url.Values{"access_token": {plainToken}}, textBody)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, webhook.Answer{ErrCode: 0, ErrMsg: "ok", ProcessQueryKey: "key-1"}, a)
	require.Len(t, s.sent, 1)
	assert.Equal(t, bot.Outgoing{Kind: store.KindGroup, ChatID: "cidOps==", Message: dingtalk.Text("hello"), Tag: "grafana", TTL: 12 * time.Hour}, s.sent[0])
}

func TestSendSignedRoute(t *testing.T) {
	f := signFixtures[1]
	s := &sender{}
	srv, _ := server(t, s)
	_, a := post(t, srv, signedQuery(signedToken, f.timestamp, f.sign), textBody)
	assert.Equal(t, 0, a.ErrCode, a.ErrMsg)
	require.Len(t, s.sent, 1)
	assert.Equal(t, "cidDeploy==", s.sent[0].ChatID)
	assert.Empty(t, s.sent[0].Tag)
}

func TestEveryErrcode(t *testing.T) {
	f := signFixtures[1]
	tests := []struct {
		name    string
		query   url.Values
		body    string
		sendErr error
		code    int
		msg     string // a part of errmsg
		sent    int
	}{
		{"unknown token", url.Values{"access_token": {"nope"}}, textBody, nil, webhook.CodeTokenNotExist, "token is not exist", 0},
		{"no token", url.Values{}, textBody, nil, webhook.CodeTokenNotExist, "token is not exist", 0},
		{"signed route without a sign", url.Values{"access_token": {signedToken}}, textBody, nil, webhook.CodeSecurity, "invalid timestamp", 0},
		{"signed route, wrong sign", signedQuery(signedToken, f.timestamp, signFixtures[0].sign), textBody, nil, webhook.CodeSecurity, "sign not match", 0},
		{"signed route, stale timestamp", signedQuery(signedToken, "1699990000000", f.sign), textBody, nil, webhook.CodeSecurity, "invalid timestamp", 0},
		{"missing body", url.Values{"access_token": {plainToken}}, "", nil, webhook.CodeMissingJSON, "缺少参数 json", 0},
		{"body not JSON", url.Values{"access_token": {plainToken}}, "{msgtype:", nil, webhook.CodeMissingJSON, "缺少参数 json", 0},
		{"unsupported msgtype", url.Values{"access_token": {plainToken}}, `{"msgtype":"image"}`, nil, webhook.CodeUnsupportedType, `"image"`, 0},
		{"no msgtype", url.Values{"access_token": {plainToken}}, `{"text":{"content":"x"}}`, nil, webhook.CodeUnsupportedType, "msgtype is missing", 0},
		{"missing title", url.Values{"access_token": {plainToken}}, `{"msgtype":"markdown","markdown":{"text":"x"}}`, nil, webhook.CodeMissingTitle, "markdown->title", 0},
		{"missing text", url.Values{"access_token": {plainToken}}, `{"msgtype":"markdown","markdown":{"title":"x"}}`, nil, webhook.CodeMissingParam, "markdown->text", 0},
		{"too long", url.Values{"access_token": {plainToken}}, `{"msgtype":"text","text":{"content":"` + strings.Repeat("x", 16000) + `"}}`, nil, webhook.CodeTooLong, "too long", 0},
		{"throttled by the burst guard", url.Values{"access_token": {plainToken}}, textBody, &bot.BurstError{RetryAfter: 40 * time.Second, Limit: 20}, webhook.CodeTooFast, "more than 20 messages", 1},
		{"DingTalk down", url.Values{"access_token": {plainToken}}, textBody, fmt.Errorf("send: %w: %w", bot.ErrDingTalk, context.DeadlineExceeded), webhook.CodeBusy, "system busy", 1},
		{"store down", url.Values{"access_token": {plainToken}}, textBody, errors.New("burst guard: redis: connection refused"), webhook.CodeBusy, "system busy", 1},
		{"DingTalk refuses the message", url.Values{"access_token": {plainToken}}, textBody, fmt.Errorf("send: %w", dingtalk.ErrInvalidMessage), webhook.CodeMissingParam, "invalid message", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sender{err: tt.sendErr}
			srv, _ := server(t, s)
			status, a := post(t, srv, tt.query, tt.body)
			assert.Equal(t, http.StatusOK, status, "DingTalk answers 200 whatever the errcode")
			assert.Equal(t, tt.code, a.ErrCode)
			assert.Contains(t, a.ErrMsg, tt.msg)
			assert.Empty(t, a.ProcessQueryKey)
			assert.Len(t, s.sent, tt.sent)
		})
	}
}

func TestDuplicateAnswersWithTheFirstMessage(t *testing.T) {
	s := &sender{err: &bot.DuplicateError{Key: "first-key"}}
	srv, _ := server(t, s)
	_, a := post(t, srv, url.Values{"access_token": {plainToken}}, textBody)
	assert.Equal(t, webhook.Answer{ErrCode: 0, ErrMsg: "ok", ProcessQueryKey: "first-key"}, a)
}

func TestUntrackedIsStillPosted(t *testing.T) {
	s := &sender{err: fmt.Errorf("%w: key key-1: redis down", bot.ErrUntracked)}
	srv, _ := server(t, s)
	_, a := post(t, srv, url.Values{"access_token": {plainToken}}, textBody)
	assert.Equal(t, 0, a.ErrCode, "posted, so the tool must not retry")
	assert.Equal(t, "key-1", a.ProcessQueryKey)
}

func TestAnswerListsWhatDidNotMap(t *testing.T) {
	srv, _ := server(t, &sender{})
	_, a := post(t, srv, url.Values{"access_token": {plainToken}}, `{"msgtype":"text","text":{"content":"hi"},"at":{"isAtAll":true}}`)
	assert.Equal(t, 0, a.ErrCode)
	require.Len(t, a.Dropped, 1)
	assert.Contains(t, a.Dropped[0], "at:")
}

func TestOnlyPost(t *testing.T) {
	srv, _ := server(t, &sender{})
	resp, err := http.Get(srv.URL + webhook.Path + "?access_token=" + plainToken)
	require.NoError(t, err)
	resp.Body.Close()
	assert.NotEqual(t, http.StatusOK, resp.StatusCode)
}

func TestTokensAndSecretsAreNeverLogged(t *testing.T) {
	f := signFixtures[1]
	s := &sender{}
	srv, hook := server(t, s)
	post(t, srv, signedQuery(signedToken, f.timestamp, f.sign), textBody)
	post(t, srv, signedQuery(signedToken, f.timestamp, "wrong"), textBody)
	post(t, srv, url.Values{"access_token": {"guessed-token"}}, textBody)
	post(t, srv, url.Values{"access_token": {plainToken}}, `{"msgtype":"x"}`)
	s.err = errors.New("store down")
	post(t, srv, url.Values{"access_token": {plainToken}}, textBody)
	require.NotEmpty(t, hook.AllEntries())
	for _, e := range hook.AllEntries() {
		line, err := e.String()
		require.NoError(t, err)
		for _, secret := range []string{plainToken, signedToken, fixtureSecret, f.sign, "guessed-token"} {
			assert.NotContains(t, line, secret)
		}
	}
}

func TestSecretPrintsRedacted(t *testing.T) {
	r := webhook.Route{Name: "n", Token: "tok-123", Secret: "SEC456"}
	for _, s := range []string{fmt.Sprintf("%v", r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r), fmt.Sprint(r.Token)} {
		assert.NotContains(t, s, "tok-123")
		assert.NotContains(t, s, "SEC456")
	}
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(r))
	assert.NotContains(t, buf.String(), "tok-123")
	assert.NotContains(t, buf.String(), "SEC456")
}
