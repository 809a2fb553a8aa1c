package stream_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
	"github.com/dingrecall/dingrecall/metrics"
)

// TestBackoffResetsOnceAConnectionDeliversAFrame drives the backoff on a hand-advanced
// clock: six refused dials push the wait to 32 s; what the next connection did before it
// dropped decides whether the wait after it starts again from the minimum.
func TestBackoffResetsOnceAConnectionDeliversAFrame(t *testing.T) {
	t.Parallel()
	const minWait, maxWait = time.Second, 60 * time.Second
	const refused = 6
	const interval = 10 * time.Minute // no keepalive ping during the test
	tests := []struct {
		name             string
		live             func(t *testing.T, fake *dingtalktest.Server, clock *fakeClock, connID string)
		wantMin, wantMax time.Duration
	}{
		{name: "delivered a callback", live: func(t *testing.T, fake *dingtalktest.Server, _ *fakeClock, connID string) {
			acked(t, fake, pushCallback(t, fake, connID, callback("msg-1", "recall")), 1)
		}, wantMin: minWait / 2, wantMax: minWait},
		{name: "delivered a SYSTEM ping", live: func(t *testing.T, fake *dingtalktest.Server, _ *fakeClock, connID string) {
			id, err := fake.SendPing(connID)
			require.NoError(t, err)
			acked(t, fake, id, 1)
		}, wantMin: minWait / 2, wantMax: minWait},
		{name: "stayed up for the longest backoff", live: func(_ *testing.T, _ *dingtalktest.Server, clock *fakeClock, _ string) {
			clock.Advance(maxWait)
		}, wantMin: minWait / 2, wantMax: minWait},
		{name: "delivered nothing", live: func(*testing.T, *dingtalktest.Server, *fakeClock, string) {},
			wantMin: maxWait / 2, wantMax: maxWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := dingtalktest.NewTest(t)
			fake.RefuseDials(refused)
			clock := newFakeClock()
			startOn(t, newAPI(t, fake, dingtalk.WithClock(clock.Now)), newRecorder().handle,
				stream.WithBackoff(minWait, maxWait), stream.WithKeepalive(interval, time.Second), stream.WithTimers(clock))

			mark := 0
			for i := 1; i <= refused; i++ {
				wait := clock.waitNew(t, mark)
				step := minWait << (i - 1)
				assert.GreaterOrEqual(t, wait, step/2, "wait after refused dial %d", i)
				assert.LessOrEqual(t, wait, step, "wait after refused dial %d", i)
				mark = clock.mark()
				clock.Advance(wait)
			}
			conn := connected(t, fake, 1)[0]
			clock.waitTimer(t, interval) // the connection is served
			tt.live(t, fake, clock, conn.ID)

			mark = clock.mark()
			require.NoError(t, fake.DropConnection(conn.ID))
			wait := clock.waitNew(t, mark)
			assert.GreaterOrEqual(t, wait, tt.wantMin)
			assert.LessOrEqual(t, wait, tt.wantMax)

			clock.Advance(wait)
			require.Eventually(t, func() bool { cs := fake.Connections(); return len(cs) == 1 && cs[0].ID != conn.ID }, waitFor, tick, "it redials after the wait")
		})
	}
}

// logLine is one JSON log line of a bufferLogger.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Error string `json:"error"`
}

func (b *bufferLogger) lines(t *testing.T) []logLine {
	t.Helper()
	var out []logLine
	for raw := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if raw == "" {
			continue
		}
		var l logLine
		require.NoError(t, json.Unmarshal([]byte(raw), &l), raw)
		out = append(out, l)
	}
	return out
}

func TestRejectedCredentials(t *testing.T) {
	t.Parallel()
	const secretInAnswer = "the-secret-quoted-back"
	tests := []struct {
		name     string
		status   int
		code     string
		wantAuth bool
	}{
		{name: "401", status: http.StatusUnauthorized, code: "Unauthorized", wantAuth: true},
		{name: "403", status: http.StatusForbidden, code: "Forbidden.AccessDenied", wantAuth: true},
		{name: "invalidClientIdOrSecret", status: http.StatusBadRequest, code: dingtalk.CodeInvalidClient, wantAuth: true},
		{name: "outage", status: http.StatusInternalServerError, code: dingtalk.CodeSystemError},
		{name: "throttled", status: http.StatusForbidden, code: dingtalk.CodeQPSLimitAppAndAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := dingtalktest.NewTest(t, dingtalktest.WithCredentials("app-key-1", secretInAnswer))
			const failures = 3
			// The answer quotes the secret back; it must not reach a log line.
			fake.FailCallWith(dingtalktest.PathGatewayOpen, failures, tt.status, tt.code, "clientSecret "+secretInAnswer+" refused")
			var logs bufferLogger
			obs := newObserver()
			run := startOn(t, newAPI(t, fake, dingtalk.WithLogger(logs.logger())), newRecorder().handle, stream.WithObserver(obs))

			// It still retries, so a fixed secret recovers.
			connected(t, fake, 1)
			require.Eventually(t, run.client.Connected, waitFor, tick)
			assert.Equal(t, failures+1, fake.CallCount(dingtalktest.PathGatewayOpen))
			_, reconnects, _, _ := obs.snapshot()
			assert.Equal(t, slicesRepeat(stream.ReasonOpen, failures), reconnects)

			var errorLines, warnLines int
			for _, l := range logs.lines(t) {
				assert.NotContains(t, l.Msg+l.Error, secretInAnswer)
				if !strings.Contains(l.Error, dingtalk.PathGatewayOpen) {
					continue
				}
				assert.Contains(t, l.Error, tt.code, "the error keeps DingTalk's code")
				switch l.Level {
				case "error":
					errorLines++
					assert.Contains(t, l.Msg, "DINGTALK_APP_KEY")
					assert.Contains(t, l.Msg, "DINGTALK_APP_SECRET")
				case "warning":
					warnLines++
					assert.NotContains(t, l.Msg, "DINGTALK_APP_SECRET")
				}
			}
			assert.NotContains(t, logs.String(), secretInAnswer)
			if tt.wantAuth {
				assert.Equal(t, failures, obs.authFailures())
				assert.Equal(t, failures, errorLines)
				assert.Zero(t, warnLines)
			} else {
				assert.Zero(t, obs.authFailures())
				assert.Zero(t, errorLines)
				assert.Equal(t, failures, warnLines)
			}
		})
	}
}

func TestAuthFailuresAreCountedInMetrics(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	fake.FailCallWith(dingtalktest.PathGatewayOpen, 2, http.StatusUnauthorized, "Unauthorized", "bad client")
	mx := metrics.New()
	run := startOn(t, newAPI(t, fake, dingtalk.WithObserver(mx)), newRecorder().handle, stream.WithObserver(mx))
	require.Eventually(t, run.client.Connected, waitFor, tick)

	rec := httptest.NewRecorder()
	mx.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	assert.Contains(t, body, "\ndingrecall_stream_auth_failures_total 2\n")
	// connections/open went through the dingtalk client's observer too.
	assert.Contains(t, body, fmt.Sprintf(`dingrecall_dingtalk_calls_total{api=%q,bot="default",status="401"} 2`, dingtalk.PathGatewayOpen))
	assert.Contains(t, body, fmt.Sprintf(`dingrecall_dingtalk_calls_total{api=%q,bot="default",status="200"} 1`, dingtalk.PathGatewayOpen))
}

func TestIsCredentialsRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "401", err: &dingtalk.APIError{Status: 401, Code: "Unauthorized"}, want: true},
		{name: "403", err: &dingtalk.APIError{Status: 403, Code: "Forbidden.AccessDenied"}, want: true},
		{name: "wrong secret", err: &dingtalk.APIError{Status: 400, Code: dingtalk.CodeInvalidClient}, want: true},
		{name: "wrapped", err: fmt.Errorf("stream: opening a connection: %w", &dingtalk.APIError{Status: 401}), want: true},
		{name: "qps limit", err: &dingtalk.APIError{Status: 403, Code: dingtalk.CodeQPSLimitAPI}},
		{name: "qps limit for app", err: &dingtalk.APIError{Status: 403, Code: dingtalk.CodeQPSLimitAppAndAPI}},
		{name: "org quota", err: &dingtalk.APIError{Status: 403, Code: dingtalk.CodeOrgQuota}},
		{name: "outage", err: &dingtalk.APIError{Status: 503, Code: "http.503"}},
		{name: "transport", err: &dingtalk.APIError{Code: dingtalk.CodeTransport}},
		{name: "not an api error", err: errors.New("http 401")},
		{name: "nil", err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, stream.IsCredentialsRejected(tt.err))
		})
	}
}

// TestSilentSocketIsNoticedWithin65Seconds plays a socket that goes silent (no pongs, no
// frames) on a hand-advanced clock with the default keepalive: the ping goes out 60 s
// later, the connection is up until the 5 s pong deadline passes and down right after,
// and the redial follows within the first backoff.
func TestSilentSocketIsNoticedWithin65Seconds(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	clock := newFakeClock()
	obs := newObserver()
	run := startOn(t, newAPI(t, fake, dingtalk.WithClock(clock.Now)), newRecorder().handle,
		stream.WithBackoff(stream.DefaultMinBackoff, stream.DefaultMaxBackoff), stream.WithTimers(clock), stream.WithObserver(obs))
	old := connected(t, fake, 1)[0]
	require.Eventually(t, run.client.Connected, waitFor, tick)
	clock.waitTimer(t, stream.DefaultPingInterval)
	require.NoError(t, fake.StopPongs(old.ID))
	silent := clock.Now()

	clock.Advance(stream.DefaultPingInterval)
	require.Eventually(t, func() bool { return fake.Connections()[0].Pings == 1 }, waitFor, tick, "a ping after 60 s")
	clock.waitTimer(t, stream.DefaultPongTimeout)
	clock.Advance(stream.DefaultPongTimeout - time.Millisecond)
	assert.True(t, run.client.Connected(), "up while the pong may still come")
	assert.Len(t, fake.Dials(), 1)

	mark := clock.mark()
	clock.Advance(time.Millisecond)
	require.Eventually(t, func() bool { return !run.client.Connected() }, waitFor, tick, "down once the pong deadline passed")
	assert.Equal(t, 65*time.Second, clock.Now().Sub(silent))
	wait := clock.waitNew(t, mark)
	assert.LessOrEqual(t, wait, stream.DefaultMinBackoff, "the redial starts after the first backoff")
	clock.Advance(wait)
	require.Eventually(t, func() bool { cs := fake.Connections(); return len(cs) == 1 && cs[0].ID != old.ID }, waitFor, tick)
	require.Eventually(t, run.client.Connected, waitFor, tick)
	_, reconnects, _, _ := obs.snapshot()
	assert.Equal(t, []string{stream.ReasonKeepalive}, reconnects)
}

func TestKeepaliveOnAHandAdvancedClock(t *testing.T) {
	t.Parallel()
	const mark = time.Hour // the longest backoff: the other timer of a live connection
	tests := []struct {
		name string
		// pong: the gateway answers each ping with a pong; otherwise with a frame
		// while the pong deadline runs.
		pong bool
	}{
		{name: "pongs keep it", pong: true},
		{name: "a frame instead of a pong keeps it", pong: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := dingtalktest.NewTest(t)
			clock := newFakeClock()
			run := startOn(t, newAPI(t, fake, dingtalk.WithClock(clock.Now)), newRecorder().handle,
				stream.WithBackoff(mark, mark), stream.WithTimers(clock))
			conn := connected(t, fake, 1)[0]
			clock.waitSet(t, stream.DefaultPingInterval, mark)
			if !tt.pong {
				require.NoError(t, fake.StopPongs(conn.ID))
			}
			for round := 1; round <= 3; round++ {
				clock.Advance(stream.DefaultPingInterval)
				require.Eventually(t, func() bool {
					cs := fake.Connections()
					return len(cs) == 1 && cs[0].Pings == round
				}, waitFor, tick, "ping %d, 60 s after the last", round)
				if !tt.pong {
					clock.waitSet(t, stream.DefaultPongTimeout, mark)
					msgID := fmt.Sprintf("msg-%d", round)
					acked(t, fake, pushCallback(t, fake, conn.ID, callback(msgID, "recall")), 1)
					clock.Advance(stream.DefaultPongTimeout)
				}
				clock.waitSet(t, stream.DefaultPingInterval, mark) // the next ping is due
				assert.True(t, run.client.Connected())
				assert.Len(t, fake.Dials(), 1)
			}
		})
	}
}

// TestConnectionsOpenSharesTheTransport checks that connections/open goes through the
// dingtalk client: its base URL, its HTTP client and its typed error.
func TestConnectionsOpenSharesTheTransport(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	fake.FailNextOn(dingtalktest.PathGatewayOpen, 1, dingtalktest.FaultOrgQuota)
	var logs bufferLogger
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	var calls []string
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls = append(calls, r.URL.Path) // the reader is the only caller: no lock needed before Run ends
		return tr.RoundTrip(r)
	})}
	run := startOn(t, newAPI(t, fake, dingtalk.WithHTTPClient(hc), dingtalk.WithLogger(logs.logger())), newRecorder().handle)
	require.Eventually(t, run.client.Connected, waitFor, tick)
	run.stop(t)
	assert.Equal(t, []string{dingtalktest.PathGatewayOpen, dingtalktest.PathGatewayOpen, dingtalktest.PathGatewayConnect}, calls)
	out := logs.String()
	assert.Contains(t, out, "http 403: "+dingtalk.CodeOrgQuota, "the *dingtalk.APIError's text")
	assert.Contains(t, out, `"api":"stream"`)
}

var _ stream.Observer = (*metrics.Metrics)(nil)
