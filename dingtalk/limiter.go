package dingtalk

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterMargin widens the limiter's one-second window so that network
// jitter cannot bunch calls that left a second apart into one second at
// DingTalk.
const limiterMargin = 100 * time.Millisecond

// qpsLimiter admits at most n calls in any window of a second (plus
// limiterMargin), however DingTalk counts its per-second limit. A token
// bucket of n per second would let 2n through in the first second after a
// pause; so the limiter is n buckets of one call per window each, used in
// turn: two calls of one bucket are a window apart, so no window holds more
// than one call per bucket. A second's worth of calls still goes out at once
// after a pause.
type qpsLimiter struct {
	mu    sync.Mutex
	slots []*rate.Limiter
	next  int
	now   func() time.Time // the wall clock; tests stop it
}

// newQPSLimiter admits n calls per second.
func newQPSLimiter(n int) *qpsLimiter {
	l := &qpsLimiter{slots: make([]*rate.Limiter, n), now: time.Now}
	for i := range l.slots {
		l.slots[i] = rate.NewLimiter(rate.Every(time.Second+limiterMargin), 1)
	}
	return l
}

// Wait blocks until a call may go out, or until ctx ends.
func (l *qpsLimiter) Wait(ctx context.Context) error {
	d, cancel := l.reserve()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
}

// reserve takes the next bucket's call and says how long it must wait
// before it leaves; cancel gives the call back when it never leaves.
func (l *qpsLimiter) reserve() (wait time.Duration, cancel func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	r := l.slots[l.next].ReserveN(now, 1)
	l.next = (l.next + 1) % len(l.slots)
	return r.DelayFrom(now), func() { r.CancelAt(l.now()) }
}
