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

// "restore" re-sends, in their original order, what the chat's last recall
// took, once, within RESTORE_WINDOW; the re-sent messages are tracked, with
// their ttl and tag.
func TestRestore(t *testing.T) {
	h := newHarness(t)
	assert.Contains(t, h.say(inGroup(admin, "restore")), "There is no recall to restore here.")
	msgs := h.post(ops, 3, func(o *bot.Outgoing) { o.Tag, o.TTL = "deploy", time.Hour })
	h.say(inGroup(admin, "recall 2"))
	sentBefore := len(h.fake.Sent())

	reply := h.say(inGroup(user, "restore"))
	assert.Contains(t, reply, "Sent back 2 of 2 messages, in their original order.")
	assert.Equal(t, "restore/ok", h.obs.last())
	sent := h.fake.Sent()[sentBefore:]
	require.Len(t, sent, 3, "two re-sent and the reply")
	assert.Equal(t, `{"content":"alert 2"}`, sent[0].MsgParam)
	assert.Equal(t, `{"content":"alert 3"}`, sent[1].MsgParam)
	for _, s := range sent[:2] {
		m, err := h.store.Get(h.ctx, s.Key)
		require.NoError(t, err, "a re-sent message is tracked")
		assert.Equal(t, "deploy", m.Tag)
		assert.Equal(t, time.Hour, m.ExpiresAt.Sub(m.SentAt), "and cleans itself up again")
	}
	assert.Contains(t, h.say(inGroup(user, "restore")), "There is no recall to restore here.", "a recall is restored once")

	entries, err := h.bot.AuditLog(h.ctx, ops, 1)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, store.ActionRestore, entries[0].Action)
	require.Len(t, entries[0].Items, 2)
	assert.Equal(t, msgs[1].Key, entries[0].Items[0].Key)
	assert.Equal(t, store.ResultResent, entries[0].Items[0].Result)
	assert.Equal(t, sent[0].Key, entries[0].Items[0].NewKey)
}

func TestRestoreRefusalsAndLimits(t *testing.T) {
	tests := []struct {
		name   string
		ev     event
		wait   time.Duration
		want   string
		metric string
	}{
		{"stranger", inGroup(stranger, "restore"), 0, "Sorry Nick staff-guest, you are not allowed to restore recalled messages here.", "restore/refused"},
		{"too late", inGroup(admin, "restore"), 11 * time.Minute, "The last recall here is more than 10m old; I restore only within 10m.", "restore/ok"},
		{"in another chat", oneToOne(admin, "restore in ops-alerts"), 0, "Sent back 1 of 1 message in ops-alerts.", "restore/ok"},
		{"in another chat by a user", oneToOne(user, "restore in ops-alerts"), 0, "only recall admins may do that", "restore/refused"},
		{"in another chat from a group", inGroup(admin, "restore in deploys"), 0, `"restore in <chat>" works from a one-to-one chat with me. Here, just say "restore".`, "restore/invalid"},
		{"in without a chat", oneToOne(admin, "restore in"), 0, `Which chat? Say "restore in <chat>"`, "restore/invalid"},
		{"with a count", inGroup(admin, "restore 3"), 0, `I didn't understand "restore 3". Did you mean "restore"?`, "unknown/invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.post(ops, 2)
			h.say(inGroup(admin, "recall 1"))
			h.clock.Advance(tt.wait)
			assert.Contains(t, h.say(tt.ev), tt.want)
			assert.Equal(t, tt.metric, h.obs.last())
		})
	}
}

// A message DingTalk does not take back is listed with the reason.
func TestRestoreThatCannotSend(t *testing.T) {
	h := newHarness(t)
	h.post(ops, 2)
	h.say(inGroup(admin, "recall 2"))
	h.fake.FailCallWith(dingtalk.PathGroupSend, 1, 400, "bot.stopped", "robot disabled")
	reply := h.say(inGroup(admin, "restore"))
	assert.Contains(t, reply, "Sent back 1 of 2 messages")
	assert.Contains(t, reply, "Could not send:\n• \"alert 1\": this bot is disabled in DingTalk")
	entries, err := h.bot.AuditLog(h.ctx, ops, 1)
	require.NoError(t, err)
	assert.Equal(t, store.ResultNotSent, entries[0].Items[0].Result)
	assert.Equal(t, "bot.stopped", entries[0].Items[0].Code, "the audit keeps the code as data")
	assert.Equal(t, "robot disabled", entries[0].Items[0].Reason)
}
