package bot_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// send sends text to chat through the bot's API path.
func (h *harness) send(chat, text string) (store.Message, error) {
	return h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: chat, Message: dingtalk.Text(text)})
}

// The duplicate guard refuses the same content to the same chat within
// DUPLICATE_WINDOW, naming the first message, unless that one was recalled
// meanwhile.
func TestDuplicateGuard(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.DuplicateWindow = 30 * time.Second })
	first, err := h.send(ops, "deploy started")
	require.NoError(t, err)
	_, err = h.send(ops, "deploy started")
	var dup *bot.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, first.Key, dup.Key)
	assert.Contains(t, err.Error(), first.Key)
	_, err = h.send(deploys, "deploy started")
	require.NoError(t, err, "another chat")
	_, err = h.send(ops, "deploy finished")
	require.NoError(t, err, "other content")

	_, err = h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Keys: []string{first.Key}}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	again, err := h.send(ops, "deploy started")
	require.NoError(t, err, "the first was recalled: no duplicate")
	_, err = h.send(ops, "deploy started")
	require.ErrorAs(t, err, &dup, "but only once")
	assert.Equal(t, again.Key, dup.Key)

	h.clock.Advance(30 * time.Second)
	_, err = h.send(ops, "deploy started")
	require.NoError(t, err, "after the window")

	h.fake.FailCallWith(dingtalk.PathGroupSend, 1, 400, "bot.stopped", "robot disabled")
	_, err = h.send(ops, "rollback")
	require.ErrorIs(t, err, bot.ErrDingTalk)
	_, err = h.send(ops, "rollback")
	require.NoError(t, err, "a send that failed does not block its retry")

	h.store.down.Store(true)
	_, err = h.send(ops, "anything")
	require.ErrorIs(t, err, errDown)
	assert.Contains(t, err.Error(), "duplicate guard")
}

// The burst guard refuses API sends to a chat beyond BURST_LIMIT a minute,
// posts one notice there, and lets sends through again when the oldest
// counted one ages out.
func TestBurstGuard(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.BurstLimit = 3 })
	for i := range 3 {
		_, err := h.send(ops, string(rune('a'+i)))
		require.NoError(t, err)
		h.clock.Advance(10 * time.Second)
	}
	sent := len(h.fake.Sent())
	_, err := h.send(ops, "d")
	var burst *bot.BurstError
	require.ErrorAs(t, err, &burst)
	assert.Equal(t, 3, burst.Limit)
	assert.Equal(t, 30*time.Second, burst.RetryAfter)
	assert.Contains(t, err.Error(), "more than 3 messages")
	notices := h.fake.Sent()[sent:]
	require.Len(t, notices, 1, "one notice")
	assert.Contains(t, content(t, notices[0].MsgParam), "I am pausing messages sent here through my API: more than 3 in one minute")
	notice, err := h.store.Get(h.ctx, notices[0].Key)
	require.NoError(t, err)
	assert.True(t, notice.Reply, "the notice is recalled like a reply")
	assert.Equal(t, h.cfg.ReplyTTL, notice.ExpiresAt.Sub(notice.SentAt))

	_, err = h.send(ops, "e")
	require.ErrorAs(t, err, &burst)
	assert.Len(t, h.fake.Sent(), sent+1, "no second notice")
	_, err = h.send(deploys, "x")
	require.NoError(t, err, "other chats are not paused")

	h.clock.Advance(30 * time.Second)
	_, err = h.send(ops, "f")
	require.NoError(t, err, "the oldest send aged out")

	h.store.down.Store(true)
	_, err = h.send(ops, "g")
	assert.Contains(t, err.Error(), "burst guard")
}

// With BURST_AUTO_RECALL, messages beyond the limit that got through anyway
// (sends racing each other's check) are recalled, the newest first.
func TestBurstGuardRecallsWhatGotThrough(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.BurstLimit, c.BurstAutoRecall = 2, true })
	first, err := h.send(ops, "a")
	require.NoError(t, err)
	var racer store.Message
	h.store.afterEvents = func() { // another send passes its check before ours counts
		racer, err = h.send(ops, "b")
		require.NoError(t, err)
	}
	late, err := h.send(ops, "c")
	require.NoError(t, err)
	assert.Equal(t, []string{late.Key}, h.fake.Recalled(), "the newest beyond the limit")
	assert.False(t, h.recalled(first.Key))
	assert.False(t, h.recalled(racer.Key))
	sent := h.fake.Sent()
	assert.Contains(t, content(t, sent[len(sent)-1].MsgParam), "Messages beyond the limit are being recalled.")
	entries, err := h.bot.AuditLog(h.ctx, ops, 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, store.SourceGuard, entries[0].Source)
}
