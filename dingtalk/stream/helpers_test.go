package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
)

// TestMain fails the package when any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor is how long a test waits for something that should happen at once.
const waitFor = 5 * time.Second

// tick is how often a condition is checked while waiting.
const tick = 2 * time.Millisecond

// recorder is a Handler that records every callback it is given.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int // msgId → calls
	order []string
	fail  map[string]int // msgId → failures still to return
	got   chan *dingtalk.Callback
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, fail: map[string]int{}, got: make(chan *dingtalk.Callback, 1024)}
}

func (r *recorder) handle(_ context.Context, cb *dingtalk.Callback) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[cb.MsgID]++
	r.order = append(r.order, cb.MsgID)
	if r.fail[cb.MsgID] > 0 {
		r.fail[cb.MsgID]--
		return fmt.Errorf("queue full")
	}
	select {
	case r.got <- cb:
	default:
	}
	return nil
}

// failNext makes the next n calls for msgID fail.
func (r *recorder) failNext(msgID string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[msgID] = n
}

func (r *recorder) count(msgID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[msgID]
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// next waits for the next callback handled without error.
func (r *recorder) next(t *testing.T) *dingtalk.Callback {
	t.Helper()
	select {
	case cb := <-r.got:
		return cb
	case <-time.After(waitFor):
		t.Fatal("no callback reached the handler")
		return nil
	}
}

// callback is a valid group text callback body with msgID.
func callback(msgID, text string) map[string]any {
	return map[string]any{
		"conversationId": "cidGroupOps001==", "conversationType": "2", "conversationTitle": "ops-alerts",
		"senderStaffId": "staff-1001", "senderNick": "Wang Fang", "robotCode": "dingbotcode001",
		"msgId": msgID, "createAt": 1764112345678, "msgtype": "text", "text": map[string]string{"content": text},
	}
}

// running is a client running against a fake until the test ends.
type running struct {
	client *stream.Client
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // what Run returned
}

// stop ends Run and waits for it to return nil; it may be called more than once.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		assert.NoError(t, r.err)
	case <-time.After(waitFor):
		t.Error("Run did not return after its context ended")
	}
}

// fastOpts keep backoff short for tests.
func fastOpts() []stream.Option {
	return []stream.Option{stream.WithBackoff(5*time.Millisecond, 40*time.Millisecond)}
}

// newAPI builds the dingtalk client a stream client runs on, for the fake's app: a quiet
// logger and an HTTP transport of its own, whose idle connections are closed when the
// test ends. opts come after those defaults.
func newAPI(t testing.TB, fake *dingtalktest.Server, opts ...dingtalk.Option) *dingtalk.Client {
	t.Helper()
	return newAPIFor(t, fake, fake.AppSecret(), opts...)
}

// newAPIFor is newAPI with another app secret.
func newAPIFor(t testing.TB, fake *dingtalktest.Server, secret string, opts ...dingtalk.Option) *dingtalk.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	base := []dingtalk.Option{dingtalk.WithBaseURL(fake.URL()), dingtalk.WithLogger(quietLogger()), dingtalk.WithHTTPClient(&http.Client{Transport: tr})}
	api, err := dingtalk.NewClient(fake.AppKey(), secret, append(base, opts...)...)
	require.NoError(t, err)
	return api
}

// start runs a client for the fake's app with handle and opts (after fastOpts), and
// stops it when the test ends.
func start(t *testing.T, fake *dingtalktest.Server, handle stream.Handler, opts ...stream.Option) *running {
	t.Helper()
	return startOn(t, newAPI(t, fake), handle, opts...)
}

// startOn is start on a dingtalk client of the test's making.
func startOn(t *testing.T, api *dingtalk.Client, handle stream.Handler, opts ...stream.Option) *running {
	t.Helper()
	c, err := stream.New(api, handle, append(fastOpts(), opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{client: c, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Run(ctx)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// connected waits until the fake has n live connections and returns them.
func connected(t *testing.T, fake *dingtalktest.Server, n int) []dingtalktest.Connection {
	t.Helper()
	require.Eventually(t, func() bool { return len(fake.Connections()) == n }, waitFor, tick, "want %d live connections", n)
	return fake.Connections()
}

// acked waits until the fake has n acks for messageID and returns them.
func acked(t *testing.T, fake *dingtalktest.Server, messageID string, n int) []dingtalktest.Ack {
	t.Helper()
	require.Eventually(t, func() bool { return len(fake.AcksFor(messageID)) >= n }, waitFor, tick, "want %d acks of %s", n, messageID)
	acks := fake.AcksFor(messageID)
	require.Len(t, acks, n)
	return acks
}

// pushCallback pushes a callback on connID and returns its messageId.
func pushCallback(t *testing.T, fake *dingtalktest.Server, connID string, body any) string {
	t.Helper()
	id, err := fake.PushCallback(connID, body)
	require.NoError(t, err)
	return id
}

// quietLogger discards log output.
func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(&bytes.Buffer{})
	l.SetLevel(logrus.PanicLevel)
	return l
}

// bufferLogger writes every level as JSON into a buffer that is safe to read while the
// client logs.
type bufferLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *bufferLogger) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *bufferLogger) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *bufferLogger) logger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(b)
	l.SetLevel(logrus.DebugLevel)
	l.SetFormatter(&logrus.JSONFormatter{})
	return l
}

// observer records what a client tells its Observer.
type observer struct {
	mu         sync.Mutex
	connected  []bool
	reconnects []string
	frames     []string
	acks       map[int]int
	authFails  int
}

func newObserver() *observer { return &observer{acks: map[int]int{}} }

func (o *observer) Connected(up bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.connected = append(o.connected, up)
}

func (o *observer) Reconnect(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reconnects = append(o.reconnects, reason)
}

func (o *observer) Frame(typ, topic string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.frames = append(o.frames, typ+" "+topic)
}

func (o *observer) Ack(code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.acks[code]++
}

func (o *observer) StreamAuthFailure() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.authFails++
}

func (o *observer) authFailures() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.authFails
}

func (o *observer) snapshot() (connected []bool, reconnects, frames []string, acks map[int]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	acks = map[int]int{}
	for k, v := range o.acks {
		acks[k] = v
	}
	return append([]bool(nil), o.connected...), append([]string(nil), o.reconnects...), append([]string(nil), o.frames...), acks
}

// fakeClock is a clock a test advances by hand: Now for the dingtalk client (the age of
// remembered callbacks) and NewTimer for the stream client (backoff, keepalive).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	started int          // timers started so far
	pending []*fakeTimer // started, not yet fired or stopped
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

// fakeTimer is a timer of a fakeClock.
type fakeTimer struct {
	clock *fakeClock
	seq   int // 1 for the first timer the clock started
	d     time.Duration
	at    time.Time
	ch    chan time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) stream.Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	t := &fakeTimer{clock: f, seq: f.started, d: d, at: f.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- f.now
		return t
	}
	f.pending = append(f.pending, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.clock.pending = slices.DeleteFunc(t.clock.pending, func(p *fakeTimer) bool { return p == t })
}

// Advance moves the clock d forward and fires every timer that is due, in order.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	slices.SortStableFunc(f.pending, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for len(f.pending) > 0 && !f.pending[0].at.After(f.now) {
		t := f.pending[0]
		f.pending = f.pending[1:]
		t.ch <- t.at
	}
}

// durations returns the durations of the pending timers, shortest first.
func (f *fakeClock) durations() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Duration, 0, len(f.pending))
	for _, t := range f.pending {
		out = append(out, t.d)
	}
	slices.Sort(out)
	return out
}

// waitPending waits until exactly n timers are pending and returns their durations,
// shortest first.
func (f *fakeClock) waitPending(t *testing.T, n int) []time.Duration {
	t.Helper()
	require.Eventually(t, func() bool { return len(f.durations()) == n }, waitFor, tick, "want %d pending timers, have %v", n, f.durations())
	return f.durations()
}

// waitTimer waits until a timer of duration d is pending.
func (f *fakeClock) waitTimer(t *testing.T, d time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return slices.Contains(f.durations(), d) }, waitFor, tick, "want a pending %v timer", d)
}

// mark returns how many timers the clock has started, for waitNew.
func (f *fakeClock) mark() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started
}

// waitNew waits until a timer started after mark is pending and returns the duration of
// the first such timer.
func (f *fakeClock) waitNew(t *testing.T, mark int) time.Duration {
	t.Helper()
	var d time.Duration
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		first := 0
		for _, p := range f.pending {
			if p.seq > mark && (first == 0 || p.seq < first) {
				first, d = p.seq, p.d
			}
		}
		return first != 0
	}, waitFor, tick, "want a timer started after the %dth", mark)
	return d
}

// waitSet waits until the pending timers have exactly the durations want.
func (f *fakeClock) waitSet(t *testing.T, want ...time.Duration) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	require.Eventually(t, func() bool { return slices.Equal(f.durations(), want) }, waitFor, tick, "want pending timers %v", want)
}
