package memory_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// newLedger returns a Ledger configured by opts, failing t if New refuses
// them.
func newLedger(t testing.TB, opts memory.Options) *memory.Ledger {
	t.Helper()
	m, err := memory.New(opts)
	require.NoError(t, err)
	return m
}

func TestLedger(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg storetest.Config) store.Ledger {
		return newLedger(t, memory.Options{
			TTL:     cfg.TTL,
			PerChat: cfg.PerChat,
			Lease:   cfg.Lease,
			Now:     cfg.Clock.Now,
		})
	})
}

func TestDeduper(t *testing.T) {
	storetest.RunDeduper(t, func(t *testing.T, clock *storetest.Clock) store.Deduper {
		d, err := memory.NewDeduper(memory.DeduperOptions{Now: clock.Now})
		require.NoError(t, err)
		return d
	})
}

func TestLedgerLen(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	m := newLedger(t, memory.Options{TTL: time.Hour, PerChat: 3, Now: clock.Now})
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

func TestLedgerDefaults(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	m := newLedger(t, memory.Options{Now: clock.Now})
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

	// The default TTL is 24h and the clock moved one default lease (30 s):
	// k1 to k29, sent up to 24h-30s ago, expired (k0 went with the cap).
	assert.Equal(t, 30*time.Second, store.DefaultLease)
	assert.Equal(t, store.DefaultPerChat-29, m.Len())
}

func TestRealClock(t *testing.T) {
	ctx := t.Context()
	m := newLedger(t, memory.Options{})
	d, err := memory.NewDeduper(memory.DeduperOptions{})
	require.NoError(t, err)
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

// TestOptions checks every constructor's options: zero values take the
// defaults and negative ones are refused with store.ErrInvalid, naming the
// option.
func TestOptions(t *testing.T) {
	tests := []struct {
		name    string
		build   func() error
		refused string // the option named in the error, "" when accepted
	}{
		{"ledger zero", func() error { _, err := memory.New(memory.Options{}); return err }, ""},
		{"ledger TTL", func() error { _, err := memory.New(memory.Options{TTL: -time.Second}); return err }, "TTL"},
		{"ledger PerChat", func() error { _, err := memory.New(memory.Options{PerChat: -1}); return err }, "PerChat"},
		{"ledger Lease", func() error { _, err := memory.New(memory.Options{Lease: -time.Second}); return err }, "Lease"},
		{"ledger CleanupInterval", func() error {
			_, err := memory.New(memory.Options{CleanupInterval: -time.Second})
			return err
		}, "CleanupInterval"},
		{"deduper zero", func() error { _, err := memory.NewDeduper(memory.DeduperOptions{}); return err }, ""},
		{"deduper CleanupInterval", func() error {
			_, err := memory.NewDeduper(memory.DeduperOptions{CleanupInterval: -time.Second})
			return err
		}, "CleanupInterval"},
		{"audit zero", func() error { _, err := memory.NewAudit(memory.AuditOptions{}); return err }, ""},
		{"audit TTL", func() error { _, err := memory.NewAudit(memory.AuditOptions{TTL: -time.Hour}); return err }, "TTL"},
		{"states zero", func() error { _, err := memory.NewStates(memory.StatesOptions{}); return err }, ""},
		{"states CleanupInterval", func() error {
			_, err := memory.NewStates(memory.StatesOptions{CleanupInterval: -time.Second})
			return err
		}, "CleanupInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			if tt.refused == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, store.ErrInvalid)
			assert.ErrorContains(t, err, tt.refused+" is negative")
		})
	}
}

// TestAuditDefaultTTL checks that a zero TTL keeps entries for
// store.DefaultAuditTTL.
func TestAuditDefaultTTL(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	a, err := memory.NewAudit(memory.AuditOptions{Now: clock.Now})
	require.NoError(t, err)
	require.NoError(t, a.AddAudit(ctx, store.AuditEntry{Action: store.ActionRecall, ChatID: "cidA"}))
	clock.Advance(store.DefaultAuditTTL - time.Second)
	got, err := a.AuditLog(ctx, "", 0)
	require.NoError(t, err)
	assert.Len(t, got, 1, "kept until the default TTL")
	clock.Advance(time.Second)
	got, err = a.AuditLog(ctx, "", 0)
	require.NoError(t, err)
	assert.Empty(t, got, "dropped at the default TTL")
}

// TestUsableAfterClose checks that every memory store still answers after
// Close, as a last save to STORE_FILE after shutdown needs.
func TestUsableAfterClose(t *testing.T) {
	ctx := t.Context()
	m := newLedger(t, memory.Options{})
	require.NoError(t, m.Close())
	require.NoError(t, m.Record(ctx, store.Message{Key: "k", Kind: store.KindGroup, ChatID: "cid", SentAt: time.Now()}))
	_, err := m.Get(ctx, "k")
	require.NoError(t, err)

	d, err := memory.NewDeduper(memory.DeduperOptions{})
	require.NoError(t, err)
	require.NoError(t, d.Close())
	first, err := d.FirstSeen(ctx, "id", time.Minute)
	require.NoError(t, err)
	assert.True(t, first)

	a, err := memory.NewAudit(memory.AuditOptions{})
	require.NoError(t, err)
	require.NoError(t, a.Close())
	require.NoError(t, a.AddAudit(ctx, store.AuditEntry{Action: store.ActionRecall, ChatID: "cid"}))
	entries, err := a.AuditLog(ctx, "cid", 0)
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	s, err := memory.NewStates(memory.StatesOptions{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.SetState(ctx, "k", "v", time.Minute))
	v, ok, err := s.TakeState(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "v", v)
}
