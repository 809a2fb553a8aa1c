package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// limiterMargin widens the shared limiter's period: calls admitted one
// emission interval apart reach DingTalk a little earlier or later than
// they left, and the margin keeps that jitter from bunching more than the
// limit into one second. At 20 per second it costs 5 % of the rate.
const limiterMargin = 50 * time.Millisecond

// Limiter is DingTalk's per-app rate limit shared by every replica through
// the ledger's Redis: one GCRA limit per API (github.com/go-redis/redis_rate,
// a key of its own per app and API), burst 1, so that calls are spaced
// 1/qps (plus limiterMargin/qps) apart across all replicas and no window
// of one second holds more than qps of them. Its time is Redis's (the
// script reads TIME), the same for every replica. It satisfies
// dingtalk.Limiter.
type Limiter struct {
	rl     *redis_rate.Limiter
	prefix string
	limit  redis_rate.Limit
}

// Limiter returns the shared limiter of the app with appKey, admitting qps
// calls per second to each API (DINGTALK_QPS), on the ledger's client.
func (r *Ledger) Limiter(appKey string, qps int) *Limiter {
	return &Limiter{
		rl:     redis_rate.NewLimiter(r.c),
		prefix: r.prefix + ":rate:" + appKey + ":",
		limit:  redis_rate.Limit{Rate: max(qps, 1), Burst: 1, Period: time.Second + limiterMargin},
	}
}

// Wait blocks until a call to api may go out, or until ctx ends. It asks
// Redis, and while the limit is reached sleeps for as long as Redis says
// and asks again. It fails, marked store.ErrUnavailable, when Redis cannot
// be asked.
func (l *Limiter) Wait(ctx context.Context, api string) error {
	key := l.prefix + api
	for {
		res, err := l.rl.Allow(ctx, key, l.limit)
		if err != nil {
			return fmt.Errorf("redis limiter: %w", unavailable(err))
		}
		if res.Allowed > 0 {
			return nil
		}
		wait := max(res.RetryAfter, time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
