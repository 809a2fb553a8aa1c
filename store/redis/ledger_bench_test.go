package redis_test

import (
	"bufio"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
			b.Run("scripts", func(b *testing.B) { benchScriptTime(b, c, l, chats, size.N) })
		})
	}
}

// benchScriptTime runs every kind of ledger call on a full ledger with
// Redis's slow log set to catch every command of 1 ms or more, and reports
// the slowest command Redis ran (max_cmd_us, 0 when none took 1 ms) and
// the slowest script's mean (evalsha_us, from INFO commandstats).
func benchScriptTime(b *testing.B, c *goredis.Client, l *redis.Ledger, chats []string, n int) {
	ctx := context.Background()
	old, err := c.ConfigGet(ctx, "slowlog-log-slower-than").Result()
	if err != nil {
		b.Fatal(err)
	}
	defer c.ConfigSet(ctx, "slowlog-log-slower-than", old["slowlog-log-slower-than"])
	if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "1000").Err(); err != nil {
		b.Fatal(err)
	}
	if err := c.SlowLogReset(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		chat := chats[i%len(chats)]
		m := storetest.BenchMessage("s", n+i, chats)
		m.Tag, m.ExpiresAt = "bench-tag", m.SentAt
		must := func(err error) {
			if err != nil {
				b.Fatal(err)
			}
		}
		must(l.Record(ctx, m))
		_, err := l.Newest(ctx, chat, 20)
		must(err)
		taken, _, err := l.TakeNewestWithInFlight(ctx, chat, 20)
		must(err)
		must(l.Release(ctx, "", keysOf(taken)...))
		_, err = l.List(ctx, chat, 100)
		must(err)
		_, err = l.ByTag(ctx, "bench-tag")
		must(err)
		_, err = l.Due(ctx, storetest.Start.Add(time.Hour), 100)
		must(err)
		_, err = l.Get(ctx, m.Key)
		must(err)
		must(l.Remove(ctx, m.Key))
		_, err = l.FindChat(ctx, chat)
		must(err)
		i++
	}
	// One walk of the whole chat list, outside the loop (it reads every chat).
	if _, err := l.Chats(ctx); err != nil {
		b.Fatal(err)
	}
	slow, err := c.SlowLogGet(ctx, 128).Result()
	if err != nil {
		b.Fatal(err)
	}
	var worst time.Duration
	for _, s := range slow {
		if s.Duration > worst {
			worst = s.Duration
			b.Logf("slow: %v %q", s.Duration, firstArgs(s.Args))
		}
	}
	b.ReportMetric(float64(worst.Microseconds()), "max_cmd_us")
	b.ReportMetric(float64(len(slow)), "cmds_over_1ms")
	stats, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(stats))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			for _, f := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(f, "usec_per_call="); ok {
					us, _ := strconv.ParseFloat(v, 64)
					b.ReportMetric(us, "evalsha_us")
				}
			}
		}
	}
}

// keysOf returns the keys of msgs.
func keysOf(msgs []store.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Key
	}
	return out
}

// firstArgs is the command and its first arguments, for a log line.
func firstArgs(args []string) []string {
	return args[:min(len(args), 3)]
}

// BenchmarkTopology measures the ledger's record + newest-20 throughput
// with parallel clients on one node and on a 3-master cluster, over 1,000
// chats of 10 messages. On the cluster's line, x_single is its ops/s as a
// multiple of one node's, and x_capacity the same for the busiest Redis's
// CPU per operation: the throughput ratio once every Redis (and the
// clients) have cores of their own, which a 2-core machine cannot show.
func BenchmarkTopology(b *testing.B) {
	chats := storetest.BenchChats(1000)
	var single, singleCPU float64
	for _, topo := range topologies {
		c := topo.client(b)
		l := newLedger(b, c, redis.Options{Prefix: testPrefix(b, c)})
		ctx := context.Background()
		var msgs []store.Message
		for i := range 10 * len(chats) {
			m := storetest.BenchMessage("t", i, chats)
			m.SentAt = time.Now().Add(-time.Hour + time.Duration(i)*time.Millisecond)
			msgs = append(msgs, m)
		}
		for chunk := range slices.Chunk(msgs, 1000) {
			if err := l.RecordBatch(ctx, chunk); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Int64
		next.Store(int64(len(msgs)))
		b.Run(topo.name, func(b *testing.B) {
			b.SetParallelism(8)
			cpu0 := nodeCPU(b, c)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m := storetest.BenchMessage("t", int(next.Add(1)), chats)
					m.SentAt = time.Now()
					if err := l.Record(ctx, m); err != nil {
						b.Error(err)
						return
					}
					if _, err := l.Newest(ctx, m.ChatID, 20); err != nil {
						b.Error(err)
						return
					}
				}
			})
			ops := float64(b.N) / time.Since(start).Seconds()
			// The busiest Redis's CPU per operation: what bounds the
			// throughput once each Redis has a core of its own.
			busiest := 0.0
			for addr, t := range nodeCPU(b, c) {
				busiest = max(busiest, t-cpu0[addr])
			}
			perOp := busiest / float64(b.N) * 1e6
			b.ReportMetric(ops, "ops/s")
			b.ReportMetric(perOp, "busiest_cpu_us/op")
			if topo.name == "single" {
				single, singleCPU = ops, perOp
			} else if single > 0 {
				b.ReportMetric(ops/single, "x_single")
				b.ReportMetric(singleCPU/perOp, "x_capacity")
			}
		})
	}
}

// nodeCPU returns the CPU seconds (user + system) each Redis node of c has
// used, by address.
func nodeCPU(b *testing.B, c goredis.UniversalClient) map[string]float64 {
	var mu sync.Mutex
	out := map[string]float64{}
	err := eachNode(context.Background(), c, func(ctx context.Context, n *goredis.Client) error {
		info, err := n.Info(ctx, "cpu").Result()
		if err != nil {
			return err
		}
		total := 0.0
		sc := bufio.NewScanner(strings.NewReader(info))
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
			if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
		mu.Lock()
		out[n.Options().Addr] = total
		mu.Unlock()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
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
	const workers, batch = 4, 1000
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
