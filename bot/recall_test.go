package bot_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// "recall N" and its forms, by who asks where: what the reply says and
// which of the five messages posted in ops (alert 1 … alert 5) DingTalk
// recalled.
func TestRecall(t *testing.T) {
	tests := []struct {
		name     string
		ev       event
		want     []string // parts of the reply
		recalled []int    // alert numbers recalled
		metric   string
	}{
		{"recall admin", inGroup(admin, "recall 2"), []string{"Recalled 2 messages."}, []int{4, 5}, "recall/ok"},
		{"recall user", inGroup(user, "recall"), []string{"Recalled 1 message."}, []int{5}, "recall/ok"},
		{"group admin", inGroup(owner, "/recall 3"), []string{"Recalled 3 messages."}, []int{3, 4, 5}, "recall/ok"},
		{"glued number", inGroup(admin, "recall2"), []string{"Recalled 2 messages."}, []int{4, 5}, "recall/ok"},
		{"more than there are", inGroup(admin, "recall 9"), []string{"Recalled 5 messages.", "You asked for 9, but I only had 5"}, []int{1, 2, 3, 4, 5}, "recall/ok"},
		{"stranger", inGroup(stranger, "recall 2"), []string{"Sorry Nick staff-guest, you are not allowed to recall my messages here", "or a group admin"}, nil, "recall/refused"},
		{"no staff id", inGroup("", "recall 2"), []string{"not allowed to recall"}, nil, "recall/refused"},
		{"since", inGroup(admin, "recall since 3s"), []string{"Recalled 2 messages sent in the last 3s."}, []int{4, 5}, "recall_since/ok"}, // alert n was sent at n-1s, now is 6s
		{"since in Chinese", inGroup(admin, "撤回 4秒"), []string{"Recalled 3 messages sent in the last 4s."}, []int{3, 4, 5}, "recall_since/ok"},
		{"tag", inGroup(admin, "recall tag odd"), []string{`Recalled 3 messages tagged "odd".`}, []int{1, 3, 5}, "recall_tag/ok"},
		{"tag with nothing", inGroup(admin, "recall tag none"), []string{`There is nothing of mine to recall tagged "none" here.`}, nil, "recall_tag/ok"},
		{"preview", inGroup(admin, "recall preview 2"), []string{`"recall 2" would take 2 messages`, "• alert 5\n• alert 4", "Nothing was recalled."}, nil, "recall_preview/ok"},
		{"preview refused", inGroup(stranger, "recall preview 2"), []string{"not allowed"}, nil, "recall_preview/refused"},
		{"log is for admins", inGroup(user, "recall log"), []string{"only recall admins may do that"}, nil, "recall_log/refused"},
		{"in <chat> from a group", inGroup(admin, "recall 2 in deploys"), []string{`"recall N in <chat>" works from a one-to-one chat`}, nil, "recall/invalid"},
		{"in <chat> by a user", oneToOne(user, "recall 2 in ops-alerts"), []string{"only recall admins may do that"}, nil, "recall/refused"},
		{"in <chat> by title", oneToOne(admin, "recall 2 in OPS-ALERTS"), []string{"Recalled 2 messages in ops-alerts."}, []int{4, 5}, "recall/ok"},
		{"in <chat> by id", oneToOne(admin, "撤回 2 在 "+ops), []string{"Recalled 2 messages in ops-alerts."}, []int{4, 5}, "recall/ok"},
		{"one-to-one here", oneToOne(admin, "recall 2"), []string{"There is nothing of mine to recall here."}, nil, "recall/ok"},
		{"out of range", inGroup(admin, "recall 101"), []string{"I can recall 1 to 100 messages at a time, not 101."}, nil, "recall/invalid"},
		{"not a number", inGroup(admin, "recall three"), []string{`"three" is not a number.`}, nil, "recall/invalid"},
		{"a fraction", inGroup(admin, "recall 1.5"), []string{`I recall whole messages: "1.5" is not a whole number.`}, nil, "recall/invalid"},
		{"since without a span", inGroup(admin, "recall since"), []string{`How far back?`, `"recall since 10m"`}, nil, "recall/invalid"},
		{"since a bad span", inGroup(admin, "recall since soon"), []string{`"soon" is not a time span I can use.`}, nil, "recall/invalid"},
		{"tag without a tag", inGroup(admin, "recall tag"), []string{`Which tag?`}, nil, "recall/invalid"},
		{"in without a chat", oneToOne(admin, "recall 2 in"), []string{`Which chat? Say "recall N in <chat>"`}, nil, "recall/invalid"},
		{"subcommand typo", inGroup(admin, "recall previw 2"), []string{`I didn't understand "recall previw 2". Did you mean "recall preview 2"?`}, nil, "unknown/invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			msgs := h.post(ops, 5, func(o *bot.Outgoing) {
				if n := o.Message.MsgParam; strings.Contains(n, "1") || strings.Contains(n, "3") || strings.Contains(n, "5") {
					o.Tag = "odd"
				}
			})
			h.post(deploys, 1)
			require.NoError(t, h.store.SetTitle(h.ctx, ops, store.KindGroup, "ops-alerts"))
			reply := h.say(tt.ev)
			for _, part := range tt.want {
				assert.Contains(t, reply, part)
			}
			var want []string
			for _, n := range tt.recalled {
				want = append(want, msgs[n-1].Key)
			}
			assert.ElementsMatch(t, want, h.fake.Recalled())
			assert.Equal(t, tt.metric, h.obs.last())
		})
	}
}

func TestRecallInChinese(t *testing.T) {
	h := newHarness(t, withLang("zh"))
	h.post(ops, 3)
	assert.Contains(t, h.say(inGroup(admin, "撤回 2")), "已撤回 2 条消息")
	assert.Contains(t, h.say(inGroup(admin, "撤回 1.5")), "“1.5” 不是整数")
	assert.Contains(t, h.say(inGroup(admin, "撤回 最近")), "撤回多长时间内的消息？")
	assert.Contains(t, h.say(inGroup(stranger, "恢复")), "你没有权限在这里恢复被撤回的消息")
	assert.Contains(t, h.say(oneToOne(admin, "撤回 1 在 没有的群")), "• ops-alerts（cidOps==）")
	assert.Contains(t, h.say(inGroup(admin, "撤销 1")), "你是想说 “撤回 1” 吗？")
}

// Messages older than RECALL_MAX_AGE are not sent to DingTalk; the reply
// says how many.
func TestRecallTooOld(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.MaxAge = time.Hour })
	old := h.post(ops, 2)
	h.clock.Advance(2 * time.Hour)
	fresh := h.post(ops, 1)
	reply := h.say(inGroup(admin, "recall 5"))
	assert.Contains(t, reply, "2 messages were too old to recall (sent more than 1h ago)")
	assert.Contains(t, reply, "Recalled 1 message.")
	assert.Equal(t, []string{fresh[0].Key}, h.fake.Recalled())
	for _, m := range old {
		assert.Zero(t, h.fake.RecallAttempts(m.Key))
	}
	assert.Contains(t, h.bot.TooOldReason(), "sent more than 1h ago (RECALL_MAX_AGE)")

	h.post(ops, 1)
	h.clock.Advance(2 * time.Hour)
	assert.Contains(t, h.say(inGroup(admin, "recall")), "There is nothing of mine to recall here: 1 message was too old to recall")
}

// Chat names with "in": an unknown one gets the chats the bot knows (their
// titles and IDs, at most ten), an ambiguous one says how many share it.
func TestRecallInAnUnknownChat(t *testing.T) {
	h := newHarness(t)
	reply := h.say(oneToOne(admin, "recall 2 in ops-alerts"))
	assert.Contains(t, reply, `I don't know a chat called "ops-alerts". I have no messages in any chat yet`)

	h.post(ops, 1)
	_, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindOTO, ChatID: user, Message: dingtalk.Text("hi")})
	require.NoError(t, err)
	require.NoError(t, h.store.SetTitle(h.ctx, ops, store.KindGroup, "ops-alerts"))
	reply = h.say(oneToOne(admin, "recall 2 in opsalerts"))
	assert.Contains(t, reply, `I don't know a chat called "opsalerts". The chats I know:`)
	assert.Contains(t, reply, "• ops-alerts ("+ops+")")
	assert.Contains(t, reply, "• "+user)
	assert.Equal(t, "recall/invalid", h.obs.last())
	assert.Empty(t, h.fake.Recalled())

	for i := range 12 {
		h.post("cidMore"+string(rune('a'+i)), 1)
	}
	reply = h.say(oneToOne(admin, "restore in nowhere"))
	assert.Equal(t, 10, strings.Count(reply, "\n• "), "at most ten listed: %s", reply)
	assert.Contains(t, reply, "and 5 more (say \"chats\" to see them all)")

	require.NoError(t, h.store.SetTitle(h.ctx, deploys, store.KindGroup, "ops-alerts"))
	h.post(deploys, 1)
	assert.Contains(t, h.say(oneToOne(admin, "recall in ops-alerts")), `2 chats are called "ops-alerts". Name it by its id instead`)
}

// A recall above RECALL_CONFIRM_OVER shows its preview and waits for
// "recall confirm" from the same person, which takes exactly the previewed
// messages; anything else that person says cancels it.
func TestRecallConfirm(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.ConfirmOver = 3 })
	msgs := h.post(ops, 6)

	reply := h.say(inGroup(admin, "recall 4"))
	assert.Contains(t, reply, `"recall 4" would take 4 messages`)
	assert.Contains(t, reply, `say "recall confirm" within 2m`)
	assert.Empty(t, h.fake.Recalled())
	assert.Contains(t, h.say(inGroup(user, "recall confirm")), "You have no recall waiting", "only the person who asked confirms")

	h.post(ops, 1) // sent after the preview: not taken
	reply = h.say(inGroup(admin, "recall confirm"))
	assert.Contains(t, reply, "Recalled 4 messages.")
	assert.ElementsMatch(t, keys(msgs[2:]), h.fake.Recalled())
	assert.Contains(t, h.say(inGroup(admin, "recall confirm")), "You have no recall waiting", "a confirmation is used once")
	h.post(ops, 5)

	assert.Contains(t, h.say(inGroup(admin, "recall since 1h")), "recall confirm")
	h.say(inGroup(admin, "help"))
	assert.Contains(t, h.say(inGroup(admin, "recall confirm")), "You have no recall waiting", "anything else cancels")

	assert.Contains(t, h.say(inGroup(admin, "recall since 1h")), "recall confirm")
	h.clock.Advance(bot.ConfirmWindow + time.Second)
	assert.Contains(t, h.say(inGroup(admin, "recall confirm")), "You have no recall waiting", "a confirmation expires")
	assert.Contains(t, h.say(inGroup("", "recall confirm")), "You have no recall waiting")
}

// "recall retry" tries again what failed in the chat's last recall and says
// what still fails; "recall log" lists the chat's recalls and restores.
func TestRecallRetryAndLog(t *testing.T) {
	h := newHarness(t)
	assert.Contains(t, h.say(inGroup(admin, "recall retry")), "Nothing failed in the last recall here")
	assert.Contains(t, h.say(inGroup(admin, "recall log")), "No recalls or restores here in the audit log.")

	msgs := h.post(ops, 3)
	h.fake.FailKey(msgs[1].Key, "message is being reviewed")
	reply := h.say(inGroup(admin, "recall 3"))
	assert.Contains(t, reply, "Recalled 2 of 3 messages.")
	assert.Contains(t, reply, `• "alert 2": message is being reviewed`, "DingTalk's own words for a key it refused (it gives no code)")
	assert.Equal(t, "recall/ok", h.obs.last())

	assert.Contains(t, h.say(inGroup(user, "recall retry")), "Still failing:\n• \"alert 2\"")
	h.fake.ClearKeyFailure(msgs[1].Key)
	reply = h.say(inGroup(user, "recall retry"))
	assert.Contains(t, reply, "Tried again 1 message that failed: recalled 1.")
	assert.NotContains(t, reply, "Still failing")
	assert.True(t, h.recalled(msgs[1].Key))
	assert.Contains(t, h.say(inGroup(user, "recall retry")), "Nothing failed in the last recall here")

	reply = h.say(inGroup(admin, "recall log"))
	assert.Contains(t, reply, "Last recalls and restores here:")
	assert.Equal(t, 3, strings.Count(reply, "recall by Nick staff-"), reply)
	assert.Contains(t, reply, `("recall 3"): 2 done, 1 failed`)
	assert.Contains(t, h.say(oneToOne(admin, "recall log ops-alerts")), "Last recalls and restores in ops-alerts:")
}

// A retry whose message left the ledger meanwhile says so.
func TestRecallRetryOfAMessageNoLongerTracked(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 2)
	h.fake.FailKey(msgs[0].Key, "system.error: busy")
	h.say(inGroup(admin, "recall 2"))
	require.NoError(t, h.store.Remove(h.ctx, msgs[0].Key)) // expired, say
	reply := h.say(inGroup(admin, "recall retry"))
	assert.Contains(t, reply, "Tried again 1 message that failed: recalled 0.")
	assert.Contains(t, reply, msgs[0].Key+`": `+bot.ReasonNotTracked)
}

// While the store is down, every command that needs it answers so, and
// nothing is recalled.
func TestRecallWithTheStoreDown(t *testing.T) {
	for _, ev := range []event{
		inGroup(admin, "recall 2"), inGroup(admin, "recall preview 2"), inGroup(admin, "recall since 1h"),
		inGroup(admin, "recall tag odd"), inGroup(admin, "recall retry"), inGroup(admin, "recall log"),
		inGroup(admin, "recall confirm"), inGroup(admin, "restore"), inGroup(admin, "chats"),
		oneToOne(admin, "recall 1 in ops-alerts"), oneToOne(admin, "recall 1 in nowhere"),
	} {
		t.Run(ev.Text, func(t *testing.T) {
			h := newHarness(t)
			h.post(ops, 25)
			h.say(inGroup(admin, "recall 1")) // the bot learns the title; a retry and a restore have a recall to act on
			h.store.down.Store(true)
			h.sayDown(ev)
			assert.Equal(t, []string{"command failed: the store is unavailable"}, h.errorLogs())
			assert.True(t, strings.HasSuffix(h.obs.last(), "/unavailable"), h.obs.last())
			assert.Len(t, h.fake.Recalled(), 1)
		})
	}
}

// sayDown runs ev's command while the store is down and checks that its
// reply, which says so, is not posted: it could not be tracked (its
// reservation failed), and that is logged.
func (h *harness) sayDown(ev event) {
	h.t.Helper()
	h.logs.Reset()
	before := len(h.fake.Sent())
	bot.HandleEvent(h.ctx, h.bot, ev)
	assert.Len(h.t, h.fake.Sent(), before, "an untrackable reply is not posted")
	var logged bool
	for _, e := range h.logs.AllEntries() {
		if err, ok := e.Data[logrus.ErrorKey].(error); ok && e.Message == "could not send the reply" {
			logged = errors.Is(err, bot.ErrNotReserved) && errors.Is(err, errDown)
		}
	}
	assert.True(h.t, logged, "the reply that could not be reserved is logged")
}

// errorLogs are the messages logged at error level, but the reply's own
// "could not send" line.
func (h *harness) errorLogs() []string {
	var out []string
	for _, e := range h.logs.AllEntries() {
		if e.Level <= 2 && e.Message != "could not send the reply" {
			out = append(out, e.Message)
		}
	}
	return out
}

// A reply longer than DingTalk takes is cut, not refused.
func TestLongRepliesAreCut(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.RecallMax = 200 })
	h.post(ops, 150, func(o *bot.Outgoing) { o.Message = dingtalk.Text(strings.Repeat("長", 60)) })
	reply := h.say(inGroup(admin, "recall preview 150"))
	assert.Equal(t, 4900, len([]rune(reply)))
	assert.True(t, strings.HasSuffix(reply, "…"))
}

// A message DingTalk had already recalled (an earlier recall reached DingTalk
// but its outcome was lost) counts as recalled: it leaves the ledger, the
// audit says so, and it never blocks "recall N" as a failure.
func TestRecallOfAMessageDingTalkAlreadyRecalled(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 3)
	client, err := dingtalk.NewClient(h.fake.AppKey(), h.fake.AppSecret(), dingtalk.WithBaseURL(h.fake.URL()))
	require.NoError(t, err)
	res, err := client.RecallGroup(h.ctx, ops, []string{msgs[2].Key}) // behind the bot's back
	require.NoError(t, err)
	require.Equal(t, []string{msgs[2].Key}, res.Recalled)

	out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Last: 2, Max: 10}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{msgs[2].Key, msgs[1].Key}, out.Recalled)
	assert.Empty(t, out.Failed)
	assert.Equal(t, []string{msgs[2].Key}, out.AlreadyGone)
	left, err := h.bot.List(h.ctx, ops, 0)
	require.NoError(t, err)
	require.Len(t, left, 1)
	assert.Equal(t, msgs[0].Key, left[0].Key, "nothing recalled stays listed")

	entries, err := h.bot.AuditLog(h.ctx, ops, 1)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	for _, it := range entries[0].Items {
		assert.Equal(t, store.ResultRecalled, it.Result)
		if it.Key == msgs[2].Key {
			assert.Equal(t, dingtalk.CodeAlreadyRecalled, it.Code, "the audit says it was gone already")
		}
	}
}

// "recall log" lists recalls and restores; the posts of other tools that
// the audit log also keeps (action send) are left out.
func TestRecallLogLeavesOutPosts(t *testing.T) {
	h := newHarness(t)
	m := h.post(ops, 1)[0]
	require.NoError(t, h.audit.AddAudit(h.ctx, store.SendEntry(m, store.SourceWebhook, "webhook grafana", h.clock.Now())))
	assert.Contains(t, h.say(inGroup(admin, "recall log")), "No recalls or restores here in the audit log.")
	h.say(inGroup(admin, "recall 1"))
	reply := h.say(inGroup(admin, "recall log"))
	assert.Contains(t, reply, "recall 1")
	assert.NotContains(t, reply, "webhook")
}
