package storetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// The ledger benchmarks of every backend share what follows, so that their
// figures compare: the same messages, the same sizes, the same operations.

// LedgerSizes are the tracked-message counts the ledger benchmarks run at,
// with how many chats share them (each chat full at the default per-chat
// limit).
var LedgerSizes = []struct {
	Name     string
	N, Chats int
}{
	{"10k", 10_000, 10},
	{"1M", 1_000_000, 10_000},
}

// BenchChats returns n chat IDs shaped like openConversationIds.
func BenchChats(n int) []string {
	chats := make([]string, n)
	for i := range chats {
		chats[i] = fmt.Sprintf("cid%029d", i)
	}
	return chats
}

// BenchKey returns a key shaped like a processQueryKey (44 characters).
func BenchKey(prefix string, i int) string {
	return fmt.Sprintf("%s%0*d=", prefix, 43-len(prefix), i)
}

// BenchMessage returns the i-th message of a benchmark over chats, every
// tenth of each chat a reply.
func BenchMessage(prefix string, i int, chats []string) store.Message {
	return store.Message{
		Key:       BenchKey(prefix, i),
		Kind:      store.KindGroup,
		ChatID:    chats[i%len(chats)],
		RobotCode: "dingrobot0000000000",
		MsgKey:    "sampleText",
		MsgParam:  `{"content":"build ` + strconv.Itoa(i) + ` passed on main"}`,
		SentAt:    Start.Add(time.Duration(i) * time.Millisecond),
		Reply:     (i/len(chats))%10 == 0,
	}
}

// RawBytes is what a message's key and metadata take laid out flat: every
// string's bytes, eight bytes per timestamp and one for the reply flag. The
// ledger benchmarks report their memory per message as a multiple of it
// (x_raw; target ≤ 4).
func RawBytes(m store.Message) int {
	n := len(m.Key) + len(m.Kind) + len(m.ChatID) + len(m.RobotCode) + len(m.MsgKey) + len(m.MsgParam) + len(m.Tag) + len(m.Failure.Code) + len(m.Failure.Message)
	n += 8 + 1 // SentAt, Reply
	if !m.ExpiresAt.IsZero() {
		n += 8
	}
	return n
}

// MeanRawBytes is the mean RawBytes of the first n benchmark messages (as
// BenchMessage returns them, prefix "q") over chats.
func MeanRawBytes(n int, chats []string) float64 {
	total := 0
	for i := range n {
		total += RawBytes(BenchMessage("q", i, chats))
	}
	return float64(total) / float64(n)
}

// BenchLedgerAt runs the newest20 and record sub-benchmarks on a ledger
// holding the first n benchmark messages over chats (prefix "q"), and
// reports perMsg, the bytes the ledger takes per message, as B/msg and as a
// multiple of raw (x_raw).
func BenchLedgerAt(b *testing.B, l store.Ledger, chats []string, n int, perMsg, raw float64) {
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
			if err := l.Record(ctx, BenchMessage("q", i, chats)); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(perMsg, "B/msg")
		b.ReportMetric(perMsg/raw, "x_raw")
	})
}
