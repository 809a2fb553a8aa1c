package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dingrecall/dingrecall/store"
)

// rawBytes is what a message's key and metadata take laid out flat: every
// string's bytes, eight bytes per timestamp and one for the reply flag. The
// ledger benchmarks report their memory per message as a multiple of it
// (x_raw; target ≤ 4).
func rawBytes(m store.Message) int {
	n := len(m.Key) + len(m.Kind) + len(m.ChatID) + len(m.RobotCode) + len(m.MsgKey) + len(m.MsgParam) + len(m.Tag) + len(m.Failure)
	n += 8 + 1 // SentAt, Reply
	if !m.ExpiresAt.IsZero() {
		n += 8
	}
	return n
}

// meanRawBytes is the mean rawBytes of the first n benchmark messages over
// chats (the messages fill and fillRedis record).
func meanRawBytes(n int, chats []string) float64 {
	total := 0
	for i := range n {
		total += rawBytes(benchMessage("q", i, chats))
	}
	return float64(total) / float64(n)
}

// ledgerSizes are the tracked-message counts the ledger benchmarks run at,
// with how many chats share them.
var ledgerSizes = []struct {
	name     string
	n, chats int
}{
	{"10k", 10_000, 10},
	{"1M", 1_000_000, 10_000},
}

// BenchmarkMemoryLedger fills a memory ledger to 10k tracked messages over
// 10 chats and to 1M over 10,000 chats (each chat full), then measures newest-20 and
// record (into full chats, so each record also drops the chat's oldest) at
// that size. Each size reports the heap bytes per tracked message and that
// as a multiple of the raw key and metadata bytes.
func BenchmarkMemoryLedger(b *testing.B) {
	for _, size := range ledgerSizes {
		b.Run(size.name, func(b *testing.B) {
			if size.n > 100_000 && testing.Short() {
				b.Skip("large ledger skipped in -short mode")
			}
			m, chats, perMsg := fill(b, size.n, size.n/size.chats)
			raw := meanRawBytes(size.n, chats)
			b.Logf("%d messages over %d chats: %.0f B/msg, %.0f raw B/msg, %.2f x raw", size.n, len(chats), perMsg, raw, perMsg/raw)
			benchLedgerAt(b, m, chats, size.n, perMsg, raw)
		})
	}
}

// BenchmarkRedisLedger is BenchmarkMemoryLedger against the Redis at
// REDIS_URL (skipped without it), with Redis's used_memory per message.
func BenchmarkRedisLedger(b *testing.B) {
	c := testRedis(b)
	for _, size := range []struct {
		name     string
		n, chats int
	}{
		{"10k", 10_000, 10},
		{"1M", 1_000_000, 10_000},
	} {
		b.Run(size.name, func(b *testing.B) {
			if size.n > 100_000 && testing.Short() {
				b.Skip("large ledger skipped in -short mode")
			}
			chats := make([]string, size.chats)
			for i := range chats {
				chats[i] = fmt.Sprintf("cid%029d", i)
			}
			l, perMsg := fillRedis(b, c, size.n, chats)
			raw := meanRawBytes(size.n, chats)
			b.Logf("%d messages over %d chats: %.0f B/msg, %.0f raw B/msg, %.2f x raw", size.n, len(chats), perMsg, raw, perMsg/raw)
			benchLedgerAt(b, l, chats, size.n, perMsg, raw)
		})
	}
}

// benchLedgerAt runs the newest20 and record sub-benchmarks on a ledger
// holding n messages over chats.
func benchLedgerAt(b *testing.B, l store.Ledger, chats []string, n int, perMsg, raw float64) {
	ctx := context.Background()
	b.Run("newest20", func(b *testing.B) {
		i := 0
		for b.Loop() {
			ms, err := l.Newest(ctx, chats[i%len(chats)], 20)
			if err != nil || len(ms) != 20 {
				b.Fatalf("newest: %d messages, %v", len(ms), err)
			}
			i++
		}
		b.ReportMetric(perMsg, "B/msg")
		b.ReportMetric(perMsg/raw, "x_raw")
	})
	b.Run("record", func(b *testing.B) {
		i := n
		for b.Loop() {
			if err := l.Record(ctx, benchMessage("q", i, chats)); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(perMsg, "B/msg")
		b.ReportMetric(perMsg/raw, "x_raw")
	})
}
