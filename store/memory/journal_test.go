package memory_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// journal returns the journal of m by kind and ID.
func journal(m *memory.Ledger) map[memory.JournalKind]map[string]memory.JournalEntry {
	out := map[memory.JournalKind]map[string]memory.JournalEntry{}
	for _, je := range m.Journal() {
		if out[je.Kind] == nil {
			out[je.Kind] = map[string]memory.JournalEntry{}
		}
		out[je.Kind][je.ID] = je
	}
	return out
}

func TestJournal(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	m := newLedger(t, memory.Options{TTL: time.Hour, PerChat: 2, Now: clock.Now, Journal: true})
	rec := func(key string, sec int) store.Message {
		t.Helper()
		msg := store.Message{Key: key, Kind: store.KindGroup, ChatID: "cid-a", MsgParam: key, SentAt: storetest.Start.Add(time.Duration(sec) * time.Second)}
		require.NoError(t, m.Record(ctx, msg))
		return msg
	}

	a := rec("a", 1)
	rec("b", 2)
	require.NoError(t, m.SetTitle(ctx, "cid-a", store.KindGroup, "Alpha"))
	require.NoError(t, m.Reserve(ctx, store.Reservation{ID: "r1", Kind: store.KindGroup, ChatID: "cid-a"}))
	j := journal(m)
	require.Len(t, j[memory.JournalMessage], 2)
	assert.Equal(t, a, j[memory.JournalMessage]["a"].Message)
	assert.False(t, j[memory.JournalMessage]["a"].Gone)
	assert.Equal(t, memory.Title{ChatID: "cid-a", Kind: store.KindGroup, Title: "Alpha"}, j[memory.JournalTitle]["cid-a"].Title)
	assert.Equal(t, "r1", j[memory.JournalReservation]["r1"].Reservation.ID)
	assert.True(t, j[memory.JournalReservation]["r1"].Reservation.ReservedAt.Equal(storetest.Start), "as stored, time filled in")
	m.Written(m.Journal())
	assert.Zero(t, m.JournalLen(), "written entries leave")

	// A record over the cap drops the oldest: both are noted.
	rec("c", 3)
	j = journal(m)
	assert.True(t, j[memory.JournalMessage]["a"].Gone)
	assert.False(t, j[memory.JournalMessage]["c"].Gone)
	m.Written(m.Journal())

	// A claim is noted as a message to reload as lapsed; a change after
	// the journal was read keeps the entry until written again.
	taken, err := m.TakeNewest(ctx, "cid-a", 1)
	require.NoError(t, err)
	read := m.Journal()
	require.Len(t, read, 1)
	assert.True(t, read[0].Message.Lapsed)
	assert.Empty(t, read[0].Message.Claim, "no claim token on disk")
	require.NoError(t, m.Release(ctx, taken[0].Claim, "c"))
	m.Written(read)
	j = journal(m)
	require.Len(t, j[memory.JournalMessage], 1, "the release came after the read")
	assert.False(t, j[memory.JournalMessage]["c"].Message.Lapsed)
	m.Written(m.Journal())

	// Commit drops the reservation and records; SetTitle "" forgets.
	require.NoError(t, m.Commit(ctx, "r1", store.Message{Key: "d", Kind: store.KindGroup, ChatID: "cid-a", SentAt: storetest.Start.Add(4 * time.Second)}))
	require.NoError(t, m.SetTitle(ctx, "cid-a", store.KindGroup, ""))
	j = journal(m)
	assert.True(t, j[memory.JournalReservation]["r1"].Gone)
	assert.False(t, j[memory.JournalMessage]["d"].Gone)
	assert.True(t, j[memory.JournalTitle]["cid-a"].Gone)
	m.ResetJournal()
	assert.Zero(t, m.JournalLen())

	// Expiry is noted when the ledger meets it.
	clock.Advance(time.Hour + 3*time.Second)
	_, err = m.List(ctx, "cid-a", 0)
	require.NoError(t, err)
	j = journal(m)
	assert.True(t, j[memory.JournalMessage]["c"].Gone)
	assert.Len(t, j[memory.JournalMessage], 1, "b went with the cap before, d is live")

	tests := []struct {
		kind memory.JournalKind
		id   string
		want bool
	}{
		{memory.JournalMessage, "d", true},
		{memory.JournalMessage, "c", false},
		{memory.JournalMessage, "never", false},
		{memory.JournalReservation, "r1", false},
		{memory.JournalTitle, "cid-a", false},
		{0, "d", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, m.Tracked(tt.kind, tt.id), "%v %s", tt.kind, tt.id)
	}
}

func TestNoJournal(t *testing.T) {
	m := newLedger(t, memory.Options{})
	require.NoError(t, m.Record(t.Context(), store.Message{Key: "k", Kind: store.KindGroup, ChatID: "c", SentAt: time.Now()}))
	assert.Nil(t, m.Journal())
	assert.Zero(t, m.JournalLen())
}

// TestRestoreLapsed checks that Restore keeps a message's Lapsed flag and
// its reservations, as a store reloading after a crash needs.
func TestRestoreLapsed(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	src := newLedger(t, memory.Options{Now: clock.Now})
	for _, k := range []string{"a", "b"} {
		require.NoError(t, src.Record(ctx, store.Message{Key: k, Kind: store.KindGroup, ChatID: "cid-a", SentAt: storetest.Start}))
	}
	_, err := src.Claim(ctx, []string{"a"})
	require.NoError(t, err)
	require.NoError(t, src.Reserve(ctx, store.Reservation{ID: "r1", Kind: store.KindGroup, ChatID: "cid-a"}))

	dst := newLedger(t, memory.Options{Now: clock.Now})
	require.NoError(t, dst.Restore(ctx, src.Snapshot()))
	ms, err := dst.Newest(ctx, "cid-a", 5)
	require.NoError(t, err)
	require.Len(t, ms, 2, "no claim holds after a restore")
	got := map[string]bool{}
	for _, m := range ms {
		got[m.Key] = m.Lapsed
	}
	assert.Equal(t, map[string]bool{"a": true, "b": false}, got)
	rs, err := dst.Pending(ctx, storetest.Start.Add(time.Second), 0)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, "r1", rs[0].ID)
}
