package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
)

// reservation returns a reservation of a group text message to chatID,
// reserved sec seconds after Start.
func reservation(id, chatID string, sec int) store.Reservation {
	return store.Reservation{
		ID:         id,
		Kind:       store.KindGroup,
		ChatID:     chatID,
		RobotCode:  "robot-1",
		MsgKey:     "sampleText",
		MsgParam:   `{"content":"` + id + `"}`,
		ReservedAt: at(sec),
		Holder:     "replica-a",
	}
}

// normalRes returns r with its time in UTC, for comparison.
func normalRes(r store.Reservation) store.Reservation {
	r.ReservedAt = r.ReservedAt.UTC()
	return r
}

func normalAll(rs []store.Reservation) []store.Reservation {
	out := make([]store.Reservation, len(rs))
	for i, r := range rs {
		out[i] = normalRes(r)
	}
	return out
}

func ids(rs []store.Reservation) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func (e *env) pending(olderThan time.Time, limit int) []store.Reservation {
	e.t.Helper()
	rs, err := e.l.Pending(e.ctx, olderThan, limit)
	require.NoError(e.t, err)
	return rs
}

func (e *env) reserve(rs ...store.Reservation) {
	e.t.Helper()
	for _, r := range rs {
		require.NoError(e.t, e.l.Reserve(e.ctx, r), "reserve %s", r.ID)
	}
}

func testReservationLifecycle(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.clock.Set(at(100))
	r1 := reservation("r1", "cid-a", 10)
	r2 := reservation("r2", "cid-a", 20)
	r2.Tag, r2.Reply, r2.TTL, r2.Kind = "deploy", true, 90*time.Second, store.KindPrivate
	r3 := reservation("r3", "cid-b", 0)
	r3.ReservedAt = time.Time{} // the ledger's clock fills it in
	e.reserve(r2, r1, r3)

	// Reservations are not messages.
	assert.Empty(t, e.list("cid-a"))
	assert.Empty(t, e.newest("cid-a", 5))
	assert.Empty(t, e.take("cid-a", 5))
	assert.Empty(t, e.byTag("deploy"))
	assert.Empty(t, e.due(at(3600), 0))
	assert.Empty(t, e.chats())
	e.requireGone("r1", "r2", "r3")

	all := e.pending(at(101), 0)
	require.Equal(t, []string{"r1", "r2", "r3"}, ids(all), "oldest first")
	r3.ReservedAt = at(100)
	assert.Equal(t, normalAll([]store.Reservation{r1, r2, r3}), normalAll(all), "every field kept")
	assert.Equal(t, []string{"r1", "r2"}, ids(e.pending(at(100), 0)), "strictly before olderThan")
	assert.Equal(t, []string{"r1"}, ids(e.pending(at(101), 1)), "limit")
	assert.Equal(t, []string{"r1", "r2", "r3"}, ids(e.pending(at(101), -1)))
	assert.Empty(t, e.pending(at(10), 0))

	// Commit makes the reservation the tracked message, atomically.
	m1 := msg("key-1", "cid-a", 12)
	require.NoError(t, e.l.Commit(e.ctx, "r1", m1))
	assert.Equal(t, normal(m1), normal(e.get("key-1")))
	assert.Equal(t, []string{"key-1"}, e.newest("cid-a", 5))
	assert.Equal(t, []string{"r2", "r3"}, ids(e.pending(at(101), 0)))

	// A failed send drops its reservation; unknown IDs are fine.
	require.NoError(t, e.l.Drop(e.ctx, "r2"))
	require.NoError(t, e.l.Drop(e.ctx, "r2"))
	require.NoError(t, e.l.Drop(e.ctx, "never"))
	assert.Equal(t, []string{"r3"}, ids(e.pending(at(101), 0)))

	// A commit whose reservation is gone still records: the send happened.
	m2 := msg("key-2", "cid-b", 30)
	require.NoError(t, e.l.Commit(e.ctx, "gone", m2))
	assert.Equal(t, normal(m2), normal(e.get("key-2")))

	// Reserving an ID again replaces the reservation.
	again := reservation("r3", "cid-c", 50)
	e.reserve(again)
	assert.Equal(t, normalAll([]store.Reservation{again}), normalAll(e.pending(at(101), 0)))
}

func testReservationInvalid(t *testing.T, f Factory) {
	e := newEnv(t, f)
	tests := []struct {
		name string
		mod  func(*store.Reservation)
	}{
		{"empty id", func(r *store.Reservation) { r.ID = "" }},
		{"empty chat", func(r *store.Reservation) { r.ChatID = "" }},
		{"unknown kind", func(r *store.Reservation) { r.Kind = "channel" }},
		{"negative ttl", func(r *store.Reservation) { r.TTL = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reservation("bad", "cid-a", 1)
			tt.mod(&r)
			require.ErrorIs(t, e.l.Reserve(e.ctx, r), store.ErrInvalid)
		})
	}
	assert.Empty(t, e.pending(at(3600), 0), "nothing reserved")

	e.reserve(reservation("r1", "cid-a", 1))
	require.ErrorIs(t, e.l.Commit(e.ctx, "r1", msg("", "cid-a", 2)), store.ErrInvalid)
	require.ErrorIs(t, e.l.Commit(e.ctx, "", msg("k", "cid-a", 2)), store.ErrInvalid)
	assert.Equal(t, []string{"r1"}, ids(e.pending(at(3600), 0)), "a refused commit keeps the reservation")
	e.requireGone("k")
}

func testReservationExpiry(t *testing.T, f Factory) {
	const ttl = time.Hour
	e := newEnv(t, f, func(c *Config) { c.TTL = ttl })
	e.reserve(reservation("old", "cid-a", 0), reservation("new", "cid-a", 600))
	e.clock.Set(at(0).Add(ttl - time.Second))
	assert.Equal(t, []string{"old", "new"}, ids(e.pending(at(3600), 0)))

	e.clock.Set(at(0).Add(ttl))
	assert.Equal(t, []string{"new"}, ids(e.pending(at(3600), 0)), "a TTL old reservation is gone")
	_, ok, err := e.l.SettlePending(e.ctx, "old")
	require.NoError(t, err)
	assert.False(t, ok)

	// One already TTL old is accepted but not kept.
	e.reserve(reservation("late", "cid-a", 0))
	assert.Equal(t, []string{"new"}, ids(e.pending(at(3600), 0)))
}

func testSettlePending(t *testing.T, f Factory) {
	e := newEnv(t, f, func(c *Config) { c.Lease = time.Minute })
	e.clock.Set(at(600))
	const n = 30
	var want []string
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		e.reserve(reservation(id, fmt.Sprintf("cid-%d", i%3), i))
		want = append(want, id)
	}
	e.reserve(reservation("fresh", "cid-a", 599)) // a send in flight now

	left := e.pending(at(300), 0)
	require.Equal(t, want, ids(left), "the leftovers, not the send in flight")

	const workers = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   = map[string]int{}
		start = make(chan struct{})
	)
	for range workers {
		wg.Go(func() {
			<-start
			rs, err := e.l.Pending(e.ctx, at(300), 0)
			if !assert.NoError(t, err) {
				return
			}
			for _, r := range rs {
				settled, ok, err := e.l.SettlePending(e.ctx, r.ID)
				if !assert.NoError(t, err) {
					return
				}
				if ok {
					assert.Equal(t, normalRes(r), normalRes(settled))
					mu.Lock()
					got[r.ID]++
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.Len(t, got, n, "every leftover settled")
	for id, c := range got {
		assert.Equal(t, 1, c, "%s settled exactly once", id)
	}
	assert.Empty(t, e.pending(at(300), 0), "settlers hold them all")
	assert.Equal(t, []string{"fresh"}, ids(e.pending(at(601), 0)))

	// The settlers end some; the one settling r01 dies.
	require.NoError(t, e.l.Commit(e.ctx, "r00", msg("key-0", "cid-0", 0)))
	for i := 2; i < n; i++ {
		require.NoError(t, e.l.Drop(e.ctx, fmt.Sprintf("r%02d", i)))
	}
	e.clock.Advance(time.Minute - time.Second)
	assert.Empty(t, e.pending(at(300), 0))
	e.clock.Advance(time.Second)
	assert.Equal(t, []string{"r01"}, ids(e.pending(at(300), 0)), "a dead settler's reservation reappears")
	r, ok, err := e.l.SettlePending(e.ctx, "r01")
	require.NoError(t, err)
	require.True(t, ok, "and is settled again")
	assert.Equal(t, "r01", r.ID)
	_, ok, err = e.l.SettlePending(e.ctx, "r01")
	require.NoError(t, err)
	assert.False(t, ok, "once")
	_, ok, err = e.l.SettlePending(e.ctx, "missing")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, []string{"key-0"}, e.list("cid-0"))
}

func testRenew(t *testing.T, f Factory) {
	e := newEnv(t, f, func(c *Config) { c.Lease = time.Minute })
	e.record(msg("a", "cid-a", 1), msg("b", "cid-a", 2), msg("c", "cid-a", 3))
	held, err := e.l.TakeNewest(e.ctx, "cid-a", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"c", "b"}, keys(held))
	claim := held[0].Claim

	require.ErrorIs(t, e.l.Renew(e.ctx, ""), store.ErrInvalid)
	require.ErrorIs(t, e.l.Renew(e.ctx, "", "c"), store.ErrInvalid)
	for range 5 { // a long recall renews every 40 s
		e.clock.Advance(40 * time.Second)
		require.NoError(t, e.l.Renew(e.ctx, claim, "c", "missing"))
		require.NoError(t, e.l.Renew(e.ctx, "someone-else", "b"))
	}
	assert.Equal(t, []string{"b", "a"}, e.newest("cid-a", 5), "c is still held after 200 s, b lapsed")
	assert.Empty(t, e.claim("c"))
	bs := e.newestMsgs("cid-a", 1)
	assert.True(t, bs[0].Lapsed, "b's claim lapsed")

	// A lapsed claim is not revived.
	require.NoError(t, e.l.Renew(e.ctx, claim, "b"))
	assert.Equal(t, []string{"b", "a"}, e.newest("cid-a", 5))

	// Nor is one whose lease lapsed before the renewal came.
	e.clock.Advance(time.Minute)
	require.NoError(t, e.l.Renew(e.ctx, claim, "c"))
	assert.Equal(t, []string{"c", "b", "a"}, e.newest("cid-a", 5))
}

func (e *env) newestMsgs(chatID string, n int) []store.Message {
	e.t.Helper()
	ms, err := e.l.Newest(e.ctx, chatID, n)
	require.NoError(e.t, err)
	return ms
}

// lapsed returns the keys of ms flagged Lapsed.
func lapsed(ms []store.Message) []string {
	out := []string{}
	for _, m := range ms {
		if m.Lapsed {
			out = append(out, m.Key)
		}
	}
	return out
}

func testLapsed(t *testing.T, f Factory) {
	e := newEnv(t, f, func(c *Config) { c.Lease = time.Minute })
	e.record(msg("a", "cid-a", 1), msg("b", "cid-a", 2), msg("c", "cid-a", 3), msg("d", "cid-a", 4, dueAt(0), tag("t")))
	list := func() []store.Message {
		t.Helper()
		ms, err := e.l.List(e.ctx, "cid-a", 0)
		require.NoError(t, err)
		return ms
	}

	// Claims ended by their holder leave no flag.
	first, err := e.l.TakeNewest(e.ctx, "cid-a", 2)
	require.NoError(t, err)
	require.NoError(t, e.l.Release(e.ctx, first[0].Claim, "d", "c"))
	assert.Empty(t, lapsed(list()))

	// A holder dies: its claims lapse, and the messages are flagged.
	_, err = e.l.TakeNewest(e.ctx, "cid-a", 4)
	require.NoError(t, err)
	assert.Empty(t, lapsed(list()), "not while the lease holds")
	e.clock.Advance(time.Minute)
	assert.Equal(t, []string{"d", "c", "b", "a"}, lapsed(list()))
	assert.Equal(t, []string{"d", "c", "b", "a"}, lapsed(e.newestMsgs("cid-a", 5)))
	assert.True(t, e.get("a").Lapsed)
	ms, err := e.l.ByTag(e.ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, []string{"d"}, lapsed(ms))
	ms, err = e.l.Due(e.ctx, at(60), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"d"}, lapsed(ms))

	// Taken again, they stay flagged, and the new holder ends the flag.
	again, err := e.l.TakeNewest(e.ctx, "cid-a", 1)
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.True(t, again[0].Lapsed, "TakeNewest flags it")
	assert.NotEmpty(t, again[0].Claim)
	byKey, err := e.l.Claim(e.ctx, []string{"c", "b"})
	require.NoError(t, err)
	assert.Equal(t, []string{"c", "b"}, lapsed(byKey), "Claim flags them")
	assert.True(t, e.get("d").Lapsed, "still flagged while the new claim holds")
	e.clock.Advance(10 * time.Second)
	assert.True(t, e.get("d").Lapsed)

	require.NoError(t, e.l.Release(e.ctx, again[0].Claim, "d"))
	require.NoError(t, e.l.Fail(e.ctx, byKey[0].Claim, map[string]store.Failure{"c": {Message: "busy"}}))
	require.NoError(t, e.l.Remove(e.ctx, "b"))
	assert.Equal(t, []string{"a"}, lapsed(list()), "Release, Fail and Remove end the flag")

	require.NoError(t, e.l.Record(e.ctx, msg("a", "cid-a", 1)))
	assert.Empty(t, lapsed(list()), "Record ends it")
	lapsedIn := msg("x", "cid-a", 5, func(m *store.Message) { m.Lapsed = true })
	e.record(lapsedIn)
	assert.False(t, e.get("x").Lapsed, "Record ignores a caller's flag")
}

func testInFlight(t *testing.T, f Factory) {
	e := newEnv(t, f, func(c *Config) { c.Lease = time.Minute })
	for i := 1; i <= 6; i++ {
		e.record(msg(fmt.Sprintf("k%d", i), "cid-a", i*10))
	}
	e.record(msg("r", "cid-a", 55, reply), msg("o", "cid-b", 70))
	// Another recall is taking the two newest.
	other, err := e.l.TakeNewest(e.ctx, "cid-a", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"k6", "k5"}, keys(other))

	free, inFlight, err := e.l.NewestWithInFlight(e.ctx, "cid-a", 4)
	require.NoError(t, err)
	assert.Equal(t, []string{"k4", "k3"}, keys(free))
	assert.Equal(t, []string{"k6", "k5"}, keys(inFlight))
	for _, m := range append(free, inFlight...) {
		assert.Empty(t, m.Claim, "nothing claimed, no token shown")
	}
	assert.Equal(t, []string{"k4", "k3", "k2", "k1"}, e.newest("cid-a", 5), "the preview claimed nothing")

	taken, inFlight, err := e.l.TakeNewestWithInFlight(e.ctx, "cid-a", 4)
	require.NoError(t, err)
	assert.Equal(t, []string{"k4", "k3"}, keys(taken), "the newest 4 are the 4 meant, not k2 and k1")
	assert.Equal(t, []string{"k6", "k5"}, keys(inFlight))
	for _, m := range taken {
		assert.NotEmpty(t, m.Claim)
		assert.False(t, m.Lapsed)
	}
	for _, m := range inFlight {
		assert.Empty(t, m.Claim, "another holder's token is not handed out")
	}
	assert.Equal(t, []string{"k2", "k1"}, e.newest("cid-a", 5))
	assert.Empty(t, e.claim("k4", "k3"), "taken")

	taken, inFlight, err = e.l.TakeNewestWithInFlight(e.ctx, "cid-a", 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"k2", "k1"}, keys(taken))
	assert.Equal(t, []string{"k6", "k5", "k4", "k3"}, keys(inFlight))

	for _, n := range []int{0, -1} {
		taken, inFlight, err = e.l.TakeNewestWithInFlight(e.ctx, "cid-a", n)
		require.NoError(t, err)
		assert.Empty(t, taken)
		assert.Empty(t, inFlight)
	}
	taken, inFlight, err = e.l.TakeNewestWithInFlight(e.ctx, "cid-none", 3)
	require.NoError(t, err)
	assert.Empty(t, taken)
	assert.Empty(t, inFlight)

	// The first recall dies; its two lapse and come back flagged.
	require.NoError(t, e.l.Release(e.ctx, "", "k4", "k3", "k2", "k1"))
	e.clock.Advance(time.Minute)
	taken, inFlight, err = e.l.TakeNewestWithInFlight(e.ctx, "cid-a", 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"k6", "k5", "k4"}, keys(taken))
	assert.Equal(t, []string{"k6", "k5"}, lapsed(taken), "the lapsed ones are flagged for checking")
	assert.Empty(t, inFlight)
}

func testInFlightConcurrent(t *testing.T, f Factory) {
	e := newEnv(t, f)
	want := e.fillChat(200, 9)
	// Recalls run at once, each taking among the newest and removing what
	// it took, until the chat is empty.
	const workers = 12
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   []string
		start = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			<-start
			for {
				taken, inFlight, err := e.l.TakeNewestWithInFlight(e.ctx, "cid-a", 1+w%5)
				if !assert.NoError(t, err) || len(taken)+len(inFlight) == 0 {
					return
				}
				mu.Lock()
				got = append(got, keys(taken)...)
				over := len(got) > len(want)
				mu.Unlock()
				if over || !assert.NoError(t, e.l.Remove(e.ctx, keys(taken)...)) {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.Len(t, got, len(want), "no key taken twice, none left")
	slices.Sort(got)
	assert.Equal(t, want, got)
}
