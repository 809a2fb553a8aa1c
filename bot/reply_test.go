package bot_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/store"
)

// A reply that reports failures is not recalled after REPLY_TTL with the
// others: it stays until a "recall retry" recalls everything, and then
// goes REPLY_TTL later with the reply that resolved it.
func TestFailureReportStaysUntilRetrySucceeds(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 3)
	h.fake.FailKey(msgs[1].Key, "bot.stopped: robot disabled")
	assert.Contains(t, h.say(inGroup(admin, "recall 3")), "Could not recall")
	report := h.replyKey
	h.say(inGroup(admin, "help"))
	help := h.replyKey

	h.clock.Advance(h.cfg.ReplyTTL)
	bot.RecallDue(h.ctx, h.bot)
	assert.True(t, h.recalled(help), "a plain reply goes after REPLY_TTL")
	assert.False(t, h.recalled(report), "a failure report stays")
	m, err := h.store.Get(h.ctx, report)
	require.NoError(t, err)
	assert.Equal(t, 24*time.Hour-time.Minute, m.ExpiresAt.Sub(m.SentAt), "for about LEDGER_TTL")

	assert.Contains(t, h.say(inGroup(admin, "recall retry")), "Still failing")
	stillFailing := h.replyKey
	h.clock.Advance(time.Hour)
	bot.RecallDue(h.ctx, h.bot)
	assert.False(t, h.recalled(report))
	assert.False(t, h.recalled(stillFailing), "a retry that still fails reports failures too")

	h.fake.ClearKeyFailure(msgs[1].Key)
	assert.Contains(t, h.say(inGroup(admin, "recall retry")), "recalled 1")
	resolved := h.replyKey
	h.clock.Advance(h.cfg.ReplyTTL - time.Second)
	bot.RecallDue(h.ctx, h.bot)
	assert.False(t, h.recalled(report), "the reports stay as long as the reply that resolved them")
	h.clock.Advance(time.Second)
	bot.RecallDue(h.ctx, h.bot)
	for _, k := range []string{report, stillFailing, resolved} {
		assert.True(t, h.recalled(k))
	}
}

// A restore in the chat resolves its failure reports too; a report about
// another chat (a recall admin's "in <chat>") is resolved by what happens
// in that chat.
func TestFailureReportResolvedByRestore(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.store.SetTitle(h.ctx, ops, store.KindGroup, "ops-alerts"))
	msgs := h.post(ops, 3)
	h.fake.FailKey(msgs[0].Key, "system.error: busy")
	assert.Contains(t, h.say(oneToOne(admin, "recall 3 in ops-alerts")), "Could not recall")
	report := h.replyKey
	h.clock.Advance(2 * h.cfg.ReplyTTL)
	bot.RecallDue(h.ctx, h.bot)
	require.False(t, h.recalled(report))

	assert.Contains(t, h.say(inGroup(admin, "restore")), "Sent back")
	h.clock.Advance(h.cfg.ReplyTTL)
	bot.RecallDue(h.ctx, h.bot)
	assert.True(t, h.recalled(report))
}

// Unresolved, a failure report goes a little before LEDGER_TTL (so that the
// ledger still knows it), and within RECALL_MAX_AGE.
func TestFailureReportGoesBeforeTheLedgerForgetsIt(t *testing.T) {
	for _, tt := range []struct {
		name     string
		ledger   time.Duration
		maxAge   time.Duration
		lifetime time.Duration
	}{
		{"ledger ttl", 2 * time.Hour, 0, 2*time.Hour - time.Minute},
		{"short ledger ttl", 5 * time.Minute, 0, 5*time.Minute - 30*time.Second},
		{"max age", 48 * time.Hour, 12 * time.Hour, 12*time.Hour - time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.LedgerTTL, c.MaxAge = tt.ledger, tt.maxAge })
			msgs := h.post(ops, 1)
			h.fake.FailKey(msgs[0].Key, "system.error: busy")
			h.say(inGroup(admin, "recall"))
			report := h.replyKey
			h.clock.Advance(tt.lifetime - time.Second)
			bot.RecallDue(h.ctx, h.bot)
			assert.False(t, h.recalled(report))
			h.clock.Advance(time.Second)
			bot.RecallDue(h.ctx, h.bot)
			assert.True(t, h.recalled(report))
		})
	}
}

// With REPLY_TTL 0 every reply stays, failure reports too, and resolving
// them changes nothing.
func TestFailureReportsWithoutReplyTTL(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.ReplyTTL = 0 })
	msgs := h.post(ops, 1)
	h.fake.FailKey(msgs[0].Key, "system.error: busy")
	h.say(inGroup(admin, "recall"))
	report := h.replyKey
	h.fake.ClearKeyFailure(msgs[0].Key)
	h.say(inGroup(admin, "recall retry"))
	h.clock.Advance(23 * time.Hour)
	bot.RecallDue(h.ctx, h.bot)
	m, err := h.store.Get(h.ctx, report)
	require.NoError(t, err)
	assert.True(t, m.ExpiresAt.IsZero())
	assert.False(t, h.recalled(report))
}

// A failure report that could not be remembered (the store went down
// between the recall and the reply) still goes, after its TTL.
func TestFailureReportWhileTheStoreIsDown(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 1)
	h.fake.FailKey(msgs[0].Key, "system.error: busy")
	h.say(inGroup(admin, "recall"))
	h.store.down.Store(true)
	h.fake.ClearKeyFailure(msgs[0].Key)
	h.sayDown(inGroup(admin, "recall retry"))
	h.store.down.Store(false)
	assert.Contains(t, h.say(inGroup(admin, "recall retry")), "recalled 1")
	h.clock.Advance(h.cfg.ReplyTTL)
	bot.RecallDue(h.ctx, h.bot)
	msgsLeft, err := h.bot.List(h.ctx, ops, 0)
	require.NoError(t, err)
	assert.Empty(t, msgsLeft, "every reply, the report included, has gone")
}
