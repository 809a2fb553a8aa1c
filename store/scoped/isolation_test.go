package scoped_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/scoped"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// backing is the shared store under the views.
type backing struct {
	ledger store.Ledger
	audit  store.Audit
	states store.States
	dedup  store.Deduper
}

// memoryBacking returns memory stores on clock, closed when t ends.
func memoryBacking(t *testing.T, clock *storetest.Clock) backing {
	t.Helper()
	m, err := memory.New(memory.Options{TTL: time.Hour, Now: clock.Now})
	require.NoError(t, err)
	a, err := memory.NewAudit(memory.AuditOptions{TTL: time.Hour, Now: clock.Now})
	require.NoError(t, err)
	s, err := memory.NewStates(memory.StatesOptions{Now: clock.Now})
	require.NoError(t, err)
	d, err := memory.NewDeduper(memory.DeduperOptions{Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _, _, _, _ = m.Close(), a.Close(), s.Close(), d.Close() })
	return backing{m, a, s, d}
}

// at is the suite's start plus sec seconds.
func at(sec int) time.Time { return storetest.Start.Add(time.Duration(sec) * time.Second) }

// msgOf is a group message sent sec seconds after the start, due for
// automatic recall 100 s later.
func msgOf(key, chat string, sec int, tag string) store.Message {
	return store.Message{Key: key, Kind: store.KindGroup, ChatID: chat, RobotCode: "robot", MsgKey: "sampleText",
		MsgParam: `{"content":"x"}`, Tag: tag, SentAt: at(sec), ExpiresAt: at(sec + 100)}
}

func keysOf(ms []store.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Key)
	}
	return out
}

// isoBots are the bots that share one chat in the isolation test.
var isoBots = []string{scoped.Default, "alerts", "deploy"}

// runIsolation puts three bots in one chat of one store, with the same tag,
// title, reservation ID, state key and callback ID each, and a fourth bot
// with a pile of earlier due messages and reservations, and checks that
// each bot sees only its own.
func runIsolation(t *testing.T, newBacking func(t *testing.T, clock *storetest.Clock) backing) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	b := newBacking(t, clock)
	views := map[string]scoped.Stores{}
	own := map[string][]string{} // each bot's keys, newest first
	for i, bot := range isoBots {
		v := scoped.New(bot, b.ledger, b.audit, b.states, b.dedup)
		views[bot] = v
		for j := range 3 {
			k := fmt.Sprintf("%s-%d", bot, j)
			require.NoError(t, v.Ledger.Record(ctx, msgOf(k, "cid-x", 100+10*j+i, "release")))
			own[bot] = append([]string{k}, own[bot]...)
		}
		require.NoError(t, v.Ledger.SetTitle(ctx, "cid-x", store.KindGroup, "Ops"))
		require.NoError(t, v.Ledger.Reserve(ctx, store.Reservation{ID: "r1", Kind: store.KindGroup, ChatID: "cid-x", ReservedAt: at(200 + i)}))
		require.NoError(t, v.Audit.AddAudit(ctx, store.AuditEntry{ID: "e-" + bot, Action: store.ActionRecall, Source: store.SourceCommand,
			ChatID: "cid-x", Request: "recall 1", Items: []store.AuditItem{{Key: bot + "-0", ChatID: "cid-x"}}}))
		require.NoError(t, v.Audit.AddAudit(ctx, store.AuditEntry{ID: "t-" + bot, Action: store.ActionRecall, Source: store.SourceAPI,
			Request: "tag nothing"}))
		require.NoError(t, v.States.SetState(ctx, "k", bot, time.Hour))
		first, err := v.Dedup.FirstSeen(ctx, "msg-1", time.Hour)
		require.NoError(t, err)
		assert.True(t, first, "%s: its first sight of the callback", bot)
		_, err = v.States.AddEvent(ctx, "burst", bot, time.Hour)
		require.NoError(t, err)
	}
	clock.Set(at(250))
	// A busy bot with many earlier due messages and older reservations:
	// the others' Due and Pending page past them.
	pile := scoped.New("pile", b.ledger, b.audit, b.states, b.dedup)
	for j := range 60 {
		require.NoError(t, pile.Ledger.Record(ctx, msgOf(fmt.Sprintf("pile-%02d", j), "cid-pile", j%50, "release")))
		require.NoError(t, pile.Ledger.Reserve(ctx, store.Reservation{ID: fmt.Sprintf("p%02d", j), Kind: store.KindGroup,
			ChatID: "cid-x", ReservedAt: at(j)}))
		require.NoError(t, pile.Audit.AddAudit(ctx, store.AuditEntry{ID: fmt.Sprintf("pe%02d", j), Action: store.ActionRecall, ChatID: "cid-pile"}))
	}
	clock.Set(at(300))

	for i, bot := range isoBots {
		v := views[bot]
		t.Run(bot, func(t *testing.T) {
			ms, err := v.Ledger.Newest(ctx, "cid-x", 10)
			require.NoError(t, err)
			assert.Equal(t, own[bot], keysOf(ms), "Newest")
			for _, m := range ms {
				assert.Equal(t, bot, m.Bot)
				assert.Equal(t, "cid-x", m.ChatID)
				assert.Equal(t, "release", m.Tag)
			}
			ms, err = v.Ledger.List(ctx, "cid-x", 0)
			require.NoError(t, err)
			assert.Equal(t, own[bot], keysOf(ms), "List")
			free, inFlight, err := v.Ledger.NewestWithInFlight(ctx, "cid-x", 10)
			require.NoError(t, err)
			assert.Equal(t, own[bot], keysOf(free), "NewestWithInFlight")
			assert.Empty(t, inFlight)
			ms, err = v.Ledger.ByTag(ctx, "release")
			require.NoError(t, err)
			assert.Equal(t, own[bot], keysOf(ms), "ByTag")

			ms, err = v.Ledger.Due(ctx, at(1000), 1)
			require.NoError(t, err)
			assert.Equal(t, []string{bot + "-0"}, keysOf(ms), "Due pages past the pile")
			ms, err = v.Ledger.Due(ctx, at(1000), 0)
			require.NoError(t, err)
			assert.Equal(t, []string{bot + "-0", bot + "-1", bot + "-2"}, keysOf(ms), "all due")

			rs, err := v.Ledger.Pending(ctx, at(1000), 1)
			require.NoError(t, err)
			require.Len(t, rs, 1, "Pending pages past the pile")
			assert.Equal(t, store.Reservation{ID: "r1", Kind: store.KindGroup, ChatID: "cid-x", ReservedAt: at(200 + i), Bot: bot},
				normalRes(rs[0]))

			cs, err := v.Ledger.Chats(ctx)
			require.NoError(t, err)
			assert.Equal(t, []store.Chat{{ID: "cid-x", Kind: store.KindGroup, Title: "Ops", Count: 3, Bot: bot}}, cs)
			c, err := v.Ledger.FindChat(ctx, "ops")
			require.NoError(t, err, "one chat titled Ops per bot: not ambiguous")
			assert.Equal(t, store.Chat{ID: "cid-x", Kind: store.KindGroup, Title: "Ops", Count: 3, Bot: bot}, c)
			c, err = v.Ledger.FindChat(ctx, "cid-x")
			require.NoError(t, err)
			assert.Equal(t, bot, c.Bot)
			_, err = v.Ledger.FindChat(ctx, "cid-pile")
			assert.ErrorIs(t, err, store.ErrNotFound, "another bot's chat")

			es, err := v.Audit.AuditLog(ctx, "", 0)
			require.NoError(t, err)
			require.Len(t, es, 2)
			assert.ElementsMatch(t, []string{"e-" + bot, "t-" + bot}, []string{es[0].ID, es[1].ID})
			es, err = v.Audit.AuditLog(ctx, "", 1)
			require.NoError(t, err)
			require.Len(t, es, 1, "the whole log pages past the pile")
			assert.Equal(t, bot, es[0].Bot)
			es, err = v.Audit.AuditLog(ctx, "cid-x", 0)
			require.NoError(t, err)
			require.Len(t, es, 1)
			assert.Equal(t, "e-"+bot, es[0].ID)
			assert.Equal(t, "cid-x", es[0].ChatID)
			assert.Equal(t, "cid-x", es[0].Items[0].ChatID)
			assert.Equal(t, bot, es[0].Bot)

			got, stored, err := v.States.PutStateIfAbsent(ctx, "k", "other", time.Minute)
			require.NoError(t, err)
			assert.False(t, stored)
			assert.Equal(t, bot, got, "its own state")
			evs, err := v.States.Events(ctx, "burst", time.Hour)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, bot, evs[0].Member)
			first, err := v.Dedup.FirstSeen(ctx, "msg-1", time.Hour)
			require.NoError(t, err)
			assert.False(t, first, "seen once by this bot")

			for _, other := range isoBots {
				if other == bot {
					continue
				}
				_, err := v.Ledger.Get(ctx, other+"-0")
				assert.ErrorIs(t, err, store.ErrNotFound, "another bot's message")
			}
			m, err := v.Ledger.Get(ctx, bot+"-0")
			require.NoError(t, err)
			assert.Equal(t, bot, m.Bot)
		})
	}

	var all []string
	for _, bot := range isoBots {
		all = append(all, own[bot]...)
	}
	slices.Sort(all)
	t.Run("mutations stay in their bot", func(t *testing.T) {
		alerts, deploy := views["alerts"].Ledger, views["deploy"].Ledger
		claimed, err := alerts.Claim(ctx, all)
		require.NoError(t, err)
		assert.ElementsMatch(t, own["alerts"], keysOf(claimed), "Claim takes only its own")
		for _, bot := range []string{scoped.Default, "deploy"} {
			ms, err := views[bot].Ledger.Newest(ctx, "cid-x", 10)
			require.NoError(t, err)
			assert.Equal(t, own[bot], keysOf(ms), "%s: nothing of it was claimed", bot)
		}
		require.NoError(t, alerts.Release(ctx, claimed[0].Claim, own["alerts"]...))

		dc, err := deploy.Claim(ctx, own["deploy"][:1])
		require.NoError(t, err)
		require.Len(t, dc, 1)
		require.NoError(t, alerts.Release(ctx, "", own["deploy"][0]))
		ms, err := deploy.Newest(ctx, "cid-x", 10)
		require.NoError(t, err)
		assert.Equal(t, own["deploy"][1:], keysOf(ms), "another bot's Release leaves the claim")
		require.NoError(t, deploy.Release(ctx, dc[0].Claim, dc[0].Key))

		require.NoError(t, alerts.Fail(ctx, "", map[string]store.Failure{own["deploy"][0]: {Code: "x"}, own["alerts"][0]: {Code: "y"}}))
		m, err := deploy.Get(ctx, own["deploy"][0])
		require.NoError(t, err)
		assert.True(t, m.Failure.IsZero(), "another bot's Fail leaves it")
		m, err = alerts.Get(ctx, own["alerts"][0])
		require.NoError(t, err)
		assert.Equal(t, "y", m.Failure.Code)

		require.NoError(t, alerts.Remove(ctx, all...))
		ms, err = alerts.List(ctx, "cid-x", 0)
		require.NoError(t, err)
		assert.Empty(t, ms, "its own are removed")
		for _, bot := range []string{scoped.Default, "deploy"} {
			ms, err := views[bot].Ledger.List(ctx, "cid-x", 0)
			require.NoError(t, err)
			assert.Equal(t, own[bot], keysOf(ms), "%s: nothing of it was removed", bot)
		}

		for _, bot := range isoBots {
			r, ok, err := views[bot].Ledger.SettlePending(ctx, "r1")
			require.NoError(t, err)
			require.True(t, ok, "%s settles its own r1", bot)
			assert.Equal(t, bot, r.Bot)
		}
		require.NoError(t, views["deploy"].Ledger.Drop(ctx, "r1"))

		taken, err := deploy.TakeNewest(ctx, "cid-x", 10)
		require.NoError(t, err)
		assert.Equal(t, own["deploy"], keysOf(taken))
		taken, inFlight, err := views[scoped.Default].Ledger.TakeNewestWithInFlight(ctx, "cid-x", 10)
		require.NoError(t, err)
		assert.Equal(t, own[scoped.Default], keysOf(taken), "the default bot takes its own only")
		assert.Empty(t, inFlight, "another bot's claims are not in flight for it")
	})
}

// normalRes is r with its time in UTC, for comparison.
func normalRes(r store.Reservation) store.Reservation {
	r.ReservedAt = r.ReservedAt.UTC()
	return r
}
