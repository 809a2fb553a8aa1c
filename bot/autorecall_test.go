package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/store"
)

func TestAutoRecallRecallsWhatIsDue(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 3, func(o *bot.Outgoing) { o.TTL = 10 * time.Second })
	kept := h.post(ops, 1)[0]

	assert.Zero(t, bot.RecallDue(h.ctx, h.bot), "nothing is due yet")
	h.clock.Advance(7 * time.Second) // sent at 0s, 1s, 2s: at 11s two are due, the third in a second
	assert.Equal(t, 2, bot.RecallDue(h.ctx, h.bot))
	h.clock.Advance(time.Second)
	assert.Equal(t, 1, bot.RecallDue(h.ctx, h.bot))
	for _, m := range msgs {
		assert.True(t, h.recalled(m.Key))
	}
	assert.False(t, h.recalled(kept.Key), "a message without ttl stays")
	entries, err := h.bot.AuditLog(h.ctx, ops, 0)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	assert.Equal(t, store.SourceTTL, entries[0].Source)
}

func TestAutoRecallRetriesQuietly(t *testing.T) {
	h := newHarness(t)
	stuck := h.post(ops, 1, func(o *bot.Outgoing) { o.TTL = time.Minute })[0]
	h.fake.FailKey(stuck.Key, "message not found")
	h.clock.Advance(time.Minute)

	assert.Zero(t, bot.RecallDue(h.ctx, h.bot))
	assert.Zero(t, bot.RecallDue(h.ctx, h.bot), "a failed key waits out its pause")
	attempts := h.fake.RecallAttempts(stuck.Key)
	for range 5 { // later passes, after each backoff
		h.clock.Advance(2 * time.Hour / 10)
		bot.RecallDue(h.ctx, h.bot)
	}
	entries, err := h.bot.AuditLog(h.ctx, ops, 0)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the first failure is audited, the failing retries are not")
	assert.Greater(t, h.fake.RecallAttempts(stuck.Key), attempts, "it was retried")

	h.fake.ClearKeyFailure(stuck.Key)
	h.clock.Advance(2 * time.Hour)
	assert.Equal(t, 1, bot.RecallDue(h.ctx, h.bot))
	entries, err = h.bot.AuditLog(h.ctx, ops, 0)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "a retry that recalls is audited")
}

func TestAutoRecallWithTheStoreDownRecallsNothing(t *testing.T) {
	h := newHarness(t)
	m := h.post(ops, 1, func(o *bot.Outgoing) { o.TTL = time.Second })[0]
	h.clock.Advance(time.Minute)
	h.store.down.Store(true)
	assert.Zero(t, bot.RecallDue(h.ctx, h.bot))
	h.store.down.Store(false)
	assert.Equal(t, 1, bot.RecallDue(h.ctx, h.bot))
	assert.True(t, h.recalled(m.Key))
}

// RunAutoRecall runs passes on its own until its context ends, and then
// returns.
func TestRunAutoRecall(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.AutoRecallEvery = time.Millisecond })
	m := h.post(ops, 1, func(o *bot.Outgoing) { o.TTL = time.Second })[0]
	h.clock.Advance(time.Minute)
	recalls := make(chan [2]int, 1)
	h.obs.mu.Lock()
	h.obs.recalls = recalls
	h.obs.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.bot.RunAutoRecall(ctx) }()
	assert.Equal(t, [2]int{1, 0}, <-recalls, "a pass recalled the due message")
	cancel()
	<-done
	assert.True(t, h.recalled(m.Key))
}

func TestRecallOfKeysHeldElsewhereLeavesTheirClaim(t *testing.T) {
	h := newHarness(t)
	m := h.post(ops, 1)[0]

	held, err := h.store.Claim(h.ctx, []string{m.Key}) // another recall is under way
	require.NoError(t, err)
	require.Len(t, held, 1)
	out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Keys: []string{m.Key}}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.Equal(t, bot.CodeNotTracked, out.Failed[m.Key].Code)

	again, err := h.store.Claim(h.ctx, []string{m.Key})
	require.NoError(t, err)
	assert.Empty(t, again, "the other recall still holds its claim")
	got, err := h.bot.List(h.ctx, ops, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Empty(t, got[0].Failure, "and no failure was written over it")
	assert.Zero(t, h.fake.RecallAttempts(m.Key))
}

// deferringLedger is a ledger that keeps the retry schedule itself, as the
// Redis ledger does: it records what it is asked.
type deferringLedger struct {
	store.Ledger
	deferred [][]string
	limits   []int
}

func (d *deferringLedger) DeferDue(_ context.Context, keys []string, base, max time.Duration) (map[string]time.Time, error) {
	if base != 2*time.Second || max != time.Hour {
		return nil, store.ErrInvalid
	}
	d.deferred = append(d.deferred, keys)
	return map[string]time.Time{}, nil
}

func (d *deferringLedger) Due(ctx context.Context, now time.Time, limit int) ([]store.Message, error) {
	d.limits = append(d.limits, limit)
	return d.Ledger.Due(ctx, now, limit)
}

// With a ledger that keeps the retry schedule (shared by replicas, kept
// across restarts), a failed auto-recall is deferred there, and a pass reads
// one page of due messages rather than all of them.
func TestAutoRecallDefersFailuresInASharedLedger(t *testing.T) {
	var d *deferringLedger
	h := newHarness(t, func(deps *bot.Deps, _ *bot.Config) {
		d = &deferringLedger{Ledger: deps.Ledger}
		deps.Ledger = d
	})
	stuck := h.post(ops, 1, func(o *bot.Outgoing) { o.TTL = time.Minute })[0]
	h.fake.FailKey(stuck.Key, "message not found")
	h.clock.Advance(time.Minute)
	assert.Zero(t, bot.RecallDue(h.ctx, h.bot))
	assert.Equal(t, [][]string{{stuck.Key}}, d.deferred)
	require.NotEmpty(t, d.limits)
	for _, l := range d.limits {
		assert.Positive(t, l, "a page, never every due message")
	}
}
