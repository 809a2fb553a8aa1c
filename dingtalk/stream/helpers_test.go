package stream_test

import (
	"bytes"
	"context"
	"fmt"
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
func fastOpts(fake *dingtalktest.Server) []stream.Option {
	return []stream.Option{
		stream.WithBaseURL(fake.URL()),
		stream.WithBackoff(5*time.Millisecond, 40*time.Millisecond),
		stream.WithLogger(quietLogger()),
	}
}

// start runs a client for the fake's app with handle and opts (after fastOpts), and
// stops it when the test ends.
func start(t *testing.T, fake *dingtalktest.Server, handle stream.Handler, opts ...stream.Option) *running {
	t.Helper()
	c, err := stream.New(fake.AppKey(), fake.AppSecret(), handle, append(fastOpts(fake), opts...)...)
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

func (o *observer) snapshot() (connected []bool, reconnects, frames []string, acks map[int]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	acks = map[int]int{}
	for k, v := range o.acks {
		acks[k] = v
	}
	return append([]bool(nil), o.connected...), append([]string(nil), o.reconnects...), append([]string(nil), o.frames...), acks
}
