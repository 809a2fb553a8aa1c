package scoped_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/scoped"
	"github.com/dingrecall/dingrecall/store/storetest"
)

func TestScopeSplit(t *testing.T) {
	tests := []struct {
		bot, id, stored string
		splitBot        string
	}{
		{"default", "cid-1", "cid-1", "default"},
		{"", "cid-1", "cid-1", "default"},
		{"alerts", "cid-1", "@alerts:cid-1", "alerts"},
		{"alerts", "a:b", "@alerts:a:b", "alerts"},
		{"alerts", "", "", "default"},
		{"deploy_2", "staff-7", "@deploy_2:staff-7", "deploy_2"},
	}
	for _, tt := range tests {
		t.Run(tt.bot+"/"+tt.id, func(t *testing.T) {
			got := scoped.Scope(tt.bot, tt.id)
			assert.Equal(t, tt.stored, got)
			bot, id := scoped.Split(got)
			assert.Equal(t, tt.splitBot, bot)
			assert.Equal(t, tt.id, id)
			assert.Equal(t, tt.splitBot, scoped.BotOf(got))
		})
	}
	for _, odd := range []string{"@", "@:x", "@nocolon"} {
		bot, id := scoped.Split(odd)
		assert.Equal(t, scoped.Default, bot, "%q is not a scoped form", odd)
		assert.Equal(t, odd, id)
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"default", true},
		{"alerts", true},
		{"deploy-bot_2", true},
		{"", false},
		{"Alerts", false},
		{"a:b", false},
		{"@a", false},
		{"with space", false},
		{"机器人", false},
		{"abcdefghijabcdefghijabcdefghijab", true},
		{"abcdefghijabcdefghijabcdefghijabc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := scoped.CheckName(tt.name)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, scoped.ErrName)
			if tt.name != "" { // an empty name is Default's
				assert.Panics(t, func() { scoped.NewLedger(tt.name, nil) }, "a view refuses the name")
			}
		})
	}
}

// pairs are the views the conformance suites run on, each with another
// bot writing a copy of everything beside it.
var pairs = []struct{ bot, noise string }{
	{"alerts", scoped.Default},
	{scoped.Default, "alerts"},
	{"alerts", "deploy"},
}

func TestLedgerConformance(t *testing.T) {
	for _, p := range pairs {
		t.Run(p.bot+"+"+p.noise, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, cfg storetest.Config) store.Ledger {
				m, err := memory.New(memory.Options{TTL: cfg.TTL, PerChat: cfg.PerChat, Lease: cfg.Lease, Now: cfg.Clock.Now})
				require.NoError(t, err)
				t.Cleanup(func() { _ = m.Close() })
				return &harness{t: t, bot: p.bot, v: scoped.NewLedger(p.bot, m), noise: scoped.NewLedger(p.noise, m)}
			})
		})
	}
}

func TestAuditConformance(t *testing.T) {
	for _, p := range pairs {
		t.Run(p.bot+"+"+p.noise, func(t *testing.T) {
			storetest.RunAudit(t, func(t *testing.T, clock *storetest.Clock, ttl time.Duration) store.Audit {
				a, err := memory.NewAudit(memory.AuditOptions{TTL: ttl, Now: clock.Now})
				require.NoError(t, err)
				t.Cleanup(func() { _ = a.Close() })
				return &auditHarness{t: t, bot: p.bot, v: scoped.NewAudit(p.bot, a), noise: scoped.NewAudit(p.noise, a)}
			})
		})
	}
}

func TestStatesConformance(t *testing.T) {
	for _, bot := range []string{scoped.Default, "alerts"} {
		t.Run(bot, func(t *testing.T) {
			storetest.RunStates(t, func(t *testing.T, clock *storetest.Clock) store.States {
				s, err := memory.NewStates(memory.StatesOptions{Now: clock.Now})
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				return scoped.NewStates(bot, s)
			})
		})
	}
}

func TestDeduperConformance(t *testing.T) {
	for _, bot := range []string{scoped.Default, "alerts"} {
		t.Run(bot, func(t *testing.T) {
			storetest.RunDeduper(t, func(t *testing.T, clock *storetest.Clock) store.Deduper {
				d, err := memory.NewDeduper(memory.DeduperOptions{Now: clock.Now})
				require.NoError(t, err)
				t.Cleanup(func() { _ = d.Close() })
				return scoped.NewDeduper(bot, d)
			})
		})
	}
}

func TestIsolationMemory(t *testing.T) {
	runIsolation(t, memoryBacking)
}

// A view refuses chat IDs, reservation IDs and keys that look scoped, and
// finds nothing under them.
func TestRefusesScopedLooking(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	b := memoryBacking(t, clock)
	other := scoped.New("alerts", b.ledger, b.audit, b.states, b.dedup)
	require.NoError(t, other.Ledger.Record(ctx, msgOf("k1", "cid", 1, "t")))
	require.NoError(t, other.Ledger.SetTitle(ctx, "cid", store.KindGroup, "Ops"))
	require.NoError(t, other.States.SetState(ctx, "k", "v", time.Minute))
	for _, bot := range []string{scoped.Default, "deploy"} {
		t.Run(bot, func(t *testing.T) {
			v := scoped.New(bot, b.ledger, b.audit, b.states, b.dedup)
			const sc = "@alerts:cid"
			invalid := map[string]error{
				"Record":   v.Ledger.Record(ctx, msgOf("k2", sc, 2, "")),
				"SetTitle": v.Ledger.SetTitle(ctx, sc, store.KindGroup, "x"),
				"Reserve":  v.Ledger.Reserve(ctx, store.Reservation{ID: "r", Kind: store.KindGroup, ChatID: sc}),
				"ReserveID": v.Ledger.Reserve(ctx, store.Reservation{ID: "@alerts:r", Kind: store.KindGroup,
					ChatID: "cid"}),
				"Commit":   v.Ledger.Commit(ctx, "@alerts:r", msgOf("k3", "cid", 3, "")),
				"AddAudit": v.Audit.AddAudit(ctx, store.AuditEntry{ChatID: sc}),
				"SetState": v.States.SetState(ctx, "@alerts:k", "x", time.Minute),
			}
			_, err := v.Dedup.FirstSeen(ctx, "@alerts:m", time.Minute)
			invalid["FirstSeen"] = err
			for name, err := range invalid {
				assert.ErrorIs(t, err, store.ErrInvalid, name)
			}
			ms, err := v.Ledger.List(ctx, sc, 0)
			require.NoError(t, err)
			assert.Empty(t, ms)
			ms, err = v.Ledger.ByTag(ctx, "@alerts:t")
			require.NoError(t, err)
			assert.Empty(t, ms, "another bot's stored tag")
			_, err = v.Ledger.FindChat(ctx, sc)
			assert.ErrorIs(t, err, store.ErrNotFound)
			_, err = v.Ledger.FindChat(ctx, "@alerts:Ops")
			assert.ErrorIs(t, err, store.ErrNotFound, "another bot's stored title")
			_, ok, err := v.Ledger.SettlePending(ctx, "@alerts:r")
			require.NoError(t, err)
			assert.False(t, ok)
			es, err := v.Audit.AuditLog(ctx, sc, 0)
			require.NoError(t, err)
			assert.Empty(t, es)
		})
	}
	got, _, err := other.States.TakeState(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", got)
	_, err = other.Ledger.Get(ctx, "k1")
	require.NoError(t, err, "untouched")
}

// Unscope* map what the underlying store holds back to what each bot's view
// shows, for listings across bots.
func TestUnscope(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	b := memoryBacking(t, clock)
	for i, bot := range []string{scoped.Default, "alerts"} {
		v := scoped.New(bot, b.ledger, b.audit, b.states, b.dedup)
		require.NoError(t, v.Ledger.Record(ctx, msgOf("k-"+bot, "cid", i, "t")))
		require.NoError(t, v.Ledger.SetTitle(ctx, "cid", store.KindGroup, "Ops"))
		require.NoError(t, v.Ledger.Reserve(ctx, store.Reservation{ID: "r-" + bot, Kind: store.KindGroup, ChatID: "cid", Tag: "t"}))
		require.NoError(t, v.Audit.AddAudit(ctx, store.AuditEntry{Action: store.ActionRecall, ChatID: "cid",
			Items: []store.AuditItem{{Key: "k-" + bot, ChatID: "cid"}}}))
	}
	all, err := b.ledger.List(ctx, scoped.Scope("alerts", "cid"), 0)
	require.NoError(t, err)
	require.Len(t, all, 1)
	m := scoped.UnscopeMessage(all[0])
	assert.Equal(t, []string{"alerts", "cid", "t"}, []string{m.Bot, m.ChatID, m.Tag})

	chats, err := b.ledger.Chats(ctx)
	require.NoError(t, err)
	var seen []string
	for _, c := range chats {
		c = scoped.UnscopeChat(c)
		assert.Equal(t, "cid", c.ID)
		assert.Equal(t, "Ops", c.Title)
		seen = append(seen, c.Bot)
	}
	assert.ElementsMatch(t, []string{"default", "alerts"}, seen)

	rs, err := b.ledger.Pending(ctx, storetest.Start.Add(time.Hour), 0)
	require.NoError(t, err)
	seen = nil
	for _, r := range rs {
		r = scoped.UnscopeReservation(r)
		assert.Equal(t, "r-"+r.Bot, r.ID)
		assert.Equal(t, []string{"cid", "t"}, []string{r.ChatID, r.Tag})
		seen = append(seen, r.Bot)
	}
	assert.ElementsMatch(t, []string{"default", "alerts"}, seen)

	es, err := b.audit.AuditLog(ctx, "", 0)
	require.NoError(t, err)
	seen = nil
	for _, e := range es {
		e = scoped.UnscopeEntry(e)
		assert.Equal(t, "cid", e.ChatID)
		assert.Equal(t, "k-"+e.Bot, e.Items[0].Key)
		assert.Equal(t, "cid", e.Items[0].ChatID)
		seen = append(seen, e.Bot)
	}
	assert.ElementsMatch(t, []string{"default", "alerts"}, seen)
}

// The view has DeferDue exactly when the underlying ledger has it, and it
// defers only the bot's keys.
func TestDeferDue(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	b := memoryBacking(t, clock)
	type deferrer interface {
		DeferDue(ctx context.Context, keys []string, base, max time.Duration) (map[string]time.Time, error)
	}
	_, ok := scoped.NewLedger("alerts", b.ledger).(deferrer)
	assert.False(t, ok, "the memory ledger has no DeferDue, nor has its view")

	f := &fakeDeferrer{Ledger: b.ledger}
	for i, bot := range []string{"alerts", "deploy"} {
		require.NoError(t, scoped.NewLedger(bot, f).Record(ctx, msgOf("k-"+bot, "cid", i, "")))
	}
	d, ok := scoped.NewLedger("alerts", f).(deferrer)
	require.True(t, ok)
	_, err := d.DeferDue(ctx, []string{"k-alerts", "k-deploy", "missing"}, time.Second, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"k-alerts"}, f.got)
	_, err = d.DeferDue(ctx, []string{"k-deploy"}, time.Second, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, f.got)
}

// fakeDeferrer is a ledger with DeferDue, which records the keys it got.
type fakeDeferrer struct {
	store.Ledger
	got []string
}

func (f *fakeDeferrer) DeferDue(_ context.Context, keys []string, _, _ time.Duration) (map[string]time.Time, error) {
	f.got = keys
	return map[string]time.Time{}, nil
}

// A key recorded again in another bot's chat between the view's check and
// its claim (which a processQueryKey never is) is given back at once.
func TestClaimGivesBackAnotherBots(t *testing.T) {
	ctx := t.Context()
	b := memoryBacking(t, storetest.NewClock(storetest.Start))
	require.NoError(t, scoped.NewLedger("alerts", b.ledger).Record(ctx, msgOf("k1", "cid", 1, "")))
	l := &movingLedger{Ledger: b.ledger}
	got, err := scoped.NewLedger(scoped.Default, l).Claim(ctx, []string{"k1"})
	require.NoError(t, err)
	assert.Empty(t, got)
	ms, err := scoped.NewLedger("alerts", b.ledger).Newest(ctx, "cid", 5)
	require.NoError(t, err)
	assert.Equal(t, []string{"k1"}, keysOf(ms), "released again")
}

// movingLedger's Get reports every message in the default bot's chat, as
// if it moved to another bot's between Get and Claim.
type movingLedger struct{ store.Ledger }

func (l *movingLedger) Get(ctx context.Context, key string) (store.Message, error) {
	m, err := l.Ledger.Get(ctx, key)
	m.ChatID = "cid"
	return m, err
}
