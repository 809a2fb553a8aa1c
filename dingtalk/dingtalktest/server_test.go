package dingtalktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

func TestToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []dingtalktest.Option
		key        string
		secret     string
		wantCode   string
		wantExpire int64
	}{
		{name: "default credentials", key: "test-app-key", secret: "test-app-secret", wantExpire: 7200},
		{name: "own credentials and ttl", opts: []dingtalktest.Option{dingtalktest.WithCredentials("k", "s"), dingtalktest.WithTokenTTL(time.Minute)}, key: "k", secret: "s", wantExpire: 60},
		{name: "bad secret", key: "test-app-key", secret: "nope", wantCode: "invalidClientIdOrSecret"},
		{name: "bad key", key: "nope", secret: "test-app-secret", wantCode: "invalidClientIdOrSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := dingtalktest.NewTest(t, tt.opts...)
			a := post(t, s, dingtalktest.PathToken, "", map[string]string{"appKey": tt.key, "appSecret": tt.secret})
			if tt.wantCode != "" {
				requireError(t, a, http.StatusBadRequest, tt.wantCode)
				assert.Zero(t, s.TokensIssued())
				return
			}
			var tok tokenAnswer
			requireOK(t, a, &tok)
			assert.NotEmpty(t, tok.AccessToken)
			assert.Equal(t, tt.wantExpire, tok.ExpireIn)
			assert.Equal(t, 1, s.TokensIssued())
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	assert.Equal(t, "test-app-key", s.AppKey())
	assert.Equal(t, "test-app-secret", s.AppSecret())
	assert.Equal(t, s.AppKey(), s.RobotCode())
	assert.True(t, strings.HasPrefix(s.URL(), "http://"))

	s = dingtalktest.NewTest(t, dingtalktest.WithRobotCode("dingbot"))
	assert.Equal(t, "dingbot", s.RobotCode())
}

func TestRobotCallsNeedAValidToken(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	issueToken(t, s)
	for _, kind := range kinds {
		for _, tok := range []string{"", "not-a-token"} {
			t.Run(fmt.Sprintf("%s/%q", kind, tok), func(t *testing.T) {
				requireError(t, post(t, s, sendPath[kind], tok, sendBody(s, kind, "cid1")), http.StatusUnauthorized, "InvalidAuthentication")
				requireError(t, post(t, s, recallPath[kind], tok, recallBody(s, kind, "cid1", "k")), http.StatusUnauthorized, "InvalidAuthentication")
			})
		}
	}
	assert.Empty(t, s.Sent())
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now), dingtalktest.WithTokenTTL(time.Minute))
	tok := issueToken(t, s)
	send(t, s, tok, dingtalktest.KindGroup, "cid1")

	clk.Advance(time.Minute - time.Second)
	send(t, s, tok, dingtalktest.KindGroup, "cid1")

	clk.Advance(time.Second)
	requireError(t, post(t, s, dingtalktest.PathGroupSend, tok, sendBody(s, dingtalktest.KindGroup, "cid1")), http.StatusUnauthorized, "InvalidAuthentication")
	send(t, s, issueToken(t, s), dingtalktest.KindGroup, "cid1")
	assert.Len(t, s.Sent(), 3)
}

func TestInvalidateTokens(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	old := issueToken(t, s)
	s.InvalidateTokens()
	requireError(t, post(t, s, dingtalktest.PathGroupSend, old, sendBody(s, dingtalktest.KindGroup, "cid1")), http.StatusUnauthorized, "InvalidAuthentication")
	send(t, s, issueToken(t, s), dingtalktest.KindGroup, "cid1")
	assert.Equal(t, 2, s.TokensIssued())
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	tooManyUsers := make([]string, dingtalktest.MaxUserIDs+1)
	for i := range tooManyUsers {
		tooManyUsers[i] = fmt.Sprintf("user%d", i)
	}
	tests := []struct {
		name   string
		kinds  []dingtalktest.Kind
		change func(body map[string]any)
		raw    string // sent instead of the body when set
		code   string
	}{
		{name: "malformed json", kinds: kinds, raw: `{"msgKey":`, code: "invalidParameter.param.invalid"},
		{name: "msgParam not a string", kinds: kinds, change: func(b map[string]any) { b["msgParam"] = map[string]string{"content": "x"} }, code: "invalidParameter.param.invalid"},
		{name: "missing robotCode", kinds: kinds, change: func(b map[string]any) { delete(b, "robotCode") }, code: "miss.chatbotId"},
		{name: "unknown robotCode", kinds: kinds, change: func(b map[string]any) { b["robotCode"] = "other" }, code: "invalidParameter.robotCode.notExsit"},
		{name: "missing openConversationId", kinds: []dingtalktest.Kind{dingtalktest.KindGroup, dingtalktest.KindPrivate}, change: func(b map[string]any) { delete(b, "openConversationId") }, code: "miss.openConversationId"},
		{name: "no userIds", kinds: []dingtalktest.Kind{dingtalktest.KindOTO}, change: func(b map[string]any) { b["userIds"] = []string{} }, code: "invalidParameter.param.invalid"},
		{name: "too many userIds", kinds: []dingtalktest.Kind{dingtalktest.KindOTO}, change: func(b map[string]any) { b["userIds"] = tooManyUsers }, code: "invalidParameter.param.invalid"},
		{name: "unknown msgKey", kinds: kinds, change: func(b map[string]any) { b["msgKey"] = "sampleNope" }, code: "template.not.existed"},
		{name: "missing msgKey", kinds: kinds, change: func(b map[string]any) { delete(b, "msgKey") }, code: "template.not.existed"},
		{name: "msgParam not json", kinds: kinds, change: func(b map[string]any) { b["msgParam"] = "hello" }, code: "invalidParameter.param.invalid"},
		{name: "msgParam an array", kinds: kinds, change: func(b map[string]any) { b["msgParam"] = `["hello"]` }, code: "invalidParameter.param.invalid"},
		{name: "msgParam null", kinds: kinds, change: func(b map[string]any) { b["msgParam"] = `null` }, code: "invalidParameter.param.invalid"},
		{name: "msgParam too long", kinds: kinds, change: func(b map[string]any) {
			b["msgParam"] = fmt.Sprintf(`{"content":%q}`, strings.Repeat("x", dingtalktest.MaxMsgParamBytes))
		}, code: "invalidParameter.param.invalid"},
		{name: "sampleText without content", kinds: kinds, change: func(b map[string]any) { b["msgParam"] = `{"text":"hello"}` }, code: "invalidParameter.param.invalid"},
		{name: "sampleMarkdown without title", kinds: kinds, change: func(b map[string]any) {
			b["msgKey"], b["msgParam"] = "sampleMarkdown", `{"text":"hello"}`
		}, code: "invalidParameter.param.invalid"},
		{name: "sampleMarkdown without text", kinds: kinds, change: func(b map[string]any) {
			b["msgKey"], b["msgParam"] = "sampleMarkdown", `{"title":"hello"}`
		}, code: "invalidParameter.param.invalid"},
	}
	for _, tt := range tests {
		for _, kind := range tt.kinds {
			t.Run(fmt.Sprintf("%s/%s", kind, tt.name), func(t *testing.T) {
				var body any = tt.raw
				if tt.raw == "" {
					b := sendBody(s, kind, "cid1")
					tt.change(b)
					body = b
				}
				requireError(t, post(t, s, sendPath[kind], tok, body), http.StatusBadRequest, tt.code)
			})
		}
	}
	assert.Empty(t, s.Sent())
}

func TestSendNeedsJSONContentType(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	req := newRequest(t, context.Background(), s, dingtalktest.PathGroupSend, tok, sendBody(s, dingtalktest.KindGroup, "cid1"))
	req.Header.Set("Content-Type", "text/plain")
	requireError(t, roundTrip(t, req), http.StatusBadRequest, "invalidParameter.param.invalid")
	assert.Empty(t, s.Sent())
}

func TestUnknownPathAndMethod(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	requireError(t, post(t, s, "/v1.0/robot/nope", "", "{}"), http.StatusNotFound, "InvalidAction.NotFound")

	req := newRequest(t, context.Background(), s, dingtalktest.PathToken, "", "{}")
	req.Method = http.MethodGet
	requireError(t, roundTrip(t, req), http.StatusMethodNotAllowed, "InvalidAction.MethodNotAllowed")
	assert.Equal(t, 1, s.CallCount("/v1.0/robot/nope"))
}

func TestSendRecordsMessages(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now))
	tok := issueToken(t, s)
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			body := sendBody(s, kind, "chat-"+string(kind))
			body["msgKey"], body["msgParam"], body["coolAppCode"] = "sampleMarkdown", `{"title":"t","text":"x"}`, "cool1"
			var res sendAnswer
			requireOK(t, post(t, s, sendPath[kind], tok, body), &res)

			m, ok := s.Message(res.ProcessQueryKey)
			require.True(t, ok)
			want := dingtalktest.Message{
				Key: res.ProcessQueryKey, Kind: kind, RobotCode: s.RobotCode(),
				MsgKey: "sampleMarkdown", MsgParam: `{"title":"t","text":"x"}`, CoolAppCode: "cool1", SentAt: clk.Now(), AppKey: s.AppKey(),
			}
			if kind == dingtalktest.KindOTO {
				want.UserIDs = []string{"chat-oto"}
				assert.Equal(t, []string{}, res.InvalidStaffIDList)
				assert.Equal(t, []string{}, res.FlowControlledStaffIDList)
			} else {
				want.ConversationID = "chat-" + string(kind)
			}
			assert.Equal(t, want, m)
		})
	}
	sent := s.Sent()
	require.Len(t, sent, len(kinds))
	for i, kind := range kinds {
		assert.Equal(t, kind, sent[i].Kind, "send order")
	}
	_, ok := s.Message("unknown")
	assert.False(t, ok)
}

func TestOTOInvalidStaff(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t, dingtalktest.WithInvalidStaffIDs("gone1", "gone2"))
	tok := issueToken(t, s)
	tests := []struct {
		name        string
		users       []string
		wantInvalid []string
	}{
		{name: "all valid", users: []string{"u1", "u2"}, wantInvalid: []string{}},
		{name: "some invalid", users: []string{"u1", "gone1", "u2"}, wantInvalid: []string{"gone1"}},
		{name: "all invalid still get a key", users: []string{"gone2", "gone1"}, wantInvalid: []string{"gone2", "gone1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := sendBody(s, dingtalktest.KindOTO, "")
			body["userIds"] = tt.users
			var res sendAnswer
			requireOK(t, post(t, s, dingtalktest.PathOTOSend, tok, body), &res)
			assert.NotEmpty(t, res.ProcessQueryKey)
			assert.Equal(t, tt.wantInvalid, res.InvalidStaffIDList)
			m, ok := s.Message(res.ProcessQueryKey)
			require.True(t, ok)
			assert.Equal(t, tt.users, m.UserIDs)
		})
	}
}

func TestSendThenRecall(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now))
			tok := issueToken(t, s)
			k1, k2 := send(t, s, tok, kind, "cid1"), send(t, s, tok, kind, "cid1")
			clk.Advance(time.Hour)

			res := recall(t, s, tok, kind, "cid1", k2, k1, k2)
			assert.Equal(t, []string{k2, k1}, res.SuccessResult)
			assert.Empty(t, res.FailedResult)
			assert.Equal(t, []string{k2, k1}, s.Recalled())
			for _, k := range []string{k1, k2} {
				m, ok := s.Message(k)
				require.True(t, ok)
				assert.True(t, m.Recalled)
				assert.Equal(t, clk.Now(), m.RecalledAt)
				assert.Equal(t, 1, s.RecallAttempts(k), "a key named twice in one call is one attempt")
			}
		})
	}
}

func TestRecallFailedResult(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now))
	tok := issueToken(t, s)
	stale := send(t, s, tok, dingtalktest.KindGroup, "cid1")
	clk.Advance(dingtalktest.RecallWindow + time.Second)
	tok = issueToken(t, s) // the first one expired too
	group := send(t, s, tok, dingtalktest.KindGroup, "cid1")
	done := send(t, s, tok, dingtalktest.KindGroup, "cid1")
	recall(t, s, tok, dingtalktest.KindGroup, "cid1", done)
	failing := send(t, s, tok, dingtalktest.KindGroup, "cid1")
	s.FailKey(failing, "bot.stopped")
	s.FailKey("never-sent", "custom reason")

	tests := []struct {
		name string
		kind dingtalktest.Kind
		conv string
		key  string
		want string
	}{
		{name: "unknown key", kind: dingtalktest.KindGroup, conv: "cid1", key: "nope", want: dingtalktest.ReasonNotFound},
		{name: "other conversation", kind: dingtalktest.KindGroup, conv: "cid2", key: group, want: dingtalktest.ReasonOtherConversation},
		{name: "group key via private", kind: dingtalktest.KindPrivate, conv: "cid1", key: group, want: dingtalktest.ReasonOtherKind},
		{name: "group key via oto", kind: dingtalktest.KindOTO, key: group, want: dingtalktest.ReasonOtherKind},
		{name: "already recalled", kind: dingtalktest.KindGroup, conv: "cid1", key: done, want: dingtalktest.ReasonAlreadyRecalled},
		{name: "older than 24h", kind: dingtalktest.KindGroup, conv: "cid1", key: stale, want: dingtalktest.ReasonTooOld},
		{name: "FailKey", kind: dingtalktest.KindGroup, conv: "cid1", key: failing, want: "bot.stopped"},
		{name: "FailKey on an unknown key", kind: dingtalktest.KindGroup, conv: "cid1", key: "never-sent", want: "custom reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := recall(t, s, tok, tt.kind, tt.conv, tt.key)
			assert.Empty(t, res.SuccessResult)
			assert.Equal(t, map[string]string{tt.key: tt.want}, res.FailedResult)
		})
	}

	m, _ := s.Message(group)
	assert.False(t, m.Recalled, "failed recalls change nothing")
	s.ClearKeyFailure(failing)
	assert.Equal(t, []string{failing}, recall(t, s, tok, dingtalktest.KindGroup, "cid1", failing).SuccessResult)
	assert.Equal(t, []string{done, failing}, s.Recalled())
}

func TestRecallValidation(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	key := send(t, s, tok, dingtalktest.KindGroup, "cid1")
	tooMany := make([]string, dingtalktest.MaxKeys+1)
	for i := range tooMany {
		tooMany[i] = key
	}
	tests := []struct {
		name   string
		kinds  []dingtalktest.Kind
		change func(body map[string]any)
		code   string
	}{
		{name: "missing robotCode", kinds: kinds, change: func(b map[string]any) { delete(b, "robotCode") }, code: "miss.chatbotId"},
		{name: "unknown robotCode", kinds: kinds, change: func(b map[string]any) { b["robotCode"] = "other" }, code: "invalidParameter.robotCode.notExsit"},
		{name: "missing openConversationId", kinds: []dingtalktest.Kind{dingtalktest.KindGroup, dingtalktest.KindPrivate}, change: func(b map[string]any) { delete(b, "openConversationId") }, code: "miss.openConversationId"},
		{name: "missing processQueryKeys", kinds: kinds, change: func(b map[string]any) { delete(b, "processQueryKeys") }, code: "invalidParameter.processQueryKey.missing"},
		{name: "empty processQueryKeys", kinds: kinds, change: func(b map[string]any) { b["processQueryKeys"] = []string{} }, code: "invalidParameter.processQueryKey.missing"},
		{name: "more than 20 keys", kinds: kinds, change: func(b map[string]any) { b["processQueryKeys"] = tooMany }, code: "invalidParameter.processQueryKeys.overMax"},
		{name: "keys not an array", kinds: kinds, change: func(b map[string]any) { b["processQueryKeys"] = key }, code: "invalidParameter.param.invalid"},
	}
	for _, tt := range tests {
		for _, kind := range tt.kinds {
			t.Run(fmt.Sprintf("%s/%s", kind, tt.name), func(t *testing.T) {
				b := recallBody(s, kind, "cid1", key)
				tt.change(b)
				requireError(t, post(t, s, recallPath[kind], tok, b), http.StatusBadRequest, tt.code)
			})
		}
	}
	assert.Empty(t, s.Recalled())
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault  dingtalktest.Fault
		status int
		code   string
	}{
		{dingtalktest.FaultSystemError, http.StatusInternalServerError, "system.error"},
		{dingtalktest.FaultQPSLimit, http.StatusForbidden, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"},
		{dingtalktest.FaultOrgQuota, http.StatusForbidden, "Forbidden.AccessDenied.ApiCountLimitForOrg"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			s := dingtalktest.NewTest(t)
			tok := issueToken(t, s)
			key := send(t, s, tok, dingtalktest.KindGroup, "cid1")

			s.FailNext(2, tt.fault)
			issueToken(t, s) // the token path is exempt
			requireError(t, post(t, s, dingtalktest.PathGroupRecall, tok, recallBody(s, dingtalktest.KindGroup, "cid1", key)), tt.status, tt.code)
			requireError(t, post(t, s, dingtalktest.PathGroupSend, tok, sendBody(s, dingtalktest.KindGroup, "cid1")), tt.status, tt.code)
			m, _ := s.Message(key)
			assert.False(t, m.Recalled, "a faulted recall recalls nothing")
			assert.Len(t, s.Sent(), 1, "a faulted send sends nothing")
			assert.Equal(t, 1, s.RecallAttempts(key), "faulted calls count")

			assert.Equal(t, []string{key}, recall(t, s, tok, dingtalktest.KindGroup, "cid1", key).SuccessResult)
			assert.Equal(t, 2, s.RecallAttempts(key))
		})
	}
}

func TestFailNextOnAndFailCallWith(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)

	s.FailNextOn(dingtalktest.PathPrivateSend, 1, dingtalktest.FaultSystemError)
	send(t, s, tok, dingtalktest.KindGroup, "cid1")
	requireError(t, post(t, s, dingtalktest.PathPrivateSend, tok, sendBody(s, dingtalktest.KindPrivate, "cid1")), http.StatusInternalServerError, "system.error")
	send(t, s, tok, dingtalktest.KindPrivate, "cid1")

	s.FailCallWith(dingtalktest.PathGroupSend, 1, http.StatusBadRequest, "bot.stopped", "the bot is disabled")
	e := requireError(t, post(t, s, dingtalktest.PathGroupSend, tok, sendBody(s, dingtalktest.KindGroup, "cid1")), http.StatusBadRequest, "bot.stopped")
	assert.Equal(t, "the bot is disabled", e.Message)
	send(t, s, tok, dingtalktest.KindGroup, "cid1")

	s.FailNextOn(dingtalktest.PathToken, 1, dingtalktest.FaultSystemError)
	requireError(t, post(t, s, dingtalktest.PathToken, "", map[string]string{"appKey": s.AppKey(), "appSecret": s.AppSecret()}), http.StatusInternalServerError, "system.error")
	issueToken(t, s)
	assert.Equal(t, 2, s.TokensIssued())
	assert.Len(t, s.Sent(), 3)
}

func TestQPSLimit(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	s.SetQPSLimit(2)
	send(t, s, tok, dingtalktest.KindGroup, "cid1")
	send(t, s, tok, dingtalktest.KindGroup, "cid1")
	requireError(t, post(t, s, dingtalktest.PathGroupSend, tok, sendBody(s, dingtalktest.KindGroup, "cid1")), http.StatusForbidden, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
	assert.Len(t, s.Sent(), 2, "a throttled send sends nothing")
	send(t, s, tok, dingtalktest.KindPrivate, "cid1") // the ceiling is per path

	s.SetQPSLimit(0)
	send(t, s, tok, dingtalktest.KindGroup, "cid1")
	assert.Len(t, s.Sent(), 4)
}

func TestRecallFailRate(t *testing.T) {
	t.Parallel()
	statuses := func(p float64, seed int64) []int {
		s := dingtalktest.NewTest(t)
		tok := issueToken(t, s)
		key := send(t, s, tok, dingtalktest.KindGroup, "cid1")
		s.SetRecallFailRate(p, seed)
		send(t, s, tok, dingtalktest.KindGroup, "cid1") // sends are exempt
		var got []int
		for range 20 {
			got = append(got, post(t, s, dingtalktest.PathGroupRecall, tok, recallBody(s, dingtalktest.KindGroup, "cid1", key)).status)
		}
		assert.Equal(t, 20, s.RecallAttempts(key))
		return got
	}

	all := statuses(1, 7)
	assert.NotContains(t, all, http.StatusOK)
	assert.Contains(t, all, http.StatusInternalServerError)
	assert.Contains(t, all, http.StatusForbidden)

	none := statuses(0, 7)
	assert.Equal(t, http.StatusOK, none[0])

	half := statuses(0.5, 42)
	assert.Equal(t, half, statuses(0.5, 42), "the same seed fails the same calls")
	assert.Contains(t, half, http.StatusOK)
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	const latency = 50 * time.Millisecond
	s.SetLatency(latency)
	start := time.Now()
	send(t, s, tok, dingtalktest.KindGroup, "cid1")
	assert.GreaterOrEqual(t, time.Since(start), latency)
}

func TestLatencyHonoursCancel(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req := newRequest(t, ctx, s, dingtalktest.PathGroupSend, tok, sendBody(s, dingtalktest.KindGroup, "cid1"))
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	require.Eventually(t, func() bool { return s.CallCount(dingtalktest.PathGroupSend) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	assert.Empty(t, s.Sent())
	assert.Zero(t, s.Calls()[1].Status)
}

func TestCloseCutsLatencyShort(t *testing.T) {
	t.Parallel()
	s := dingtalktest.New()
	tok := issueToken(t, s)
	s.SetLatency(time.Hour)
	req := newRequest(t, context.Background(), s, dingtalktest.PathGroupSend, tok, sendBody(s, dingtalktest.KindGroup, "cid1"))
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	require.Eventually(t, func() bool { return s.CallCount(dingtalktest.PathGroupSend) == 1 }, 5*time.Second, time.Millisecond)
	s.Close()
	s.Close()
	assert.Error(t, <-errc, "no answer, not an empty 200")
	assert.Empty(t, s.Sent())
}

func TestPeakConcurrent(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	paths := []string{dingtalktest.PathGroupSend, dingtalktest.PathGroupSend, dingtalktest.PathGroupSend, dingtalktest.PathGroupRecall}
	var wg sync.WaitGroup
	for _, path := range paths {
		req := newRequest(t, ctx, s, path, tok, "{}")
		wg.Go(func() {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	require.Eventually(t, func() bool { return s.PeakConcurrent("") == len(paths) }, 5*time.Second, time.Millisecond)
	cancel()
	wg.Wait()
	assert.Equal(t, 3, s.PeakConcurrent(dingtalktest.PathGroupSend))
	assert.Equal(t, 1, s.PeakConcurrent(dingtalktest.PathGroupRecall))
	assert.Equal(t, 1, s.PeakConcurrent(dingtalktest.PathToken))
	assert.Zero(t, s.PeakConcurrent(dingtalktest.PathOTOSend))
}

func TestCallsAndReset(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now))
	tok := issueToken(t, s)
	key := send(t, s, tok, dingtalktest.KindGroup, "cid1")
	s.FailNext(1, dingtalktest.FaultSystemError)
	post(t, s, dingtalktest.PathGroupRecall, tok, recallBody(s, dingtalktest.KindGroup, "cid1", key, "other"))
	recall(t, s, tok, dingtalktest.KindGroup, "cid1", key)

	at := clk.Now()
	assert.Equal(t, []dingtalktest.Call{
		{Path: dingtalktest.PathToken, Status: http.StatusOK, At: at, AppKey: s.AppKey()},
		{Path: dingtalktest.PathGroupSend, Status: http.StatusOK, Keys: []string{key}, At: at, AppKey: s.AppKey()},
		{Path: dingtalktest.PathGroupRecall, Status: http.StatusInternalServerError, Code: "system.error", Keys: []string{key, "other"}, At: at, AppKey: s.AppKey()},
		{Path: dingtalktest.PathGroupRecall, Status: http.StatusOK, Keys: []string{key}, At: at, AppKey: s.AppKey()},
	}, s.Calls())
	assert.Equal(t, 2, s.CallCount(dingtalktest.PathGroupRecall))
	assert.Equal(t, 2, s.RecallAttempts(key))
	assert.Equal(t, 1, s.RecallAttempts("other"))

	s.Reset()
	assert.Empty(t, s.Calls())
	assert.Zero(t, s.CallCount(dingtalktest.PathGroupRecall))
	assert.Zero(t, s.RecallAttempts(key))
	assert.Zero(t, s.TokensIssued())
	assert.Zero(t, s.PeakConcurrent(""))
	assert.Len(t, s.Sent(), 1, "messages stay")
	assert.Equal(t, []string{key}, s.Recalled())
	send(t, s, tok, dingtalktest.KindGroup, "cid1") // tokens stay valid
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	const n = 50
	keys := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		req := newRequest(t, context.Background(), s, dingtalktest.PathGroupSend, tok, sendBody(s, dingtalktest.KindGroup, fmt.Sprintf("cid%d", i%3)))
		wg.Go(func() {
			resp, err := http.DefaultClient.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			var res sendAnswer
			if assert.Equal(t, http.StatusOK, resp.StatusCode) && assert.NoError(t, json.NewDecoder(resp.Body).Decode(&res)) {
				keys <- res.ProcessQueryKey
			}
		})
	}
	wg.Wait()
	close(keys)
	seen := map[string]bool{}
	for k := range keys {
		assert.False(t, seen[k], "keys are unique")
		seen[k] = true
	}
	assert.Len(t, seen, n)
	assert.Len(t, s.Sent(), n)
	assert.Equal(t, n, s.CallCount(dingtalktest.PathGroupSend))
}
