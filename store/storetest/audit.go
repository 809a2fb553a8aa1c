package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
)

// AuditFactory returns a new, empty audit log on clock keeping entries for
// ttl. It should clean up with t.Cleanup.
type AuditFactory func(t *testing.T, clock *Clock, ttl time.Duration) store.Audit

// RunAudit runs the conformance suite of store.Audit.
func RunAudit(t *testing.T, newAudit AuditFactory) {
	t.Helper()
	item := func(key, chat, result string) store.AuditItem {
		return store.AuditItem{Key: key, ChatID: chat, Kind: store.KindGroup, MsgKey: "sampleText",
			MsgParam: `{"content":"` + key + `"}`, SentAt: Start, Result: result}
	}
	t.Run("NewestFirstPerChat", func(t *testing.T) {
		clock := NewClock(Start)
		a := newAudit(t, clock, time.Hour)
		entries := []store.AuditEntry{
			{Action: store.ActionRecall, Source: store.SourceCommand, StaffID: "s1", Nick: "One", ChatID: "cidA", Request: "recall 1",
				Items: []store.AuditItem{item("k1", "cidA", store.ResultRecalled)}},
			{Action: store.ActionRecall, Source: store.SourceAPI, Request: "tag t",
				Items: []store.AuditItem{item("k2", "cidA", store.ResultFailed), item("k3", "cidB", store.ResultRecalled)}},
			{Action: store.ActionRestore, Source: store.SourceCommand, ChatID: "cidB", Ref: "x",
				Items: []store.AuditItem{item("k3", "cidB", store.ResultResent)}},
		}
		for _, e := range entries {
			clock.Advance(time.Second)
			require.NoError(t, a.AddAudit(t.Context(), e))
		}
		all, err := a.AuditLog(t.Context(), "", 0)
		require.NoError(t, err)
		require.Len(t, all, 3)
		assert.Equal(t, []string{store.ActionRestore, store.ActionRecall, store.ActionRecall}, []string{all[0].Action, all[1].Action, all[2].Action})
		assert.NotEmpty(t, all[0].ID, "an ID is assigned")
		assert.True(t, all[2].At.Equal(Start.Add(time.Second)), "the time is the clock's: %v", all[2].At)
		assert.Equal(t, entries[0].Items, all[2].Items, "items keep their content")
		assert.Equal(t, "One", all[2].Nick)

		a1, err := a.AuditLog(t.Context(), "cidA", 0)
		require.NoError(t, err)
		assert.Len(t, a1, 2, "cidA: its own entry and the tag recall that touched it")
		b, err := a.AuditLog(t.Context(), "cidB", 1)
		require.NoError(t, err)
		require.Len(t, b, 1, "limit")
		assert.Equal(t, store.ActionRestore, b[0].Action)
		none, err := a.AuditLog(t.Context(), "cidNone", 0)
		require.NoError(t, err)
		assert.Empty(t, none)
	})
	t.Run("Expiry", func(t *testing.T) {
		clock := NewClock(Start)
		a := newAudit(t, clock, time.Hour)
		require.NoError(t, a.AddAudit(t.Context(), store.AuditEntry{Action: store.ActionRecall, ChatID: "cidA"}))
		clock.Advance(30 * time.Minute)
		require.NoError(t, a.AddAudit(t.Context(), store.AuditEntry{Action: store.ActionRecall, ChatID: "cidA"}))
		clock.Advance(31 * time.Minute)
		got, err := a.AuditLog(t.Context(), "cidA", 0)
		require.NoError(t, err)
		assert.Len(t, got, 1, "the entry older than the TTL is gone")
	})
	t.Run("Concurrent", func(t *testing.T) {
		a := newAudit(t, NewClock(Start), time.Hour)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				assert.NoError(t, a.AddAudit(t.Context(), store.AuditEntry{Action: store.ActionRecall, ChatID: fmt.Sprintf("c%d", i%2)}))
			})
		}
		wg.Wait()
		all, err := a.AuditLog(t.Context(), "", 0)
		require.NoError(t, err)
		assert.Len(t, all, 20)
	})
}

// StatesFactory returns a new, empty States on clock.
type StatesFactory func(t *testing.T, clock *Clock) store.States

// RunStates runs the conformance suite of store.States.
func RunStates(t *testing.T, newStates StatesFactory) {
	t.Helper()
	t.Run("PutIfAbsentTakeExpire", func(t *testing.T) {
		clock := NewClock(Start)
		s := newStates(t, clock)
		ctx := t.Context()
		v, stored, err := s.PutStateIfAbsent(ctx, "k", "first", time.Minute)
		require.NoError(t, err)
		assert.True(t, stored)
		assert.Equal(t, "first", v)
		v, stored, err = s.PutStateIfAbsent(ctx, "k", "second", time.Minute)
		require.NoError(t, err)
		assert.False(t, stored)
		assert.Equal(t, "first", v, "the live value is returned")

		clock.Advance(time.Minute)
		v, stored, err = s.PutStateIfAbsent(ctx, "k", "third", time.Minute)
		require.NoError(t, err)
		assert.True(t, stored, "an expired value is replaced")
		assert.Equal(t, "third", v)

		v, ok, err := s.TakeState(ctx, "k")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "third", v)
		_, ok, err = s.TakeState(ctx, "k")
		require.NoError(t, err)
		assert.False(t, ok, "taken once")

		require.NoError(t, s.SetState(ctx, "k", "set", time.Second))
		require.NoError(t, s.SetState(ctx, "k", "reset", time.Minute))
		clock.Advance(2 * time.Second)
		v, ok, err = s.TakeState(ctx, "k")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "reset", v)

		require.NoError(t, s.SetState(ctx, "gone", "x", time.Second))
		clock.Advance(time.Second)
		_, ok, err = s.TakeState(ctx, "gone")
		require.NoError(t, err)
		assert.False(t, ok, "an expired value is not taken")

		require.NoError(t, s.SetState(ctx, "del", "x", time.Minute))
		require.NoError(t, s.DeleteState(ctx, "del"))
		_, ok, err = s.TakeState(ctx, "del")
		require.NoError(t, err)
		assert.False(t, ok)
	})
	t.Run("Events", func(t *testing.T) {
		clock := NewClock(Start)
		s := newStates(t, clock)
		ctx := t.Context()
		for _, m := range []string{"a", "b", "b"} {
			clock.Advance(time.Second)
			_, err := s.AddEvent(ctx, "chat", m, time.Minute)
			require.NoError(t, err)
		}
		got, err := s.Events(ctx, "chat", time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 3, "a member may occur twice")
		assert.Equal(t, []string{"b", "b", "a"}, []string{got[0].Member, got[1].Member, got[2].Member}, "newest first")
		assert.True(t, got[2].At.Equal(Start.Add(time.Second)), "at the clock's time: %v", got[2].At)

		clock.Advance(59 * time.Second) // now the first "b" is exactly a minute old
		got, err = s.AddEvent(ctx, "chat", "c", time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 2, "events a window old are gone")
		assert.Equal(t, []string{"c", "b"}, []string{got[0].Member, got[1].Member})
		other, err := s.Events(ctx, "other", time.Minute)
		require.NoError(t, err)
		assert.Empty(t, other)
	})
	t.Run("Invalid", func(t *testing.T) {
		s := newStates(t, NewClock(Start))
		_, _, err := s.PutStateIfAbsent(t.Context(), "", "v", time.Minute)
		assert.ErrorIs(t, err, store.ErrInvalid)
		assert.ErrorIs(t, s.SetState(t.Context(), "k", "v", 0), store.ErrInvalid)
	})
	t.Run("CompareAndSwap", func(t *testing.T) {
		clock := NewClock(Start)
		s := newStates(t, clock)
		ctx := t.Context()
		steps := []struct {
			name         string
			advance      time.Duration
			old, value   string
			want         bool
			wantAfter    string
			wantAfterSet bool
		}{
			{"absent reads as empty", 0, "", "a", true, "a", true},
			{"empty no longer matches", 0, "", "b", false, "a", true},
			{"wrong old", 0, "x", "b", false, "a", true},
			{"right old", 0, "a", "b", true, "b", true},
			{"the old value again", 0, "a", "c", false, "b", true},
			{"to empty", 0, "b", "", true, "", true},
			{"empty value matches empty", 0, "", "d", true, "d", true},
			{"an expired value reads as empty", time.Minute, "d", "e", false, "", false},
			{"and is replaced", 0, "", "e", true, "e", true},
		}
		for _, st := range steps {
			clock.Advance(st.advance)
			swapped, err := s.CompareAndSwapState(ctx, "k", st.old, st.value, time.Minute)
			require.NoError(t, err, st.name)
			assert.Equal(t, st.want, swapped, st.name)
			// Read back without disturbing: take, then put back.
			v, ok, err := s.TakeState(ctx, "k")
			require.NoError(t, err, st.name)
			assert.Equal(t, st.wantAfterSet, ok, st.name)
			assert.Equal(t, st.wantAfter, v, st.name)
			if ok {
				require.NoError(t, s.SetState(ctx, "k", v, time.Minute))
			}
		}
		_, err := s.CompareAndSwapState(ctx, "", "", "v", time.Minute)
		assert.ErrorIs(t, err, store.ErrInvalid)
		_, err = s.CompareAndSwapState(ctx, "k", "", "v", 0)
		assert.ErrorIs(t, err, store.ErrInvalid)
	})
	t.Run("CompareAndSwapConcurrent", func(t *testing.T) {
		s := newStates(t, NewClock(Start))
		const workers = 24
		cur := ""
		for round := range 5 {
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				wins  []string
				start = make(chan struct{})
			)
			for w := range workers {
				wg.Go(func() {
					<-start
					mine := fmt.Sprintf("round%d-sender%d", round, w)
					swapped, err := s.CompareAndSwapState(t.Context(), "dup", cur, mine, time.Minute)
					assert.NoError(t, err)
					if swapped {
						mu.Lock()
						wins = append(wins, mine)
						mu.Unlock()
					}
				})
			}
			close(start)
			wg.Wait()
			require.Len(t, wins, 1, "round %d: exactly one sender swaps", round)
			v, ok, err := s.TakeState(t.Context(), "dup")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, wins[0], v, "the winner's value is stored")
			require.NoError(t, s.SetState(t.Context(), "dup", v, time.Minute))
			cur = v
		}
	})
	t.Run("ConcurrentTakeAndPut", func(t *testing.T) {
		s := newStates(t, NewClock(Start))
		require.NoError(t, s.SetState(t.Context(), "once", "v", time.Minute))
		var mu sync.Mutex
		takes, puts := 0, 0
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				_, ok, err := s.TakeState(t.Context(), "once")
				assert.NoError(t, err)
				_, stored, err := s.PutStateIfAbsent(t.Context(), "nx", fmt.Sprint(i), time.Minute)
				assert.NoError(t, err)
				mu.Lock()
				defer mu.Unlock()
				if ok {
					takes++
				}
				if stored {
					puts++
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, takes, "exactly one caller takes a value")
		assert.Equal(t, 1, puts, "exactly one caller stores a missing value")
	})
}
