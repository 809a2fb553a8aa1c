package app

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// The people of the card tests: staff-1001 is a recall user (RECALL_USERS
// of startApp), staff-admin a recall admin; staff-guest has no rights.
const (
	recallUser = "staff-1001"
	guest      = "staff-guest"
)

// sendCard sends a card with a Recall button into the group through the API
// and returns its key (the carrierId) and the fake's record of it.
func (a *testApp) sendCard(title string) (string, dingtalktest.Card) {
	a.t.Helper()
	status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group,
		"card": map[string]any{"title": title, "text": "**" + title + "**", "recallButton": true}})
	require.Equal(a.t, http.StatusCreated, status, "%v", out)
	key := out["processQueryKey"].(string)
	c, ok := a.fake.CardByCarrier(key)
	require.True(a.t, ok, "the API's key is the card's carrierId")
	return key, c
}

// clickCard has staff click the button action of the card track over the
// fake's Stream gateway, waits for the app's ack and returns the frame's
// messageId.
func (a *testApp) clickCard(track, staff, action string) string {
	a.t.Helper()
	id, err := a.fake.ClickCard("", track, staff, action, map[string]any{"action": action})
	require.NoError(a.t, err)
	a.waitAck(id, 1)
	return id
}

// waitAck waits for the app's n-th ack of the frame id, which must be 200.
func (a *testApp) waitAck(id string, n int) {
	a.t.Helper()
	require.Eventually(a.t, func() bool { return len(a.fake.AcksFor(id)) >= n }, 10*time.Second, 5*time.Millisecond, "no ack of %s", id)
	assert.Equal(a.t, http.StatusOK, a.fake.AcksFor(id)[n-1].Code)
}

// notesTo are the texts the bot sent staff one-to-one.
func (a *testApp) notesTo(staff string) []string {
	var out []string
	for _, m := range a.fake.Sent() {
		if m.Kind == dingtalktest.KindOTO && slices.Equal(m.UserIDs, []string{staff}) && m.MsgKey == "sampleText" {
			out = append(out, replyText(a.t, m))
		}
	}
	return out
}

// auditSources lists the source of each audit entry of the group, newest
// first.
func (a *testApp) auditSources() []string {
	a.t.Helper()
	status, out := a.api(http.MethodGet, "/audit?conversationId="+group, nil)
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	var sources []string
	for _, e := range out["entries"].([]any) {
		sources = append(sources, e.(map[string]any)["source"].(string))
	}
	return sources
}

// waitNotes waits until staff has n one-to-one notes.
func (a *testApp) waitNotes(staff string, n int) []string {
	a.t.Helper()
	require.Eventually(a.t, func() bool { return len(a.notesTo(staff)) >= n }, 10*time.Second, 5*time.Millisecond, "%s was not told", staff)
	return a.notesTo(staff)
}

// testRecallButton runs the Recall button's story on a: a stranger's tap
// (nothing recalled, a private note), a recall user's (recalled, audited
// as a button), and that tap delivered again (recalled once). command sends
// a command the way a's callbacks come.
func testRecallButton(t *testing.T, a *testApp, command func(map[string]any) dingtalktest.Message) {
	key, card := a.sendCard("deploy to PROD")
	assert.Equal(t, dingtalk.BuiltinCardTemplate, card.TemplateID)
	assert.Equal(t, "STREAM", card.CallbackType)
	assert.Contains(t, card.Data["sys_full_json_obj"], `"id":"recall"`)
	assert.Contains(t, a.listed(group), key, "tracked like any message")

	t.Run("a stranger's tap recalls nothing and is told privately", func(t *testing.T) {
		groupPosts := len(sentIn(a.fake, group))
		a.clickCard(card.OutTrackID, guest, "recall")
		notes := a.waitNotes(guest, 1)
		assert.Contains(t, notes[0], "did nothing")
		assert.False(t, a.recalled(key))
		assert.Len(t, sentIn(a.fake, group), groupPosts, "no scolding in the group")
	})
	t.Run("a recall user's tap recalls it, once", func(t *testing.T) {
		id := a.clickCard(card.OutTrackID, recallUser, "recall")
		require.Eventually(t, a.recalledFn(key), 10*time.Second, 5*time.Millisecond)
		require.NoError(t, a.fake.Redeliver(id, ""))
		a.waitAck(id, 2)
		command(a.callbackBody("help", nil)) // settle: anything queued has run
		assert.Equal(t, 1, a.fake.RecallAttempts(key), "the replayed click did nothing")
		assert.NotContains(t, a.listed(group), key)
		assert.Equal(t, "button", a.auditSources()[0])
	})
}

// recalledFn is a condition: the message key is recalled.
func (a *testApp) recalledFn(key string) func() bool { return func() bool { return a.recalled(key) } }

func TestCardRecallButtonOverStreamMode(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"CALLBACK_MODE": "stream"})
	a.waitReady(http.StatusOK)
	subs := fake.Tickets()[0].Subscriptions
	assert.Contains(t, subs, dingtalktest.Subscription{Type: "CALLBACK", Topic: dingtalktest.TopicCardCallback})
	assert.Contains(t, subs, dingtalktest.Subscription{Type: "CALLBACK", Topic: dingtalktest.TopicBotMessage})
	testRecallButton(t, a, a.push)
}

func TestCardRecallButtonInHTTPMode(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"CALLBACK_MODE": "http", "CARD_BUTTONS": "true"})
	require.Eventually(t, func() bool { return len(fake.Connections()) == 1 }, 10*time.Second, 5*time.Millisecond,
		"clicks come over a Stream connection of their own")
	assert.Equal(t, []dingtalktest.Subscription{{Type: "CALLBACK", Topic: dingtalktest.TopicCardCallback}}, fake.Tickets()[0].Subscriptions,
		"robot messages keep coming by HTTP")
	testRecallButton(t, a, a.command)
	t.Run("commands still come by HTTP", func(t *testing.T) {
		a.send(group, 1, nil)
		assert.Contains(t, replyText(t, a.command(a.callbackBody("recall 1", nil))), "Recalled 1 message")
	})
}

func TestCardsWithoutButtonsInHTTPMode(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, nil)
	_, card := a.sendCard("plain card")
	assert.Contains(t, card.Data["sys_full_json_obj"], `"msgButtons":[]`, "no Stream connection, so no buttons")
	assert.Empty(t, fake.Tickets(), "CARD_BUTTONS is off by default in http mode")
}

// previewCard has the recall user ask, over Stream mode, for a recall of
// n and returns the preview card the bot answered with.
func (a *testApp) previewCard(n int) dingtalktest.Card {
	a.t.Helper()
	a.send(group, n, nil)
	reply := a.push(a.callbackBody("recall "+jsonNumber(n), nil))
	require.Equal(a.t, dingtalktest.CardMsgKey, reply.MsgKey, "the preview is a card")
	c, ok := a.fake.CardByCarrier(reply.Key)
	require.True(a.t, ok)
	// Tracked once its records are kept: only then can it be tapped (a
	// person is never that quick).
	a.waitTracked(group, reply.Key)
	return c
}

// jsonNumber is n as text.
func jsonNumber(n int) string {
	raw, _ := json.Marshal(n)
	return string(raw)
}

// cardData waits until the card track's data key satisfies ok, and returns
// the card.
func (a *testApp) cardData(track, key string, ok func(string) bool) dingtalktest.Card {
	a.t.Helper()
	var c dingtalktest.Card
	require.Eventually(a.t, func() bool {
		c, _ = a.fake.Card(track)
		return ok(c.Data[key])
	}, 10*time.Second, 5*time.Millisecond, "card %s: %s never changed as expected", track, key)
	return c
}

func TestPreviewCardConfirmOverStreamMode(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	fake := dingtalktest.NewTest(t)
	a := startAppAt(t, fake, map[string]string{"CALLBACK_MODE": "stream", "RECALL_CONFIRM_OVER": "20"}, clock.Now)
	a.waitReady(http.StatusOK)

	t.Run("someone else's Confirm does nothing", func(t *testing.T) {
		c := a.previewCard(25)
		assert.Contains(t, c.Data["sys_full_json_obj"], `"id":"confirm"`)
		assert.Contains(t, c.Data["sys_full_json_obj"], `"id":"cancel"`)
		a.clickCard(c.OutTrackID, guest, "confirm")
		assert.Contains(t, a.waitNotes(guest, 1)[0], "only Wang Fang can confirm")
		assert.Empty(t, fake.Recalled())

		t.Run("the asker's Confirm recalls what the card showed", func(t *testing.T) {
			a.clickCard(c.OutTrackID, recallUser, "confirm")
			done := a.cardData(c.OutTrackID, "msgTitle", func(s string) bool { return s == "Recall done" })
			assert.Contains(t, done.Data["msgContent"], "Recalled 25 messages")
			assert.Len(t, fake.Recalled(), 25)
			assert.Equal(t, "button", a.auditSources()[0])
		})
	})
	t.Run("after expiry the card says so", func(t *testing.T) {
		c := a.previewCard(22)
		clock.Advance(3 * time.Minute)
		recalled := len(fake.Recalled())
		a.clickCard(c.OutTrackID, recallUser, "confirm")
		closed := a.cardData(c.OutTrackID, "msgTitle", func(s string) bool { return s == "Nothing recalled" })
		assert.Contains(t, closed.Data["msgContent"], "no longer waiting")
		assert.Len(t, fake.Recalled(), recalled)
	})
	t.Run("typed recall confirm still works", func(t *testing.T) {
		c := a.previewCard(21)
		recalled := len(fake.Recalled())
		assert.Contains(t, replyText(t, a.push(a.callbackBody("recall confirm", nil))), "Recalled 21 messages")
		assert.Len(t, fake.Recalled(), recalled+21)
		a.cardData(c.OutTrackID, "msgTitle", func(s string) bool { return s == "Recall done" })
	})
}

func TestTombstoneAndRestoreOfACard(t *testing.T) {
	for _, mode := range []string{"stream", "http"} {
		t.Run(mode, func(t *testing.T) {
			fake := dingtalktest.NewTest(t)
			a := startApp(t, fake, map[string]string{"CALLBACK_MODE": mode, "CARD_BUTTONS": "true", "RECALL_MODE": "tombstone"})
			if mode == "stream" {
				a.waitReady(http.StatusOK)
			}
			// say sends text as the recall user and returns the bot's reply,
			// the first text it sends after the command that holds want.
			say := func(text, want string) string {
				before := len(fake.Sent())
				if mode == "stream" {
					a.push(a.callbackBody(text, nil))
				} else {
					a.command(a.callbackBody(text, nil))
				}
				var reply string
				require.Eventually(t, func() bool {
					for _, m := range fake.Sent()[before:] {
						if m.MsgKey == "sampleText" && strings.Contains(replyText(t, m), want) {
							reply = replyText(t, m)
							return true
						}
					}
					return false
				}, 10*time.Second, 5*time.Millisecond, "no reply to %q holds %q", text, want)
				return reply
			}
			key, card := a.sendCard("deploy to PROD")
			plain := a.send(group, 1, nil)[0]

			say("recall 2 wrong env", "Recalled 2 messages")
			assert.True(t, a.recalled(plain), "plain messages are always recalled")
			assert.False(t, a.recalled(key), "the card stays, as a tombstone")
			tomb, _ := fake.Card(card.OutTrackID)
			assert.Equal(t, "Recalled", tomb.Data["msgTitle"])
			assert.True(t, strings.HasPrefix(tomb.Data["msgContent"], "~~Recalled by Wang Fang at "), tomb.Data["msgContent"])
			assert.True(t, strings.HasSuffix(tomb.Data["msgContent"], "~~: wrong env"), tomb.Data["msgContent"])
			assert.NotContains(t, tomb.Data["sys_full_json_obj"], `"id":"recall"`)
			assert.NotContains(t, a.listed(group), key)

			say("restore", "Sent back 2 of 2 messages")
			back, _ := fake.Card(card.OutTrackID)
			assert.Equal(t, "deploy to PROD", back.Data["msgTitle"])
			assert.Equal(t, "**deploy to PROD**", back.Data["msgContent"])
			assert.Contains(t, back.Data["sys_full_json_obj"], `"id":"recall"`)
			assert.Contains(t, a.listed(group), key, "the same card is tracked again")

			t.Run("its Recall button tombstones it again", func(t *testing.T) {
				a.clickCard(card.OutTrackID, recallUser, "recall")
				a.cardData(card.OutTrackID, "msgTitle", func(s string) bool { return s == "Recalled" })
				assert.False(t, a.recalled(key))
			})
		})
	}
}
