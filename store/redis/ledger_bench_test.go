package redis_test

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/redis"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// BenchmarkRedisLedger is BenchmarkMemoryLedger (in store/memory) against
// the Redis at REDIS_URL (skipped without it), with Redis's used_memory per
// message.
func BenchmarkRedisLedger(b *testing.B) {
	c := testRedis(b)
	for _, size := range storetest.LedgerSizes {
		b.Run(size.Name, func(b *testing.B) {
			if size.N > 100_000 && testing.Short() {
				b.Skip("large ledger skipped in -short mode")
			}
			chats := storetest.BenchChats(size.Chats)
			l, perMsg := fillRedis(b, c, size.N, chats)
			raw := storetest.MeanRawBytes(size.N, chats)
			b.Logf("%d messages over %d chats: %.0f B/msg, %.0f raw B/msg, %.2f x raw", size.N, len(chats), perMsg, raw, perMsg/raw)
			storetest.BenchLedgerAt(b, l, chats, size.N, perMsg, raw)
		})
	}
}

// usedMemory returns Redis's used_memory.
func usedMemory(tb testing.TB, c *goredis.Client) int64 {
	tb.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no used_memory in INFO memory")
	return 0
}

// settledMemory returns Redis's used_memory once it stops moving (Redis
// shrinks its tables and buffers in the background after mass deletes, as
// a previous benchmark's clean-up does), or after five seconds.
func settledMemory(tb testing.TB, c *goredis.Client) int64 {
	tb.Helper()
	prev := usedMemory(tb, c)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		cur := usedMemory(tb, c)
		if d := cur - prev; d > -64<<10 && d < 64<<10 {
			return cur
		}
		prev = cur
	}
	return prev
}

// fillRedis records n messages over the chats through pipelines and
// returns the ledger and the Redis memory it takes per message.
func fillRedis(b *testing.B, c *goredis.Client, n int, chats []string) (*redis.Ledger, float64) {
	b.Helper()
	ctx := context.Background()
	clock := storetest.NewClock(storetest.Start)
	l := newLedger(b, c, redis.Options{Prefix: testPrefix(b, c), PerChat: store.DefaultPerChat, Now: clock.Now})
	before := settledMemory(b, c)
	const workers, batch = 4, 500
	var (
		wg   sync.WaitGroup
		errs = make([]error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			msgs := make([]store.Message, 0, batch)
			for i := w * batch; i < n; i += workers * batch {
				msgs = msgs[:0]
				for j := i; j < min(i+batch, n); j++ {
					msgs = append(msgs, storetest.BenchMessage("q", j, chats))
				}
				if err := l.RecordBatch(ctx, msgs); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	perMsg := float64(usedMemory(b, c)-before) / float64(n)
	for _, chat := range []string{chats[0], chats[len(chats)-1]} {
		ms, err := l.List(ctx, chat, 0)
		if err != nil || len(ms) != n/len(chats) {
			b.Fatalf("chat %s tracks %d messages (%v), want %d", chat, len(ms), err, n/len(chats))
		}
	}
	return l, perMsg
}
