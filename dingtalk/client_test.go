package dingtalk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// fastRetry keeps retry waits short so tests run quickly.
var fastRetry = dingtalk.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, QPSDelay: 2 * time.Millisecond}

// newClient builds a client for fake with fast retries and any extra options.
func newClient(t *testing.T, fake *dingtalktest.Server, opts ...dingtalk.Option) *dingtalk.Client {
	t.Helper()
	quiet, _ := test.NewNullLogger()
	base := []dingtalk.Option{dingtalk.WithBaseURL(fake.URL()), dingtalk.WithRobotCode(fake.RobotCode()), dingtalk.WithRetryPolicy(fastRetry), dingtalk.WithLogger(quiet)}
	c, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), append(base, opts...)...)
	require.NoError(t, err)
	return c
}

// sendGroup sends n text messages into conversationID and returns their keys.
func sendGroup(t *testing.T, c *dingtalk.Client, conversationID string, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		k, err := c.SendGroup(context.Background(), conversationID, dingtalk.Text(fmt.Sprintf("message %d", i)))
		require.NoError(t, err)
		keys[i] = k
	}
	return keys
}

func TestNewClientValidatesOptions(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		secret  string
		opt     dingtalk.Option
		wantErr string
	}{
		{"defaults", "k", "s", nil, ""},
		{"no key", "", "s", nil, "app key and app secret are required"},
		{"no secret", "k", " ", nil, "app key and app secret are required"},
		{"relative base url", "k", "s", dingtalk.WithBaseURL("/v1"), "want an absolute http or https url"},
		{"ftp base url", "k", "s", dingtalk.WithBaseURL("ftp://x"), "want an absolute http or https url"},
		{"good base url", "k", "s", dingtalk.WithBaseURL("https://api.dingtalk.com/"), ""},
		{"empty robot code", "k", "s", dingtalk.WithRobotCode(""), "robot code is empty"},
		{"nil http client", "k", "s", dingtalk.WithHTTPClient(nil), "http client is nil"},
		{"zero timeout", "k", "s", dingtalk.WithTimeout(0), "want a positive duration"},
		{"zero qps", "k", "s", dingtalk.WithQPS(0), "want at least 1"},
		{"zero concurrency", "k", "s", dingtalk.WithConcurrency(0), "want at least 1"},
		{"no attempts", "k", "s", dingtalk.WithRetryPolicy(dingtalk.RetryPolicy{}), "want MaxAttempts >= 1"},
		{"nil clock", "k", "s", dingtalk.WithClock(nil), "clock is nil"},
		{"nil logger", "k", "s", dingtalk.WithLogger(nil), "logger is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []dingtalk.Option
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			c, err := dingtalk.NewClient(tt.key, tt.secret, opts...)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.key, c.RobotCode(), "robot code defaults to the app key")
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestConcurrentCallersFetchOneToken(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake, dingtalk.WithQPS(1000))
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			_, err := c.SendGroup(context.Background(), "cidA", dingtalk.Text(fmt.Sprint(i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, fake.TokensIssued())
	assert.Equal(t, 1, fake.CallCount(dingtalk.PathAccessToken))
	assert.Len(t, fake.Sent(), 100)
}

// clock is a settable clock shared by a client and the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	clk := &clock{t: time.Now()}
	fake := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now), dingtalktest.WithTokenTTL(2*time.Hour))
	c := newClient(t, fake, dingtalk.WithClock(clk.Now))

	sendGroup(t, c, "cidA", 1)
	clk.Advance(time.Hour)
	sendGroup(t, c, "cidA", 1)
	assert.Equal(t, 1, fake.TokensIssued(), "a token with an hour left is reused")

	clk.Advance(56 * time.Minute) // 4 minutes left: inside the 5-minute margin
	sendGroup(t, c, "cidA", 1)
	assert.Equal(t, 2, fake.TokensIssued(), "a token about to expire is replaced before use")
}

func TestInvalidTokenIsRefreshedOnce(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	sendGroup(t, c, "cidA", 1)
	fake.InvalidateTokens()

	keys := sendGroup(t, c, "cidA", 1)
	assert.Len(t, keys, 1)
	assert.Equal(t, 2, fake.TokensIssued())
	assert.Equal(t, 3, fake.CallCount(dingtalk.PathGroupSend), "the rejected send is tried once more")
}

func TestTokenRejectedTwiceIsAnError(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	sendGroup(t, c, "cidA", 1)
	fake.InvalidateTokens()
	fake.FailCallWith(dingtalk.PathGroupSend, 1, http.StatusUnauthorized, dingtalk.CodeInvalidAuthentication, "token rejected")
	_, err := c.SendGroup(context.Background(), "cidA", dingtalk.Text("x"))
	require.True(t, dingtalk.HasCode(err, dingtalk.CodeInvalidAuthentication), "got %v", err)
	assert.Equal(t, 2, fake.TokensIssued(), "the token is fetched again once, not in a loop")
	assert.Equal(t, 3, fake.CallCount(dingtalk.PathGroupSend))
}

func TestShortLivedTokenIsReused(t *testing.T) {
	fake := dingtalktest.NewTest(t, dingtalktest.WithTokenTTL(4*time.Minute))
	c := newClient(t, fake)
	sendGroup(t, c, "cidA", 10)
	assert.Equal(t, 1, fake.TokensIssued(), "a token shorter-lived than the 5-minute margin is still reused for half its life")
}

func TestBadCredentials(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c, err := dingtalk.NewClient(fake.AppKey(), "wrong-secret-value", dingtalk.WithBaseURL(fake.URL()), dingtalk.WithRetryPolicy(fastRetry))
	require.NoError(t, err)
	_, err = c.SendGroup(context.Background(), "cidA", dingtalk.Text("hi"))
	require.Error(t, err)
	assert.True(t, dingtalk.HasCode(err, dingtalk.CodeInvalidClient), "got %v", err)
	assert.NotContains(t, err.Error(), "wrong-secret-value")
	assert.Equal(t, 1, fake.CallCount(dingtalk.PathAccessToken), "a 400 is not retried")
	assert.Zero(t, fake.CallCount(dingtalk.PathGroupSend))
}

func TestSend(t *testing.T) {
	fake := dingtalktest.NewTest(t, dingtalktest.WithInvalidStaffIDs("ghost"))
	c := newClient(t, fake)
	ctx := context.Background()

	t.Run("group text", func(t *testing.T) {
		key, err := c.SendGroup(ctx, "cidGroup", dingtalk.Text("deploy finished"))
		require.NoError(t, err)
		m, ok := fake.Message(key)
		require.True(t, ok)
		assert.Equal(t, dingtalktest.KindGroup, m.Kind)
		assert.Equal(t, "cidGroup", m.ConversationID)
		assert.Equal(t, fake.RobotCode(), m.RobotCode)
		assert.Equal(t, "sampleText", m.MsgKey)
		assert.JSONEq(t, `{"content":"deploy finished"}`, m.MsgParam)
	})
	t.Run("group markdown with cool app", func(t *testing.T) {
		key, err := c.SendGroup(ctx, "cidGroup", dingtalk.Markdown("Deploy", "**done**"), dingtalk.WithCoolAppCode("COOLAPP"))
		require.NoError(t, err)
		m, _ := fake.Message(key)
		assert.Equal(t, "sampleMarkdown", m.MsgKey)
		assert.JSONEq(t, `{"title":"Deploy","text":"**done**"}`, m.MsgParam)
		assert.Equal(t, "COOLAPP", m.CoolAppCode)
	})
	t.Run("private raw message", func(t *testing.T) {
		raw := dingtalk.Message{MsgKey: "sampleLink", MsgParam: `{"title":"t","text":"x","messageUrl":"https://example.invalid","picUrl":""}`}
		key, err := c.SendPrivate(ctx, "cidPrivate", raw, dingtalk.WithCoolAppCode("COOLAPP"))
		require.NoError(t, err)
		m, _ := fake.Message(key)
		assert.Equal(t, dingtalktest.KindPrivate, m.Kind)
		assert.Equal(t, "sampleLink", m.MsgKey)
		assert.Equal(t, "COOLAPP", m.CoolAppCode)
	})
	t.Run("one-to-one with an unknown staff id", func(t *testing.T) {
		res, err := c.SendOTO(ctx, []string{"staff-1", "ghost"}, dingtalk.Text("hi"))
		require.NoError(t, err)
		assert.NotEmpty(t, res.ProcessQueryKey)
		assert.Equal(t, []string{"ghost"}, res.InvalidStaffIDs)
		m, _ := fake.Message(res.ProcessQueryKey)
		assert.Equal(t, dingtalktest.KindOTO, m.Kind)
		assert.Equal(t, []string{"staff-1", "ghost"}, m.UserIDs)
	})
	t.Run("unknown template is a typed error", func(t *testing.T) {
		_, err := c.SendGroup(ctx, "cidGroup", dingtalk.Message{MsgKey: "noSuchTemplate", MsgParam: `{}`})
		var apiErr *dingtalk.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, dingtalk.CodeTemplateNotExist, apiErr.Code)
		assert.Equal(t, http.StatusBadRequest, apiErr.Status)
		assert.NotEmpty(t, apiErr.RequestID)
		assert.False(t, apiErr.Retryable())
	})
}

func TestSendRefusesBadInputBeforeCalling(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	ctx := context.Background()
	tests := []struct {
		name string
		send func() error
	}{
		{"empty conversation", func() error { _, err := c.SendGroup(ctx, " ", dingtalk.Text("x")); return err }},
		{"empty msgKey", func() error { _, err := c.SendGroup(ctx, "cid", dingtalk.Message{MsgParam: "{}"}); return err }},
		{"msgParam not an object", func() error {
			_, err := c.SendPrivate(ctx, "cid", dingtalk.Message{MsgKey: "sampleText", MsgParam: `"x"`})
			return err
		}},
		{"msgParam too large", func() error {
			_, err := c.SendGroup(ctx, "cid", dingtalk.Text(strings.Repeat("x", dingtalk.MaxMsgParamBytes)))
			return err
		}},
		{"no recipients", func() error { _, err := c.SendOTO(ctx, nil, dingtalk.Text("x")); return err }},
		{"too many recipients", func() error {
			_, err := c.SendOTO(ctx, make([]string, dingtalk.MaxOTOUsers+1), dingtalk.Text("x"))
			return err
		}},
		{"empty recipient", func() error { _, err := c.SendOTO(ctx, []string{""}, dingtalk.Text("x")); return err }},
		{"empty recall key", func() error { _, err := c.RecallOTO(ctx, []string{"a", ""}); return err }},
		{"empty recall conversation", func() error { _, err := c.RecallGroup(ctx, "", []string{"a"}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.send(), dingtalk.ErrInvalidMessage)
		})
	}
	assert.Empty(t, fake.Calls(), "nothing reached DingTalk")
}

func TestSendRetriesOnlyThrottling(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	sendGroup(t, c, "cidA", 1)

	fake.FailNextOn(dingtalk.PathGroupSend, 2, dingtalktest.FaultQPSLimit)
	sendGroup(t, c, "cidA", 1)
	assert.Equal(t, 4, fake.CallCount(dingtalk.PathGroupSend), "a throttled send is retried")

	fake.FailNextOn(dingtalk.PathGroupSend, 1, dingtalktest.FaultSystemError)
	_, err := c.SendGroup(context.Background(), "cidA", dingtalk.Text("x"))
	assert.True(t, dingtalk.HasCode(err, dingtalk.CodeSystemError), "got %v", err)
	assert.True(t, dingtalk.IsRetryable(err))
	assert.Equal(t, 5, fake.CallCount(dingtalk.PathGroupSend), "a send that may have gone through is not sent twice")
}

// dialFailer is a transport that issues tokens but refuses every other
// connection, counting the refused tries.
type dialFailer struct{ tries atomic.Int32 }

func (d *dialFailer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == dingtalk.PathAccessToken {
		rec := httptest.NewRecorder()
		_, _ = rec.WriteString(`{"accessToken":"t","expireIn":7200}`)
		return rec.Result(), nil
	}
	d.tries.Add(1)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
}

func TestSendRetriesAConnectionNeverMade(t *testing.T) {
	tr := &dialFailer{}
	c, err := dingtalk.NewClient("k", "s", dingtalk.WithHTTPClient(&http.Client{Transport: tr}), dingtalk.WithRetryPolicy(fastRetry))
	require.NoError(t, err)
	_, err = c.SendGroup(context.Background(), "cid", dingtalk.Text("x"))
	assert.True(t, dingtalk.HasCode(err, dingtalk.CodeTransport), "got %v", err)
	assert.Equal(t, int32(fastRetry.MaxAttempts), tr.tries.Load(), "a send that never connected is retried")
}

func TestRecallAsAnotherRobot(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	keys := sendGroup(t, c, "cidA", 1)
	res, err := c.RecallGroup(context.Background(), "cidA", keys, dingtalk.AsRobot("retired-robot"))
	require.NoError(t, err)
	assert.Equal(t, dingtalk.CodeRobotNotExist, res.Failed[keys[0]].Code, "the other robot code was sent: %v", res.Failed)
	res, err = c.RecallGroup(context.Background(), "cidA", keys, dingtalk.AsRobot(""))
	require.NoError(t, err)
	assert.Equal(t, keys, res.Recalled, "an empty code keeps the client's")
}

func TestRecallSplitsIntoBatchesAndMerges(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake, dingtalk.WithQPS(1000))
	keys := sendGroup(t, c, "cidA", 45)
	fake.FailKey(keys[7], "message is being reviewed")
	fake.Reset()

	res, err := c.RecallGroup(context.Background(), "cidA", append(keys, "unknown-key"))
	require.NoError(t, err)

	assert.ElementsMatch(t, []int{20, 20, 6}, recallSizes(fake), "46 keys go out as 20, 20 and 6")
	assert.Len(t, res.Recalled, 44)
	assert.Equal(t, map[string]dingtalk.Failure{keys[7]: {Message: "message is being reviewed"}, "unknown-key": res.Failed["unknown-key"]}, res.Failed,
		"a key DingTalk refused on its own keeps DingTalk's words, with no code made up")
	assert.NotEmpty(t, res.Failed["unknown-key"].Message)
	assert.ElementsMatch(t, res.Recalled, fake.Recalled())
	assert.NotContains(t, res.Recalled, keys[7])
}

// recallSizes lists the number of keys of each group recall call the fake saw.
func recallSizes(fake *dingtalktest.Server) []int {
	var sizes []int
	for _, call := range fake.Calls() {
		if call.Path == dingtalk.PathGroupRecall {
			sizes = append(sizes, len(call.Keys))
		}
	}
	return sizes
}

func TestRecall45KeysIsThreeCalls(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake, dingtalk.WithQPS(1000))
	keys := sendGroup(t, c, "cidA", 45)
	res, err := c.RecallGroup(context.Background(), "cidA", keys)
	require.NoError(t, err)
	assert.ElementsMatch(t, []int{20, 20, 5}, recallSizes(fake), "45 keys go out as 20, 20 and 5")
	assert.Equal(t, keys, res.Recalled, "recalled keys keep the order asked for")
	assert.Empty(t, res.Failed)
}

func TestRecallEachChatKind(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	ctx := context.Background()

	pk, err := c.SendPrivate(ctx, "cidP", dingtalk.Text("p"), dingtalk.WithCoolAppCode("cool"))
	require.NoError(t, err)
	res, err := c.RecallPrivate(ctx, "cidP", []string{pk})
	require.NoError(t, err)
	assert.Equal(t, []string{pk}, res.Recalled)
	assert.Equal(t, 1, fake.CallCount(dingtalk.PathPrivateRecall))

	oto, err := c.SendOTO(ctx, []string{"staff-1"}, dingtalk.Text("o"))
	require.NoError(t, err)
	res, err = c.RecallOTO(ctx, []string{oto.ProcessQueryKey})
	require.NoError(t, err)
	assert.Equal(t, []string{oto.ProcessQueryKey}, res.Recalled)

	gk := sendGroup(t, c, "cidG", 1)
	res, err = c.RecallGroup(ctx, "cidOther", gk)
	require.NoError(t, err)
	assert.Empty(t, res.Recalled, "a key is recalled only from the chat it was sent to")
	assert.Contains(t, res.Failed, gk[0])

	res, err = c.RecallGroup(ctx, "cidG", nil)
	require.NoError(t, err)
	assert.Empty(t, res.Recalled)
	assert.Empty(t, res.Failed)
}

func TestRecallRetriesTransientFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault dingtalktest.Fault
	}{
		{"500 system.error", dingtalktest.FaultSystemError},
		{"403 qps limit", dingtalktest.FaultQPSLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := dingtalktest.NewTest(t)
			c := newClient(t, fake)
			keys := sendGroup(t, c, "cidA", 3)
			fake.FailNextOn(dingtalk.PathGroupRecall, 2, tt.fault)
			res, err := c.RecallGroup(context.Background(), "cidA", keys)
			require.NoError(t, err)
			assert.Equal(t, keys, res.Recalled)
			assert.Equal(t, 3, fake.CallCount(dingtalk.PathGroupRecall))
		})
	}
}

func TestRecallBatchFailingAsAWhole(t *testing.T) {
	tests := []struct {
		name      string
		inject    func(*dingtalktest.Server)
		wantCalls int
		wantCode  string
	}{
		{"400 is not retried", func(f *dingtalktest.Server) {
			f.FailCallWith(dingtalk.PathGroupRecall, 1, http.StatusBadRequest, dingtalk.CodeBotStopped, "robot is stopped")
		}, 1, dingtalk.CodeBotStopped},
		{"org quota is not retried", func(f *dingtalktest.Server) {
			f.FailNextOn(dingtalk.PathGroupRecall, 1, dingtalktest.FaultOrgQuota)
		}, 1, dingtalk.CodeOrgQuota},
		{"500 until attempts run out", func(f *dingtalktest.Server) {
			f.FailNextOn(dingtalk.PathGroupRecall, fastRetry.MaxAttempts, dingtalktest.FaultSystemError)
		}, fastRetry.MaxAttempts, dingtalk.CodeSystemError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := dingtalktest.NewTest(t)
			c := newClient(t, fake, dingtalk.WithConcurrency(1))
			keys := sendGroup(t, c, "cidA", 25)
			tt.inject(fake)
			res, err := c.RecallGroup(context.Background(), "cidA", keys)
			require.NoError(t, err)
			assert.Len(t, res.Recalled, 5, "the other batch still goes through")
			require.Len(t, res.Failed, 20, "every key of the failed batch is reported")
			for _, reason := range res.Failed {
				assert.Equal(t, tt.wantCode, reason.Code, "reason %v", reason)
			}
			assert.Equal(t, tt.wantCalls+1, fake.CallCount(dingtalk.PathGroupRecall))
		})
	}
}

func TestRecallHonoursContext(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	keys := sendGroup(t, c, "cidA", 30)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := c.RecallGroup(ctx, "cidA", keys)
	require.NoError(t, err)
	assert.Empty(t, res.Recalled)
	assert.Len(t, res.Failed, 30, "no key is dropped when the context ends")
	assert.Empty(t, fake.Recalled())
}

// TestLimiterHoldsTheFakeCeiling recalls three seconds' worth of keys
// through a fake that refuses a 21st call in any second. The schedule the
// limiter keeps is checked exactly in TestQPSLimiterSchedule; here the
// calls cross a socket, where a loaded machine may delay one call past the
// limiter's margin, so the test asks what a user sees: every key recalled,
// the calls spread over at least the two windows the limiter waits, and
// DingTalk's refusals, retried, a stray few (without the limiter 40 of the
// 60 calls would be refused).
func TestLimiterHoldsTheFakeCeiling(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	keys := sendGroup(t, newClient(t, fake, dingtalk.WithQPS(1000000)), "cidA", 60*dingtalk.MaxKeysPerCall)
	fake.SetQPSLimit(dingtalk.DefaultQPS)
	c := newClient(t, fake)
	start := time.Now()
	res, err := c.RecallGroup(context.Background(), "cidA", keys) // 60 calls: three seconds at 20/s
	took := time.Since(start)
	require.NoError(t, err)
	assert.Empty(t, res.Failed)
	assert.Len(t, res.Recalled, len(keys))
	refused := 0
	for _, call := range fake.Calls() {
		if call.Status == http.StatusForbidden {
			refused++
		}
	}
	t.Logf("60 calls in %v, %d refused and retried", took, refused)
	assert.Less(t, refused, dingtalk.DefaultQPS/2, "the limiter let calls bunch")
	assert.GreaterOrEqual(t, took, 2*time.Second, "60 calls at 20 a second wait two windows")
}

func TestAPIErrorRetryable(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   bool
	}{
		{500, dingtalk.CodeSystemError, true},
		{503, "ServiceUnavailable", true},
		{403, dingtalk.CodeQPSLimitAppAndAPI, true},
		{403, dingtalk.CodeQPSLimitAPI, true},
		{0, dingtalk.CodeTransport, true},
		{403, dingtalk.CodeOrgQuota, false},
		{400, dingtalk.CodeBotStopped, false},
		{400, dingtalk.CodeInvalidKey, false},
		{401, dingtalk.CodeInvalidAuthentication, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &dingtalk.APIError{Status: tt.status, Code: tt.code})
			assert.Equal(t, tt.want, dingtalk.IsRetryable(err))
		})
	}
	assert.False(t, dingtalk.IsRetryable(errors.New("plain")))
}

func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	const secret = "s3cret-app-secret"
	const token = "tok-abcdef-123456"
	// A hostile server that echoes the secret and the token back in its errors.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == dingtalk.PathAccessToken {
			_ = json.NewEncoder(w).Encode(map[string]any{"accessToken": token, "expireIn": 7200})
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "system.error", "message": "secret " + secret + " token " + r.Header.Get("x-acs-dingtalk-access-token")})
	}))
	t.Cleanup(srv.Close)
	logger, hook := test.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	c, err := dingtalk.NewClient("key", secret, dingtalk.WithBaseURL(srv.URL), dingtalk.WithRetryPolicy(fastRetry), dingtalk.WithLogger(logger))
	require.NoError(t, err)

	_, sendErr := c.SendGroup(context.Background(), "cid", dingtalk.Text("x"))
	res, err := c.RecallGroup(context.Background(), "cid", []string{"k1"})
	require.NoError(t, err)
	require.Error(t, sendErr)

	var texts []string
	texts = append(texts, sendErr.Error(), res.Failed["k1"].String())
	for _, e := range hook.AllEntries() {
		line, _ := e.String()
		texts = append(texts, line)
	}
	require.NotEmpty(t, hook.AllEntries(), "retries were logged")
	for _, s := range texts {
		assert.NotContains(t, s, secret)
		assert.NotContains(t, s, token)
	}
	assert.Contains(t, sendErr.Error(), "[redacted]")
}

func TestTransportAndOversizedErrors(t *testing.T) {
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == dingtalk.PathAccessToken {
			_ = json.NewEncoder(w).Encode(map[string]any{"accessToken": "t", "expireIn": 7200})
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(strings.Repeat("gateway ", 1<<20)))
	}))
	t.Cleanup(huge.Close)
	c, err := dingtalk.NewClient("k", "s", dingtalk.WithBaseURL(huge.URL), dingtalk.WithRetryPolicy(dingtalk.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	_, err = c.SendGroup(context.Background(), "cid", dingtalk.Text("x"))
	var apiErr *dingtalk.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadGateway, apiErr.Status)
	assert.True(t, apiErr.Retryable())
	assert.Less(t, len(err.Error()), 1000, "an error body is read through a limit")

	// Nothing listens on port 1 (a privileged port no test can take).
	c, err = dingtalk.NewClient("k", "s", dingtalk.WithBaseURL("http://127.0.0.1:1"), dingtalk.WithRetryPolicy(fastRetry))
	require.NoError(t, err)
	_, err = c.SendGroup(context.Background(), "cid", dingtalk.Text("x"))
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, dingtalk.CodeTransport, apiErr.Code)
	assert.True(t, apiErr.Retryable())
}

// countingObserver counts what the client reports.
type countingObserver struct {
	mu                      sync.Mutex
	calls, retries, refresh int
}

func (o *countingObserver) APICall(string, int, string, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
}
func (o *countingObserver) Retry(string, string)   { o.mu.Lock(); defer o.mu.Unlock(); o.retries++ }
func (o *countingObserver) TokenRefresh(error)     { o.mu.Lock(); defer o.mu.Unlock(); o.refresh++ }
func (o *countingObserver) QuotaRefused(string)    {}
func (o *countingObserver) Banned(string)          {}
func (o *countingObserver) OptionalStopped(string) {}

func TestObserverSeesCallsRetriesAndRefreshes(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	obs := &countingObserver{}
	c := newClient(t, fake, dingtalk.WithObserver(obs))
	keys := sendGroup(t, c, "cidA", 2)
	fake.FailNextOn(dingtalk.PathGroupRecall, 1, dingtalktest.FaultSystemError)
	_, err := c.RecallGroup(context.Background(), "cidA", keys)
	require.NoError(t, err)
	assert.Equal(t, 5, obs.calls, "token, two sends, two recall attempts")
	assert.Equal(t, 1, obs.retries)
	assert.Equal(t, 1, obs.refresh)
}
