package dingtalk

import (
	"context"
	"sync"
	"time"
)

// Limiter paces the calls a Client makes to each DingTalk API. DingTalk's
// limit (DINGTALK_QPS) is per app and API, so replicas of one app must
// share one Limiter (store/redis's Limiter keeps it in Redis); without
// one, each Client paces itself in process (WithQPS).
type Limiter interface {
	// Wait blocks until a call to api may go out, or until ctx ends.
	Wait(ctx context.Context, api string) error
}

// WithLimiter makes the client pace its calls with l instead of its own
// in-process limiter. When l fails (its store cannot be reached: an error
// that is not ctx's), the call is paced by the client's own limiter of
// WithQPS calls per second instead, and a warning is logged at most once
// a minute, so that sends and recalls go on, each replica then keeping
// the limit on its own.
func WithLimiter(l Limiter) Option {
	return func(c *Client) error {
		c.shared = &sharedLimiter{l: l}
		return nil
	}
}

// sharedLimiter is a Limiter with its warning's pace.
type sharedLimiter struct {
	l      Limiter
	mu     sync.Mutex
	warned time.Time
}

// sharedWarnEvery is how often a failing shared limiter is logged.
const sharedWarnEvery = time.Minute

// wait waits for the shared limiter when there is one and it answers,
// else for the client's own limiter of api.
func (c *Client) wait(ctx context.Context, api string) error {
	if s := c.shared; s != nil {
		err := s.l.Wait(ctx, api)
		if err == nil || ctx.Err() != nil {
			return err
		}
		s.mu.Lock()
		if time.Since(s.warned) >= sharedWarnEvery {
			s.warned = time.Now()
			c.log.WithError(err).WithField("api", api).Warn("dingtalk: the shared rate limiter failed: pacing this replica on its own")
		}
		s.mu.Unlock()
	}
	return c.limiter(api).Wait(ctx)
}
