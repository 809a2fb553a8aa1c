package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quietLog is a logger that writes nowhere.
func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func TestSupervisorStopsNewestFirstAndWaits(t *testing.T) {
	s := newSupervisor(quietLog(), time.Minute)
	var mu sync.Mutex
	var order []string
	note := func(name string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, name)
	}
	s.onStop("store", func(context.Context) error { note("store"); return nil })
	ran := make(chan struct{})
	s.spawn("worker", context.Background(), func(ctx context.Context) {
		close(ran)
		<-ctx.Done()
		note("worker ended")
	})
	<-ran
	s.onStop("server", func(context.Context) error { note("server"); return nil })
	s.shutdown()
	assert.Equal(t, []string{"server", "worker ended", "store"}, order,
		"the last started stops first; a spawned goroutine has ended before the next step")
	s.shutdown() // a second shutdown has nothing left to stop
	assert.Len(t, order, 3)
}

func TestSupervisorGivesEveryStepTheShutdownDeadline(t *testing.T) {
	s := newSupervisor(quietLog(), 50*time.Millisecond)
	var sawDeadline bool
	s.onStop("slow part", func(ctx context.Context) error {
		_, sawDeadline = ctx.Deadline()
		<-ctx.Done() // a part that would not stop by itself is cut off by the timeout
		return ctx.Err()
	})
	after := false
	s.onStop("first", func(context.Context) error { after = true; return errors.New("ignored but logged") })
	s.shutdown()
	assert.True(t, sawDeadline)
	assert.True(t, after, "a failing step does not stop the others")
}

func TestShutdownTimeoutCancelsUnfinishedCommands(t *testing.T) {
	// A command that would run for ever (DingTalk never answers) is cancelled
	// once SHUTDOWN_TIMEOUT passes, and Run still returns.
	a := startApp(t, nil, map[string]string{"SHUTDOWN_TIMEOUT": "1s"})
	keys := a.send("cidHang==", 1, nil)
	a.fake.SetLatency(time.Hour)
	body := a.callbackBody("recall 1", func(b map[string]any) { b["conversationId"] = "cidHang==" })
	status, out := a.do(http.MethodPost, "/dingtalk/callback", body, signed(a.fake.AppSecret(), a.now()))
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Eventually(t, func() bool { return a.fake.RecallAttempts(keys[0]) > 0 }, 5*time.Second, 10*time.Millisecond, "the recall reached DingTalk")
	start := time.Now()
	require.NoError(t, a.stop())
	// The DingTalk client's own timeout is 10 s: returning well before it
	// shows the command was cancelled, not waited out.
	assert.Less(t, time.Since(start), 8*time.Second)
}
