package dingtalktest_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

var statusPath = map[dingtalktest.Kind]string{
	dingtalktest.KindGroup:   dingtalktest.PathGroupStatus,
	dingtalktest.KindPrivate: dingtalktest.PathPrivateStatus,
	dingtalktest.KindOTO:     dingtalktest.PathOTOStatus,
}

type statusAnswer struct {
	SendStatus  string   `json:"sendStatus"`
	ReadUserIDs []string `json:"readUserIds"`
	HasMore     bool     `json:"hasMore"`
	NextToken   string   `json:"nextToken"`
	// MessageReadInfoList is in one-to-one answers only.
	MessageReadInfoList []struct {
		UserID        string `json:"userId"`
		ReadStatus    string `json:"readStatus"`
		ReadTimestamp int64  `json:"readTimestamp"`
	} `json:"messageReadInfoList"`
}

// statusParams are the fields of a valid status call for kind: the body of a group or
// private call, the query string of a one-to-one call.
func statusParams(s *dingtalktest.Server, kind dingtalktest.Kind, conv, key string) map[string]any {
	p := map[string]any{"robotCode": s.RobotCode(), "processQueryKey": key}
	if kind != dingtalktest.KindOTO {
		p["openConversationId"] = conv
		p["maxResults"] = 20
	}
	return p
}

// statusCall asks the status of a message: a POST with params as its body, or for
// one-to-one a GET with params as its query string.
func statusCall(t *testing.T, s *dingtalktest.Server, token string, kind dingtalktest.Kind, params map[string]any) answer {
	t.Helper()
	if kind != dingtalktest.KindOTO {
		return post(t, s, statusPath[kind], token, params)
	}
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v.(string))
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL()+dingtalktest.PathOTOStatus+"?"+q.Encode(), nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("x-acs-dingtalk-access-token", token)
	}
	return roundTrip(t, req)
}

// requireStatus asks the status of key and checks it is want, with no read receipts.
func requireStatus(t *testing.T, s *dingtalktest.Server, token string, kind dingtalktest.Kind, conv, key, want string) {
	t.Helper()
	var res statusAnswer
	requireOK(t, statusCall(t, s, token, kind, statusParams(s, kind, conv, key)), &res)
	assert.Equal(t, want, res.SendStatus)
	assert.False(t, res.HasMore)
	if kind == dingtalktest.KindOTO {
		assert.NotNil(t, res.MessageReadInfoList, "messageReadInfoList is always an array")
		assert.Empty(t, res.MessageReadInfoList)
	} else {
		assert.NotNil(t, res.ReadUserIDs, "readUserIds is always an array")
		assert.Empty(t, res.ReadUserIDs)
	}
}

func TestStatusFollowsTheMessage(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now), dingtalktest.WithTokenTTL(48*time.Hour))
			tok := issueToken(t, s)
			key, kept := send(t, s, tok, kind, "cid1"), send(t, s, tok, kind, "cid1")
			requireStatus(t, s, tok, kind, "cid1", key, dingtalktest.StatusSent)

			recall(t, s, tok, kind, "cid1", key)
			requireStatus(t, s, tok, kind, "cid1", key, dingtalktest.StatusRecalled)
			requireStatus(t, s, tok, kind, "cid1", kept, dingtalktest.StatusSent)

			again := recall(t, s, tok, kind, "cid1", key)
			assert.Empty(t, again.SuccessResult, "a recalled message is not recalled twice")
			assert.Equal(t, map[string]string{key: dingtalktest.ReasonAlreadyRecalled}, again.FailedResult)
			assert.Equal(t, []string{key}, s.Recalled())
			requireStatus(t, s, tok, kind, "cid1", key, dingtalktest.StatusRecalled)

			clk.Advance(dingtalktest.RecallWindow)
			requireStatus(t, s, tok, kind, "cid1", kept, dingtalktest.StatusSent)
			clk.Advance(time.Second)
			for _, k := range []string{key, kept} {
				requireError(t, statusCall(t, s, tok, kind, statusParams(s, kind, "cid1", k)), http.StatusBadRequest, "processQueryKey.expireTime")
			}

			calls := s.Calls()
			last := calls[len(calls)-1]
			assert.Equal(t, dingtalktest.Call{Path: statusPath[kind], Status: http.StatusBadRequest, Code: "processQueryKey.expireTime", At: clk.Now(), AppKey: s.AppKey()}, last)
			assert.Equal(t, 7, s.CallCount(statusPath[kind]))
			assert.Equal(t, 2, s.RecallAttempts(key), "status calls are not recall attempts")
		})
	}
}

func TestStatusProcessing(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now), dingtalktest.WithProcessingTime(time.Minute))
			tok := issueToken(t, s)
			key := send(t, s, tok, kind, "cid1")
			requireStatus(t, s, tok, kind, "cid1", key, dingtalktest.StatusProcessing)
			clk.Advance(time.Minute - time.Second)
			requireStatus(t, s, tok, kind, "cid1", key, dingtalktest.StatusProcessing)
			clk.Advance(time.Second)
			requireStatus(t, s, tok, kind, "cid1", key, dingtalktest.StatusSent)

			other := send(t, s, tok, kind, "cid1")
			recall(t, s, tok, kind, "cid1", other)
			requireStatus(t, s, tok, kind, "cid1", other, dingtalktest.StatusRecalled)
		})
	}
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	keys := map[dingtalktest.Kind]string{}
	for _, kind := range kinds {
		keys[kind] = send(t, s, tok, kind, "cid1")
	}
	conversations := []dingtalktest.Kind{dingtalktest.KindGroup, dingtalktest.KindPrivate}

	tests := []struct {
		name   string
		kinds  []dingtalktest.Kind
		change func(kind dingtalktest.Kind, p map[string]any)
		status int
		code   string
	}{
		{name: "unknown key", kinds: kinds, change: func(_ dingtalktest.Kind, p map[string]any) { p["processQueryKey"] = "never-sent" },
			status: http.StatusBadRequest, code: "invalid.processQueryKey"},
		{name: "key of another kind", kinds: kinds, change: func(k dingtalktest.Kind, p map[string]any) { p["processQueryKey"] = keys[otherKind(k)] },
			status: http.StatusBadRequest, code: "invalid.processQueryKey"},
		{name: "key of another conversation", kinds: conversations, change: func(_ dingtalktest.Kind, p map[string]any) { p["openConversationId"] = "cid2" },
			status: http.StatusBadRequest, code: "invalid.processQueryKey"},
		{name: "missing key", kinds: kinds, change: func(_ dingtalktest.Kind, p map[string]any) { delete(p, "processQueryKey") },
			status: http.StatusBadRequest, code: "invalidParameter.processQueryKey.missing"},
		{name: "missing robotCode", kinds: kinds, change: func(_ dingtalktest.Kind, p map[string]any) { delete(p, "robotCode") },
			status: http.StatusBadRequest, code: "miss.chatbotId"},
		{name: "unknown robotCode", kinds: kinds, change: func(_ dingtalktest.Kind, p map[string]any) { p["robotCode"] = "other" },
			status: http.StatusBadRequest, code: "invalidParameter.robotCode.notExsit"},
		{name: "missing openConversationId", kinds: conversations, change: func(_ dingtalktest.Kind, p map[string]any) { delete(p, "openConversationId") },
			status: http.StatusBadRequest, code: "miss.openConversationId"},
		{name: "missing maxResults", kinds: conversations, change: func(_ dingtalktest.Kind, p map[string]any) { delete(p, "maxResults") },
			status: http.StatusBadRequest, code: "invalidParameter.param.invalid"},
		{name: "maxResults over 200", kinds: conversations, change: func(_ dingtalktest.Kind, p map[string]any) { p["maxResults"] = dingtalktest.MaxStatusResults + 1 },
			status: http.StatusBadRequest, code: "invalidParameter.param.invalid"},
	}
	for _, tt := range tests {
		for _, kind := range tt.kinds {
			t.Run(string(kind)+"/"+tt.name, func(t *testing.T) {
				p := statusParams(s, kind, "cid1", keys[kind])
				tt.change(kind, p)
				requireError(t, statusCall(t, s, tok, kind, p), tt.status, tt.code)
			})
		}
	}
	t.Run("maxResults of 200", func(t *testing.T) {
		p := statusParams(s, dingtalktest.KindGroup, "cid1", keys[dingtalktest.KindGroup])
		p["maxResults"] = dingtalktest.MaxStatusResults
		var res statusAnswer
		requireOK(t, statusCall(t, s, tok, dingtalktest.KindGroup, p), &res)
		assert.Equal(t, dingtalktest.StatusSent, res.SendStatus)
	})
	for _, kind := range kinds {
		t.Run(string(kind)+"/no token", func(t *testing.T) {
			requireError(t, statusCall(t, s, "", kind, statusParams(s, kind, "cid1", keys[kind])), http.StatusUnauthorized, "InvalidAuthentication")
		})
	}
}

// otherKind returns a kind of chat other than k.
func otherKind(k dingtalktest.Kind) dingtalktest.Kind {
	if k == dingtalktest.KindGroup {
		return dingtalktest.KindPrivate
	}
	return dingtalktest.KindGroup
}

func TestStatusMethods(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	key := send(t, s, tok, dingtalktest.KindOTO, "staff-1")

	// readStatus is a GET: a POST with the same fields as a body is refused.
	requireError(t, post(t, s, dingtalktest.PathOTOStatus, tok, statusParams(s, dingtalktest.KindOTO, "", key)),
		http.StatusMethodNotAllowed, "InvalidAction.MethodNotAllowed")
	// groupMessages/query is a POST.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL()+dingtalktest.PathGroupStatus, nil)
	require.NoError(t, err)
	req.Header.Set("x-acs-dingtalk-access-token", tok)
	requireError(t, roundTrip(t, req), http.StatusMethodNotAllowed, "InvalidAction.MethodNotAllowed")

	requireStatus(t, s, tok, dingtalktest.KindOTO, "", key, dingtalktest.StatusSent)
}

func TestStatusFaults(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	key := send(t, s, tok, dingtalktest.KindOTO, "staff-1")
	s.FailNextOn(dingtalktest.PathOTOStatus, 1, dingtalktest.FaultSystemError)
	s.FailNext(1, dingtalktest.FaultQPSLimit)
	p := statusParams(s, dingtalktest.KindOTO, "", key)
	requireError(t, statusCall(t, s, tok, dingtalktest.KindOTO, p), http.StatusInternalServerError, "system.error")
	requireError(t, statusCall(t, s, tok, dingtalktest.KindOTO, p), http.StatusForbidden, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
	requireStatus(t, s, tok, dingtalktest.KindOTO, "", key, dingtalktest.StatusSent)
}
