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
// a key of its own per app and API) that spaces calls T = (1 s +
// limiterMargin) / qps apart across all replicas, so that no window of one
// second holds more than qps of them. Its time is Redis's (the script
// reads TIME), the same for every replica. It satisfies dingtalk.Limiter.
//
// The GCRA's burst of 2 is used to book one slot ahead, not to burst: a
// caller admitted early (up to T before its slot) sleeps until its slot,
// which the limit's reset time gives. So while callers queue, the next
// slot is always booked and the calls go out T apart however late a
// sleeper wakes; a lone caller after a pause goes at once.
type Limiter struct {
	rl     *redis_rate.Limiter
	prefix string
	limit  redis_rate.Limit
	every  time.Duration // T
}

// Limiter returns the shared limiter of the app with appKey, admitting qps
// calls per second to each API (DINGTALK_QPS), on the ledger's client.
func (r *Ledger) Limiter(appKey string, qps int) *Limiter {
	limit := redis_rate.Limit{Rate: max(qps, 1), Burst: 2, Period: time.Second + limiterMargin}
	return &Limiter{
		rl:     redis_rate.NewLimiter(r.c),
		prefix: r.prefix + ":rate:" + appKey + ":",
		limit:  limit,
		every:  limit.Period / time.Duration(limit.Rate),
	}
}

// Wait blocks until a call to api may go out, or until ctx ends. It asks
// Redis for a slot; while none is free it sleeps for as long as Redis says
// and asks again; given one ahead of time, it sleeps until the slot. It
// fails, marked store.ErrUnavailable, when Redis cannot be asked.
func (l *Limiter) Wait(ctx context.Context, api string) error {
	key := l.prefix + api
	for {
		res, err := l.rl.Allow(ctx, key, l.limit)
		if err != nil {
			return fmt.Errorf("redis limiter: %w", unavailable(err))
		}
		wait := max(res.RetryAfter, time.Millisecond)
		if res.Allowed > 0 {
			// The slot booked is one interval before the limit's reset.
			wait = res.ResetAfter - l.every
			if wait <= 0 {
				return nil
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if res.Allowed > 0 {
			return nil
		}
	}
}
