package bot_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// withAck builds the bot with the acknowledgement style ack.
func withAck(ack bot.AckStyle) option {
	return func(_ *bot.Deps, c *bot.Config) { c.Ack = ack }
}

// act runs ev's command and returns the texts of the replies it sent (none
// when the reactions said it all) and the reactions shown on ev's message.
func (h *harness) act(ev event) (replies []string, shown []string) {
	h.t.Helper()
	h.nextID++
	ev.MsgID = fmt.Sprintf("msg-%d", h.nextID)
	before := len(h.fake.Sent())
	bot.HandleEvent(h.ctx, h.bot, ev)
	for _, m := range h.fake.Sent()[before:] {
		replies = append(replies, content(h.t, m.MsgParam))
	}
	return replies, h.fake.ReactionsShown(ev.MsgID)
}

// reactionTexts are the texts of the reactions put on msgID, in order,
// recalled ones marked with a leading "-".
func reactionTexts(fake *dingtalktest.Server, msgID string) []string {
	var out []string
	for _, r := range fake.Reactions(msgID) {
		if r.Recalled {
			out = append(out, "-"+r.Text)
		} else {
			out = append(out, r.Text)
		}
	}
	return out
}

var (
	working = dingtalk.EmotionWorking.Text
	done    = dingtalk.EmotionDone.Text
	failedE = dingtalk.EmotionFailed.Text
)

// TestAckWithReactions: with ACK_STYLE reaction, a command gets the
// working reaction, replaced by done or failed; a reply is sent only when
// there is something to read.
func TestAckWithReactions(t *testing.T) {
	tests := []struct {
		name    string
		ev      func(h *harness) event
		reply   string // part of the one reply sent, "" for none
		shown   string
		metric  string
		recalls int
	}{
		{"a recall that took all it was asked", func(*harness) event { return inGroup(user, "recall 2") }, "", done, "recall/ok", 2},
		{"a quote recall", func(h *harness) event {
			msgs, _ := h.bot.List(h.ctx, ops, 0)
			return quoting(inGroup(user, "recall"), h.quoteOf(msgs[1]))
		}, "", done, "recall_quote/ok", 1},
		{"more asked than there were", func(*harness) event { return inGroup(user, "recall 9") }, "You asked for 9, but I only had 3", done, "recall/ok", 3},
		{"a preview", func(*harness) event { return inGroup(user, "recall preview 2") }, `"recall 2" would take 2 messages`, done, "recall_preview/ok", 0},
		{"help", func(*harness) event { return inGroup(stranger, "help") }, "I can take back what I posted here", done, "help/ok", 0},
		{"a refusal", func(*harness) event { return inGroup(stranger, "recall") }, "not allowed", failedE, "recall/refused", 0},
		{"bad input", func(*harness) event { return inGroup(user, "recall three") }, "is not a number", failedE, "recall/invalid", 0},
		{"nothing to recall", func(*harness) event { return inGroup(user, "recall tag none") }, "nothing of mine to recall", failedE, "recall_tag/ok", 0},
		{"a quote of a person's message", func(h *harness) event {
			msgs, _ := h.bot.List(h.ctx, ops, 0)
			q := h.quoteOf(msgs[0])
			q.SenderID = "someone"
			return quoting(inGroup(user, "recall"), q)
		}, "is not mine", failedE, "recall_quote/invalid", 0},
		{"a list to choose from", func(h *harness) event {
			msgs, _ := h.bot.List(h.ctx, ops, 0)
			q := h.quoteOf(msgs[1])
			q.Texts = nil
			return quoting(inGroup(user, "recall"), q)
		}, "of my messages here were sent within 3s", done, "recall_quote/ok", 0},
		{"nothing to restore", func(*harness) event { return inGroup(user, "restore") }, "no recall to restore", failedE, "restore/ok", 0},
		// With the store down a reply cannot be tracked, so none is posted
		// (issue 12): the failed reaction alone answers.
		{"the store down", func(h *harness) event { h.store.down.Store(true); return inGroup(user, "recall") }, "", failedE, "recall/unavailable", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withAck(bot.AckReaction))
			h.post(ops, 3)
			ev := tt.ev(h)
			replies, shown := h.act(ev)
			if tt.reply == "" {
				assert.Empty(t, replies)
			} else {
				require.Len(t, replies, 1)
				assert.Contains(t, replies[0], tt.reply)
			}
			assert.Equal(t, []string{tt.shown}, shown)
			assert.Equal(t, []string{"-" + working, tt.shown}, reactionTexts(h.fake, fmt.Sprintf("msg-%d", h.nextID)))
			assert.Equal(t, tt.metric, h.obs.last())
			assert.Len(t, h.fake.Recalled(), tt.recalls)
		})
	}
}

// TestAckWorkingThenDone follows one command's reactions: working while the
// recall runs, done after it.
func TestAckWorkingThenDone(t *testing.T) {
	h := newHarness(t, withAck(bot.AckReaction))
	msgs := h.post(ops, 2)
	var during []string
	ev := inGroup(user, "recall")
	ev.MsgID = "msg-watched"
	bot.HandleEvent(h.ctx, h.bot, ev)
	// The working reaction went on before the recall call, and came off
	// for the done one after it.
	for _, c := range h.fake.Calls() {
		during = append(during, c.Path)
	}
	assert.Equal(t, []string{
		dingtalk.PathAccessToken, dingtalk.PathGroupSend, dingtalk.PathGroupSend, // the two alerts
		dingtalk.PathEmotionReply, dingtalk.PathGroupRecall, dingtalk.PathEmotionRecall, dingtalk.PathEmotionReply,
	}, during)
	assert.Equal(t, []string{"-" + working, done}, reactionTexts(h.fake, "msg-watched"))
	assert.True(t, h.recalled(msgs[1].Key))
}

// TestAckRefused: when DingTalk refuses a reaction, the command is answered
// with its reply.
func TestAckRefused(t *testing.T) {
	t.Run("the working reaction", func(t *testing.T) {
		h := newHarness(t, withAck(bot.AckReaction))
		h.post(ops, 2)
		h.fake.RefuseEmotion(working, http.StatusInternalServerError, dingtalk.CodeSystemError, "unknown error")
		replies, shown := h.act(inGroup(user, "recall"))
		require.Len(t, replies, 1)
		assert.Contains(t, replies[0], "Recalled 1 message.")
		assert.Empty(t, shown)
		assert.Equal(t, 1, h.fake.CallCount(dingtalk.PathEmotionReply), "no done reaction after a refused working one")
		assert.Zero(t, h.fake.CallCount(dingtalk.PathEmotionRecall))
	})
	t.Run("the done reaction", func(t *testing.T) {
		h := newHarness(t, withAck(bot.AckReaction))
		h.post(ops, 2)
		h.fake.RefuseEmotion(done, http.StatusInternalServerError, dingtalk.CodeSystemError, "unknown error")
		replies, shown := h.act(inGroup(user, "recall"))
		require.Len(t, replies, 1)
		assert.Contains(t, replies[0], "Recalled 1 message.")
		assert.Empty(t, shown, "the working reaction is taken off all the same")
	})
	t.Run("the failed reaction", func(t *testing.T) {
		h := newHarness(t, withAck(bot.AckReaction))
		h.fake.RefuseEmotion(failedE, http.StatusBadRequest, dingtalk.CodeInvalidParam, "no")
		replies, _ := h.act(inGroup(stranger, "recall"))
		require.Len(t, replies, 1, "a refusal is sent once")
		assert.Contains(t, replies[0], "not allowed")
	})
	t.Run("the quota governor stopped it", func(t *testing.T) {
		h := newHarnessWith(t, nil, []dingtalk.Option{dingtalk.WithMeter(&spentMeter{})}, withAck(bot.AckReaction))
		h.post(ops, 2)
		replies, shown := h.act(inGroup(user, "recall"))
		require.Len(t, replies, 1)
		assert.Contains(t, replies[0], "Recalled 1 message.")
		assert.Empty(t, shown)
		assert.Zero(t, h.fake.CallCount(dingtalk.PathEmotionReply), "DingTalk was never asked")
		require.Len(t, logsWith(h, "no "+working+" reaction: the monthly API quota is spent; answering with a reply instead"), 1)
		for _, e := range h.logs.AllEntries() {
			assert.NotContains(t, e.Message, "DingTalk refused", "DingTalk refused nothing")
		}
	})
	t.Run("taking the working reaction off", func(t *testing.T) {
		h := newHarness(t, withAck(bot.AckReaction))
		h.post(ops, 2)
		h.fake.FailCallWith(dingtalk.PathEmotionRecall, 1, http.StatusInternalServerError, dingtalk.CodeSystemError, "boom")
		replies, shown := h.act(inGroup(user, "recall"))
		assert.Empty(t, replies, "the done reaction went on")
		assert.Equal(t, []string{working, done}, shown)
	})
}

// TestAckStyles: reply keeps today's behaviour (a reply, no reaction);
// both puts the reactions and sends every reply.
func TestAckStyles(t *testing.T) {
	for _, tt := range []struct {
		ack       bot.AckStyle
		reactions []string
	}{
		{"", nil},
		{bot.AckReply, nil},
		{bot.AckBoth, []string{"-" + working, done}},
	} {
		t.Run(string(tt.ack), func(t *testing.T) {
			h := newHarness(t, withAck(tt.ack))
			h.post(ops, 2)
			replies, _ := h.act(inGroup(user, "recall"))
			require.Len(t, replies, 1)
			assert.Contains(t, replies[0], "Recalled 1 message.")
			assert.Equal(t, tt.reactions, reactionTexts(h.fake, fmt.Sprintf("msg-%d", h.nextID)))
			if tt.reactions == nil {
				assert.Zero(t, h.fake.CallCount(dingtalk.PathEmotionReply)+h.fake.CallCount(dingtalk.PathEmotionRecall))
			}
		})
	}
}

// TestAckOneToOne: reactions go on a one-to-one message too, in the chat the
// callback names.
func TestAckOneToOne(t *testing.T) {
	h := newHarness(t, withAck(bot.AckReaction))
	h.post(ops, 1)
	replies, shown := h.act(oneToOne(admin, "recall 1 in "+ops))
	assert.Empty(t, replies)
	assert.Equal(t, []string{done}, shown)
	r := h.fake.Reactions(fmt.Sprintf("msg-%d", h.nextID))
	require.NotEmpty(t, r)
	assert.Equal(t, "cidDirect-"+admin, r[0].ConversationID)
}

// New refuses an AckStyle it does not know, naming it.
func TestAckStyleIsValidated(t *testing.T) {
	h := newHarness(t)
	_, err := bot.New(bot.Deps{DingTalk: &dingtalk.Client{}, Ledger: h.store, Deduper: h.store.dedupWrapper(), Audit: h.store.auditWrapper(),
		States: h.store.statesWrapper(), Templates: mustTemplates(t)}, bot.Config{RecallMax: 1, Workers: 1, QueueSize: 1, Ack: "loud"})
	require.ErrorIs(t, err, bot.ErrConfig)
	assert.ErrorContains(t, err, `Ack is "loud": want reaction, reply or both`)
}
