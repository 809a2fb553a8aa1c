package bot_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// quietLog is a logger that keeps nothing.
func quietLog() logrus.FieldLogger {
	log, _ := test.NewNullLogger()
	return log
}

// mustTemplates are the English replies.
func mustTemplates(t *testing.T) *templates.Set {
	t.Helper()
	tpl, err := templates.Load("en", bot.TemplateNames()...)
	require.NoError(t, err)
	return tpl
}

// botID is the chatbotUserId of the quote tests' callbacks.
const botID = "$:LWCP_v1:$bot"

// quoteOf is a quote of the bot's message m as DingTalk describes it: sent
// at DingTalk's time for it (the fake's), with its words.
func (h *harness) quoteOf(m store.Message) *dingtalk.Quote {
	h.t.Helper()
	sent, ok := h.fake.Message(m.Key)
	require.True(h.t, ok)
	return &dingtalk.Quote{MsgID: "dt-" + m.Key, SenderID: botID, BotID: botID, MsgType: "text",
		CreatedAt: sent.SentAt, Texts: []string{bot.Preview(m, 1000)}}
}

// quoting is ev said while quoting q.
func quoting(ev event, q *dingtalk.Quote) event {
	ev.Quote = q
	return ev
}

// recalledAlerts are the numbers of the alerts among msgs that DingTalk
// recalled.
func (h *harness) recalledAlerts(msgs []store.Message) []int {
	var out []int
	for i, m := range msgs {
		if h.recalled(m.Key) {
			out = append(out, i+1)
		}
	}
	return out
}

// TestQuoteToRecall covers each way a quote resolves, on five alerts the
// bot posted into ops a second apart ("alert 1" … "alert 5").
func TestQuoteToRecall(t *testing.T) {
	tests := []struct {
		name     string
		ev       func(h *harness, msgs []store.Message) event
		want     []string // parts of the reply
		recalled []int
		metric   string
	}{
		{"the quoted words pick one of those sent near it", func(h *harness, msgs []store.Message) event {
			return quoting(inGroup(user, "recall"), h.quoteOf(msgs[2]))
		}, []string{"Recalled 1 message."}, []int{3}, "recall_quote/ok"},
		{"in Chinese", func(h *harness, msgs []store.Message) event {
			return quoting(inGroup(owner, "撤回"), h.quoteOf(msgs[1]))
		}, []string{"Recalled 1 message."}, []int{2}, "recall_quote/ok"},
		{"the only one sent near it", func(h *harness, msgs []store.Message) event {
			q := h.quoteOf(msgs[0])
			q.Texts, q.CreatedAt = nil, q.CreatedAt.Add(-2500*time.Millisecond) // alert 2 is 3.5s away
			return quoting(inGroup(user, "recall"), q)
		}, []string{"Recalled 1 message."}, []int{1}, "recall_quote/ok"},
		{"a card's key, exactly", func(h *harness, msgs []store.Message) event {
			q := h.quoteOf(msgs[3])
			q.ProcessQueryKey, q.CreatedAt, q.Texts, q.MsgType = msgs[3].Key, time.Time{}, nil, "interactiveCard"
			return quoting(inGroup(user, "recall"), q)
		}, []string{"Recalled 1 message."}, []int{4}, "recall_quote/ok"},
		{"a key wins over the time", func(h *harness, msgs []store.Message) event {
			q := h.quoteOf(msgs[0])
			q.ProcessQueryKey = msgs[4].Key
			return quoting(inGroup(user, "recall"), q)
		}, []string{"Recalled 1 message."}, []int{5}, "recall_quote/ok"},
		{"a key not tracked here", func(h *harness, msgs []store.Message) event {
			q := h.quoteOf(msgs[0])
			q.ProcessQueryKey = "carrier-unknown"
			return quoting(inGroup(user, "recall"), q)
		}, []string{"I recalled nothing: the message you quoted is not one I track here.", "older than 24h,"}, nil, "recall_quote/invalid"},
		{"a key of another chat", func(h *harness, _ []store.Message) event {
			other := h.post(deploys, 1)[0]
			q := h.quoteOf(other)
			q.ProcessQueryKey = other.Key
			return quoting(inGroup(user, "recall"), q)
		}, []string{"not one I track here"}, nil, "recall_quote/invalid"},
		{"recall 3 takes the quoted one and the two before it", func(h *harness, msgs []store.Message) event {
			return quoting(inGroup(user, "recall 3"), h.quoteOf(msgs[3]))
		}, []string{"Recalled 3 messages."}, []int{2, 3, 4}, "recall_quote/ok"},
		{"recall 3 with fewer before", func(h *harness, msgs []store.Message) event {
			return quoting(inGroup(user, "recall 3"), h.quoteOf(msgs[1]))
		}, []string{"Recalled 2 messages.", "You asked for 3, but I only had 2"}, []int{1, 2}, "recall_quote/ok"},
		{"preview", func(h *harness, msgs []store.Message) event {
			return quoting(inGroup(user, "recall preview"), h.quoteOf(msgs[2]))
		}, []string{`"recall" on the message you quoted would take 1 message`, "• alert 3", "Nothing was recalled."}, nil, "recall_preview_quote/ok"},
		{"preview of three", func(h *harness, msgs []store.Message) event {
			return quoting(inGroup(user, "撤回 预览 3"), h.quoteOf(msgs[4]))
		}, []string{`"recall 3" on the message you quoted would take 3 messages`, "• alert 5\n• alert 4\n• alert 3"}, nil, "recall_preview_quote/ok"},
		{"a person's message", func(h *harness, msgs []store.Message) event {
			q := h.quoteOf(msgs[4])
			q.SenderID = "$:LWCP_v1:$someone"
			return quoting(inGroup(user, "recall"), q)
		}, []string{"The message you quoted is not mine, so I recalled nothing"}, nil, "recall_quote/invalid"},
		{"nothing sent near it", func(h *harness, msgs []store.Message) event {
			q := h.quoteOf(msgs[0])
			q.CreatedAt = q.CreatedAt.Add(-time.Hour)
			return quoting(inGroup(user, "recall"), q)
		}, []string{"not one I track here", "sent by this bot without going through dingrecall"}, nil, "recall_quote/invalid"},
		{"neither key nor time", func(h *harness, _ []store.Message) event {
			return quoting(inGroup(user, "recall"), &dingtalk.Quote{MsgID: "x", BotID: botID})
		}, []string{"DingTalk did not tell me which message you quoted"}, nil, "recall_quote/invalid"},
		{"no sender: looked for all the same", func(h *harness, msgs []store.Message) event {
			q := h.quoteOf(msgs[2])
			q.SenderID, q.BotID = "", ""
			return quoting(inGroup(user, "recall"), q)
		}, []string{"Recalled 1 message."}, []int{3}, "recall_quote/ok"},
		{"a stranger", func(h *harness, msgs []store.Message) event {
			return quoting(inGroup(stranger, "recall"), h.quoteOf(msgs[2]))
		}, []string{"you are not allowed to recall my messages here"}, nil, "recall_quote/refused"},
		{"a stranger quoting a person", func(h *harness, msgs []store.Message) event {
			q := h.quoteOf(msgs[2])
			q.SenderID = "$:LWCP_v1:$someone"
			return quoting(inGroup(stranger, "recall"), q)
		}, []string{"you are not allowed to recall my messages here"}, nil, "recall_quote/refused"},
		{"other subcommands ignore the quote", func(h *harness, msgs []store.Message) event {
			return quoting(inGroup(user, "recall since 3s"), h.quoteOf(msgs[0]))
		}, []string{"Recalled 3 messages sent in the last 3s."}, []int{3, 4, 5}, "recall_since/ok"}, // alert n was sent at n-1s, now is 5s
		{"one-to-one, the quote of another chat is not found", func(h *harness, msgs []store.Message) event {
			return quoting(oneToOne(admin, "recall"), h.quoteOf(msgs[2]))
		}, []string{"not one I track here"}, nil, "recall_quote/invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			msgs := h.post(ops, 5)
			reply := h.say(tt.ev(h, msgs))
			for _, part := range tt.want {
				assert.Contains(t, reply, part)
			}
			assert.Equal(t, tt.recalled, h.recalledAlerts(msgs))
			assert.Equal(t, tt.metric, h.obs.last())
		})
	}
}

// TestQuoteSkipsRepliesBefore checks that "recall N" while quoting counts
// the bot's messages before the quoted one, not its replies, and that a
// quoted reply is recalled when it is the one quoted.
func TestQuoteSkipsRepliesBefore(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 2)
	h.say(inGroup(user, "help")) // a reply, tracked, between alert 2 and alert 3
	replyKey := h.replyKey
	h.clock.Advance(10 * time.Second)
	msgs = append(msgs, h.post(ops, 1)...)
	h.clock.Advance(10 * time.Second)
	reply := h.say(quoting(inGroup(user, "recall 2"), h.quoteOf(msgs[2])))
	assert.Contains(t, reply, "Recalled 2 messages.")
	assert.Equal(t, []int{2, 3}, h.recalledAlerts(msgs))
	assert.False(t, h.recalled(replyKey))

	help, ok := h.fake.Message(replyKey)
	require.True(t, ok)
	quote := &dingtalk.Quote{SenderID: botID, BotID: botID, CreatedAt: help.SentAt, Texts: []string{content(t, help.MsgParam)}}
	reply = h.say(quoting(inGroup(user, "recall"), quote))
	assert.Contains(t, reply, "Recalled 1 message.")
	assert.True(t, h.recalled(replyKey), "a quoted reply goes too")
}

// TestQuoteList: several of the bot's messages near the quoted one and no
// words to tell them apart give a numbered list; "recall <number>" picks
// from it, once.
func TestQuoteList(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 5)
	q := h.quoteOf(msgs[2])
	q.Texts = nil
	reply := h.say(quoting(inGroup(user, "recall"), q))
	assert.Contains(t, reply, "5 of my messages here were sent within 3s of the one you quoted:\n1. ")
	for i := 1; i <= 5; i++ {
		assert.Contains(t, reply, fmt.Sprintf("%d. 11-26 ", i))
		assert.Contains(t, reply, fmt.Sprintf("alert %d\n", i))
	}
	assert.Contains(t, reply, `Say "recall <number>" within 2m to recall that one`)
	assert.Equal(t, "recall_quote/ok", h.obs.last())
	assert.Empty(t, h.fake.Recalled())

	reply = h.say(inGroup(user, "recall 9"))
	assert.Contains(t, reply, `My list had 5 messages, so "9" picks none of them.`)
	assert.Equal(t, "recall/invalid", h.obs.last())
	assert.Empty(t, h.fake.Recalled())

	reply = h.say(inGroup(user, "撤回 3"))
	assert.Contains(t, reply, "Recalled 1 message.")
	assert.Equal(t, []int{3}, h.recalledAlerts(msgs))

	reply = h.say(inGroup(user, "recall 2"))
	assert.Contains(t, reply, "Recalled 2 messages.", "the list is used once: now it is recall 2")
	assert.Equal(t, []int{3, 4, 5}, h.recalledAlerts(msgs))
}

// TestQuoteListRecallN: a list made by "recall 2" while quoting picks the
// message and the one before it.
func TestQuoteListRecallN(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 4)
	q := h.quoteOf(msgs[3])
	q.Texts = []string{"words that match none"}
	reply := h.say(quoting(inGroup(user, "recall 2"), q))
	assert.Contains(t, reply, "to recall that one and the 1 I sent before it")
	assert.Contains(t, h.say(inGroup(user, "recall 3")), "Recalled 2 messages.")
	assert.Equal(t, []int{2, 3}, h.recalledAlerts(msgs))
}

// TestQuoteListIsCancelled: anything but "recall <number>" cancels the list;
// "recall" without a number does not pick, and neither does someone else.
func TestQuoteListIsCancelled(t *testing.T) {
	for _, tt := range []struct {
		name  string
		then  event
		after []int // recalled by "recall 2" said after then
	}{
		{"help", inGroup(user, "help"), []int{4, 5}},
		{"recall without a number", inGroup(user, "recall"), []int{3, 4, 5}},
		{"another person's pick", inGroup(admin, "recall 1"), []int{4, 5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			msgs := h.post(ops, 5)
			q := h.quoteOf(msgs[2])
			q.Texts = nil
			h.say(quoting(inGroup(user, "recall"), q))
			h.say(tt.then)
			if tt.then.StaffID == admin {
				assert.Equal(t, []int{5}, h.recalledAlerts(msgs), "the admin has no list: recall 1")
				tt.after = []int{2, 5} // the user's list still stands: 2 of it is alert 2
			}
			h.say(inGroup(user, "recall 2"))
			assert.Equal(t, tt.after, h.recalledAlerts(msgs))
		})
	}
}

// TestQuoteListWaits: the list lasts ConfirmWindow.
func TestQuoteListWaits(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 5)
	q := h.quoteOf(msgs[2])
	q.Texts = nil
	h.say(quoting(inGroup(user, "recall"), q))
	h.clock.Advance(bot.ConfirmWindow + time.Second)
	assert.Contains(t, h.say(inGroup(user, "recall 1")), "Recalled 1 message.")
	assert.Equal(t, []int{5}, h.recalledAlerts(msgs), "the list lapsed: recall 1 is the newest")
}

// TestQuoteListIsCut: a burst near the quoted message lists the ten sent
// closest to it.
func TestQuoteListIsCut(t *testing.T) {
	h := newHarness(t)
	var msgs []store.Message
	for i := 1; i <= 25; i++ {
		m, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: ops, Message: dingtalk.Text("same alert")})
		require.NoError(t, err)
		msgs = append(msgs, m)
		h.clock.Advance(200 * time.Millisecond)
	}
	q := h.quoteOf(msgs[12])
	reply := h.say(quoting(inGroup(user, "recall"), q))
	assert.Contains(t, reply, "25 of my messages here were sent within 3s of the one you quoted; these 10 were sent closest to it:")
	assert.Len(t, strings.Split(reply, "\n"), 12)
	// The list runs from the 9th message to the 18th (the quoted one is the
	// 13th, and of the 8th and the 18th, equally far, the newer is kept):
	// the quoted one is 5th.
	lines := strings.Split(reply, "\n")
	assert.True(t, strings.HasPrefix(lines[5], "5. "), lines[5])
	assert.Contains(t, lines[5], "10:00:02 same alert", "sent 12 × 200ms after the first")
	h.say(inGroup(user, "recall 5"))
	assert.Equal(t, []string{msgs[12].Key}, h.fake.Recalled())
}

// TestQuoteListAcrossReplicas: the list lives in the shared States, so a
// second bot on the same store takes the pick.
func TestQuoteListAcrossReplicas(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 3)
	q := h.quoteOf(msgs[1])
	q.Texts = nil
	h.say(quoting(inGroup(user, "recall"), q))

	client, err := dingtalk.NewClient(h.fake.AppKey(), h.fake.AppSecret(), dingtalk.WithBaseURL(h.fake.URL()), dingtalk.WithQPS(1_000_000))
	require.NoError(t, err)
	other, err := bot.New(bot.Deps{DingTalk: client, Ledger: h.store, Deduper: h.store.dedupWrapper(), Audit: h.store.auditWrapper(),
		States: h.store.statesWrapper(), Templates: mustTemplates(t), Log: quietLog(), Now: h.clock.Now}, h.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close(context.Background()) })
	ev := inGroup(user, "recall 1")
	ev.MsgID = "on-the-other-replica"
	bot.HandleEvent(h.ctx, other, ev)
	assert.Equal(t, []int{1}, h.recalledAlerts(msgs))
}

// TestQuoteWithTheStoreDown: a quote with the store down recalls nothing,
// and its "store unavailable" reply, which could not be tracked, is not
// posted (a reaction says it where reactions are on).
func TestQuoteWithTheStoreDown(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 2)
	h.store.down.Store(true)
	for _, q := range []*dingtalk.Quote{h.quoteOf(msgs[0]), {ProcessQueryKey: msgs[0].Key, BotID: botID, SenderID: botID}} {
		replies, _ := h.act(quoting(inGroup(user, "recall"), q))
		assert.Empty(t, replies, "an untrackable reply is not posted")
		assert.Equal(t, "recall_quote/unavailable", h.obs.last())
	}
	assert.Empty(t, h.fake.Recalled())
}

// TestQuoteAudit: a quote recall is audited with what was said.
func TestQuoteAudit(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 3)
	h.say(quoting(inGroup(user, "recall"), h.quoteOf(msgs[0])))
	entries, err := h.bot.AuditLog(h.ctx, ops, 1)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "recall (quoting a message)", entries[0].Request)
	require.Len(t, entries[0].Items, 1)
	assert.Equal(t, msgs[0].Key, entries[0].Items[0].Key)
}

// TestQuoteFromACallback runs a quote sample through EventFromCallback.
func TestQuoteFromACallback(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 3)
	sent, _ := h.fake.Message(msgs[1].Key)
	cb := &dingtalk.Callback{ConversationID: ops, ConversationType: dingtalk.ConversationGroup, SenderStaffID: user, MsgID: "m1",
		ChatbotUserID: botID, MsgType: "text", OriginalMsgID: "dt-1",
		Text: dingtalk.CallbackText{Content: " recall", IsReplyMsg: true, RepliedMsg: &dingtalk.RepliedMsg{
			MsgType: "text", MsgID: "dt-1", SenderID: botID, CreatedAt: sent.SentAt.UnixMilli(), Content: []byte(`{"text":"alert 2"}`)}}}
	ev := bot.EventFromCallback(cb)
	require.NotNil(t, ev.Quote)
	assert.Equal(t, []string{"alert 2"}, ev.Quote.Texts)
	assert.Contains(t, h.say(ev), "Recalled 1 message.")
	assert.Equal(t, []int{2}, h.recalledAlerts(msgs))
}

// TestQuotePickOfAMessageGoneMeanwhile: a picked message recalled by
// someone else between the look-up and the listing of those before it is
// not replaced by others: nothing else is recalled.
func TestQuotePickOfAMessageGoneMeanwhile(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 4)
	q := h.quoteOf(msgs[2])
	q.Texts = nil
	h.say(quoting(inGroup(user, "recall 2"), q))
	h.store.beforeList = func() { require.NoError(t, h.store.Remove(h.ctx, msgs[1].Key)) }
	reply := h.say(inGroup(user, "recall 2")) // number 2 of the list: alert 2
	assert.Contains(t, reply, "There is nothing of mine to recall here.")
	assert.Empty(t, h.fake.Recalled())
}
