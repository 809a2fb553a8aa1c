package dingtalktest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

var (
	sendPath = map[dingtalktest.Kind]string{
		dingtalktest.KindGroup:   dingtalktest.PathGroupSend,
		dingtalktest.KindPrivate: dingtalktest.PathPrivateSend,
		dingtalktest.KindOTO:     dingtalktest.PathOTOSend,
	}
	recallPath = map[dingtalktest.Kind]string{
		dingtalktest.KindGroup:   dingtalktest.PathGroupRecall,
		dingtalktest.KindPrivate: dingtalktest.PathPrivateRecall,
		dingtalktest.KindOTO:     dingtalktest.PathOTORecall,
	}
	kinds = []dingtalktest.Kind{dingtalktest.KindGroup, dingtalktest.KindPrivate, dingtalktest.KindOTO}
)

// answer is a response read in full.
type answer struct {
	status int
	body   []byte
}

type errorAnswer struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
}

type tokenAnswer struct {
	AccessToken string `json:"accessToken"`
	ExpireIn    int64  `json:"expireIn"`
}

type sendAnswer struct {
	ProcessQueryKey           string   `json:"processQueryKey"`
	InvalidStaffIDList        []string `json:"invalidStaffIdList"`
	FlowControlledStaffIDList []string `json:"flowControlledStaffIdList"`
}

type recallAnswer struct {
	SuccessResult []string          `json:"successResult"`
	FailedResult  map[string]string `json:"failedResult"`
}

// newRequest builds a POST to path with a JSON body (a string is sent as is) and, when
// token is not empty, the access token header.
func newRequest(t *testing.T, ctx context.Context, s *dingtalktest.Server, path, token string, body any) *http.Request {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		raw = string(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+path, strings.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("x-acs-dingtalk-access-token", token)
	}
	return req
}

func roundTrip(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, body: body}
}

func post(t *testing.T, s *dingtalktest.Server, path, token string, body any) answer {
	t.Helper()
	return roundTrip(t, newRequest(t, context.Background(), s, path, token, body))
}

// requireOK decodes a 200 answer into v.
func requireOK(t *testing.T, a answer, v any) {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.NoError(t, json.Unmarshal(a.body, v))
}

// requireError checks a is an error answer with status and code.
func requireError(t *testing.T, a answer, status int, code string) errorAnswer {
	t.Helper()
	require.Equal(t, status, a.status, string(a.body))
	var e errorAnswer
	require.NoError(t, json.Unmarshal(a.body, &e))
	assert.Equal(t, code, e.Code)
	assert.NotEmpty(t, e.Message)
	assert.NotEmpty(t, e.RequestID)
	return e
}

func issueToken(t *testing.T, s *dingtalktest.Server) string {
	t.Helper()
	var tok tokenAnswer
	requireOK(t, post(t, s, dingtalktest.PathToken, "", map[string]string{"appKey": s.AppKey(), "appSecret": s.AppSecret()}), &tok)
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

// sendBody is a valid sampleText send body for kind; conv names the group or private
// chat, or the user of a one-to-one message.
func sendBody(s *dingtalktest.Server, kind dingtalktest.Kind, conv string) map[string]any {
	body := map[string]any{
		"msgKey":    "sampleText",
		"msgParam":  `{"content":"hello"}`,
		"robotCode": s.RobotCode(),
	}
	if kind == dingtalktest.KindOTO {
		body["userIds"] = []string{conv}
	} else {
		body["openConversationId"] = conv
	}
	return body
}

func send(t *testing.T, s *dingtalktest.Server, token string, kind dingtalktest.Kind, conv string) string {
	t.Helper()
	var res sendAnswer
	requireOK(t, post(t, s, sendPath[kind], token, sendBody(s, kind, conv)), &res)
	require.NotEmpty(t, res.ProcessQueryKey)
	return res.ProcessQueryKey
}

func recallBody(s *dingtalktest.Server, kind dingtalktest.Kind, conv string, keys ...string) map[string]any {
	body := map[string]any{"robotCode": s.RobotCode(), "processQueryKeys": keys}
	if kind != dingtalktest.KindOTO {
		body["openConversationId"] = conv
	}
	return body
}

func recall(t *testing.T, s *dingtalktest.Server, token string, kind dingtalktest.Kind, conv string, keys ...string) recallAnswer {
	t.Helper()
	var res recallAnswer
	requireOK(t, post(t, s, recallPath[kind], token, recallBody(s, kind, conv, keys...)), &res)
	require.NotNil(t, res.SuccessResult, "successResult must always be an array")
	require.NotNil(t, res.FailedResult, "failedResult must always be an object")
	return res
}

// clock is a settable clock for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2025, 11, 26, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
