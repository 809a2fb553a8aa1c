package stream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	handle := func(context.Context, *dingtalk.Callback) error { return nil }
	api, err := dingtalk.NewClient("k", "s", dingtalk.WithLogger(quietLogger()))
	require.NoError(t, err)
	tests := []struct {
		name           string
		api            *dingtalk.Client
		handle         stream.Handler
		opts           []stream.Option
		wantErrContain string
	}{
		{name: "ok", api: api, handle: handle},
		{name: "all options", api: api, handle: handle, opts: []stream.Option{
			stream.WithObserver(nil), stream.WithBackoff(time.Millisecond, time.Second),
			stream.WithKeepalive(time.Minute, time.Second), stream.WithUA("dingrecall/1.0"), stream.WithTimers(newFakeClock()),
		}},
		{name: "no dingtalk client", handle: handle, wantErrContain: "dingtalk client is nil"},
		{name: "no handler", api: api, wantErrContain: "handler is nil"},
		{name: "backoff min > max", api: api, handle: handle, opts: []stream.Option{stream.WithBackoff(time.Second, time.Millisecond)}, wantErrContain: "backoff"},
		{name: "backoff zero", api: api, handle: handle, opts: []stream.Option{stream.WithBackoff(0, time.Second)}, wantErrContain: "backoff"},
		{name: "keepalive zero", api: api, handle: handle, opts: []stream.Option{stream.WithKeepalive(0, time.Second)}, wantErrContain: "keepalive"},
		{name: "pong timeout zero", api: api, handle: handle, opts: []stream.Option{stream.WithKeepalive(time.Minute, 0)}, wantErrContain: "pong timeout"},
		{name: "empty ua", api: api, handle: handle, opts: []stream.Option{stream.WithUA(" ")}, wantErrContain: "ua"},
		{name: "nil timers", api: api, handle: handle, opts: []stream.Option{stream.WithTimers(nil)}, wantErrContain: "timers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := stream.New(tt.api, tt.handle, tt.opts...)
			if tt.wantErrContain != "" {
				require.ErrorContains(t, err, tt.wantErrContain)
				assert.True(t, strings.HasPrefix(err.Error(), "stream: "), err.Error())
				return
			}
			require.NoError(t, err)
			assert.False(t, c.Connected())
		})
	}
}

func TestCallbackReachesHandlerOnceAndIsAcked(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	rec := newRecorder()
	run := start(t, fake, rec.handle, stream.WithUA("dingrecall/test"))
	conns := connected(t, fake, 1)
	require.Eventually(t, run.client.Connected, waitFor, tick)

	id := pushCallback(t, fake, "", callback("msg-1", " recall 3"))
	cb := rec.next(t)
	assert.Equal(t, "msg-1", cb.MsgID)
	assert.Equal(t, " recall 3", cb.PlainText())
	assert.True(t, cb.IsGroup())

	a := acked(t, fake, id, 1)[0]
	assert.Equal(t, 200, a.Code)
	assert.Equal(t, "OK", a.Message)
	assert.Equal(t, `{"response": null}`, a.Data)
	assert.Equal(t, conns[0].ID, a.ConnID)
	assert.Equal(t, 1, rec.count("msg-1"))

	tickets := fake.Tickets()
	require.Len(t, tickets, 1)
	assert.Equal(t, "dingrecall/test", tickets[0].UA)
	assert.Equal(t, []dingtalktest.Subscription{{Type: "CALLBACK", Topic: "/v1.0/im/bot/messages/get"}}, tickets[0].Subscriptions)
}

func TestRedeliveryRunsOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		again func(t *testing.T, fake *dingtalktest.Server, id string) string // returns the messageId of the second delivery
	}{
		{name: "same frame again", again: func(t *testing.T, fake *dingtalktest.Server, id string) string {
			require.NoError(t, fake.Redeliver(id, ""))
			return id
		}},
		{name: "same msgId in a new frame", again: func(t *testing.T, fake *dingtalktest.Server, _ string) string {
			return pushCallback(t, fake, "", callback("msg-1", "recall"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := dingtalktest.NewTest(t)
			rec := newRecorder()
			start(t, fake, rec.handle)
			connected(t, fake, 1)

			id := pushCallback(t, fake, "", callback("msg-1", "recall"))
			acked(t, fake, id, 1)
			second := tt.again(t, fake, id)
			want := 1
			if second == id {
				want = 2
			}
			for _, a := range acked(t, fake, second, want) {
				assert.Equal(t, 200, a.Code)
			}
			// A later callback is handled, so the duplicate had its turn before it.
			pushCallback(t, fake, "", callback("msg-2", "recall"))
			require.Eventually(t, func() bool { return rec.count("msg-2") == 1 }, waitFor, tick)
			assert.Equal(t, 1, rec.count("msg-1"))
		})
	}
}

func TestHandlerErrorAcks500AndRedeliveryRetries(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	rec := newRecorder()
	rec.failNext("msg-1", 1)
	start(t, fake, rec.handle)
	connected(t, fake, 1)

	id := pushCallback(t, fake, "", callback("msg-1", "recall"))
	assert.Equal(t, 500, acked(t, fake, id, 1)[0].Code)
	require.NoError(t, fake.Redeliver(id, ""))
	assert.Equal(t, 200, acked(t, fake, id, 2)[1].Code)
	assert.Equal(t, 2, rec.count("msg-1"), "a failed callback is handed over again when redelivered")
	require.NoError(t, fake.Redeliver(id, ""))
	acked(t, fake, id, 3)
	assert.Equal(t, 2, rec.count("msg-1"), "a handled one is not")
}

func TestPingIsEchoed(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	start(t, fake, newRecorder().handle)
	connected(t, fake, 1)

	id, err := fake.SendPing("")
	require.NoError(t, err)
	a := acked(t, fake, id, 1)[0]
	assert.Equal(t, 200, a.Code)
	frames := fake.Frames()
	require.Len(t, frames, 1)
	assert.Equal(t, frames[0].Data, a.Data)
	assert.NotEmpty(t, a.Data)
}

func TestFramesWithoutAHandler(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	rec := newRecorder()
	start(t, fake, rec.handle)
	connected(t, fake, 1)
	tests := []struct {
		name       string
		typ, topic string
		data       string
		wantCode   int
	}{
		{name: "unknown system topic", typ: "SYSTEM", topic: "KEEPALIVE", data: `{}`, wantCode: 404},
		{name: "event", typ: "EVENT", topic: "chat_update_title", data: `{"chatId":"x"}`, wantCode: 404},
		{name: "other callback topic", typ: "CALLBACK", topic: "/v1.0/card/instances/callback", data: `{}`, wantCode: 404},
		{name: "unknown type", typ: "GOSSIP", topic: "x", data: `{}`, wantCode: 404},
		{name: "callback data not json", typ: "CALLBACK", topic: "/v1.0/im/bot/messages/get", data: `not json`, wantCode: 500},
		{name: "callback without msgId", typ: "CALLBACK", topic: "/v1.0/im/bot/messages/get", data: `{"conversationId":"cid"}`, wantCode: 500},
		{name: "callback without conversationId", typ: "CALLBACK", topic: "/v1.0/im/bot/messages/get", data: `{"msgId":"m"}`, wantCode: 500},
		{name: "callback data empty", typ: "CALLBACK", topic: "/v1.0/im/bot/messages/get", data: ``, wantCode: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := fake.Push("", tt.typ, tt.topic, tt.data)
			require.NoError(t, err)
			assert.Equal(t, tt.wantCode, acked(t, fake, id, 1)[0].Code)
		})
	}
	// The connection stayed up and still delivers.
	pushCallback(t, fake, "", callback("msg-after", "recall"))
	assert.Equal(t, "msg-after", rec.next(t).MsgID)
	assert.Len(t, fake.Dials(), 1)
	assert.Equal(t, 1, rec.total())
}

func TestRawFrames(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	rec := newRecorder()
	start(t, fake, rec.handle)
	connected(t, fake, 1)

	// Header values may be numbers, and data may come as an object rather than a string.
	require.NoError(t, fake.PushRaw("", []byte(`{"specVersion":"1.0","type":"CALLBACK","headers":{"messageId":12345,"time":1690362102194,"topic":"/v1.0/im/bot/messages/get","contentType":"application/json"},"data":{"conversationId":"cid1","msgId":"msg-num","text":{"content":"hi"}}}`)))
	assert.Equal(t, "msg-num", rec.next(t).MsgID)
	assert.Equal(t, 200, acked(t, fake, "12345", 1)[0].Code)

	// A message that is not a frame cannot be acknowledged, and does not end the connection.
	require.NoError(t, fake.PushRaw("", []byte(`garbage`)))
	pushCallback(t, fake, "", callback("msg-after", "recall"))
	assert.Equal(t, "msg-after", rec.next(t).MsgID)
	assert.Len(t, fake.Dials(), 1)
}

func TestDisconnectRedialsAtOnceAndDrainsTheOldConnection(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t, dingtalktest.WithDisconnectDelay(0))
	rec := newRecorder()
	obs := newObserver()
	// Backoff far longer than the test: only an immediate redial passes.
	start(t, fake, rec.handle, stream.WithBackoff(time.Minute, time.Minute), stream.WithObserver(obs))
	old := connected(t, fake, 1)[0]

	id, err := fake.SendDisconnect(old.ID)
	require.NoError(t, err)
	assert.Equal(t, 200, acked(t, fake, id, 1)[0].Code)
	require.Eventually(t, func() bool { return len(fake.Connections()) == 2 }, time.Second, tick, "a new connection within a second")
	conns := fake.Connections()
	assert.Equal(t, old.ID, conns[0].ID)
	assert.True(t, conns[0].Draining)

	// During the drain both connections deliver.
	onOld := pushCallback(t, fake, old.ID, callback("msg-old", "recall"))
	onNew := pushCallback(t, fake, conns[1].ID, callback("msg-new", "recall"))
	assert.Equal(t, old.ID, acked(t, fake, onOld, 1)[0].ConnID)
	assert.Equal(t, conns[1].ID, acked(t, fake, onNew, 1)[0].ConnID)

	// The gateway closes the old one; the client does not redial for it.
	require.NoError(t, fake.CloseConnection(old.ID))
	require.Eventually(t, func() bool { return len(fake.Connections()) == 1 }, waitFor, tick)
	pushCallback(t, fake, "", callback("msg-last", "recall"))
	require.Eventually(t, func() bool { return rec.count("msg-last") == 1 }, waitFor, tick)
	assert.Equal(t, conns[1].ID, fake.Connections()[0].ID)
	assert.Len(t, fake.Dials(), 2)
	for _, m := range []string{"msg-old", "msg-new", "msg-last"} {
		assert.Equal(t, 1, rec.count(m), m)
	}
	_, reconnects, _, _ := obs.snapshot()
	assert.Equal(t, []string{stream.ReasonDisconnect}, reconnects)
}

func TestDroppedConnectionsRedialWithBackoff(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	obs := newObserver()
	const minWait, maxWait = 20 * time.Millisecond, 320 * time.Millisecond
	start(t, fake, newRecorder().handle, stream.WithBackoff(minWait, maxWait), stream.WithObserver(obs))

	// Drop every connection as soon as it is up, seven times.
	const drops = 7
	for i := range drops {
		c := connected(t, fake, 1)[0]
		require.NoError(t, fake.DropConnection(c.ID))
		require.Eventually(t, func() bool { return len(fake.Dials()) > i+1 }, waitFor, tick)
	}
	dials := fake.Dials()
	require.GreaterOrEqual(t, len(dials), drops+1)
	for i := 1; i <= drops; i++ {
		gap := dials[i].At.Sub(dials[i-1].At)
		want := min(minWait<<(i-1), maxWait) / 2 // the least a jittered wait can be
		assert.GreaterOrEqual(t, gap, want, "gap before dial %d", i)
	}
	assert.Len(t, fake.Dials(), drops+1, "no dial beyond one per drop")
	_, reconnects, _, _ := obs.snapshot()
	assert.Len(t, reconnects, drops)
	for _, r := range reconnects {
		assert.Equal(t, stream.ReasonClosed, r)
	}
}

func TestRefusedDialsBackOffToTheCap(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	const minWait, maxWait = 10 * time.Millisecond, 80 * time.Millisecond
	const refused = 7
	fake.RefuseDials(refused)
	obs := newObserver()
	start(t, fake, newRecorder().handle, stream.WithBackoff(minWait, maxWait), stream.WithObserver(obs))
	connected(t, fake, 1)

	dials := fake.Dials()
	require.Len(t, dials, refused+1)
	for i, d := range dials[:refused] {
		assert.Equal(t, http.StatusServiceUnavailable, d.Status, "dial %d", i)
		assert.False(t, d.Accepted)
	}
	assert.True(t, dials[refused].Accepted)
	var gaps []time.Duration
	for i := 1; i < len(dials); i++ {
		gap := dials[i].At.Sub(dials[i-1].At)
		gaps = append(gaps, gap)
		want := min(minWait<<(i-1), maxWait) / 2
		assert.GreaterOrEqual(t, gap, want, "gap before dial %d", i)
	}
	// Capped: the last waits are at least half the cap, and far below a doubling past it.
	for _, g := range gaps[len(gaps)-3:] {
		assert.GreaterOrEqual(t, g, maxWait/2)
		assert.Less(t, g, 8*maxWait, "waits stay near the cap: %v", gaps)
	}
	_, reconnects, _, _ := obs.snapshot()
	assert.Equal(t, slicesRepeat(stream.ReasonDial, refused), reconnects)
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestTicketsAreNeverReused(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t, dingtalktest.WithDisconnectDelay(time.Millisecond))
	start(t, fake, newRecorder().handle)
	fake.RefuseDials(2)
	for range 3 {
		c := connected(t, fake, 1)[0]
		require.NoError(t, fake.DropConnection(c.ID))
		require.Eventually(t, func() bool { cs := fake.Connections(); return len(cs) == 1 && cs[0].ID != c.ID }, waitFor, tick)
		c = fake.Connections()[0]
		_, err := fake.SendDisconnect(c.ID)
		require.NoError(t, err)
		require.Eventually(t, func() bool { cs := fake.Connections(); return len(cs) == 1 && cs[0].ID != c.ID }, waitFor, tick)
	}
	dials := fake.Dials()
	require.GreaterOrEqual(t, len(dials), 9)
	seen := map[string]bool{}
	for _, d := range dials {
		assert.False(t, seen[d.Ticket], "ticket used twice")
		seen[d.Ticket] = true
		assert.Contains(t, []int{http.StatusSwitchingProtocols, http.StatusServiceUnavailable}, d.Status, "no dial with a used or unknown ticket")
	}
	assert.Equal(t, len(fake.Tickets()), len(dials), "one connections/open per dial")
	for _, tk := range fake.Tickets() {
		assert.True(t, tk.Used)
	}
}

func TestKeepalive(t *testing.T) {
	t.Parallel()
	t.Run("a quiet live connection stays", func(t *testing.T) {
		t.Parallel()
		fake := dingtalktest.NewTest(t)
		start(t, fake, newRecorder().handle, stream.WithKeepalive(10*time.Millisecond, time.Second))
		connected(t, fake, 1)
		require.Eventually(t, func() bool { return fake.Connections()[0].Pings >= 5 }, waitFor, tick)
		assert.Len(t, fake.Dials(), 1)
	})
	t.Run("a dead connection is dropped", func(t *testing.T) {
		t.Parallel()
		fake := dingtalktest.NewTest(t)
		obs := newObserver()
		start(t, fake, newRecorder().handle, stream.WithKeepalive(20*time.Millisecond, 50*time.Millisecond), stream.WithObserver(obs))
		old := connected(t, fake, 1)[0]
		require.NoError(t, fake.StopPongs(old.ID))
		require.Eventually(t, func() bool {
			cs := fake.Connections()
			return len(cs) == 1 && cs[0].ID != old.ID
		}, waitFor, tick)
		_, reconnects, _, _ := obs.snapshot()
		assert.Equal(t, []string{stream.ReasonKeepalive}, reconnects)
	})
}

func TestConnectionsOpenFailuresAreRetried(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	fake.FailNextOn(dingtalktest.PathGatewayOpen, 2, dingtalktest.FaultSystemError)
	obs := newObserver()
	run := start(t, fake, newRecorder().handle, stream.WithObserver(obs))
	connected(t, fake, 1)
	assert.Equal(t, 3, fake.CallCount(dingtalktest.PathGatewayOpen))
	require.Eventually(t, run.client.Connected, waitFor, tick)
	_, reconnects, _, _ := obs.snapshot()
	assert.Equal(t, []string{stream.ReasonOpen, stream.ReasonOpen}, reconnects)
}

func TestObserverAndConnected(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	obs := newObserver()
	rec := newRecorder()
	run := start(t, fake, rec.handle, stream.WithObserver(obs))
	connected(t, fake, 1)
	require.Eventually(t, run.client.Connected, waitFor, tick)

	id := pushCallback(t, fake, "", callback("msg-1", "recall"))
	acked(t, fake, id, 1)
	id, err := fake.Push("", "EVENT", "x", "{}")
	require.NoError(t, err)
	acked(t, fake, id, 1)

	run.stop(t)
	assert.False(t, run.client.Connected())
	up, reconnects, frames, acks := obs.snapshot()
	assert.Equal(t, []bool{true, false}, up)
	assert.Empty(t, reconnects)
	assert.Equal(t, []string{"CALLBACK /v1.0/im/bot/messages/get", "EVENT x"}, frames)
	assert.Equal(t, map[int]int{200: 1, 404: 1}, acks)
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	run := start(t, fake, newRecorder().handle)
	connected(t, fake, 1)
	assert.ErrorIs(t, run.client.Run(context.Background()), stream.ErrRunning)
	run.stop(t)

	// Once stopped it may run again.
	require.Eventually(t, func() bool { return len(fake.Connections()) == 0 }, waitFor, tick)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run.client.Run(ctx) }()
	require.Eventually(t, func() bool { return len(fake.Dials()) == 2 && len(fake.Connections()) == 1 }, waitFor, tick)
	cancel()
	require.NoError(t, <-done)
}

func TestSecretsAndTicketsStayOutOfLogs(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	var logs bufferLogger
	// Every WebSocket dial fails with a transport error that quotes the URL, ticket
	// included; connections/open goes through.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	failDials := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == dingtalktest.PathGatewayConnect {
			return nil, fmt.Errorf("cannot reach %s", r.URL)
		}
		return tr.RoundTrip(r)
	})}
	c, err := stream.New(newAPI(t, fake, dingtalk.WithLogger(logs.logger()), dingtalk.WithHTTPClient(failDials)),
		newRecorder().handle, stream.WithBackoff(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	require.Eventually(t, func() bool { return len(fake.Tickets()) >= 3 }, waitFor, tick)
	cancel()
	require.NoError(t, <-done)

	out := logs.String()
	assert.Contains(t, out, "dialing")
	assert.Contains(t, out, "[redacted]")
	assert.NotContains(t, out, fake.AppSecret())
	for _, tk := range fake.Tickets() {
		assert.NotContains(t, out, tk.Value)
	}

	// A wrong secret: connections/open fails, and the error names no secret.
	logs = bufferLogger{}
	wrong, err := stream.New(newAPIFor(t, fake, "wrong-secret-value", dingtalk.WithLogger(logs.logger())),
		newRecorder().handle, stream.WithBackoff(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- wrong.Run(ctx) }()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "invalidClientIdOrSecret") }, waitFor, tick)
	cancel()
	require.NoError(t, <-done)
	assert.NotContains(t, logs.String(), "wrong-secret-value")
	assert.False(t, wrong.Connected())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestShutdownLeavesNoGoroutine stops clients in each state they can be in and checks
// that nothing they started survives. It does not run in parallel, so other tests'
// goroutines cannot confuse it.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(fake *dingtalktest.Server) // before Run
		setup   func(t *testing.T, fake *dingtalktest.Server)
	}{
		{name: "connected", setup: func(t *testing.T, fake *dingtalktest.Server) {
			connected(t, fake, 1)
		}},
		{name: "draining", setup: func(t *testing.T, fake *dingtalktest.Server) {
			c := connected(t, fake, 1)[0]
			_, err := fake.SendDisconnect(c.ID)
			require.NoError(t, err)
			connected(t, fake, 2)
		}},
		{name: "backing off", prepare: func(fake *dingtalktest.Server) { fake.RefuseDials(1000) }, setup: func(t *testing.T, fake *dingtalktest.Server) {
			require.Eventually(t, func() bool { return len(fake.Dials()) >= 2 }, waitFor, tick)
		}},
		{name: "gateway gone", setup: func(t *testing.T, fake *dingtalktest.Server) {
			connected(t, fake, 1)
			fake.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			fake := dingtalktest.New(dingtalktest.WithDisconnectDelay(0))
			if tt.prepare != nil {
				tt.prepare(fake)
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			api, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()),
				dingtalk.WithLogger(quietLogger()), dingtalk.WithHTTPClient(&http.Client{Transport: tr}))
			require.NoError(t, err)
			c, err := stream.New(api, newRecorder().handle, fastOpts()...)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			tt.setup(t, fake)

			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(waitFor):
				t.Fatal("Run did not return")
			}
			assert.False(t, c.Connected())
			tr.CloseIdleConnections()
			fake.Close()
			require.Eventually(t, func() bool { return len(fake.Connections()) == 0 }, waitFor, tick)
		})
	}
}

func TestSoak(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t, dingtalktest.WithDisconnectDelay(20*time.Millisecond))
	rec := newRecorder()
	start(t, fake, rec.handle, stream.WithBackoff(time.Millisecond, 20*time.Millisecond))
	connected(t, fake, 1)

	const total = 400
	deadline := time.Now().Add(15 * time.Second)
	push := func(msgID string) {
		for {
			_, err := fake.PushCallback("", callback(msgID, "recall"))
			if err == nil {
				return
			}
			require.True(t, time.Now().Before(deadline), "could not push %s: %v", msgID, err)
			waitUntil(func() bool { return len(fake.Connections()) > 0 }, time.Second) // then try again
		}
	}
	for i := range total {
		push(fmt.Sprintf("msg-%03d", i))
		switch {
		case i%50 == 25:
			_, _ = fake.SendDisconnect("")
		case i%50 == 49:
			_ = fake.DropConnection("")
		}
		// Like DingTalk, deliver again what was not acknowledged.
		if i%20 == 19 {
			redeliver(t, fake)
		}
	}
	for rec.total() < total || len(fake.Unacked()) > 0 {
		require.True(t, time.Now().Before(deadline), "handled %d of %d, %d unacknowledged", rec.total(), total, len(fake.Unacked()))
		if !waitUntil(func() bool { return len(fake.Unacked()) == 0 && rec.total() >= total }, 100*time.Millisecond) {
			redeliver(t, fake)
		}
	}
	for i := range total {
		assert.Equal(t, 1, rec.count(fmt.Sprintf("msg-%03d", i)), "msg-%03d", i)
	}
	assert.Equal(t, total, rec.total())
	assert.Greater(t, len(fake.Dials()), 8, "the soak went through reconnects")
}

// redeliver sends every unacknowledged frame again on the newest live connection.
func redeliver(t *testing.T, fake *dingtalktest.Server) {
	t.Helper()
	for _, f := range fake.Unacked() {
		err := fake.Redeliver(f.MessageID, "")
		if err != nil && !errors.Is(err, dingtalktest.ErrNoConnection) && !strings.Contains(err.Error(), "writing") {
			require.NoError(t, err)
		}
	}
}

// waitUntil checks cond until it holds or d has passed.
func waitUntil(cond func() bool, d time.Duration) bool {
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	timeout := time.After(d)
	for !cond() {
		select {
		case <-ticker.C:
		case <-timeout:
			return cond()
		}
	}
	return true
}
