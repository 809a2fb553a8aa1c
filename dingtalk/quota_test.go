package dingtalk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
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

// fakeMeter counts metered requests per API and says the quota is spent
// when exhausted is set.
type fakeMeter struct {
	mu        sync.Mutex
	metered   map[string]int
	exhausted atomic.Bool
	refused   atomic.Int64
}

func newMeter(exhausted bool) *fakeMeter {
	m := &fakeMeter{metered: map[string]int{}}
	m.exhausted.Store(exhausted)
	return m
}

func (m *fakeMeter) Metered(_ context.Context, api string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.metered[api]++
}

func (m *fakeMeter) Exhausted() bool { return m.exhausted.Load() }

func (m *fakeMeter) Refused() { m.refused.Add(1) }

func (m *fakeMeter) count(api string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.metered[api]
}

// eventObserver records the quota, ban and optional-stop events per API.
type eventObserver struct {
	countingObserver
	mu                      sync.Mutex
	quota, banned, optional map[string]int
}

func newEventObserver() *eventObserver {
	return &eventObserver{quota: map[string]int{}, banned: map[string]int{}, optional: map[string]int{}}
}

func (o *eventObserver) QuotaRefused(api string) { o.mu.Lock(); defer o.mu.Unlock(); o.quota[api]++ }
func (o *eventObserver) Banned(api string)       { o.mu.Lock(); defer o.mu.Unlock(); o.banned[api]++ }
func (o *eventObserver) OptionalStopped(api string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.optional[api]++
}

func (o *eventObserver) counts() (quota, banned, optional map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	cp := func(m map[string]int) map[string]int {
		out := map[string]int{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return cp(o.quota), cp(o.banned), cp(o.optional)
}

func TestIsOptional(t *testing.T) {
	tests := []struct {
		api  string
		want bool
	}{
		{dingtalk.PathEmotionReply, true},
		{dingtalk.PathEmotionRecall, true},
		{dingtalk.PathGroupStatus, true},
		{dingtalk.PathPrivateStatus, true},
		{dingtalk.PathOTOStatus, true},
		{dingtalk.PathCardUpdate, true},
		{dingtalk.PathCardDeliver, false},
		{dingtalk.PathAccessToken, false},
		{dingtalk.PathGatewayOpen, false},
		{dingtalktest.PathGroupSend, false},
		{dingtalktest.PathPrivateSend, false},
		{dingtalktest.PathOTOSend, false},
		{dingtalktest.PathGroupRecall, false},
		{dingtalktest.PathPrivateRecall, false},
		{dingtalktest.PathOTORecall, false},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			assert.Equal(t, tt.want, dingtalk.IsOptional(tt.api))
		})
	}
}

// optionalCall is one optional API and how to call it on the fake, after
// setting up what it acts on.
type optionalCall struct {
	api  string
	call func(ctx context.Context, t *testing.T, c *dingtalk.Client, fake *dingtalktest.Server) error
}

var optionalCalls = []optionalCall{
	{dingtalk.PathEmotionReply, func(ctx context.Context, _ *testing.T, c *dingtalk.Client, _ *dingtalktest.Server) error {
		return c.ReplyEmotion(ctx, "cid", "msg-1", dingtalk.EmotionWorking)
	}},
	{dingtalk.PathEmotionRecall, func(ctx context.Context, _ *testing.T, c *dingtalk.Client, _ *dingtalktest.Server) error {
		return c.RecallEmotion(ctx, "cid", "msg-1", dingtalk.EmotionWorking)
	}},
	{dingtalk.PathGroupStatus, func(ctx context.Context, _ *testing.T, c *dingtalk.Client, _ *dingtalktest.Server) error {
		_, err := c.StatusGroup(ctx, "cid", "key-1")
		return err
	}},
	{dingtalk.PathPrivateStatus, func(ctx context.Context, _ *testing.T, c *dingtalk.Client, _ *dingtalktest.Server) error {
		_, err := c.StatusPrivate(ctx, "cid", "key-1")
		return err
	}},
	{dingtalk.PathOTOStatus, func(ctx context.Context, _ *testing.T, c *dingtalk.Client, _ *dingtalktest.Server) error {
		_, err := c.StatusOTO(ctx, "key-1")
		return err
	}},
	{dingtalk.PathCardUpdate, func(ctx context.Context, _ *testing.T, c *dingtalk.Client, _ *dingtalktest.Server) error {
		return c.UpdateCard(ctx, "track-1", map[string]string{"msgContent": "done"})
	}},
}

func TestOptionalCallsStopWhenTheQuotaIsSpent(t *testing.T) {
	for _, oc := range optionalCalls {
		t.Run(oc.api, func(t *testing.T) {
			fake := dingtalktest.NewTest(t)
			meter, obs := newMeter(true), newEventObserver()
			c := newClient(t, fake, dingtalk.WithMeter(meter), dingtalk.WithObserver(obs))
			ctx := context.Background()

			err := oc.call(ctx, t, c, fake)
			require.ErrorIs(t, err, dingtalk.ErrOptionalCallStopped)
			assert.Zero(t, fake.CallCount(oc.api), "refused before any HTTP")
			assert.Zero(t, fake.CallCount(dingtalk.PathAccessToken), "not even a token")
			assert.Zero(t, meter.count(oc.api))
			_, _, optional := obs.counts()
			assert.Equal(t, map[string]int{oc.api: 1}, optional)

			// With quota left, the same call goes out and is metered.
			meter.exhausted.Store(false)
			err = oc.call(ctx, t, c, fake)
			assert.NotErrorIs(t, err, dingtalk.ErrOptionalCallStopped)
			assert.Equal(t, 1, fake.CallCount(oc.api))
			assert.Equal(t, 1, meter.count(oc.api))
		})
	}
}

func TestRequiredCallsGoOnWhenTheQuotaIsSpent(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	meter, obs := newMeter(true), newEventObserver()
	c := newClient(t, fake, dingtalk.WithMeter(meter), dingtalk.WithObserver(obs))
	ctx := context.Background()
	tests := []struct {
		api  string
		call func() error
	}{
		{dingtalk.PathAccessToken, func() error { return c.CheckCredentials(ctx) }},
		{dingtalktest.PathGroupSend, func() error { _, err := c.SendGroup(ctx, "cid", dingtalk.Text("hi")); return err }},
		{dingtalktest.PathPrivateSend, func() error { _, err := c.SendPrivate(ctx, "cid", dingtalk.Text("hi")); return err }},
		{dingtalktest.PathOTOSend, func() error { _, err := c.SendOTO(ctx, []string{"u1"}, dingtalk.Text("hi")); return err }},
		{dingtalktest.PathGroupRecall, func() error { _, err := c.RecallGroup(ctx, "cid", []string{"k"}); return err }},
		{dingtalktest.PathPrivateRecall, func() error { _, err := c.RecallPrivate(ctx, "cid", []string{"k"}); return err }},
		{dingtalktest.PathOTORecall, func() error { _, err := c.RecallOTO(ctx, []string{"k"}); return err }},
		{dingtalk.PathCardDeliver, func() error {
			_, err := c.DeliverCard(ctx, dingtalk.GroupSpace("cid"), testCard("track-required"))
			return err
		}},
		{dingtalk.PathGatewayOpen, func() error {
			_, err := c.OpenGateway(ctx, "test", dingtalk.Subscription{Type: "CALLBACK", Topic: "/v1.0/im/bot/messages/get"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			require.NoError(t, tt.call())
			assert.Equal(t, 1, fake.CallCount(tt.api))
			assert.Equal(t, 1, meter.count(tt.api))
		})
	}
	_, _, optional := obs.counts()
	assert.Empty(t, optional)
}

func TestMeterCountsEveryRequestSent(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	meter := newMeter(false)
	c := newClient(t, fake, dingtalk.WithMeter(meter))
	keys := sendGroup(t, c, "cid", 2)
	fake.FailNextOn(dingtalktest.PathGroupRecall, 2, dingtalktest.FaultSystemError)
	_, err := c.RecallGroup(context.Background(), "cid", keys)
	require.NoError(t, err)
	assert.Equal(t, 1, meter.count(dingtalk.PathAccessToken))
	assert.Equal(t, 2, meter.count(dingtalktest.PathGroupSend))
	assert.Equal(t, 3, meter.count(dingtalktest.PathGroupRecall), "each retry attempt is a request")

	_, err = dingtalk.NewClient("k", "s", dingtalk.WithMeter(nil))
	require.ErrorContains(t, err, "meter is nil")
}

// quietLog discards log output.
func quietLog() *logrus.Logger {
	l, _ := test.NewNullLogger()
	return l
}

// answerServer answers every call but the token with status, contentType
// and body, and counts the calls it answered that way.
func answerServer(t *testing.T, status int, contentType, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == dingtalk.PathAccessToken {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"accessToken":"tok","expireIn":7200}`))
			return
		}
		n.Add(1)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestQuotaRefusal(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		quota      bool
		code       string
	}{
		{"new style", `{"code":"Forbidden.AccessDenied.ApiCountLimitForOrg","message":"本月api调用量已超过限制"}`, http.StatusForbidden, true, dingtalk.CodeOrgQuota},
		{"old style on 403", `{"errcode":90020,"errmsg":"您的企业本月api调用量已超过限制"}`, http.StatusForbidden, true, dingtalk.CodeOrgQuotaLegacy},
		{"old style on 200", `{"errcode":90020,"errmsg":"您的企业本月api调用量已超过限制"}`, http.StatusOK, true, dingtalk.CodeOrgQuotaLegacy},
		{"old style other error", `{"errcode":90002,"errmsg":"global limit"}`, http.StatusOK, false, "90002"},
		{"QPS limit is something else", `{"code":"Forbidden.AccessDenied.QpsLimitForApi","message":"slow"}`, http.StatusForbidden, false, dingtalk.CodeQPSLimitAPI},
		{"system error is something else", `{"code":"system.error","message":"boom"}`, http.StatusInternalServerError, false, dingtalk.CodeSystemError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := answerServer(t, tt.status, "application/json", tt.body)
			obs, meter := newEventObserver(), newMeter(false)
			c, err := dingtalk.NewClient("k", "s", dingtalk.WithBaseURL(srv.URL), dingtalk.WithRetryPolicy(dingtalk.RetryPolicy{MaxAttempts: 2}),
				dingtalk.WithObserver(obs), dingtalk.WithMeter(meter), dingtalk.WithLogger(quietLog()))
			require.NoError(t, err)
			_, err = c.SendGroup(context.Background(), "cid", dingtalk.Text("x"))
			require.Error(t, err)
			assert.Equal(t, tt.quota, dingtalk.IsQuotaExhausted(err))
			assert.True(t, dingtalk.HasCode(err, tt.code), "%v", err)
			quota, _, _ := obs.counts()
			if tt.quota {
				assert.False(t, dingtalk.IsRetryable(err))
				assert.Equal(t, int64(1), n.Load(), "a quota refusal is not retried")
				assert.Equal(t, map[string]int{dingtalktest.PathGroupSend: 1}, quota)
				assert.Equal(t, int64(1), meter.refused.Load(), "the meter learns the quota is spent")
			} else {
				assert.Empty(t, quota)
				assert.Zero(t, meter.refused.Load())
			}
		})
	}
	assert.False(t, dingtalk.IsQuotaExhausted(nil))
	assert.False(t, dingtalk.IsQuotaExhausted(context.Canceled))
}

func TestQuotaRefusalFromTheFake(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	fake.FailNextOn(dingtalktest.PathGroupSend, 1, dingtalktest.FaultOrgQuota)
	_, err := c.SendGroup(context.Background(), "cid", dingtalk.Text("x"))
	assert.True(t, dingtalk.IsQuotaExhausted(err), "%v", err)
	assert.Equal(t, 1, fake.CallCount(dingtalktest.PathGroupSend))
}

func TestQuotaResetsOn(t *testing.T) {
	shanghai := time.FixedZone("Asia/Shanghai", 8*60*60)
	tests := []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"mid month", time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, shanghai)},
		{"last minute of January in Shanghai", time.Date(2026, 1, 31, 15, 59, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, shanghai)},
		{"already February in Shanghai", time.Date(2026, 1, 31, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)},
		{"December", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai)},
		{"first instant of a month", time.Date(2026, 6, 1, 0, 0, 0, 0, shanghai), time.Date(2026, 7, 1, 0, 0, 0, 0, shanghai)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dingtalk.QuotaResetsOn(tt.now)
			assert.True(t, tt.want.Equal(got), "got %v, want %v", got, tt.want)
			_, offset := got.Zone()
			assert.Equal(t, 8*60*60, offset)
		})
	}
}

func TestBanPage(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
	}{
		{"403 text/html", "text/html; charset=utf-8", `<!DOCTYPE html><html><body>访问被拒绝</body></html>`, http.StatusForbidden},
		{"200 text/html", "text/html", `{"processQueryKey":"k"}`, http.StatusOK},
		{"200 html body labelled json", "application/json", "  \n<html><body>deny</body></html>", http.StatusOK},
		{"429 html", "", "<html>too many</html>", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := answerServer(t, tt.status, tt.contentType, tt.body)
			clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
			obs, meter := newEventObserver(), newMeter(false)
			c, err := dingtalk.NewClient("k", "s", dingtalk.WithBaseURL(srv.URL), dingtalk.WithRetryPolicy(fastRetry),
				dingtalk.WithClock(clk.Now), dingtalk.WithObserver(obs), dingtalk.WithMeter(meter), dingtalk.WithLogger(quietLog()))
			require.NoError(t, err)
			ctx := context.Background()

			_, err = c.SendGroup(ctx, "cid", dingtalk.Text("x"))
			require.ErrorIs(t, err, dingtalk.ErrBanned)
			assert.True(t, dingtalk.HasCode(err, dingtalk.CodeBanPage), "%v", err)
			assert.False(t, dingtalk.IsRetryable(err))
			assert.Equal(t, int64(1), n.Load(), "a ban page is not retried")
			_, banned, _ := obs.counts()
			assert.Equal(t, map[string]int{dingtalktest.PathGroupSend: 1}, banned)
			until := clk.Now().Add(dingtalk.BanBackoff)
			assert.Equal(t, until, c.BannedUntil())

			// For BanBackoff every call is refused without HTTP, recalls
			// included.
			clk.Advance(dingtalk.BanBackoff - time.Second)
			metered := meter.count(dingtalktest.PathGroupRecall)
			_, err = c.RecallGroup(ctx, "cid", []string{"k"})
			require.NoError(t, err, "a recall reports a whole batch's failure per key")
			_, err = c.SendGroup(ctx, "cid", dingtalk.Text("x"))
			require.ErrorIs(t, err, dingtalk.ErrBanned)
			assert.Contains(t, err.Error(), until.Format(time.RFC3339))
			assert.True(t, dingtalk.HasCode(err, dingtalk.CodeBanPage))
			assert.Equal(t, int64(1), n.Load())
			assert.Equal(t, metered, meter.count(dingtalktest.PathGroupRecall), "refused calls are not metered")
			_, banned, _ = obs.counts()
			assert.Equal(t, map[string]int{dingtalktest.PathGroupSend: 1}, banned, "local refusals are no new ban")

			// Afterwards calls go out again.
			clk.Advance(time.Second)
			_, _ = c.SendGroup(ctx, "cid", dingtalk.Text("x"))
			assert.Equal(t, int64(2), n.Load())
		})
	}
}

func TestBanPageRecallFailsEveryKey(t *testing.T) {
	srv, _ := answerServer(t, http.StatusForbidden, "text/html", "<html>deny</html>")
	c, err := dingtalk.NewClient("k", "s", dingtalk.WithBaseURL(srv.URL), dingtalk.WithRetryPolicy(fastRetry), dingtalk.WithLogger(quietLog()))
	require.NoError(t, err)
	res, err := c.RecallGroup(context.Background(), "cid", []string{"k1", "k2"})
	require.NoError(t, err)
	require.Len(t, res.Failed, 2)
	for _, f := range res.Failed {
		assert.Contains(t, f.String(), dingtalk.CodeBanPage)
	}
}

func TestQuotaAndBanOnTheFake(t *testing.T) {
	fake := dingtalktest.NewTest(t, dingtalktest.WithApp("app-b", "secret-b", "robot-b"))
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	obsA, obsB := newEventObserver(), newEventObserver()
	a := newClient(t, fake, dingtalk.WithObserver(obsA), dingtalk.WithClock(clk.Now))
	b, err := dingtalk.NewClient("app-b", "secret-b", dingtalk.WithBaseURL(fake.URL()), dingtalk.WithRobotCode("robot-b"),
		dingtalk.WithRetryPolicy(fastRetry), dingtalk.WithObserver(obsB), dingtalk.WithLogger(quietLog()), dingtalk.WithClock(clk.Now))
	require.NoError(t, err)
	ctx := context.Background()

	// B's quota runs out after its token and one send; A goes on.
	fake.SetOrgQuota("app-b", 2)
	keyB := sendGroup(t, b, "cid", 1)[0]
	_, err = b.SendGroup(ctx, "cid", dingtalk.Text("x"))
	require.True(t, dingtalk.IsQuotaExhausted(err), "%v", err)
	res, err := b.RecallGroup(ctx, "cid", []string{keyB})
	require.NoError(t, err)
	assert.Equal(t, dingtalk.CodeOrgQuota, res.Failed[keyB].Code)
	quota, _, _ := obsB.counts()
	assert.Equal(t, map[string]int{dingtalktest.PathGroupSend: 1, dingtalktest.PathGroupRecall: 1}, quota)
	sendGroup(t, a, "cid", 1)

	// A ban page holds A back for BanBackoff; B's calls are its own.
	fake.ServeBanPage(1)
	_, err = a.SendGroup(ctx, "cid", dingtalk.Text("x"))
	require.ErrorIs(t, err, dingtalk.ErrBanned)
	var apiErr *dingtalk.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, clk.Now().Add(dingtalk.BanBackoff), apiErr.Until, "the error says when the backoff ends")
	calls := fake.CallCount(dingtalktest.PathGroupSend)
	clk.Advance(time.Minute)
	_, err = a.SendGroup(ctx, "cid", dingtalk.Text("x"))
	require.ErrorIs(t, err, dingtalk.ErrBanned)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, clk.Now().Add(dingtalk.BanBackoff-time.Minute), apiErr.Until, "so does a call held back")
	assert.Equal(t, calls, fake.CallCount(dingtalktest.PathGroupSend), "held back without HTTP")
	_, banned, _ := obsA.counts()
	assert.Equal(t, map[string]int{dingtalktest.PathGroupSend: 1}, banned)
	clk.Advance(dingtalk.BanBackoff - time.Minute)
	sendGroup(t, a, "cid", 1)
}

func TestHTMLFromA5xxIsNoBan(t *testing.T) {
	// A proxy's HTML error page on a 5xx is retried like any 5xx, and
	// holds nothing back.
	srv, n := answerServer(t, http.StatusBadGateway, "text/html", "<html>bad gateway</html>")
	c, err := dingtalk.NewClient("key-1", "secret-0123456789", dingtalk.WithBaseURL(srv.URL), dingtalk.WithRetryPolicy(fastRetry), dingtalk.WithLogger(quietLog()))
	require.NoError(t, err)
	_, err = c.RecallGroup(context.Background(), "cid", []string{"k"})
	require.NoError(t, err)
	assert.Greater(t, n.Load(), int64(1), "retried")
	assert.True(t, c.BannedUntil().IsZero())
	_, err = c.SendGroup(context.Background(), "cid", dingtalk.Text("x"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "answered HTTP 502 with an HTML page")
	assert.NotContains(t, err.Error(), "<html>", "no markup in the message")
}

func TestBanGateIsSharedByItsClients(t *testing.T) {
	fake := dingtalktest.NewTest(t, dingtalktest.WithApp("app-b", "secret-b", "robot-b"))
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	gate := dingtalk.NewBanGate()
	a := newClient(t, fake, dingtalk.WithClock(clk.Now), dingtalk.WithBanGate(gate))
	b, err := dingtalk.NewClient("app-b", "secret-b", dingtalk.WithBaseURL(fake.URL()), dingtalk.WithRobotCode("robot-b"),
		dingtalk.WithRetryPolicy(fastRetry), dingtalk.WithLogger(quietLog()), dingtalk.WithClock(clk.Now), dingtalk.WithBanGate(gate))
	require.NoError(t, err)
	ctx := context.Background()
	sendGroup(t, b, "cid", 1)
	fake.ServeBanPage(1)
	_, err = a.SendGroup(ctx, "cid", dingtalk.Text("x"))
	require.ErrorIs(t, err, dingtalk.ErrBanned)
	// DingTalk bans the address: B, sharing the gate, holds back too.
	calls := len(fake.CallsByApp("app-b"))
	_, err = b.SendGroup(ctx, "cid", dingtalk.Text("x"))
	require.ErrorIs(t, err, dingtalk.ErrBanned)
	assert.Equal(t, calls, len(fake.CallsByApp("app-b")), "no call from B during the backoff")
	assert.Equal(t, a.BannedUntil(), b.BannedUntil())
	assert.Equal(t, clk.Now().Add(dingtalk.BanBackoff), gate.Until())
	clk.Advance(dingtalk.BanBackoff)
	sendGroup(t, b, "cid", 1)

	_, err = dingtalk.NewClient("k", "s", dingtalk.WithBanGate(nil))
	require.Error(t, err)
}

// gateLimiter holds every call to one API in Wait until released, and
// says on entered when one is waiting; other APIs pass at once.
type gateLimiter struct {
	api      string
	entered  chan struct{}
	released chan struct{}
}

func (l *gateLimiter) Wait(ctx context.Context, api string) error {
	if api != l.api {
		return nil
	}
	l.entered <- struct{}{}
	select {
	case <-l.released:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestBanHoldsBackCallsAlreadyWaiting: a call waiting for its turn under the
// rate limit when the ban page comes is held back too; it is not sent once
// its turn comes.
func TestBanHoldsBackCallsAlreadyWaiting(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	gate := &gateLimiter{api: dingtalktest.PathGroupSend, entered: make(chan struct{}), released: make(chan struct{})}
	c := newClient(t, fake, dingtalk.WithLimiter(gate))
	ctx := context.Background()
	_, err := c.RecallGroup(ctx, "cid", []string{"k"}) // the token is fetched
	require.NoError(t, err)
	waiting := make(chan error, 1)
	go func() {
		_, err := c.SendGroup(ctx, "cid", dingtalk.Text("queued"))
		waiting <- err
	}()
	<-gate.entered
	// Another API is not held: this call goes at once and meets the ban
	// page while the send waits for its turn.
	fake.ServeBanPage(1)
	res, err := c.RecallGroup(ctx, "cid", []string{"k"})
	require.NoError(t, err)
	require.Equal(t, dingtalk.CodeBanPage, res.Failed["k"].Code)
	close(gate.released)
	require.ErrorIs(t, <-waiting, dingtalk.ErrBanned)
	assert.Zero(t, fake.CallCount(dingtalktest.PathGroupSend), "the waiting send never went out")
}
