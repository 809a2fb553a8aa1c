package redis_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/redis"
)

// TestLimiterShared runs three replicas' limiters (each its own client)
// with four callers each against one API for two seconds: together they
// are admitted at most qps times in any second and at least 90 % of it.
func TestLimiterShared(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			c := topo.client(t)
			prefix := testPrefix(t, c)
			const qps, replicas, callers = 20, 3, 4
			const run = 2 * time.Second
			ctx, cancel := context.WithTimeout(t.Context(), run)
			defer cancel()
			var (
				mu  sync.Mutex
				at  []time.Time
				wg  sync.WaitGroup
				bad []error
			)
			for range replicas {
				l := newLedger(t, c, redis.Options{Prefix: prefix}).Limiter("app-key", qps)
				for range callers {
					wg.Go(func() {
						for {
							err := l.Wait(ctx, "/v1.0/robot/groupMessages/recall")
							if ctx.Err() != nil {
								return
							}
							mu.Lock()
							if err != nil {
								bad = append(bad, err)
							}
							at = append(at, time.Now())
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			require.Empty(t, bad)
			sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
			most := 0
			for i := range at {
				j := sort.Search(len(at), func(j int) bool { return !at[j].Before(at[i].Add(time.Second)) })
				most = max(most, j-i)
			}
			assert.LessOrEqual(t, most, qps, "calls in the busiest second")
			rate := float64(len(at)-1) / at[len(at)-1].Sub(at[0]).Seconds()
			t.Logf("%d calls admitted, %.2f per second, at most %d in one second", len(at), rate, most)
			assert.GreaterOrEqual(t, rate, 0.9*qps, "the limit is used")
		})
	}
}

// TestLimiterUnavailable: a limiter whose Redis is down fails fast, marked
// unavailable, so the DingTalk client falls back to its own.
func TestLimiterUnavailable(t *testing.T) {
	l, err := redis.New(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), redis.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	err = l.Limiter("app", 20).Wait(t.Context(), "/api")
	require.ErrorIs(t, err, store.ErrUnavailable)
}
