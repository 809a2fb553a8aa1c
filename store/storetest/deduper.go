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

// DeduperFactory returns a new, empty deduper that reads time from clock. It
// is called once per subtest and should clean up with t.Cleanup.
type DeduperFactory func(t *testing.T, clock *Clock) store.Deduper

// RunDeduper runs the conformance suite against the dedupers newDeduper
// returns.
func RunDeduper(t *testing.T, newDeduper DeduperFactory) {
	t.Helper()
	const ttl = time.Hour

	t.Run("FirstSeen", func(t *testing.T) {
		clock := NewClock(Start)
		d := newDeduper(t, clock)
		steps := []struct {
			name    string
			advance time.Duration
			id      string
			want    bool
		}{
			{"new id", 0, "msg-1", true},
			{"same id", 0, "msg-1", false},
			{"other id", 0, "msg-2", true},
			{"just before the ttl", ttl - time.Second, "msg-1", false},
			{"a repeat does not extend it", time.Second, "msg-1", true},
			{"seen anew", 0, "msg-1", false},
			{"the other one expired too", 0, "msg-2", true},
		}
		for _, s := range steps {
			clock.Advance(s.advance)
			got, err := d.FirstSeen(t.Context(), s.id, ttl)
			require.NoError(t, err, s.name)
			assert.Equal(t, s.want, got, s.name)
		}
	})

	t.Run("Forget", func(t *testing.T) {
		d := newDeduper(t, NewClock(Start))
		first, err := d.FirstSeen(t.Context(), "msg-1", ttl)
		require.NoError(t, err)
		require.True(t, first)
		require.NoError(t, d.Forget(t.Context(), "msg-1"))
		again, err := d.FirstSeen(t.Context(), "msg-1", ttl)
		require.NoError(t, err)
		assert.True(t, again, "a forgotten id is new again")
		again, err = d.FirstSeen(t.Context(), "msg-1", ttl)
		require.NoError(t, err)
		assert.False(t, again)
		require.NoError(t, d.Forget(t.Context(), "never-seen"))
	})

	t.Run("Invalid", func(t *testing.T) {
		d := newDeduper(t, NewClock(Start))
		_, err := d.FirstSeen(t.Context(), "", ttl)
		require.ErrorIs(t, err, store.ErrInvalid)
		_, err = d.FirstSeen(t.Context(), "msg-1", 0)
		require.ErrorIs(t, err, store.ErrInvalid)
		got, err := d.FirstSeen(t.Context(), "msg-1", ttl)
		require.NoError(t, err)
		assert.True(t, got, "failed calls record nothing")
	})

	t.Run("Concurrent", func(t *testing.T) {
		clock := NewClock(Start)
		d := newDeduper(t, clock)
		const (
			workers = 32
			ids     = 20
		)
		for round := range 4 {
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				wins  = map[string]int{}
				start = make(chan struct{})
			)
			for range workers {
				wg.Go(func() {
					<-start
					for i := range ids {
						id := fmt.Sprintf("msg-%d", i)
						first, err := d.FirstSeen(t.Context(), id, ttl)
						assert.NoError(t, err)
						if first {
							mu.Lock()
							wins[id]++
							mu.Unlock()
						}
					}
				})
			}
			close(start)
			wg.Wait()
			require.Len(t, wins, ids, "round %d: every id first seen once", round)
			for id, n := range wins {
				assert.Equal(t, 1, n, "round %d: %s first seen by exactly one caller", round, id)
			}
			clock.Advance(ttl) // the next round races over expired ids
		}
	})
}
