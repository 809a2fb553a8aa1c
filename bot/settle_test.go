package bot_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// leaveReservation makes a send whose outcome DingTalk leaves unknown, so
// that its reservation stays behind, and returns it.
func (h *harness) leaveReservation(chat, text string) store.Reservation {
	h.t.Helper()
	h.fake.FailCallWith(dingtalk.PathGroupSend, 1, 500, dingtalk.CodeSystemError, "unknown system error")
	_, err := h.send(chat, text)
	require.ErrorIs(h.t, err, bot.ErrOutcomeUnknown)
	rs := h.pending()
	require.NotEmpty(h.t, rs)
	return rs[len(rs)-1]
}

// A reservation left behind is settled once it is two leases old: it is
// reported (an error line with the chat and a preview, the metric, an audit
// entry with result unknown) and dropped, never silently.
func TestSettlementReportsLeftovers(t *testing.T) {
	h := newHarness(t)
	r := h.leaveReservation(ops, "deploy v1.2.3 started\nsecond line")
	h.clock.Advance(2 * store.DefaultLease)
	assert.Zero(t, bot.Settle(h.ctx, h.bot), "a send may still be under way")
	assert.Equal(t, 1, h.obs.pendingReservations())

	h.clock.Advance(time.Second)
	h.logs.Reset()
	assert.Equal(t, 1, bot.Settle(h.ctx, h.bot))
	assert.Equal(t, 1, h.obs.unsettled())
	assert.Empty(t, h.pending(), "dropped")

	var line *logrus.Entry
	for _, e := range h.logs.AllEntries() {
		if e.Level == logrus.ErrorLevel && e.Data["reservation"] == r.ID {
			line = e
		}
	}
	require.NotNil(t, line, "an error line names the reservation")
	assert.Equal(t, ops, line.Data["chat"])
	assert.Equal(t, "deploy v1.2.3 started", line.Data["preview"])
	assert.NotContains(t, line.Message+line.Data["preview"].(string), "second line", "a preview, not the content")

	entries, err := h.bot.AuditLog(h.ctx, ops, 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	e := entries[0]
	assert.Equal(t, bot.ActionSend, e.Action)
	assert.Equal(t, bot.SourceSettlement, e.Source)
	require.Len(t, e.Items, 1)
	assert.Equal(t, bot.ResultUnknown, e.Items[0].Result)
	assert.Equal(t, bot.CodeOutcomeUnknown, e.Items[0].Code)
	assert.Equal(t, r.MsgParam, e.Items[0].MsgParam)

	assert.Zero(t, bot.Settle(h.ctx, h.bot), "settled once")
	assert.Equal(t, 1, h.obs.unsettled())
	assert.Zero(t, h.obs.pendingReservations())
}

// Of settlement passes running at once (replicas), exactly one reports each
// reservation.
func TestSettlementOnceAcrossReplicas(t *testing.T) {
	h := newHarness(t)
	for i := range 5 {
		h.leaveReservation(ops, string(rune('a'+i)))
	}
	h.clock.Advance(3 * store.DefaultLease)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Go(func() {
			n := bot.Settle(h.ctx, h.bot)
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, 5, total)
	assert.Equal(t, 5, h.obs.unsettled())
	entries, err := h.bot.AuditLog(h.ctx, ops, 0)
	require.NoError(t, err)
	assert.Len(t, entries, 5)
}

// A reservation whose audit entry cannot be written is kept, and reported
// again once its settlement lease has passed.
func TestSettlementKeepsWhatItCouldNotAudit(t *testing.T) {
	h := newHarness(t)
	h.leaveReservation(ops, "x")
	h.clock.Advance(3 * store.DefaultLease)
	h.store.down.Store(true)
	assert.Zero(t, bot.Settle(h.ctx, h.bot), "the store is down")
	h.store.down.Store(false)

	audit := &failingAudit{Audit: h.audit, down: true}
	h2 := h.rebuild(func(d *bot.Deps, _ *bot.Config) { d.Audit = audit })
	assert.Zero(t, bot.Settle(h.ctx, h2), "not audited: not settled")
	assert.Zero(t, bot.Settle(h.ctx, h2), "held by the failed settlement for a lease")

	audit.down = false
	h.clock.Advance(store.DefaultLease)
	assert.Len(t, h.pending(), 1, "kept, and pending again")
	assert.Equal(t, 1, bot.Settle(h.ctx, h2), "reported again")
	assert.Empty(t, h.pending())
}

// failingAudit fails AddAudit while down.
type failingAudit struct {
	store.Audit
	down bool
}

func (a *failingAudit) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if !a.down {
		return a.Audit.AddAudit(ctx, e)
	}
	return errDown
}

// rebuild builds a second bot on the harness's store, fake and clock (a
// replica), changed by opts.
func (h *harness) rebuild(opts ...option) *bot.Bot {
	h.t.Helper()
	deps := bot.Deps{
		DingTalk: h.dingtalk(), Ledger: h.store, Deduper: h.store.dedupWrapper(), Audit: h.audit, States: h.store.statesWrapper(),
		Templates: h.templates(), Log: quiet(), Observer: h.obs, Now: h.clock.Now,
	}
	cfg := h.cfg
	for _, o := range opts {
		o(&deps, &cfg)
	}
	b, err := bot.New(deps, cfg)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

// quiet is a logger that logs nowhere.
func quiet() logrus.FieldLogger {
	log, _ := test.NewNullLogger()
	return log
}

// RunSettler settles at once, then every lease, until its context ends.
func TestRunSettlerSettlesAtStart(t *testing.T) {
	h := newHarness(t)
	h.leaveReservation(ops, "x")
	h.clock.Advance(3 * store.DefaultLease)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.bot.RunSettler(ctx) }()
	require.Eventually(t, func() bool { return h.obs.unsettled() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	<-done
}
