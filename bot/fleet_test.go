package bot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/scoped"
	"github.com/dingrecall/dingrecall/store/storetest"
	"github.com/dingrecall/dingrecall/templates"
)

// fleetApps are the bots a fleet harness can build: each is its own app on
// the fake ("default" is the fake's default app).
var fleetApps = []string{"alerts", "deploys", "other"}

// fleetHarness is a fleet of bots, each with its own DingTalk app on one
// dingtalktest fake, sharing one store through store/scoped views (as
// internal/app builds them), on a clock the test moves.
type fleetHarness struct {
	t     *testing.T
	ctx   context.Context
	clock *storetest.Clock
	fake  *dingtalktest.Server
	store *testStore
	fleet *bot.Fleet
	bots  map[string]*bot.Bot
	log   *logrus.Logger
	tpl   *templates.Set
	// nextID numbers the events' msgIds.
	nextID int
}

// newFleetHarness builds a fleet of the bots called names and adds each;
// the bots have the settings of newHarness.
func newFleetHarness(t *testing.T, names ...string) *fleetHarness {
	t.Helper()
	clock := storetest.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	fakeOpts := []dingtalktest.Option{dingtalktest.WithClock(clock.Now)}
	for _, n := range fleetApps {
		fakeOpts = append(fakeOpts, dingtalktest.WithApp(appKeyOf(n), "secret-"+n, "robot-"+n))
	}
	log, _ := test.NewNullLogger()
	tpl, err := templates.Load("en", bot.TemplateNames()...)
	require.NoError(t, err)
	h := &fleetHarness{
		t: t, ctx: context.Background(), clock: clock, fake: dingtalktest.NewTest(t, fakeOpts...),
		store: newTestStore(clock.Now), fleet: bot.NewFleet(names...), bots: map[string]*bot.Bot{}, log: log, tpl: tpl,
	}
	for _, n := range names {
		b := h.build(n, h.fleet)
		require.NoError(t, h.fleet.Add(b))
		h.bots[n] = b
	}
	return h
}

// appKeyOf is the fake's app key of the bot called name.
func appKeyOf(name string) string {
	if name == bot.DefaultBot || name == "" {
		return "test-app-key"
	}
	return "app-" + name
}

// robotOf is the fake's robot code of the bot called name.
func robotOf(name string) string {
	if name == bot.DefaultBot || name == "" {
		return appKeyOf(name)
	}
	return "robot-" + name
}

// build builds the bot called name ("" for one without a name) in fleet,
// without adding it.
func (h *fleetHarness) build(name string, fleet *bot.Fleet) *bot.Bot {
	h.t.Helper()
	secret := "secret-" + name
	if name == bot.DefaultBot || name == "" {
		secret = h.fake.AppSecret()
	}
	client, err := dingtalk.NewClient(appKeyOf(name), secret, dingtalk.WithBaseURL(h.fake.URL()),
		dingtalk.WithRobotCode(robotOf(name)), dingtalk.WithLogger(h.log), dingtalk.WithQPS(1_000_000))
	require.NoError(h.t, err)
	st := h.store
	v := scoped.New(name, st, st.auditWrapper(), st.statesWrapper(), st.dedupWrapper())
	b, err := bot.New(bot.Deps{
		DingTalk: client, Ledger: v.Ledger, Deduper: v.Dedup, Audit: v.Audit, States: v.States,
		LocalDeduper: must2(memory.NewDeduper(memory.DeduperOptions{Now: h.clock.Now})),
		Templates:    h.tpl, Log: h.log, Now: h.clock.Now, Fleet: fleet,
	}, bot.Config{
		Name: name, RecallMax: 100, ConfirmOver: 20, ReplyTTL: time.Minute, RestoreWindow: 10 * time.Minute,
		Policy: bot.NewPolicy(admin, user, true), Workers: 1, QueueSize: 4,
	})
	require.NoError(h.t, err)
	h.t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

// post has the fleet send n messages "<bot> 1" … "<bot> n" to the group
// chat through the bot called name, a second apart, and returns them
// oldest first.
func (h *fleetHarness) post(name, chat string, n int) []store.Message {
	h.t.Helper()
	var out []store.Message
	for i := 1; i <= n; i++ {
		m, err := h.fleet.Send(h.ctx, bot.Outgoing{Bot: name, Kind: store.KindGroup, ChatID: chat, Message: dingtalk.Text(fmt.Sprintf("%s %d", name, i))})
		require.NoError(h.t, err)
		out = append(out, m)
		h.clock.Advance(time.Second)
	}
	return out
}

// say has the bot called to run ev's command and returns the reply and
// the robot that sent it.
func (h *fleetHarness) say(to string, ev event) (reply, robot string) {
	h.t.Helper()
	h.nextID++
	ev.MsgID = fmt.Sprintf("fleet-msg-%d", h.nextID)
	before := len(h.fake.Sent())
	bot.HandleEvent(h.ctx, h.bots[to], ev)
	sent := h.fake.Sent()
	require.Greater(h.t, len(sent), before, "the bot replied")
	last := sent[len(sent)-1]
	return content(h.t, last.MsgParam), last.RobotCode
}

// recalledOf is which of msgs DingTalk recalled.
func (h *fleetHarness) recalledOf(msgs []store.Message) []string {
	var out []string
	for _, m := range msgs {
		if fm, ok := h.fake.Message(m.Key); ok && fm.Recalled {
			out = append(out, m.Key)
		}
	}
	return out
}

func TestFleetAdd(t *testing.T) {
	h := newFleetHarness(t)
	f := bot.NewFleet("alerts", "deploys")
	assert.Equal(t, []string{"alerts", "deploys"}, f.Names())

	alerts := h.build("alerts", f)
	require.NoError(t, f.Add(alerts))
	got, ok := f.Bot("alerts")
	assert.True(t, ok)
	assert.Same(t, alerts, got)
	_, ok = f.Bot("deploys")
	assert.False(t, ok, "named but not added yet")

	err := f.Add(h.build("alerts", f))
	require.ErrorIs(t, err, bot.ErrConfig, "twice")
	assert.Contains(t, err.Error(), "already")
	got, _ = f.Bot("alerts")
	assert.Same(t, alerts, got, "the first stays")

	err = f.Add(h.build("other", f))
	require.ErrorIs(t, err, bot.ErrConfig, "a name the fleet was not made with")
	assert.Contains(t, err.Error(), `"other"`)

	// A bot without a name is DefaultBot.
	err = f.Add(h.build("", f))
	require.ErrorIs(t, err, bot.ErrConfig)
	assert.Contains(t, err.Error(), `"default"`)
	d := bot.NewFleet(bot.DefaultBot)
	def := h.build("", d)
	require.NoError(t, d.Add(def))
	got, err = d.Resolve(bot.DefaultBot)
	require.NoError(t, err)
	assert.Same(t, def, got)

	names := f.Names()
	names[0] = "changed"
	assert.Equal(t, []string{"alerts", "deploys"}, f.Names(), "Names is a copy")
}

func TestFleetResolve(t *testing.T) {
	tests := []struct {
		name    string
		fleet   []string
		ask     string
		want    string // the bot resolved, "" for an error
		wantErr error
		message string
	}{
		{"empty is the default", []string{"alerts", bot.DefaultBot}, "", bot.DefaultBot, nil, ""},
		{"a name", []string{"alerts", bot.DefaultBot}, "alerts", "alerts", nil, ""},
		{"the default by name", []string{"alerts", bot.DefaultBot}, bot.DefaultBot, bot.DefaultBot, nil, ""},
		{"empty is the only bot", []string{"alerts"}, "", "alerts", nil, ""},
		{"empty of several", []string{"alerts", "deploys"}, "", "", bot.ErrBotRequired, "name a bot: one of alerts, deploys"},
		{"unknown", []string{"alerts", "deploys"}, "nope", "", bot.ErrUnknownBot, `no bot is called "nope": want one of alerts, deploys`},
		{"any case", []string{"alerts", "deploys"}, "Alerts", "alerts", nil, ""},
		{"no near names", []string{"alerts"}, "alert", "", bot.ErrUnknownBot, `no bot is called "alert": want one of alerts`},
		{"an empty fleet", nil, "", "", bot.ErrBotRequired, "name a bot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFleetHarness(t, tt.fleet...)
			got, err := h.fleet.Resolve(tt.ask)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Same(t, h.bots[tt.want], got)
				return
			}
			assert.Nil(t, got)
			require.ErrorIs(t, err, tt.wantErr)
			other := bot.ErrUnknownBot
			if tt.wantErr == bot.ErrUnknownBot {
				other = bot.ErrBotRequired
			}
			assert.NotErrorIs(t, err, other)
			var be *bot.BotError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, tt.ask, be.Name)
			assert.Equal(t, tt.fleet, be.Known)
			assert.Contains(t, err.Error(), tt.message)
		})
	}
}

// Sends, previews and recalls go to the bot they name; two bots in one
// chat never touch each other's messages.
func TestFleetRoutes(t *testing.T) {
	h := newFleetHarness(t, "alerts", "deploys")
	alerts := h.post("alerts", ops, 3)
	deploys := h.post("deploys", ops, 3)

	for _, m := range alerts {
		fm, ok := h.fake.Message(m.Key)
		require.True(t, ok)
		assert.Equal(t, "robot-alerts", fm.RobotCode)
		assert.Equal(t, "app-alerts", fm.AppKey)
		assert.Equal(t, "alerts", m.Bot, "Send says which bot sent it")
	}
	for _, m := range deploys {
		fm, _ := h.fake.Message(m.Key)
		assert.Equal(t, "robot-deploys", fm.RobotCode)
		assert.Equal(t, "deploys", m.Bot)
	}

	t.Run("a send that names no bot or an unknown one", func(t *testing.T) {
		before := len(h.fake.Sent())
		for _, tc := range []struct {
			name string
			want error
		}{{"", bot.ErrBotRequired}, {"nope", bot.ErrUnknownBot}} {
			_, err := h.fleet.Send(h.ctx, bot.Outgoing{Bot: tc.name, Kind: store.KindGroup, ChatID: ops, Message: dingtalk.Text("x")})
			require.ErrorIs(t, err, tc.want)
			var be *bot.BotError
			assert.ErrorAs(t, err, &be)
			_, err = h.fleet.Preview(h.ctx, bot.Selection{Bot: tc.name, ChatID: ops, Last: 1})
			require.ErrorIs(t, err, tc.want)
			_, err = h.fleet.Recall(h.ctx, bot.Selection{Bot: tc.name, ChatID: ops, Last: 1}, bot.Actor{Source: store.SourceAPI})
			require.ErrorIs(t, err, tc.want)
		}
		assert.Len(t, h.fake.Sent(), before, "nothing sent")
		assert.Empty(t, h.fake.Recalled(), "nothing recalled")
	})

	t.Run("preview", func(t *testing.T) {
		got, err := h.fleet.Preview(h.ctx, bot.Selection{Bot: "alerts", ChatID: ops, Last: 10})
		require.NoError(t, err)
		assert.ElementsMatch(t, keys(alerts), keys(got))
	})

	t.Run("recall", func(t *testing.T) {
		out, err := h.fleet.Recall(h.ctx, bot.Selection{Bot: "deploys", ChatID: ops, Last: 10}, bot.Actor{Source: store.SourceAPI, Request: "last 10"})
		require.NoError(t, err)
		assert.ElementsMatch(t, keys(deploys), out.Recalled)
		assert.ElementsMatch(t, keys(deploys), h.recalledOf(deploys))
		assert.Empty(t, h.recalledOf(alerts), "deploys recalls none of alerts' messages")
		rest, err := h.fleet.List(h.ctx, "", ops, 0)
		require.NoError(t, err)
		assert.ElementsMatch(t, keys(alerts), keys(rest))
	})
}

// List and AuditLog of one bot, or of every bot merged newest first.
func TestFleetListAndAudit(t *testing.T) {
	h := newFleetHarness(t, "alerts", "deploys")
	var all []store.Message // oldest first, the bots taking turns
	for i := 0; i < 3; i++ {
		all = append(all, h.post("alerts", ops, 1)...)
		all = append(all, h.post("deploys", ops, 1)...)
	}
	h.post("alerts", deploys, 1) // another chat

	newestFirst := func(msgs []store.Message) []string {
		out := make([]string, len(msgs))
		for i, m := range msgs {
			out[len(msgs)-1-i] = m.Key
		}
		return out
	}
	of := func(name string) []store.Message {
		var out []store.Message
		for _, m := range all {
			if m.Bot == name {
				out = append(out, m)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		bot   string
		limit int
		want  []string
	}{
		{"one bot", "alerts", 0, newestFirst(of("alerts"))},
		{"the other", "deploys", 0, newestFirst(of("deploys"))},
		{"one bot, limited", "deploys", 2, newestFirst(of("deploys"))[:2]},
		{"every bot", "", 0, newestFirst(all)},
		{"every bot, limited", "", 4, newestFirst(all)[:4]},
		{"every bot, limit above", "", 50, newestFirst(all)},
	}
	for _, tt := range tests {
		t.Run("list "+tt.name, func(t *testing.T) {
			got, err := h.fleet.List(h.ctx, tt.bot, ops, tt.limit)
			require.NoError(t, err)
			assert.Equal(t, tt.want, keys(got))
			for _, m := range got {
				assert.Equal(t, ops, m.ChatID, "unscoped")
				if tt.bot != "" {
					assert.Equal(t, tt.bot, m.Bot)
				}
			}
		})
	}
	_, err := h.fleet.List(h.ctx, "nope", ops, 0)
	require.ErrorIs(t, err, bot.ErrUnknownBot)

	// Audit: a recall by each bot, a send of a drop-in by alerts.
	_, err = h.fleet.Recall(h.ctx, bot.Selection{Bot: "alerts", ChatID: ops, Last: 1}, bot.Actor{Source: store.SourceAPI, Request: "alerts 1"})
	require.NoError(t, err)
	h.clock.Advance(time.Second)
	_, err = h.fleet.Recall(h.ctx, bot.Selection{Bot: "deploys", ChatID: ops, Last: 1}, bot.Actor{Source: store.SourceAPI, Request: "deploys 1"})
	require.NoError(t, err)
	h.clock.Advance(time.Second)
	require.NoError(t, h.fleet.AddAudit(h.ctx, store.AuditEntry{ID: "dropin-1", At: h.clock.Now(), Action: store.ActionSend, Source: store.SourceAPI, ChatID: ops, Request: "drop-in", Bot: "alerts"}))
	err = h.fleet.AddAudit(h.ctx, store.AuditEntry{ID: "dropin-2", At: h.clock.Now(), Action: store.ActionSend, ChatID: ops, Bot: "nope"})
	require.ErrorIs(t, err, bot.ErrUnknownBot)
	err = h.fleet.AddAudit(h.ctx, store.AuditEntry{ID: "dropin-3", At: h.clock.Now(), Action: store.ActionSend, ChatID: ops})
	require.ErrorIs(t, err, bot.ErrBotRequired, "no bot named and no default")

	requests := func(entries []store.AuditEntry) []string {
		var out []string
		for _, e := range entries {
			out = append(out, e.Bot+": "+e.Request)
		}
		return out
	}
	audits := []struct {
		name, bot, chat string
		limit           int
		want            []string
	}{
		{"alerts", "alerts", "", 0, []string{"alerts: drop-in", "alerts: alerts 1"}},
		{"deploys", "deploys", ops, 0, []string{"deploys: deploys 1"}},
		{"every bot", "", "", 0, []string{"alerts: drop-in", "deploys: deploys 1", "alerts: alerts 1"}},
		{"every bot, limited", "", ops, 2, []string{"alerts: drop-in", "deploys: deploys 1"}},
		{"another chat", "", deploys, 0, nil},
	}
	for _, tt := range audits {
		t.Run("audit "+tt.name, func(t *testing.T) {
			got, err := h.fleet.AuditLog(h.ctx, tt.bot, tt.chat, tt.limit)
			require.NoError(t, err)
			assert.Equal(t, tt.want, requests(got))
		})
	}
	_, err = h.fleet.AuditLog(h.ctx, "nope", "", 0)
	require.ErrorIs(t, err, bot.ErrUnknownBot)
}

func TestFleetPing(t *testing.T) {
	h := newFleetHarness(t, "alerts", "deploys")
	require.NoError(t, h.fleet.Ping(h.ctx))
	h.store.down.Store(true)
	require.ErrorIs(t, h.fleet.Ping(h.ctx), errDown)
	require.NoError(t, bot.NewFleet().Ping(h.ctx), "an empty fleet has nothing to ping")
}

func TestFleetTooOldReason(t *testing.T) {
	h := newFleetHarness(t, "alerts")
	assert.Equal(t, h.bots["alerts"].TooOldReason(), h.fleet.TooOldReason())
	assert.Empty(t, bot.NewFleet("x").TooOldReason(), "no bot added")
}

// An admin's "recall ... for <bot>" typed to one bot recalls the other's
// messages; the reply comes from the bot typed to.
func TestDelegatedRecall(t *testing.T) {
	tests := []struct {
		name     string
		ev       event
		want     string
		deploys  []int // which of deploys' five messages in ops are recalled
		refused  bool
		inDeploy bool // the audit entry is deploys'
	}{
		{"admin in the group", inGroup(admin, "recall 2 for deploys"), "Recalled 2 messages.", []int{4, 5}, false, true},
		{"admin with a reason", inGroup(admin, "recall 1 wrong env for deploys"), "Recalled 1 message.", []int{5}, false, true},
		{"admin one-to-one, by chat id", oneToOne(admin, "recall 3 in "+ops+" for deploys"), "Recalled 3 messages", []int{3, 4, 5}, false, true},
		{"admin, since", inGroup(admin, "recall since 2s for deploys"), "Recalled 2 messages sent in the last 2s.", []int{4, 5}, false, true},
		{"admin, the name capitalised", inGroup(admin, "recall 2 For Deploys"), "Recalled 2 messages.", []int{4, 5}, false, true},
		{"admin names the bot typed to", inGroup(admin, "recall 2 for alerts"), "Recalled 2 messages.", nil, false, false},
		{"a recall user", inGroup(user, "recall 2 for deploys"), "Sorry Nick staff-user, only recall admins may do that.", nil, true, false},
		{"a group admin", inGroup(owner, "recall 2 for deploys"), "only recall admins may do that", nil, true, false},
		{"a stranger", inGroup(stranger, "recall 2 for deploys"), "only recall admins may do that", nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFleetHarness(t, "alerts", "deploys")
			mine := h.post("alerts", ops, 5)
			theirs := h.post("deploys", ops, 5)
			reply, robot := h.say("alerts", tt.ev)
			assert.Contains(t, reply, tt.want)
			assert.Equal(t, "robot-alerts", robot, "the reply goes out through the bot typed to")

			var want []string
			for _, n := range tt.deploys {
				want = append(want, theirs[n-1].Key)
			}
			assert.ElementsMatch(t, want, h.recalledOf(theirs))
			if tt.name == "admin names the bot typed to" {
				assert.ElementsMatch(t, keys(mine[3:]), h.recalledOf(mine))
			} else {
				assert.Empty(t, h.recalledOf(mine), "the bot typed to keeps its own messages")
			}

			entries, err := h.fleet.AuditLog(h.ctx, "deploys", "", 0)
			require.NoError(t, err)
			if tt.inDeploy {
				require.Len(t, entries, 1)
				assert.Equal(t, store.ActionRecall, entries[0].Action)
				assert.Equal(t, admin, entries[0].StaffID)
			} else {
				assert.Empty(t, entries)
			}
		})
	}
}

// A delegated recall above ConfirmOver waits with the bot it is for;
// "recall confirm" typed to the bot asked confirms it, and anything else
// typed there cancels it.
func TestDelegatedConfirm(t *testing.T) {
	setup := func(t *testing.T) (*fleetHarness, []store.Message) {
		h := newFleetHarness(t, "alerts", "deploys")
		theirs := h.post("deploys", ops, 25)
		reply, robot := h.say("alerts", inGroup(admin, "recall 25 for deploys"))
		assert.Contains(t, reply, `"recall 25" would take 25 messages`)
		assert.Contains(t, reply, "recall confirm")
		assert.Equal(t, "robot-alerts", robot)
		assert.Empty(t, h.fake.Recalled(), "nothing before the confirmation")
		return h, theirs
	}
	t.Run("confirmed", func(t *testing.T) {
		h, theirs := setup(t)
		reply, robot := h.say("alerts", inGroup(admin, "recall confirm"))
		assert.Contains(t, reply, "Recalled 25 messages.")
		assert.Equal(t, "robot-alerts", robot)
		assert.ElementsMatch(t, keys(theirs), h.recalledOf(theirs))
		reply, _ = h.say("alerts", inGroup(admin, "recall confirm"))
		assert.Contains(t, reply, "You have no recall waiting for confirmation here", "a confirmation runs once")
	})
	t.Run("another command cancels it", func(t *testing.T) {
		h, theirs := setup(t)
		h.say("alerts", inGroup(admin, "help"))
		reply, _ := h.say("alerts", inGroup(admin, "recall confirm"))
		assert.Contains(t, reply, "You have no recall waiting for confirmation here")
		assert.Empty(t, h.recalledOf(theirs))
	})
	t.Run("text that does not parse cancels it", func(t *testing.T) {
		h, theirs := setup(t)
		h.say("alerts", inGroup(admin, "recall confirm for deploys"))
		reply, _ := h.say("alerts", inGroup(admin, "recall confirm"))
		assert.Contains(t, reply, "You have no recall waiting for confirmation here")
		assert.Empty(t, h.recalledOf(theirs))
	})
	t.Run("someone else's confirm takes nothing", func(t *testing.T) {
		h, theirs := setup(t)
		reply, _ := h.say("alerts", inGroup(user, "recall confirm"))
		assert.Contains(t, reply, "You have no recall waiting for confirmation here")
		assert.Empty(t, h.recalledOf(theirs))
		reply, _ = h.say("alerts", inGroup(admin, "recall confirm"))
		assert.Contains(t, reply, "Recalled 25 messages.", "the asker's is still pending")
	})
	t.Run("the window passes", func(t *testing.T) {
		h, theirs := setup(t)
		h.clock.Advance(bot.ConfirmWindow + time.Second)
		reply, _ := h.say("alerts", inGroup(admin, "recall confirm"))
		assert.Contains(t, reply, "You have no recall waiting for confirmation here")
		assert.Empty(t, h.recalledOf(theirs))
	})
}

// "in <chat>" with "for <bot>": the chat is looked up among the named
// bot's chats, by the title the bot typed to knows when the named one has
// not seen it; an unknown chat is answered with the named bot's chats.
func TestDelegatedInChat(t *testing.T) {
	const alertsOnly = "cidAlertsOnly=="
	setup := func(t *testing.T) (*fleetHarness, []store.Message, []store.Message) {
		h := newFleetHarness(t, "alerts", "deploys")
		mine := h.post("alerts", ops, 2)
		h.post("alerts", alertsOnly, 1)
		theirs := h.post("deploys", ops, 3)
		h.say("alerts", inGroup(user, "help")) // alerts learns the title of ops
		return h, mine, theirs
	}
	t.Run("by the title only the bot typed to knows", func(t *testing.T) {
		h, mine, theirs := setup(t)
		reply, robot := h.say("alerts", oneToOne(admin, "recall 2 in OPS-ALERTS for deploys"))
		assert.Contains(t, reply, "Recalled 2 messages in")
		assert.Equal(t, "robot-alerts", robot)
		assert.ElementsMatch(t, keys(theirs[1:]), h.recalledOf(theirs))
		assert.Empty(t, h.recalledOf(mine))
	})
	t.Run("by id", func(t *testing.T) {
		h, mine, theirs := setup(t)
		reply, _ := h.say("alerts", oneToOne(admin, "recall 3 in "+ops+" for deploys"))
		assert.Contains(t, reply, "Recalled 3 messages in")
		assert.ElementsMatch(t, keys(theirs), h.recalledOf(theirs))
		assert.Empty(t, h.recalledOf(mine))
	})
	t.Run("a chat the named bot has nothing in", func(t *testing.T) {
		h, mine, theirs := setup(t)
		reply, _ := h.say("alerts", oneToOne(admin, "recall 1 in "+alertsOnly+" for deploys"))
		assert.Contains(t, reply, "There is nothing of mine to recall in "+alertsOnly+".", "the chat alerts knows, deploys' messages in it")
		assert.Empty(t, h.recalledOf(theirs))
		assert.Empty(t, h.recalledOf(mine))
	})
	t.Run("an unknown chat", func(t *testing.T) {
		h, _, theirs := setup(t)
		reply, _ := h.say("alerts", oneToOne(admin, "recall 1 in nowhere for deploys"))
		assert.Contains(t, reply, `I don't know a chat called "nowhere"`)
		assert.NotContains(t, reply, alertsOnly)
		assert.Empty(t, h.recalledOf(theirs))
	})
	t.Run("from a group", func(t *testing.T) {
		h, _, theirs := setup(t)
		reply, _ := h.say("alerts", inGroup(admin, "recall 1 in ops-alerts for deploys"))
		assert.Contains(t, reply, `"recall N in <chat>" works from a one-to-one chat`)
		assert.Empty(t, h.recalledOf(theirs))
	})
}

// sentBy are the texts the robot of the bot called name sent to chat.
func (h *fleetHarness) sentBy(name, chat string) []string {
	var out []string
	for _, m := range h.fake.Sent() {
		if m.RobotCode == robotOf(name) && m.ConversationID == chat {
			out = append(out, content(h.t, m.MsgParam))
		}
	}
	return out
}

// TestDelegatedQuoteList: an admin quotes one of deploys' messages and says
// "recall for deploys" to alerts; several of deploys' messages are near it,
// so a list comes back, and "recall <number>" said to alerts picks from
// deploys' list (not alerts' newest). Anything else cancels the list
// wherever it is kept.
func TestDelegatedQuoteList(t *testing.T) {
	// listed posts three messages of each bot into ops, then has admin
	// quote the second of whose's and say text to the bot to: a list of
	// three comes back.
	listed := func(t *testing.T, to, text, whose string) (h *fleetHarness, mine, theirs []store.Message) {
		h = newFleetHarness(t, "alerts", "deploys")
		mine, theirs = h.post("alerts", ops, 3), h.post("deploys", ops, 3)
		m := mine[1]
		if whose == "deploys" {
			m = theirs[1]
		}
		sent, ok := h.fake.Message(m.Key)
		require.True(t, ok)
		q := &dingtalk.Quote{MsgID: "dt-" + m.Key, SenderID: "bot-id", BotID: "bot-id", MsgType: "text", CreatedAt: sent.SentAt}
		reply, _ := h.say(to, quoting(inGroup(admin, text), q))
		require.Contains(t, reply, "3 of my messages here were sent within 3s of the one you quoted")
		return h, mine, theirs
	}
	t.Run("the number picks from the named bot's list", func(t *testing.T) {
		h, mine, theirs := listed(t, "alerts", "recall for deploys", "deploys")
		assert.Empty(t, h.recalledOf(theirs))
		reply, robot := h.say("alerts", inGroup(admin, "recall 2"))
		assert.Contains(t, reply, "Recalled 1 message.")
		assert.Equal(t, "robot-alerts", robot)
		assert.Equal(t, []string{theirs[1].Key}, h.recalledOf(theirs))
		assert.Empty(t, h.recalledOf(mine), "alerts' newest stay")
	})
	t.Run("naming a bot never picks from a list", func(t *testing.T) {
		h, mine, theirs := listed(t, "alerts", "recall", "alerts")
		reply, _ := h.say("alerts", inGroup(admin, "recall 2 for deploys"))
		assert.Contains(t, reply, "Recalled 2 messages.")
		assert.ElementsMatch(t, keys(theirs[1:]), h.recalledOf(theirs), "deploys' 2 newest")
		assert.Empty(t, h.recalledOf(mine), "not alerts' second candidate")
	})
	t.Run("a list made with one bot is not picked through another", func(t *testing.T) {
		h, mine, theirs := listed(t, "deploys", "recall", "deploys")
		reply, _ := h.say("alerts", inGroup(admin, "recall 2"))
		assert.Contains(t, reply, "Recalled 2 messages.")
		assert.ElementsMatch(t, keys(mine[1:]), h.recalledOf(mine), "alerts' own 2 newest")
		assert.Empty(t, h.recalledOf(theirs))
		reply, _ = h.say("deploys", inGroup(admin, "recall 2"))
		assert.Contains(t, reply, "Recalled 1 message.", "deploys' list still stands")
		assert.Equal(t, []string{theirs[1].Key}, h.recalledOf(theirs))
	})
	t.Run("anything else cancels the named bot's list", func(t *testing.T) {
		h, mine, theirs := listed(t, "alerts", "recall for deploys", "deploys")
		h.say("alerts", inGroup(admin, "help"))
		reply, _ := h.say("alerts", inGroup(admin, "recall 2 for deploys"))
		assert.Contains(t, reply, "Recalled 2 messages.")
		assert.ElementsMatch(t, keys(theirs[1:]), h.recalledOf(theirs), "deploys' 2 newest, not a pick from the cancelled list")
		assert.Empty(t, h.recalledOf(mine))
	})
}

// TestDelegatedRestore: "restore for deploys" said to alerts undoes the
// recall "recall ... for deploys" made, through deploys' app; a plain
// "restore" to alerts finds no recall of alerts' own.
func TestDelegatedRestore(t *testing.T) {
	h := newFleetHarness(t, "alerts", "deploys")
	h.post("alerts", ops, 2)
	theirs := h.post("deploys", ops, 3)
	reply, _ := h.say("alerts", inGroup(admin, "recall 2 for deploys"))
	require.Contains(t, reply, "Recalled 2 messages.")
	require.ElementsMatch(t, keys(theirs[1:]), h.recalledOf(theirs))

	reply, _ = h.say("alerts", inGroup(admin, "restore"))
	assert.Contains(t, reply, "There is no recall to restore here.")
	reply, _ = h.say("alerts", inGroup(user, "restore for deploys"))
	assert.Contains(t, reply, "only recall admins may do that")

	before := len(h.sentBy("deploys", ops))
	reply, robot := h.say("alerts", inGroup(admin, "restore for deploys"))
	assert.Contains(t, reply, "Sent back 2 of 2 messages, in their original order.")
	assert.Equal(t, "robot-alerts", robot, "the reply goes out through the bot typed to")
	assert.Equal(t, []string{"deploys 2", "deploys 3"}, h.sentBy("deploys", ops)[before:], "re-sent through deploys' app")
	entries, err := h.fleet.AuditLog(h.ctx, "deploys", ops, 0)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	assert.Equal(t, store.ActionRestore, entries[0].Action)
}

// TestDelegatedChats: "chats for deploys" said to alerts lists deploys'
// chats, naming deploys; a non-admin is refused.
func TestDelegatedChats(t *testing.T) {
	h := newFleetHarness(t, "alerts", "deploys")
	h.post("alerts", ops, 2)
	h.post("deploys", ops, 5)
	h.say("deploys", inGroup(user, "help")) // deploys learns the group's title
	reply, robot := h.say("alerts", oneToOne(admin, "chats for deploys"))
	assert.Contains(t, reply, "Chats with messages the bot deploys can recall:\n• ops-alerts ("+ops+"): 5")
	assert.Equal(t, "robot-alerts", robot)
	reply, _ = h.say("alerts", oneToOne(admin, "chats"))
	assert.Contains(t, reply, "Chats with messages I can recall:\n• "+ops+": 2", "alerts never heard the title")
	reply, _ = h.say("alerts", oneToOne(user, "chats for deploys"))
	assert.Contains(t, reply, "only recall admins may do that")
}

// TestTitleKnownToAnotherBot: a group's title reaches only the bots its
// commands were typed to, but names the same chat for every bot: an admin
// may use it with a bot that never heard it.
func TestTitleKnownToAnotherBot(t *testing.T) {
	h := newFleetHarness(t, "alerts", "deploys")
	mine := h.post("alerts", ops, 3)
	theirs := h.post("deploys", ops, 3)
	h.say("deploys", inGroup(user, "help")) // only deploys learns "ops-alerts"
	reply, _ := h.say("alerts", oneToOne(admin, "recall 2 in ops-alerts"))
	assert.Contains(t, reply, "Recalled 2 messages in ops-alerts.")
	assert.ElementsMatch(t, keys(mine[1:]), h.recalledOf(mine))
	assert.Empty(t, h.recalledOf(theirs))
	reply, _ = h.say("alerts", oneToOne(admin, "recall 1 in no-such-chat"))
	assert.Contains(t, reply, `I don't know a chat called "no-such-chat"`)
}

// TestHelpNamesTheOtherBots: with several bots, help says how to name one.
func TestHelpNamesTheOtherBots(t *testing.T) {
	h := newFleetHarness(t, "alerts", "deploys", "other")
	reply, _ := h.say("alerts", inGroup(user, "help"))
	assert.Contains(t, reply, `"for <bot>" to act on what another bot sent: deploys, other.`)
	solo := newFleetHarness(t, "alerts")
	reply, _ = solo.say("alerts", inGroup(user, "help"))
	assert.NotContains(t, reply, "for <bot>")
}
