package bot_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/store"
)

// withCards gives the bot the DingTalk client as its CardAPI, cards with
// buttons, the recall mode and the card template.
func withCards(mode, template string) option {
	return func(d *bot.Deps, c *bot.Config) {
		d.Cards = d.DingTalk.(bot.CardAPI)
		c.CardButtons, c.RecallMode, c.CardTemplate = true, mode, template
	}
}

// card has the bot send a card with a Recall button to chat and returns its
// message.
func (h *harness) card(chat, title string) store.Message {
	h.t.Helper()
	m, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: chat,
		Message: bot.CardMessage(bot.CardContent{Title: title, Text: "**" + title + "**", RecallButton: true})})
	require.NoError(h.t, err)
	h.clock.Advance(time.Second)
	return m
}

// fakeCard is the fake's record of the card delivered as key.
func (h *harness) fakeCard(key string) dingtalktest.Card {
	h.t.Helper()
	c, ok := h.fake.CardByCarrier(key)
	require.True(h.t, ok, "no card delivered as %s", key)
	return c
}

// clickOf is the callback of staff clicking the button action of the card
// delivered as key, with params.
func (h *harness) clickOf(key, staff, action string, params map[string]any) *dingtalk.CardCallback {
	h.t.Helper()
	body, err := h.fake.CardClickBody(h.fakeCard(key).OutTrackID, staff, action, params)
	require.NoError(h.t, err)
	cb, err := dingtalk.DecodeCardCallback(body)
	require.NoError(h.t, err)
	return cb
}

// click has staff click the button action of the card delivered as key,
// with params, and runs it.
func (h *harness) click(key, staff, action string, params map[string]any) {
	h.t.Helper()
	bot.HandleClick(h.ctx, h.bot, h.clickOf(key, staff, action, params))
}

// buttons are the action IDs of the built-in card's buttons in data.
func buttons(t *testing.T, data map[string]string) []string {
	t.Helper()
	var full struct {
		MsgButtons []struct {
			ID      string `json:"id"`
			Text    string `json:"text"`
			Request bool   `json:"request"`
		} `json:"msgButtons"`
	}
	require.NoError(t, json.Unmarshal([]byte(data["sys_full_json_obj"]), &full))
	ids := []string{}
	for _, b := range full.MsgButtons {
		assert.True(t, b.Request, "a button that calls back")
		assert.NotEmpty(t, b.Text)
		ids = append(ids, b.ID)
	}
	return ids
}

// oneToOneNotes are the texts the bot sent staff one-to-one.
func (h *harness) oneToOneNotes(staff string) []string {
	var out []string
	for _, m := range h.fake.Sent() {
		if m.Kind == dingtalktest.KindOTO && len(m.UserIDs) == 1 && m.UserIDs[0] == staff && m.MsgKey == "sampleText" {
			out = append(out, content(h.t, m.MsgParam))
		}
	}
	return out
}

func TestCardsAreTrackedUnderTheirCarrierID(t *testing.T) {
	h := newHarness(t, withCards(bot.ModeRecall, ""))
	m := h.card(ops, "deploy 42")
	c := h.fakeCard(m.Key)
	assert.Equal(t, bot.MsgKeyCard, m.MsgKey)
	assert.JSONEq(t, `{"title":"deploy 42","text":"**deploy 42**","recallButton":true}`, m.MsgParam)
	assert.Equal(t, dingtalk.BuiltinCardTemplate, c.TemplateID, "no template to design")
	assert.Equal(t, "deploy 42", c.Data["msgTitle"])
	assert.Equal(t, "**deploy 42**", c.Data["msgContent"])
	assert.Equal(t, "3", c.Data["flowStatus"])
	assert.Equal(t, []string{bot.ActionRecall}, buttons(t, c.Data))

	t.Run("recall N takes it like any message", func(t *testing.T) {
		h.post(ops, 1)
		assert.Contains(t, h.say(inGroup(user, "recall 2")), "Recalled 2 messages")
		assert.True(t, h.recalled(m.Key))
	})
	t.Run("one-to-one", func(t *testing.T) {
		m, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindOTO, ChatID: user, Message: bot.CardMessage(bot.CardContent{Title: "hi"})})
		require.NoError(t, err)
		got, _ := h.fake.Message(m.Key)
		assert.Equal(t, dingtalktest.KindOTO, got.Kind)
		assert.Equal(t, []string{}, buttons(t, h.fakeCard(m.Key).Data), "no Recall button asked for")
	})
	t.Run("not into private chats", func(t *testing.T) {
		h := newHarness(t, withCards(bot.ModeRecall, ""), func(_ *bot.Deps, c *bot.Config) { c.CoolAppCode = "COOL" })
		_, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindPrivate, ChatID: "cidPrivate", Message: bot.CardMessage(bot.CardContent{Title: "hi"})})
		require.ErrorIs(t, err, dingtalk.ErrInvalidMessage)
		assert.Empty(t, h.fake.Cards())
	})
	t.Run("an empty card is refused", func(t *testing.T) {
		_, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: ops, Message: bot.CardMessage(bot.CardContent{})})
		require.ErrorIs(t, err, dingtalk.ErrInvalidMessage)
	})
}

func TestCardsNeedACardAPI(t *testing.T) {
	h := newHarness(t)
	_, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: ops, Message: bot.CardMessage(bot.CardContent{Title: "x"})})
	require.ErrorIs(t, err, dingtalk.ErrInvalidMessage)
	require.ErrorIs(t, err, bot.ErrNoCards)
	assert.Empty(t, h.fake.Cards())
}

func TestCardsWithoutButtons(t *testing.T) {
	h := newHarness(t, withCards(bot.ModeRecall, ""), func(_ *bot.Deps, c *bot.Config) { c.CardButtons = false })
	m := h.card(ops, "deploy")
	assert.Equal(t, []string{}, buttons(t, h.fakeCard(m.Key).Data), "clicks would reach nobody")
	h.post(ops, 25)
	assert.Contains(t, h.say(inGroup(user, "recall 25")), `say "recall confirm"`, "the preview stays text")
}

func TestTeamTemplateData(t *testing.T) {
	h := newHarness(t, withCards(bot.ModeRecall, "team.schema"))
	m := h.card(ops, "deploy")
	c := h.fakeCard(m.Key)
	assert.Equal(t, "team.schema", c.TemplateID)
	assert.Equal(t, map[string]string{"title": "deploy", "text": "**deploy**", "key": m.Key, "recall": "true", "confirm": "false"}, c.Data,
		"the message's key is put on the card once DingTalk named it")
	assert.Equal(t, []map[string]string{{"key": m.Key}}, c.Updates)

	h.click(m.Key, user, "recall", map[string]any{"action": "recall", "key": m.Key})
	assert.True(t, h.recalled(m.Key))
}

func TestRecallButton(t *testing.T) {
	h := newHarness(t, withCards(bot.ModeRecall, ""))

	t.Run("a recall user's tap recalls the card", func(t *testing.T) {
		m := h.card(ops, "wrong env")
		cb := h.clickOf(m.Key, user, bot.ActionRecall, nil)
		bot.HandleClick(h.ctx, h.bot, cb)
		assert.True(t, h.recalled(m.Key))
		_, err := h.bot.List(h.ctx, ops, 0)
		require.NoError(t, err)
		assert.NotContains(t, keys(mustList(t, h, ops)), m.Key)
		entries, err := h.audit.AuditLog(h.ctx, ops, 1)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		assert.Equal(t, store.SourceButton, entries[0].Source)
		assert.Equal(t, user, entries[0].StaffID)
		assert.Equal(t, store.ResultRecalled, entries[0].Items[0].Result)

		t.Run("a second tap does nothing", func(t *testing.T) {
			calls := h.fake.CallCount(dingtalk.PathGroupRecall)
			bot.HandleClick(h.ctx, h.bot, cb) // the same click again (a card gone cannot be tapped anew)
			assert.Equal(t, calls, h.fake.CallCount(dingtalk.PathGroupRecall))
			again, _ := h.audit.AuditLog(h.ctx, ops, 0)
			assert.Len(t, again, 1, "nothing more is audited")
		})
	})
	t.Run("a stranger's tap recalls nothing and is told privately", func(t *testing.T) {
		m := h.card(ops, "still here")
		groupMsgs := len(h.fake.Sent())
		h.click(m.Key, stranger, bot.ActionRecall, nil)
		assert.False(t, h.recalled(m.Key))
		notes := h.oneToOneNotes(stranger)
		require.Len(t, notes, 1)
		assert.Contains(t, notes[0], "did nothing")
		assert.Len(t, h.fake.Sent(), groupMsgs+1, "one note, nothing in the group")
		assert.Contains(t, h.logs.LastEntry().Message, "refused")
	})
	t.Run("an admin may tap anywhere", func(t *testing.T) {
		m := h.card(deploys, "x")
		h.click(m.Key, admin, bot.ActionRecall, nil)
		assert.True(t, h.recalled(m.Key))
	})
	t.Run("a click naming another message is ignored", func(t *testing.T) {
		m := h.card(ops, "a")
		other := h.card(ops, "b")
		h.click(m.Key, user, bot.ActionRecall, map[string]any{"action": "recall", "key": other.Key})
		assert.False(t, h.recalled(m.Key))
		assert.False(t, h.recalled(other.Key))
	})
	t.Run("a failure is told privately", func(t *testing.T) {
		m := h.card(ops, "stuck")
		h.fake.FailKey(m.Key, "robot is not in the group")
		h.click(m.Key, user, bot.ActionRecall, nil)
		notes := h.oneToOneNotes(user)
		require.NotEmpty(t, notes)
		assert.Contains(t, notes[len(notes)-1], "robot is not in the group")
	})
}

// mustList lists chat's tracked messages.
func mustList(t *testing.T, h *harness, chat string) []store.Message {
	t.Helper()
	msgs, err := h.bot.List(h.ctx, chat, 0)
	require.NoError(t, err)
	return msgs
}

func TestAcceptCardClickDropsARedelivery(t *testing.T) {
	h := newHarness(t, withCards(bot.ModeRecall, ""))
	m := h.card(ops, "x")
	body, err := h.fake.CardClickBody(h.fakeCard(m.Key).OutTrackID, user, bot.ActionRecall, nil)
	require.NoError(t, err)
	cb, err := dingtalk.DecodeCardCallback(body)
	require.NoError(t, err)
	cb.DeliveryID = "frame-1"
	out, err := h.bot.AcceptCardClick(h.ctx, cb)
	require.NoError(t, err)
	assert.Equal(t, bot.IntakeOK, out)
	out, err = h.bot.AcceptCardClick(h.ctx, cb)
	require.NoError(t, err)
	assert.Equal(t, bot.IntakeDuplicate, out)
	require.Eventually(t, func() bool { return h.recalled(m.Key) }, 5*time.Second, 5*time.Millisecond)
}

func TestTombstones(t *testing.T) {
	h := newHarness(t, withCards(bot.ModeTombstone, ""))
	m := h.card(ops, "deploy to PROD")
	plain := h.post(ops, 1)[0]

	reply := h.say(inGroup(user, "recall 2 wrong env"))
	assert.Contains(t, reply, "Recalled 2 messages")
	assert.True(t, h.recalled(plain.Key), "plain messages are always recalled")
	assert.False(t, h.recalled(m.Key), "the card stays")
	c := h.fakeCard(m.Key)
	assert.Equal(t, "Recalled", c.Data["msgTitle"])
	assert.Equal(t, "~~Recalled by Nick staff-user at 11-26 10:00:02~~: wrong env", c.Data["msgContent"])
	assert.Equal(t, []string{}, buttons(t, c.Data), "no buttons on a tombstone")
	assert.NotContains(t, keys(mustList(t, h, ops)), m.Key)
	entries, err := h.audit.AuditLog(h.ctx, ops, 1)
	require.NoError(t, err)
	var item store.AuditItem
	for _, it := range entries[0].Items {
		if it.Key == m.Key {
			item = it
		}
	}
	assert.Equal(t, store.ResultRecalled, item.Result)
	assert.Equal(t, bot.CodeTombstoned, item.Code)

	t.Run("restore puts the content back in place", func(t *testing.T) {
		cards := len(h.fake.Cards())
		assert.Contains(t, h.say(inGroup(user, "restore")), "2")
		c := h.fakeCard(m.Key)
		assert.Equal(t, "deploy to PROD", c.Data["msgTitle"])
		assert.Equal(t, "**deploy to PROD**", c.Data["msgContent"])
		assert.Equal(t, []string{bot.ActionRecall}, buttons(t, c.Data))
		assert.Len(t, h.fake.Cards(), cards, "no new card: the same one, updated")
		assert.Contains(t, keys(mustList(t, h, ops)), m.Key, "tracked again under its key")
	})
	t.Run("the button tombstones too, with the staff ID", func(t *testing.T) {
		h.click(m.Key, user, bot.ActionRecall, nil)
		assert.False(t, h.recalled(m.Key))
		assert.True(t, strings.HasPrefix(h.fakeCard(m.Key).Data["msgContent"], "~~Recalled by "+user+" at "))
	})
}

// previewCard has user ask for a large recall in ops and returns the preview
// card's message.
func (h *harness) previewCard(n int) store.Message {
	h.t.Helper()
	h.post(ops, n)
	before := len(h.fake.Sent())
	bot.HandleEvent(h.ctx, h.bot, inGroup(user, "recall "+strconv.Itoa(n)))
	sent := h.fake.Sent()
	require.Len(h.t, sent, before+1)
	require.Equal(h.t, dingtalktest.CardMsgKey, sent[before].MsgKey, "the preview is a card")
	reply := h.lastReply(ops)
	require.Equal(h.t, sent[before].Key, reply.Key)
	return reply
}

func TestPreviewCard(t *testing.T) {
	t.Run("the asker confirms", func(t *testing.T) {
		h := newHarness(t, withCards(bot.ModeRecall, ""))
		p := h.previewCard(25)
		c := h.fakeCard(p.Key)
		assert.Equal(t, "Recall 25 messages?", c.Data["msgTitle"])
		assert.Contains(t, c.Data["msgContent"], "Nick staff-user can tap Confirm within 2m")
		assert.Equal(t, []string{bot.ActionConfirm, bot.ActionCancel}, buttons(t, c.Data))
		assert.Equal(t, p.ExpiresAt, p.SentAt.Add(time.Minute+bot.ConfirmWindow), "it outlives the confirm window")

		h.click(p.Key, stranger, bot.ActionConfirm, nil)
		assert.Empty(t, h.fake.Recalled(), "only the asker's tap counts")
		require.Len(t, h.oneToOneNotes(stranger), 1)
		assert.Contains(t, h.oneToOneNotes(stranger)[0], "only Nick staff-user can confirm")

		h.click(p.Key, user, bot.ActionConfirm, nil)
		assert.Len(t, h.fake.Recalled(), 25)
		c = h.fakeCard(p.Key)
		assert.Equal(t, "Recall done", c.Data["msgTitle"])
		assert.Contains(t, c.Data["msgContent"], "Recalled 25 messages")
		assert.Equal(t, []string{}, buttons(t, c.Data))
		entries, _ := h.audit.AuditLog(h.ctx, ops, 1)
		assert.Equal(t, store.SourceButton, entries[0].Source)

		h.click(p.Key, user, bot.ActionConfirm, nil)
		assert.Len(t, h.fake.Recalled(), 25, "a second tap does nothing")
		assert.Contains(t, h.fakeCard(p.Key).Data["msgContent"], "no longer waiting")
	})
	t.Run("after expiry the card says so", func(t *testing.T) {
		h := newHarness(t, withCards(bot.ModeRecall, ""))
		p := h.previewCard(25)
		h.clock.Advance(bot.ConfirmWindow + time.Second)
		h.click(p.Key, user, bot.ActionConfirm, nil)
		assert.Empty(t, h.fake.Recalled())
		c := h.fakeCard(p.Key)
		assert.Equal(t, "Nothing recalled", c.Data["msgTitle"])
		assert.Contains(t, c.Data["msgContent"], "no longer waiting")
	})
	t.Run("cancel", func(t *testing.T) {
		h := newHarness(t, withCards(bot.ModeRecall, ""))
		p := h.previewCard(25)
		h.click(p.Key, user, bot.ActionCancel, nil)
		assert.Empty(t, h.fake.Recalled())
		assert.Equal(t, "Cancelled: nothing was recalled.", h.fakeCard(p.Key).Data["msgContent"])
		assert.Contains(t, h.say(inGroup(user, "recall confirm")), "no recall waiting")
	})
	t.Run("typed recall confirm still works and closes the card", func(t *testing.T) {
		h := newHarness(t, withCards(bot.ModeRecall, ""))
		p := h.previewCard(25)
		assert.Contains(t, h.say(inGroup(user, "recall confirm")), "Recalled 25 messages")
		assert.Len(t, h.fake.Recalled(), 25)
		assert.Equal(t, "Recall done", h.fakeCard(p.Key).Data["msgTitle"])
	})
	t.Run("a newer preview of the asker is not confirmed by the older card", func(t *testing.T) {
		h := newHarness(t, withCards(bot.ModeRecall, ""))
		older := h.previewCard(25)
		h.previewCard(22)
		h.click(older.Key, user, bot.ActionConfirm, nil)
		assert.Empty(t, h.fake.Recalled())
		assert.Contains(t, h.say(inGroup(user, "recall confirm")), "Recalled 22 messages", "the newer one still waits")
	})
}

func TestCardReplyFallsBackToText(t *testing.T) {
	h := newHarness(t, withCards(bot.ModeRecall, ""))
	h.post(ops, 25)
	h.fake.FailCallWith(dingtalk.PathCardDeliver, 1, 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "no card permission")
	assert.Contains(t, h.say(inGroup(user, "recall 25")), `say "recall confirm"`)
	assert.Contains(t, h.say(inGroup(user, "recall confirm")), "Recalled 25 messages")
}

func TestTeamTemplatePreviewCard(t *testing.T) {
	h := newHarness(t, withCards(bot.ModeRecall, "team.schema"))
	p := h.previewCard(25)
	c := h.fakeCard(p.Key)
	assert.Equal(t, "true", c.Data["confirm"])
	assert.Equal(t, "false", c.Data["recall"])
	previewID := c.Data["key"]
	require.NotEmpty(t, previewID, "Confirm and Cancel send the preview's ID as params.key")
	assert.Empty(t, c.Updates, "its key is known before delivery")

	h.click(p.Key, user, bot.ActionConfirm, map[string]any{"action": "confirm", "key": "another-preview"})
	assert.Empty(t, h.fake.Recalled(), "a click naming another preview is ignored")
	h.click(p.Key, user, "whatever", map[string]any{"action": bot.ActionConfirm, "key": previewID})
	assert.Len(t, h.fake.Recalled(), 25, "params.action names the button")
	c = h.fakeCard(p.Key)
	assert.Equal(t, "Recall done", c.Data["title"])
	assert.Equal(t, "false", c.Data["confirm"])
}

// AsCard turns a drop-in's message into a card with its title and words.
func TestAsCard(t *testing.T) {
	cases := []struct {
		name string
		in   dingtalk.Message
		want bot.CardContent
	}{
		{"text", dingtalk.Text("disk 91%"), bot.CardContent{Text: "disk 91%", RecallButton: true}},
		{"markdown", dingtalk.Markdown("Deploy", "**v2**"), bot.CardContent{Title: "Deploy", Text: "**v2**", RecallButton: true}},
		{"not JSON", dingtalk.Message{MsgKey: "sampleText", MsgParam: "x"}, bot.CardContent{RecallButton: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, bot.CardMessage(tc.want), bot.AsCard(tc.in))
		})
	}
	card := bot.CardMessage(bot.CardContent{Title: "t"})
	assert.Equal(t, card, bot.AsCard(card), "a card stays as it is")
}
