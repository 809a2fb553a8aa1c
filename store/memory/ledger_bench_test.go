package memory_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// BenchmarkMemoryLedger fills a memory ledger to 10k tracked messages over
// 10 chats and to 1M over 10,000 chats (each chat full), then measures
// newest-20 and record (into full chats, so each record also drops the
// chat's oldest) at that size. Each size reports the heap bytes per tracked
// message and that as a multiple of the raw key and metadata bytes.
func BenchmarkMemoryLedger(b *testing.B) {
	for _, size := range storetest.LedgerSizes {
		b.Run(size.Name, func(b *testing.B) {
			if size.N > 100_000 && testing.Short() {
				b.Skip("large ledger skipped in -short mode")
			}
			m, chats, perMsg := fill(b, size.N, size.N/size.Chats)
			raw := storetest.MeanRawBytes(size.N, chats)
			b.Logf("%d messages over %d chats: %.0f B/msg, %.0f raw B/msg, %.2f x raw", size.N, len(chats), perMsg, raw, perMsg/raw)
			storetest.BenchLedgerAt(b, m, chats, size.N, perMsg, raw)
		})
	}
}

// fill records n benchmark messages over n/perChat chats, every tenth a
// reply, and returns the ledger, its chat IDs and the heap bytes it takes
// per message.
func fill(b *testing.B, n, perChat int) (*memory.Ledger, []string, float64) {
	b.Helper()
	ctx := context.Background()
	clock := storetest.NewClock(storetest.Start)
	chats := storetest.BenchChats(n / perChat)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := memory.New(memory.Options{PerChat: perChat, Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := m.Record(ctx, storetest.BenchMessage("q", i, chats)); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := m.Len(); got != n {
		b.Fatalf("tracked %d messages, want %d", got, n)
	}
	return m, chats, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}
