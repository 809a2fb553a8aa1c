package app

import (
	"context"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// supervisor owns every part Run starts. Each part registers how it stops;
// shutdown stops them in the reverse order of their start (the HTTP server
// first, the store last) within one SHUTDOWN_TIMEOUT, and returns only when
// every goroutine a part started has ended.
type supervisor struct {
	log     logrus.FieldLogger
	timeout time.Duration

	mu    sync.Mutex
	steps []step
}

// step is how one part stops.
type step struct {
	name string
	stop func(context.Context) error
}

// newSupervisor returns a supervisor whose shutdown takes at most timeout
// before the remaining work is cancelled.
func newSupervisor(log logrus.FieldLogger, timeout time.Duration) *supervisor {
	return &supervisor{log: log, timeout: timeout}
}

// onStop registers how a part stops. stop is given the shutdown's deadline;
// it must return only when the part has stopped.
func (s *supervisor) onStop(name string, stop func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, step{name: name, stop: stop})
}

// spawn runs fn in a goroutine on a context derived from parent, which
// shutdown cancels before waiting for fn to return.
func (s *supervisor) spawn(name string, parent context.Context, fn func(context.Context)) {
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	s.onStop(name, func(context.Context) error {
		cancel()
		<-done
		return nil
	})
}

// shutdown stops every registered part, newest first, and forgets them.
func (s *supervisor) shutdown() {
	s.mu.Lock()
	steps := s.steps
	s.steps = nil
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].stop(ctx); err != nil {
			s.log.WithError(err).WithField("part", steps[i].name).Error("shutdown: part did not stop cleanly")
		}
	}
	if len(steps) > 0 {
		s.log.Info("stopped")
	}
}

// httpErrorLog sends net/http's own messages (TLS handshakes, panics it
// recovered, bad requests) to logrus at warning level instead of stderr.
func httpErrorLog(l logrus.FieldLogger) *log.Logger {
	return log.New(logWriter{l.WithField("component", "http")}, "", 0)
}

// logWriter is an io.Writer that logs each write as one warning. Unlike
// logrus's WriterLevel it starts no goroutine, so nothing outlives Run.
type logWriter struct{ log logrus.FieldLogger }

// Write logs p, without its trailing newline.
func (w logWriter) Write(p []byte) (int, error) {
	w.log.Warn(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
