package store_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/storetest"
)

func newMemory(t *testing.T, cfg storetest.Config) store.Ledger {
	t.Helper()
	return store.NewMemory(store.MemoryOptions{
		TTL:     cfg.TTL,
		PerChat: cfg.PerChat,
		Lease:   cfg.Lease,
		Now:     cfg.Clock.Now,
	})
}

func TestMemory(t *testing.T) {
	storetest.Run(t, newMemory)
}

func TestMemoryDeduper(t *testing.T) {
	storetest.RunDeduper(t, func(t *testing.T, clock *storetest.Clock) store.Deduper {
		return store.NewMemoryDeduper(store.MemoryDeduperOptions{Now: clock.Now})
	})
}

func TestMemoryLen(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	m := store.NewMemory(store.MemoryOptions{TTL: time.Hour, PerChat: 3, Now: clock.Now})
	rec := func(key, chat string, sent time.Duration) {
		t.Helper()
		require.NoError(t, m.Record(ctx, store.Message{Key: key, Kind: store.KindGroup, ChatID: chat, SentAt: storetest.Start.Add(sent)}))
	}
	steps := []struct {
		name string
		do   func()
		want int
	}{
		{"empty", func() {}, 0},
		{"two chats", func() {
			rec("a1", "cid-a", 0)
			rec("a2", "cid-a", time.Minute)
			rec("b1", "cid-b", 2*time.Minute)
		}, 3},
		{"re-recorded key counts once", func() { rec("a1", "cid-a", 0) }, 3},
		{"capped", func() {
			rec("a3", "cid-a", 3*time.Minute)
			rec("a4", "cid-a", 4*time.Minute)
		}, 4},
		{"removed", func() { require.NoError(t, m.Remove(ctx, "b1", "missing")) }, 3},
		{"partly expired", func() { clock.Set(storetest.Start.Add(time.Hour + 3*time.Minute)) }, 1},
		{"all expired", func() { clock.Advance(time.Minute) }, 0},
	}
	for _, s := range steps {
		s.do()
		assert.Equal(t, s.want, m.Len(), s.name)
	}
}

func TestMemoryDefaults(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	m := store.NewMemory(store.MemoryOptions{Now: clock.Now})
	now := clock.Now()
	for i := range store.DefaultPerChat + 1 {
		require.NoError(t, m.Record(ctx, store.Message{
			Key: "k" + strconv.Itoa(i), Kind: store.KindGroup, ChatID: "cid-a",
			SentAt: now.Add(-store.DefaultTTL + time.Duration(i+1)*time.Second),
		}))
	}
	ms, err := m.List(ctx, "cid-a", 0)
	require.NoError(t, err)
	require.Len(t, ms, store.DefaultPerChat)
	assert.Equal(t, "k1000", ms[0].Key)
	assert.Equal(t, "k1", ms[len(ms)-1].Key)

	taken, err := m.TakeNewest(ctx, "cid-a", 1)
	require.NoError(t, err)
	require.Len(t, taken, 1)
	clock.Advance(store.DefaultLease - time.Nanosecond)
	got, err := m.Newest(ctx, "cid-a", 1)
	require.NoError(t, err)
	assert.Equal(t, "k999", got[0].Key, "claimed for the default lease")
	clock.Advance(time.Nanosecond)
	got, err = m.Newest(ctx, "cid-a", 1)
	require.NoError(t, err)
	assert.Equal(t, "k1000", got[0].Key, "released after the default lease")

	// The default TTL is 24h and the clock moved five minutes: k1 to k299,
	// sent up to 24h-5m ago, expired.
	assert.Equal(t, store.DefaultPerChat-299, m.Len())
}

func TestMemoryRealClock(t *testing.T) {
	ctx := t.Context()
	m := store.NewMemory(store.MemoryOptions{})
	d := store.NewMemoryDeduper(store.MemoryDeduperOptions{})
	require.NoError(t, m.Record(ctx, store.Message{Key: "k", Kind: store.KindOTO, ChatID: "staff-1", SentAt: time.Now()}))
	got, err := m.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, store.KindOTO, got.Kind)
	first, err := d.FirstSeen(ctx, "msg", time.Minute)
	require.NoError(t, err)
	assert.True(t, first)
	first, err = d.FirstSeen(ctx, "msg", time.Minute)
	require.NoError(t, err)
	assert.False(t, first)
}

// benchKey returns a key shaped like a processQueryKey (44 characters).
func benchKey(prefix string, i int) string {
	return fmt.Sprintf("%s%0*d=", prefix, 43-len(prefix), i)
}

// fill records n messages over n/perChat chats, every tenth a reply, and
// returns the ledger, its chat IDs and the heap bytes it takes per message.
func fill(b *testing.B, n, perChat int) (*store.Memory, []string, float64) {
	b.Helper()
	ctx := context.Background()
	clock := storetest.NewClock(storetest.Start)
	chats := make([]string, n/perChat)
	for i := range chats {
		chats[i] = fmt.Sprintf("cid%029d", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := store.NewMemory(store.MemoryOptions{PerChat: perChat, Now: clock.Now})
	for i := range n {
		err := m.Record(ctx, store.Message{
			Key:       benchKey("q", i),
			Kind:      store.KindGroup,
			ChatID:    chats[i%len(chats)],
			RobotCode: "dingrobot0000000000",
			MsgKey:    "sampleText",
			MsgParam:  `{"content":"build ` + strconv.Itoa(i) + ` passed on main"}`,
			SentAt:    storetest.Start.Add(time.Duration(i) * time.Millisecond),
			Reply:     (i/len(chats))%10 == 0, // every tenth of each chat
		})
		if err != nil {
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
