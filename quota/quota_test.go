package quota_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/quota"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// jan31 is one minute before February starts in China (UTC+8).
var jan31 = time.Date(2026, 1, 31, 23, 59, 0, 0, quota.Zone)

// observer records what a governor reports.
type observer struct {
	used, limit atomic.Int64
	warned      atomic.Int32
}

func (o *observer) QuotaUsed(n int64)  { o.used.Store(n) }
func (o *observer) QuotaLimit(n int64) { o.limit.Store(n) }
func (o *observer) QuotaWarned()       { o.warned.Add(1) }

// warnings records the warnings of every replica of a test.
type warnings struct {
	mu  sync.Mutex
	got []string
	// fail is how many of the next warnings nobody gets, failing with
	// failWith (errNobody when nil); tries counts every warning tried.
	fail, tries int
	failWith    func() error
}

var errNobody = errors.New("no admin could be reached")

func (w *warnings) warn(bot string) func(context.Context, int64, int64) error {
	return func(_ context.Context, used, limit int64) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.tries++
		if w.fail > 0 {
			w.fail--
			if w.failWith != nil {
				return w.failWith()
			}
			return errNobody
		}
		w.got = append(w.got, fmt.Sprintf("%s %d/%d", bot, used, limit))
		return nil
	}
}

func (w *warnings) failNext(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fail = n
}

func (w *warnings) tried() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tries
}

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, w.got...)
}

// flaky is States that fails while down is set, and whose swaps all fail
// while contended is set.
type flaky struct {
	store.States
	down, contended atomic.Bool
}

var errDown = fmt.Errorf("flaky: %w", store.ErrUnavailable)

func (f *flaky) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	if f.down.Load() {
		return "", false, errDown
	}
	return f.States.PutStateIfAbsent(ctx, key, value, ttl)
}

func (f *flaky) CompareAndSwapState(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	if f.down.Load() {
		return false, errDown
	}
	if f.contended.Load() {
		return false, nil
	}
	return f.States.CompareAndSwapState(ctx, key, old, value, ttl)
}

// env is a store shared by replicas, on one clock.
type env struct {
	t      *testing.T
	clock  *storetest.Clock
	states *flaky
	warns  *warnings
}

func newEnv(t *testing.T, start time.Time) *env {
	clock := storetest.NewClock(start)
	s, err := memory.NewStates(memory.StatesOptions{Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return &env{t: t, clock: clock, states: &flaky{States: s}, warns: &warnings{}}
}

// replica is one replica's governor of bot.
func (e *env) replica(bot string, limit int64, obs quota.Observer) *quota.Governor {
	log, _ := test.NewNullLogger()
	return quota.New(quota.Config{Bot: bot, Limit: limit, States: e.states, Now: e.clock.Now, Warn: e.warns.warn(bot), Observer: obs, Log: log})
}

func nullLog() logrus.FieldLogger {
	log, _ := test.NewNullLogger()
	return log
}

func meter(g *quota.Governor, n int) {
	for range n {
		g.Metered(context.Background(), "robot/groupMessages/send")
	}
}

// shared reads a month's shared counter.
func (e *env) shared(bot, month string) string {
	key := quota.CounterKey(bot, month)
	v, stored, err := e.states.States.PutStateIfAbsent(context.Background(), key, "absent", time.Minute)
	require.NoError(e.t, err)
	if stored {
		require.NoError(e.t, e.states.States.DeleteState(context.Background(), key))
	}
	return v
}

func TestReplicasShareOneCount(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31.Add(-24*time.Hour))
	obs := &observer{}
	a, b := e.replica("alerts", 10, obs), e.replica("alerts", 10, nil)
	other := e.replica("deploy", 10, nil)
	assert.Equal(t, int64(10), obs.limit.Load(), "the limit is reported at once")

	steps := []struct {
		name           string
		do             func()
		usedA, usedB   int64
		exhausted      bool
		warned         []string
		observedUsedOf int64
	}{
		{"counted locally", func() { meter(a, 3); meter(b, 4) }, 3, 4, false, nil, 0},
		{"a flushes", func() { require.NoError(t, a.Flush(ctx)) }, 3, 4, false, nil, 3},
		{"b flushes and reads a's", func() { require.NoError(t, b.Flush(ctx)) }, 3, 7, false, nil, 3},
		{"a reads b's", func() { require.NoError(t, a.Flush(ctx)) }, 7, 7, false, nil, 7},
		{"another bot counts apart", func() { meter(other, 9); require.NoError(t, other.Flush(ctx)) }, 7, 7, false, []string{"deploy 9/10"}, 7},
		{"80 % warns once", func() { meter(a, 1); require.NoError(t, a.Flush(ctx)); require.NoError(t, b.Flush(ctx)) },
			8, 8, false, []string{"alerts 8/10", "deploy 9/10"}, 8},
		{"no second warning", func() { meter(b, 1); require.NoError(t, b.Flush(ctx)); require.NoError(t, a.Flush(ctx)) },
			9, 9, false, []string{"alerts 8/10", "deploy 9/10"}, 9},
		{"100 % before any flush", func() { meter(a, 1) }, 10, 9, true, []string{"alerts 8/10", "deploy 9/10"}, 9},
	}
	for _, st := range steps {
		st.do()
		assert.Equal(t, st.usedA, a.Used(), "%s: a", st.name)
		assert.Equal(t, st.usedB, b.Used(), "%s: b", st.name)
		assert.Equal(t, st.exhausted, a.Exhausted(), "%s: exhausted", st.name)
		assert.ElementsMatch(t, st.warned, e.warns.list(), st.name)
		assert.Equal(t, st.observedUsedOf, obs.used.Load(), "%s: observed", st.name)
	}
	assert.Equal(t, int32(1), obs.warned.Load(), "a's observer heard of the one warning a gave")
	require.NoError(t, a.Flush(ctx))
	require.NoError(t, b.Flush(ctx))
	assert.True(t, b.Exhausted(), "b learns of it at its flush")
	assert.Equal(t, "10", e.shared("alerts", "2026-01"))
	assert.Equal(t, "9", e.shared("deploy", "2026-01"))
}

func TestMonthRollover(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31)
	g := e.replica("alerts", 10, nil)
	assert.Equal(t, time.Date(2026, 2, 1, 0, 0, 0, 0, quota.Zone), g.ResetsOn())
	meter(g, 9)
	require.NoError(t, g.Flush(ctx))
	assert.True(t, g.Used() == 9 && !g.Exhausted())
	assert.Equal(t, []string{"alerts 9/10"}, e.warns.list())

	meter(g, 1) // January's last call, not yet flushed
	e.clock.Advance(time.Minute)
	assert.Equal(t, int64(0), g.Used(), "a new month starts from zero")
	assert.False(t, g.Exhausted())
	assert.Equal(t, time.Date(2026, 3, 1, 0, 0, 0, 0, quota.Zone), g.ResetsOn())
	meter(g, 2)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, int64(2), g.Used())
	assert.Equal(t, "10", e.shared("alerts", "2026-01"), "January's late call went to January")
	assert.Equal(t, "2", e.shared("alerts", "2026-02"))

	meter(g, 6)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, []string{"alerts 9/10", "alerts 8/10"}, e.warns.list(), "each month warns once")
}

func TestMonthIsChinas(t *testing.T) {
	tests := []struct {
		now      time.Time
		resetsOn time.Time
	}{
		{time.Date(2026, 1, 31, 15, 59, 59, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, quota.Zone)},
		{time.Date(2026, 1, 31, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, quota.Zone)},
		{time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), time.Date(2027, 2, 1, 0, 0, 0, 0, quota.Zone)},
		{time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, quota.Zone)},
	}
	for _, tt := range tests {
		t.Run(tt.now.String(), func(t *testing.T) {
			g := quota.New(quota.Config{Bot: "b", Now: func() time.Time { return tt.now }})
			assert.True(t, tt.resetsOn.Equal(g.ResetsOn()), "got %v", g.ResetsOn())
		})
	}
}

func TestStoreFailureKeepsCounts(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31.Add(-time.Hour))
	log, hook := test.NewNullLogger()
	g := quota.New(quota.Config{Bot: "alerts", Limit: 10, States: e.states, Now: e.clock.Now, Warn: e.warns.warn("alerts"), Log: log})

	require.NoError(t, g.Flush(ctx), "the month's counter is made")
	meter(g, 3)
	e.states.down.Store(true)
	for range 3 {
		err := g.Flush(ctx)
		require.ErrorIs(t, err, store.ErrUnavailable)
	}
	assert.Len(t, hook.AllEntries(), 1, "a run of failures is logged once")
	meter(g, 5)
	assert.Equal(t, int64(8), g.Used(), "nothing lost while the store is down")
	assert.Empty(t, e.warns.list(), "no warning without the shared count")

	e.states.down.Store(false)
	e.states.contended.Store(true)
	require.ErrorIs(t, g.Flush(ctx), quota.ErrContended)
	assert.Equal(t, int64(8), g.Used(), "nothing lost while contended")

	e.states.contended.Store(false)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, int64(8), g.Used(), "added once")
	assert.Equal(t, "8", e.shared("alerts", "2026-01"))
	assert.Equal(t, []string{"alerts 8/10"}, e.warns.list())
	var levels []logrus.Level
	for _, en := range hook.AllEntries() {
		levels = append(levels, en.Level)
	}
	assert.Equal(t, []logrus.Level{logrus.WarnLevel, logrus.InfoLevel, logrus.WarnLevel}, levels,
		"the failure, the recovery, the 80 % warning")
}

// A failed warning mark is tried again at the next flush.
func TestWarnMarkFailureRetries(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31.Add(-time.Hour))
	g := e.replica("alerts", 10, nil)
	meter(g, 8)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, []string{"alerts 8/10"}, e.warns.list())

	e2 := newEnv(t, jan31.Add(-time.Hour))
	// The counter is written, then the store fails before the mark.
	fails := &failAfter{States: e2.states, left: 2}
	g2 := quota.New(quota.Config{Bot: "alerts", Limit: 10, States: fails, Now: e2.clock.Now, Warn: e2.warns.warn("alerts"), Log: nullLog()})
	meter(g2, 8)
	require.ErrorIs(t, g2.Flush(ctx), store.ErrUnavailable)
	assert.Empty(t, e2.warns.list())
	require.NoError(t, g2.Flush(ctx))
	assert.Equal(t, []string{"alerts 8/10"}, e2.warns.list())
}

// failAfter is States whose PutStateIfAbsent fails after left calls.
type failAfter struct {
	store.States
	mu   sync.Mutex
	left int
}

func (f *failAfter) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	f.mu.Lock()
	f.left--
	fail := f.left == 0
	f.mu.Unlock()
	if fail {
		return "", false, errDown
	}
	return f.States.PutStateIfAbsent(ctx, key, value, ttl)
}

func TestUnknownLimitOnlyCounts(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31.Add(-time.Hour))
	obs := &observer{}
	g := e.replica("alerts", 0, obs)
	meter(g, 1000)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, int64(1000), g.Used())
	assert.Equal(t, int64(0), g.Limit())
	assert.False(t, g.Exhausted())
	assert.Empty(t, e.warns.list())
	assert.Equal(t, int64(1000), obs.used.Load())
}

func TestWithoutStates(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(jan31)
	w := &warnings{}
	g := quota.New(quota.Config{Bot: "alerts", Limit: 4, Now: clock.Now, Warn: w.warn("alerts"), Log: nullLog()})
	meter(g, 3)
	require.NoError(t, g.Flush(ctx))
	meter(g, 1)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, int64(4), g.Used())
	assert.True(t, g.Exhausted())
	assert.Equal(t, []string{"alerts 4/4"}, w.list())
	clock.Advance(time.Minute)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, int64(0), g.Used())
}

func TestNotANumberCountsFromZero(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31.Add(-time.Hour))
	require.NoError(t, e.states.SetState(ctx, quota.CounterKey("alerts", "2026-01"), "garbage", time.Hour))
	g := e.replica("alerts", 10, nil)
	meter(g, 2)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, int64(2), g.Used())
	assert.Equal(t, "2", e.shared("alerts", "2026-01"))
}

// Replicas counting and flushing at once count every call exactly once.
func TestConcurrent(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31.Add(-time.Hour))
	var wg sync.WaitGroup
	gs := []*quota.Governor{e.replica("alerts", 0, nil), e.replica("alerts", 0, nil), e.replica("alerts", 0, nil)}
	for _, g := range gs {
		for range 4 {
			wg.Go(func() {
				for i := range 250 {
					g.Metered(ctx, "x")
					if i%50 == 0 {
						_ = g.Flush(ctx) // contention is kept for later
					}
				}
			})
		}
	}
	wg.Wait()
	for _, g := range gs {
		require.NoError(t, g.Flush(ctx))
	}
	assert.Equal(t, "3000", e.shared("alerts", "2026-01"))
	for _, g := range gs {
		require.NoError(t, g.Flush(ctx))
		assert.Equal(t, int64(3000), g.Used())
	}
}

// Run flushes once more when it stops.
func TestRunFlushesAtTheEnd(t *testing.T) {
	e := newEnv(t, jan31.Add(-time.Hour))
	log, _ := test.NewNullLogger()
	g := quota.New(quota.Config{Bot: "alerts", States: e.states, Now: e.clock.Now, Log: log, Interval: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(ctx)
	}()
	meter(g, 5)
	cancel()
	<-done
	assert.Equal(t, "5", e.shared("alerts", "2026-01"))
}

// blocking is States whose PutStateIfAbsent waits for release.
type blocking struct {
	store.States
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.States.PutStateIfAbsent(ctx, key, value, ttl)
}

// Calls being flushed still count while the flush waits on the store.
func TestUsedDuringFlush(t *testing.T) {
	e := newEnv(t, jan31.Add(-time.Hour))
	b := &blocking{States: e.states, entered: make(chan struct{}), release: make(chan struct{})}
	g := quota.New(quota.Config{Bot: "alerts", Limit: 5, States: b, Now: e.clock.Now, Log: nullLog()})
	meter(g, 5)
	done := make(chan error)
	go func() { done <- g.Flush(t.Context()) }()
	<-b.entered
	assert.Equal(t, int64(5), g.Used(), "in flight, still counted")
	assert.True(t, g.Exhausted())
	meter(g, 1)
	assert.Equal(t, int64(6), g.Used())
	close(b.release)
	go func() {
		for range b.entered { // the warning mark
		}
	}()
	require.NoError(t, <-done)
	close(b.entered)
	assert.Equal(t, int64(6), g.Used(), "added once")
}

func TestRefusedExhaustsUntilTheMonthEnds(t *testing.T) {
	for _, limit := range []int64{0, 1000} {
		now := time.Date(2026, 11, 30, 12, 0, 0, 0, quota.Zone)
		g := quota.New(quota.Config{Bot: "b", Limit: limit, Now: func() time.Time { return now }})
		assert.False(t, g.Exhausted(), "limit %d", limit)
		g.Refused()
		assert.True(t, g.Exhausted(), "DingTalk refused: limit %d", limit)
		now = time.Date(2026, 12, 1, 0, 0, 0, 0, quota.Zone)
		assert.False(t, g.Exhausted(), "a new month: limit %d", limit)
	}
}

// TestWarningNobodyGotIsTriedAgain: when Warn could not give the warning,
// the month is not marked as warned: the replica tries again after
// WarnRetry, and the observer counts only the warning given.
func TestWarningNobodyGotIsTriedAgain(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31.Add(-time.Hour))
	obs := &observer{}
	g := e.replica("alerts", 10, obs)
	e.warns.failNext(2)
	meter(g, 8)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, 1, e.warns.tried())
	assert.Empty(t, e.warns.list())
	assert.Zero(t, obs.warned.Load(), "no warning was given")
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, 1, e.warns.tried(), "not again within WarnRetry")

	e.clock.Advance(quota.WarnRetry)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, 2, e.warns.tried())
	e.clock.Advance(quota.WarnRetry)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, []string{"alerts 8/10"}, e.warns.list(), "the third try reached someone")
	assert.Equal(t, int32(1), obs.warned.Load())
	e.clock.Advance(quota.WarnRetry)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, 3, e.warns.tried(), "given once: never again this month")
}

// TestWarningTakenBackReachesAnotherReplica: a replica that could not warn
// takes the month's mark back, so another replica, flushing first after
// it, warns.
func TestWarningTakenBackReachesAnotherReplica(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, jan31.Add(-time.Hour))
	a, b := e.replica("alerts", 10, nil), e.replica("alerts", 10, nil)
	e.warns.failNext(1)
	meter(a, 8)
	require.NoError(t, a.Flush(ctx))
	assert.Empty(t, e.warns.list())
	require.NoError(t, b.Flush(ctx))
	assert.Equal(t, []string{"alerts 8/10"}, e.warns.list())
	e.clock.Advance(quota.WarnRetry)
	require.NoError(t, a.Flush(ctx))
	assert.Equal(t, 2, e.warns.tried(), "b's warning marked the month for a too")
}

// TestWarningGivesUp: a warning nobody can get is tried WarnAttempts times
// in a month, then no more: it must not spend the quota it warns of. A new
// month starts afresh.
func TestWarningGivesUp(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, time.Date(2026, 1, 10, 0, 0, 0, 0, quota.Zone))
	g := e.replica("alerts", 10, nil)
	e.warns.failNext(1000)
	meter(g, 9)
	for range 2 * quota.WarnAttempts {
		require.NoError(t, g.Flush(ctx))
		e.clock.Advance(quota.WarnRetry)
	}
	assert.Equal(t, quota.WarnAttempts, e.warns.tried())
	e.clock.Advance(30 * 24 * time.Hour) // February
	meter(g, 9)
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, quota.WarnAttempts+1, e.warns.tried())
}

// TestRefusalIsShared: DingTalk's quota refusal met by one replica marks the
// month's shared counter at the next flush, and every replica that flushes
// after it stops its optional calls too, limit or none; the count stays
// right, and the next month is clear.
func TestRefusalIsShared(t *testing.T) {
	for _, limit := range []int64{0, 1000} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			ctx := t.Context()
			e := newEnv(t, jan31.Add(-time.Hour))
			a, b := e.replica("alerts", limit, nil), e.replica("alerts", limit, nil)
			other := e.replica("deploys", limit, nil)
			meter(a, 3)
			meter(b, 4)
			require.NoError(t, a.Flush(ctx))
			require.NoError(t, b.Flush(ctx))
			a.Refused()
			assert.False(t, b.Exhausted())
			meter(a, 1)
			require.NoError(t, a.Flush(ctx))
			assert.Equal(t, "8 refused", e.shared("alerts", "2026-01"))
			require.NoError(t, b.Flush(ctx))
			assert.True(t, b.Exhausted(), "b learned of a's refusal")
			assert.Equal(t, int64(8), b.Used())
			meter(b, 2)
			require.NoError(t, b.Flush(ctx))
			assert.Equal(t, "10 refused", e.shared("alerts", "2026-01"), "counting goes on, marked")
			require.NoError(t, other.Flush(ctx))
			assert.False(t, other.Exhausted(), "another bot's count is its own")

			// A restarted replica learns it at its first flush.
			c := e.replica("alerts", limit, nil)
			require.NoError(t, c.Flush(ctx))
			assert.True(t, c.Exhausted())

			e.clock.Advance(2 * time.Hour) // February
			require.NoError(t, b.Flush(ctx))
			assert.False(t, b.Exhausted(), "a new month")
		})
	}
}

// TestWarningWaitsOutAnIPBan: a warning the IP ban held back is tried again
// when the ban ends, not a minute later, and such tries do not count toward
// WarnAttempts.
func TestWarningWaitsOutAnIPBan(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, time.Date(2026, 1, 10, 0, 0, 0, 0, quota.Zone))
	g := e.replica("alerts", 10, nil)
	e.warns.mu.Lock()
	e.warns.failWith = func() error {
		ban := &dingtalk.APIError{Code: dingtalk.CodeBanPage, Err: dingtalk.ErrBanned, Until: e.clock.Now().Add(dingtalk.BanBackoff)}
		return errors.Join(fmt.Errorf("warn staff-a: %w", ban), fmt.Errorf("warn staff-b: %w", ban))
	}
	e.warns.mu.Unlock()
	bans := 2 * quota.WarnAttempts
	e.warns.failNext(bans)
	meter(g, 8)
	for i := 1; i <= bans; i++ {
		require.NoError(t, g.Flush(ctx))
		require.Equal(t, i, e.warns.tried())
		e.clock.Advance(dingtalk.BanBackoff - time.Second)
		require.NoError(t, g.Flush(ctx))
		require.Equal(t, i, e.warns.tried(), "not while the ban lasts")
		e.clock.Advance(time.Second)
	}
	require.NoError(t, g.Flush(ctx))
	assert.Equal(t, []string{"alerts 8/10"}, e.warns.list(), "given once the bans ended, past WarnAttempts tries")
}

// hooked is States that runs onPut (once) inside the next PutStateIfAbsent.
type hooked struct {
	store.States
	onPut func()
}

func (h *hooked) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	if f := h.onPut; f != nil {
		h.onPut = nil
		f()
	}
	return h.States.PutStateIfAbsent(ctx, key, value, ttl)
}

// TestRefusalOfANewMonthStays: a flush that began in January and marks
// January's refusal must not, ending after midnight, undo a refusal met
// in February meanwhile.
func TestRefusalOfANewMonthStays(t *testing.T) {
	e := newEnv(t, jan31)
	st := &hooked{States: e.states}
	var g *quota.Governor
	g = quota.New(quota.Config{Bot: "alerts", States: st, Now: e.clock.Now, Log: nullLog()})
	g.Refused() // in January
	st.onPut = func() {
		e.clock.Advance(2 * time.Minute) // February
		g.Refused()
	}
	require.NoError(t, g.Flush(t.Context()))
	assert.True(t, g.Exhausted(), "February's refusal stands")
}
