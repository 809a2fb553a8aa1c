package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/bolt"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// benchCallers are the numbers of goroutines that call the ledger at once
// in the parallel benchmarks, as concurrent API requests would.
var benchCallers = []int{1, 64, 1024}

// benchRound is how many operations one round of callers makes on each
// ledger: 32 per caller, at least 256.
func benchRound(callers int) int { return max(256, 32*callers) }

// BenchmarkParallel measures throughput with parallel callers on the bolt
// store and on the memory store, in alternating rounds so that both see
// the same machine, and reports each in ops/s, the bolt store's as a ratio
// to the memory store's (target ≥ 0.5 for send) and the bolt store's p50
// and p99 latency. record is Record alone; send is the API send path's
// store work: Reserve, then Commit. Each bolt operation waits for an
// fsync'ed commit, shared by the callers waiting at that moment, so the
// ratio grows with the callers.
func BenchmarkParallel(b *testing.B) {
	chats := storetest.BenchChats(100)
	ops := []struct {
		name string
		do   func(ctx context.Context, l store.Ledger, i int) error
	}{
		{"record", func(ctx context.Context, l store.Ledger, i int) error {
			return l.Record(ctx, sentNow(storetest.BenchMessage("b", i, chats)))
		}},
		{"send", func(ctx context.Context, l store.Ledger, i int) error {
			m := sentNow(storetest.BenchMessage("b", i, chats))
			id := fmt.Sprintf("res-%d", i)
			err := l.Reserve(ctx, store.Reservation{ID: id, Kind: m.Kind, ChatID: m.ChatID, RobotCode: m.RobotCode,
				MsgKey: m.MsgKey, MsgParam: m.MsgParam, Reply: m.Reply})
			if err != nil {
				return err
			}
			return l.Commit(ctx, id, m)
		}},
	}
	for _, op := range ops {
		for _, callers := range benchCallers {
			b.Run(fmt.Sprintf("%s/callers=%d", op.name, callers), func(b *testing.B) {
				mem, err := memory.New(memory.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = mem.Close() })
				bl := open(b, filepath.Join(b.TempDir(), "ledger.db"), bolt.Options{})
				var memTime, boltTime time.Duration
				var lat []time.Duration
				n := 0
				for b.Loop() {
					memTime += benchRoundOn(b, mem, op.do, callers, n, nil)
					boltTime += benchRoundOn(b, bl, op.do, callers, n, &lat)
					n += benchRound(callers)
				}
				memRate := float64(n) / memTime.Seconds()
				boltRate := float64(n) / boltTime.Seconds()
				slices.Sort(lat)
				b.ReportMetric(memRate, "mem_ops/s")
				b.ReportMetric(boltRate, "bolt_ops/s")
				b.ReportMetric(boltRate/memRate, "bolt/mem")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "bolt_p50_µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "bolt_p99_µs")
			})
		}
	}
}

// sentNow returns m sent now, so that the TTL does not drop it.
func sentNow(m store.Message) store.Message {
	m.SentAt = time.Now()
	return m
}

// benchRoundOn runs benchRound(callers) operations, numbered from base, on l from
// callers goroutines and returns the time they took; with lat it appends
// each operation's latency.
func benchRoundOn(b *testing.B, l store.Ledger, do func(context.Context, store.Ledger, int) error, callers, base int, lat *[]time.Duration) time.Duration {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	began := time.Now()
	round := benchRound(callers)
	for c := range callers {
		wg.Go(func() {
			var mine []time.Duration
			for i := c; i < round; i += callers {
				t0 := time.Now()
				if err := do(ctx, l, base+i); err != nil {
					b.Error(err)
					return
				}
				if lat != nil {
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			if lat != nil {
				*lat = append(*lat, mine...)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return time.Since(began)
}
