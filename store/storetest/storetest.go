package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
)

// Config is what the suite asks of a ledger under test: the clock to read
// time from and the limits to apply.
type Config struct {
	// Clock is the clock for every expiry and lease decision.
	Clock *Clock
	// TTL is how long after SentAt a message stays tracked.
	TTL time.Duration
	// PerChat is the most messages tracked per chat.
	PerChat int
	// Lease is how long a claim holds.
	Lease time.Duration
}

// The limits of a ledger unless a test asks otherwise.
const (
	defaultTTL     = 24 * time.Hour
	defaultPerChat = 1000
	defaultLease   = 5 * time.Minute
)

// Factory returns a new, empty ledger configured by cfg. It is called once
// per subtest and should clean up with t.Cleanup.
type Factory func(t *testing.T, cfg Config) store.Ledger

// Run runs the conformance suite against the ledgers newLedger returns.
func Run(t *testing.T, newLedger Factory) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, f Factory)
	}{
		{"RecordGet", testRecordGet},
		{"RecordInvalid", testRecordInvalid},
		{"RecordReplaces", testRecordReplaces},
		{"ListNewestFirst", testListNewestFirst},
		{"NewestSkipsReplies", testNewestSkipsReplies},
		{"NewestPeeksTakeNewestClaims", testNewestPeeksTakeNewestClaims},
		{"TakeNewestConcurrent", testTakeNewestConcurrent},
		{"Claim", testClaim},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Remove", testRemove},
		{"Fail", testFail},
		{"Release", testRelease},
		{"LeaseExpiry", testLeaseExpiry},
		{"LateHolder", testLateHolder},
		{"TTLExpiry", testTTLExpiry},
		{"PerChatCap", testPerChatCap},
		{"ByTag", testByTag},
		{"Due", testDue},
		{"Chats", testChats},
		{"SetTitleInvalid", testSetTitleInvalid},
		{"FindChat", testFindChat},
		{"ConcurrentRecordRemove", testConcurrentRecordRemove},
		{"ContextCanceled", testContextCanceled},
		{"Ping", testPing},
		{"ReservationLifecycle", testReservationLifecycle},
		{"ReservationInvalid", testReservationInvalid},
		{"ReservationExpiry", testReservationExpiry},
		{"SettlePendingConcurrent", testSettlePending},
		{"Renew", testRenew},
		{"Lapsed", testLapsed},
		{"InFlight", testInFlight},
		{"InFlightConcurrent", testInFlightConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newLedger) })
	}
}

// env is one subtest's ledger with its clock.
type env struct {
	t     *testing.T
	ctx   context.Context
	l     store.Ledger
	clock *Clock
	cfg   Config
}

func newEnv(t *testing.T, f Factory, mods ...func(*Config)) *env {
	t.Helper()
	cfg := Config{Clock: NewClock(Start), TTL: defaultTTL, PerChat: defaultPerChat, Lease: defaultLease}
	for _, mod := range mods {
		mod(&cfg)
	}
	l := f(t, cfg)
	require.NotNil(t, l, "factory returned no ledger")
	return &env{t: t, ctx: t.Context(), l: l, clock: cfg.Clock, cfg: cfg}
}

func (e *env) record(ms ...store.Message) {
	e.t.Helper()
	for _, m := range ms {
		require.NoError(e.t, e.l.Record(e.ctx, m), "record %s", m.Key)
	}
}

func (e *env) list(chatID string) []string {
	e.t.Helper()
	ms, err := e.l.List(e.ctx, chatID, 0)
	require.NoError(e.t, err)
	return keys(ms)
}

func (e *env) newest(chatID string, n int) []string {
	e.t.Helper()
	ms, err := e.l.Newest(e.ctx, chatID, n)
	require.NoError(e.t, err)
	return keys(ms)
}

func (e *env) take(chatID string, n int) []string {
	e.t.Helper()
	ms, err := e.l.TakeNewest(e.ctx, chatID, n)
	require.NoError(e.t, err)
	return keys(ms)
}

func (e *env) claim(ks ...string) []string {
	e.t.Helper()
	ms, err := e.l.Claim(e.ctx, ks)
	require.NoError(e.t, err)
	return keys(ms)
}

func (e *env) byTag(tag string) []string {
	e.t.Helper()
	ms, err := e.l.ByTag(e.ctx, tag)
	require.NoError(e.t, err)
	return keys(ms)
}

func (e *env) due(now time.Time, limit int) []string {
	e.t.Helper()
	ms, err := e.l.Due(e.ctx, now, limit)
	require.NoError(e.t, err)
	return keys(ms)
}

func (e *env) chats() []store.Chat {
	e.t.Helper()
	cs, err := e.l.Chats(e.ctx)
	require.NoError(e.t, err)
	return cs
}

// requireGone fails unless every key is unknown to Get.
func (e *env) requireGone(ks ...string) {
	e.t.Helper()
	for _, k := range ks {
		_, err := e.l.Get(e.ctx, k)
		require.ErrorIs(e.t, err, store.ErrNotFound, "get %s", k)
	}
}

// get returns the message with the key, which must be tracked.
func (e *env) get(k string) store.Message {
	e.t.Helper()
	m, err := e.l.Get(e.ctx, k)
	require.NoError(e.t, err, "get %s", k)
	return m
}

// at returns the suite's start time plus sec seconds.
func at(sec int) time.Time { return Start.Add(time.Duration(sec) * time.Second) }

// msg returns a group text message sent sec seconds after Start.
func msg(key, chatID string, sec int, opts ...func(*store.Message)) store.Message {
	m := store.Message{
		Key:       key,
		Kind:      store.KindGroup,
		ChatID:    chatID,
		RobotCode: "robot-1",
		MsgKey:    "sampleText",
		MsgParam:  `{"content":"` + key + `"}`,
		SentAt:    at(sec),
	}
	for _, o := range opts {
		o(&m)
	}
	return m
}

func reply(m *store.Message) { m.Reply = true }

func tag(t string) func(*store.Message) { return func(m *store.Message) { m.Tag = t } }

func dueAt(sec int) func(*store.Message) { return func(m *store.Message) { m.ExpiresAt = at(sec) } }

func keys(ms []store.Message) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Key)
	}
	return out
}

// normal returns m with its times in UTC, for comparison.
func normal(m store.Message) store.Message {
	m.SentAt = m.SentAt.UTC()
	if !m.ExpiresAt.IsZero() {
		m.ExpiresAt = m.ExpiresAt.UTC()
	}
	return m
}

func testRecordGet(t *testing.T, f Factory) {
	e := newEnv(t, f)
	tests := []struct {
		name string
		m    store.Message
	}{
		{"group text", msg("k1", "cid-a", 1)},
		{"reply", msg("k2", "cid-a", 2, reply)},
		{"private with tag", msg("k3", "cid-b", 3, tag("deploy-42"), func(m *store.Message) { m.Kind = store.KindPrivate })},
		{"oto with ttl", msg("k4", "staff-7", 4, dueAt(64), func(m *store.Message) { m.Kind = store.KindOTO })},
		{"markdown with failure", msg("k5", "cid-a", 5, func(m *store.Message) {
			m.MsgKey = "sampleMarkdown"
			m.MsgParam = `{"title":"t","text":"# 标题\n正文"}`
			m.Failure = store.Failure{Code: "msg.tooOld", Message: "message too old"}
		})},
		{"other robot, local time zone", msg("k6", "cid-c", 6, func(m *store.Message) {
			m.RobotCode = "robot-2"
			m.SentAt = m.SentAt.In(time.FixedZone("CST", 8*3600))
		})},
	}
	for _, tt := range tests {
		e.record(tt.m)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.l.Get(e.ctx, tt.m.Key)
			require.NoError(t, err)
			assert.Equal(t, normal(tt.m), normal(got))
		})
	}
	_, err := e.l.Get(e.ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testRecordInvalid(t *testing.T, f Factory) {
	e := newEnv(t, f)
	tests := []struct {
		name string
		mod  func(*store.Message)
	}{
		{"empty key", func(m *store.Message) { m.Key = "" }},
		{"empty chat", func(m *store.Message) { m.ChatID = "" }},
		{"empty kind", func(m *store.Message) { m.Kind = "" }},
		{"unknown kind", func(m *store.Message) { m.Kind = "channel" }},
		{"zero sent time", func(m *store.Message) { m.SentAt = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msg("bad", "cid-a", 1, tt.mod)
			err := e.l.Record(e.ctx, m)
			require.ErrorIs(t, err, store.ErrInvalid)
			e.requireGone("bad")
			assert.Empty(t, e.list("cid-a"))
		})
	}
	assert.Empty(t, e.chats())
}

func testRecordReplaces(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(msg("k1", "cid-a", 1, tag("x")), msg("k0", "cid-a", 0))
	require.Equal(t, []string{"k1"}, e.take("cid-a", 1))

	again := msg("k1", "cid-b", 5, func(m *store.Message) { m.MsgParam = `{"content":"again"}` })
	e.record(again)

	assert.Equal(t, normal(again), normal(e.get("k1")))
	assert.Equal(t, []string{"k0"}, e.list("cid-a"))
	assert.Equal(t, []string{"k1"}, e.list("cid-b"))
	assert.Empty(t, e.byTag("x"), "the old tag is gone")
	assert.Equal(t, []string{"k1"}, e.newest("cid-b", 5), "the claim went with the old message")
	assert.Equal(t, []store.Chat{
		{ID: "cid-b", Kind: store.KindGroup, Count: 1},
		{ID: "cid-a", Kind: store.KindGroup, Count: 1},
	}, e.chats())
}

func testListNewestFirst(t *testing.T, f Factory) {
	e := newEnv(t, f)
	// Recorded out of order, as concurrent senders may.
	e.record(
		msg("k3", "cid-a", 3),
		msg("k1", "cid-a", 1),
		msg("k5", "cid-a", 5, reply),
		msg("k2", "cid-a", 2),
		msg("k4", "cid-a", 4),
		msg("other", "cid-b", 6),
	)
	require.Equal(t, []string{"k4"}, e.take("cid-a", 1))

	tests := []struct {
		chat  string
		limit int
		want  []string
	}{
		{"cid-a", 0, []string{"k5", "k4", "k3", "k2", "k1"}},
		{"cid-a", -1, []string{"k5", "k4", "k3", "k2", "k1"}},
		{"cid-a", 2, []string{"k5", "k4"}},
		{"cid-a", 5, []string{"k5", "k4", "k3", "k2", "k1"}},
		{"cid-a", 50, []string{"k5", "k4", "k3", "k2", "k1"}},
		{"cid-b", 0, []string{"other"}},
		{"cid-none", 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s limit %d", tt.chat, tt.limit), func(t *testing.T) {
			ms, err := e.l.List(e.ctx, tt.chat, tt.limit)
			require.NoError(t, err)
			assert.Equal(t, tt.want, keys(ms))
		})
	}
}

func testNewestSkipsReplies(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(
		msg("k1", "cid-a", 1),
		msg("k2", "cid-a", 2, reply),
		msg("k3", "cid-a", 3),
		msg("k4", "cid-a", 4),
		msg("k5", "cid-a", 5, reply),
		msg("k6", "cid-a", 6),
		msg("b1", "cid-b", 7),
	)
	tests := []struct {
		n    int
		want []string
	}{
		{-1, []string{}},
		{0, []string{}},
		{1, []string{"k6"}},
		{2, []string{"k6", "k4"}},
		{3, []string{"k6", "k4", "k3"}},
		{4, []string{"k6", "k4", "k3", "k1"}},
		{10, []string{"k6", "k4", "k3", "k1"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d", tt.n), func(t *testing.T) {
			assert.Equal(t, tt.want, e.newest("cid-a", tt.n))
		})
	}
	assert.Empty(t, e.newest("cid-none", 3))
}

func testNewestPeeksTakeNewestClaims(t *testing.T, f Factory) {
	e := newEnv(t, f)
	for i := 1; i <= 6; i++ {
		e.record(msg(fmt.Sprintf("k%d", i), "cid-a", i))
	}
	require.Equal(t, []string{"k6", "k5"}, e.newest("cid-a", 2))
	require.Equal(t, []string{"k6", "k5"}, e.newest("cid-a", 2), "Newest claims nothing")

	require.Equal(t, []string{"k6", "k5"}, e.take("cid-a", 2))
	assert.Equal(t, []string{"k4", "k3"}, e.newest("cid-a", 2), "claimed messages are skipped")
	assert.Equal(t, []string{"k4", "k3"}, e.take("cid-a", 2))
	assert.Equal(t, []string{"k2", "k1"}, e.take("cid-a", 5))
	assert.Empty(t, e.take("cid-a", 5))
	assert.Empty(t, e.newest("cid-a", 5))
	assert.Empty(t, e.claim("k1", "k6"), "claimed messages cannot be claimed again")
	assert.Equal(t, []string{"k6", "k5", "k4", "k3", "k2", "k1"}, e.list("cid-a"), "List shows claimed messages")
}

// fillChat records n messages k000… into cid-a, one in every replyEvery a
// command reply, and returns the keys of the others (what recalls take).
func (e *env) fillChat(n, replyEvery int) []string {
	var want []string
	for i := range n {
		k := fmt.Sprintf("k%03d", i)
		if i%replyEvery == 0 {
			e.record(msg(k, "cid-a", i, reply))
			continue
		}
		e.record(msg(k, "cid-a", i))
		want = append(want, k)
	}
	return want
}

func testTakeNewestConcurrent(t *testing.T, f Factory) {
	e := newEnv(t, f)
	want := e.fillChat(300, 7)

	const workers = 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   []string
		errs  []error
		start = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			<-start
			for {
				ms, err := e.l.TakeNewest(e.ctx, "cid-a", 1+w%4)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				got = append(got, keys(ms)...)
				over := len(got) > len(want) // taken twice: stop rather than spin
				mu.Unlock()
				if err != nil || len(ms) == 0 || over {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, errs)
	require.Len(t, got, len(want), "no key taken twice, none left")
	slices.Sort(got)
	assert.Equal(t, want, got)
}

func testClaim(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(
		msg("a", "cid-a", 1),
		msg("b", "cid-a", 2),
		msg("r", "cid-a", 3, reply),
		msg("x", "cid-b", 4),
	)
	tests := []struct {
		name string
		keys []string
		want []string
	}{
		{"none", nil, []string{}},
		{"in the order given, missing left out, duplicates once", []string{"missing", "r", "a", "a", "x"}, []string{"r", "a", "x"}},
		{"claimed ones left out", []string{"a", "b", "x"}, []string{"b"}},
		{"all claimed", []string{"a", "b", "r", "x"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := e.l.Claim(e.ctx, tt.keys)
			require.NoError(t, err)
			assert.Equal(t, tt.want, keys(ms))
		})
	}
	assert.Empty(t, e.newest("cid-a", 5))
	assert.Empty(t, e.newest("cid-b", 5))
}

func testClaimConcurrent(t *testing.T, f Factory) {
	e := newEnv(t, f)
	var all []string
	for i := range 100 {
		k := fmt.Sprintf("k%03d", i)
		e.record(msg(k, fmt.Sprintf("cid-%d", i%3), i))
		all = append(all, k)
	}
	const workers = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   []string
		start = make(chan struct{})
	)
	for w := range workers {
		ks := slices.Clone(all)
		rand.New(rand.NewPCG(uint64(w), 1)).Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
		wg.Go(func() {
			<-start
			for len(ks) > 0 {
				batch := ks[:min(7, len(ks))]
				ks = ks[len(batch):]
				ms, err := e.l.Claim(e.ctx, batch)
				assert.NoError(t, err)
				mu.Lock()
				got = append(got, keys(ms)...)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	require.Len(t, got, len(all), "each key claimed exactly once")
	slices.Sort(got)
	assert.Equal(t, all, got)
}

func testRemove(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(
		msg("a", "cid-a", 1),
		msg("b", "cid-a", 2),
		msg("c", "cid-a", 3),
		msg("d", "cid-a", 4),
	)
	require.Equal(t, []string{"d"}, e.take("cid-a", 1))

	require.NoError(t, e.l.Remove(e.ctx))
	require.NoError(t, e.l.Remove(e.ctx, "b", "missing", "d"))
	e.requireGone("b", "d")
	assert.Equal(t, []string{"c", "a"}, e.list("cid-a"))
	assert.Equal(t, []string{"c", "a"}, e.newest("cid-a", 5))
	assert.Empty(t, e.claim("b", "d"))

	require.NoError(t, e.l.Remove(e.ctx, "a", "c"))
	assert.Empty(t, e.list("cid-a"))
	assert.Empty(t, e.chats(), "a chat without messages is not listed")
}

func testFail(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(
		msg("a", "cid-a", 1),
		msg("b", "cid-a", 2),
		msg("c", "cid-a", 3),
	)
	require.Equal(t, []string{"c", "b"}, e.take("cid-a", 2))
	require.NoError(t, e.l.Fail(e.ctx, "", map[string]store.Failure{"c": {Code: "recall.window", Message: "recall window passed"}, "missing": {Message: "whatever"}}))

	assert.Equal(t, store.Failure{Code: "recall.window", Message: "recall window passed"}, e.get("c").Failure, "code and words are kept apart")
	assert.Empty(t, e.get("b").Failure)
	assert.Equal(t, []string{"c", "a"}, e.newest("cid-a", 5), "a failed message is recallable again, b stays claimed")
	ms, err := e.l.List(e.ctx, "cid-a", 1)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, "recall window passed", ms[0].Failure.Message, "List shows the failure")
	assert.Equal(t, []string{"c", "a"}, e.take("cid-a", 5))

	require.NoError(t, e.l.Fail(e.ctx, "", map[string]store.Failure{"c": {Message: "still too old"}}))
	assert.Equal(t, store.Failure{Message: "still too old"}, e.get("c").Failure, "the last failure counts")
	e.requireGone("missing")
}

func testRelease(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(
		msg("a", "cid-a", 1),
		msg("b", "cid-a", 2),
		msg("c", "cid-a", 3),
	)
	require.NoError(t, e.l.Fail(e.ctx, "", map[string]store.Failure{"c": {Message: "busy"}}))
	require.Equal(t, []string{"c", "b"}, e.take("cid-a", 2))

	require.NoError(t, e.l.Release(e.ctx, "", "c", "a", "missing"))
	assert.Equal(t, []string{"c", "a"}, e.newest("cid-a", 5))
	assert.Equal(t, "busy", e.get("c").Failure.Message, "Release keeps the failure")
	assert.Equal(t, normal(msg("c", "cid-a", 3, func(m *store.Message) { m.Failure = store.Failure{Message: "busy"} })), normal(e.get("c")))

	require.NoError(t, e.l.Release(e.ctx, ""))
	require.NoError(t, e.l.Release(e.ctx, "", "b"))
	assert.Equal(t, []string{"c", "b", "a"}, e.newest("cid-a", 5))
}

func testLeaseExpiry(t *testing.T, f Factory) {
	e := newEnv(t, f, func(c *Config) { c.Lease = time.Minute })
	e.record(msg("a", "cid-a", 1), msg("b", "cid-a", 2, dueAt(0)))
	require.Equal(t, []string{"b"}, e.take("cid-a", 1))
	require.Equal(t, []string{"a"}, e.claim("a"))

	e.clock.Advance(time.Minute - time.Second)
	assert.Empty(t, e.newest("cid-a", 5), "still claimed")
	assert.Empty(t, e.claim("a", "b"), "still claimed")
	assert.Empty(t, e.due(at(60), 0), "still claimed")

	e.clock.Advance(time.Second)
	assert.Equal(t, []string{"b", "a"}, e.newest("cid-a", 5), "the leases lapsed")
	assert.Equal(t, []string{"b"}, e.due(at(60), 0))
	assert.Equal(t, []string{"b"}, e.claim("b"), "a lapsed claim can be claimed again")
	assert.Equal(t, []string{"a"}, e.take("cid-a", 5), "and taken again")
}

// testLateHolder: a holder whose lease lapsed, and whose messages another
// recaller claimed meanwhile, must not free the new claim with a late Fail
// or Release (or a third recaller would take the same keys).
func testLateHolder(t *testing.T, f Factory) {
	e := newEnv(t, f, func(c *Config) { c.Lease = time.Minute })
	e.record(msg("a", "cid-a", 1), msg("b", "cid-a", 2))
	first, err := e.l.TakeNewest(e.ctx, "cid-a", 2)
	require.NoError(t, err)
	require.Len(t, first, 2)
	require.NotEmpty(t, first[0].Claim, "a claim comes with its token")

	e.clock.Advance(time.Minute)
	second, err := e.l.Claim(e.ctx, []string{"a", "b"})
	require.NoError(t, err)
	require.Len(t, second, 2, "the lapsed claims are taken again")
	require.NotEqual(t, first[0].Claim, second[0].Claim)

	require.NoError(t, e.l.Fail(e.ctx, first[0].Claim, map[string]store.Failure{"a": {Message: "late"}}))
	require.NoError(t, e.l.Release(e.ctx, first[0].Claim, "b"))
	assert.Empty(t, e.newest("cid-a", 5), "the late holder freed nothing")
	got, err := e.l.Get(e.ctx, "a")
	require.NoError(t, err)
	assert.Empty(t, got.Failure, "and recorded no failure")

	require.NoError(t, e.l.Fail(e.ctx, second[0].Claim, map[string]store.Failure{"a": {Message: "busy"}}))
	require.NoError(t, e.l.Release(e.ctx, second[0].Claim, "b"))
	assert.Equal(t, []string{"b", "a"}, e.newest("cid-a", 5), "the holder frees its own claims")
}

func testTTLExpiry(t *testing.T, f Factory) {
	const ttl = time.Hour
	e := newEnv(t, f, func(c *Config) { c.TTL = ttl })
	e.record(
		msg("old", "cid-a", 0, tag("t"), dueAt(30)),
		msg("old-b", "cid-b", 10),
		msg("new", "cid-a", 600, tag("t"), dueAt(30)),
	)
	require.NoError(t, e.l.SetTitle(e.ctx, "cid-b", store.KindGroup, "Team B"))

	// One second before the oldest expires everything is there.
	e.clock.Set(at(0).Add(ttl - time.Second))
	assert.Equal(t, []string{"new", "old"}, e.list("cid-a"))
	assert.Len(t, e.chats(), 2)

	e.clock.Set(at(10).Add(ttl))
	e.requireGone("old", "old-b")
	assert.Equal(t, []string{"new"}, e.list("cid-a"))
	assert.Equal(t, []string{"new"}, e.newest("cid-a", 5))
	assert.Equal(t, []string{"new"}, e.byTag("t"))
	assert.Equal(t, []string{"new"}, e.due(at(60), 0))
	assert.Empty(t, e.claim("old", "old-b"))
	assert.Empty(t, e.list("cid-b"))
	assert.Equal(t, []store.Chat{{ID: "cid-a", Kind: store.KindGroup, Count: 1}}, e.chats())
	c, err := e.l.FindChat(e.ctx, "Team B")
	require.NoError(t, err, "the title outlives the messages")
	assert.Equal(t, store.Chat{ID: "cid-b", Kind: store.KindGroup, Title: "Team B"}, c)

	// A message that is already TTL old is accepted but not tracked.
	require.NoError(t, e.l.Record(e.ctx, msg("late", "cid-a", 0)))
	e.requireGone("late")

	assert.Equal(t, []string{"new"}, e.take("cid-a", 5))
	e.clock.Set(at(600).Add(ttl))
	e.requireGone("new")
	assert.Empty(t, e.list("cid-a"))
	assert.Empty(t, e.chats())
	assert.Empty(t, e.byTag("t"))
	assert.Empty(t, e.due(at(60), 0))
}

func testPerChatCap(t *testing.T, f Factory) {
	e := newEnv(t, f, func(c *Config) { c.PerChat = 3 })
	for i := 1; i <= 5; i++ {
		e.record(msg(fmt.Sprintf("k%d", i), "cid-a", i*10, tag("t")))
	}
	e.record(msg("b1", "cid-b", 1))
	assert.Equal(t, []string{"k5", "k4", "k3"}, e.list("cid-a"))
	e.requireGone("k1", "k2")
	assert.Equal(t, []string{"k5", "k4", "k3"}, e.byTag("t"))
	assert.Equal(t, []string{"b1"}, e.list("cid-b"), "other chats keep theirs")

	// An older message into a full chat is the oldest: it goes itself.
	e.record(msg("k0", "cid-a", 25))
	assert.Equal(t, []string{"k5", "k4", "k3"}, e.list("cid-a"))
	e.requireGone("k0")

	// Replies count too.
	e.record(msg("r6", "cid-a", 60, reply))
	assert.Equal(t, []string{"r6", "k5", "k4"}, e.list("cid-a"))
	e.requireGone("k3")

	// Removing makes room again.
	require.NoError(t, e.l.Remove(e.ctx, "k5"))
	e.record(msg("k7", "cid-a", 70))
	assert.Equal(t, []string{"k7", "r6", "k4"}, e.list("cid-a"))
	assert.Equal(t, []store.Chat{
		{ID: "cid-a", Kind: store.KindGroup, Count: 3},
		{ID: "cid-b", Kind: store.KindGroup, Count: 1},
	}, e.chats())
}

func testByTag(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(
		msg("a1", "cid-a", 1, tag("release")),
		msg("b1", "cid-b", 2, tag("release")),
		msg("a2", "cid-a", 3, tag("other")),
		msg("a3", "cid-a", 4, tag("release"), reply),
		msg("b2", "cid-b", 5, tag("release")),
		msg("a4", "cid-a", 6, tag("release")),
		msg("a5", "cid-a", 7),
		msg("c1", "cid-c", 8, tag("Release")),
	)
	require.Equal(t, []string{"b2"}, e.claim("b2"))
	tests := []struct {
		tag  string
		want []string
	}{
		{"release", []string{"a4", "b1", "a1"}},
		{"Release", []string{"c1"}},
		{"other", []string{"a2"}},
		{"none", []string{}},
		{"", []string{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("tag %q", tt.tag), func(t *testing.T) {
			assert.Equal(t, tt.want, e.byTag(tt.tag))
		})
	}
	require.NoError(t, e.l.Remove(e.ctx, "a4"))
	assert.Equal(t, []string{"b1", "a1"}, e.byTag("release"))
}

func testDue(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(
		msg("d30", "cid-a", 1, dueAt(30)),
		msg("d10", "cid-b", 2, dueAt(10)),
		msg("d20", "cid-a", 3, dueAt(20)),
		msg("plain", "cid-a", 4),
		msg("r5", "cid-a", 5, reply, dueAt(5)),
		msg("claimed", "cid-a", 6, dueAt(15)),
		msg("later", "cid-a", 7, dueAt(120)),
	)
	require.Equal(t, []string{"claimed"}, e.claim("claimed"))
	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		{"before any", at(4), 0, []string{}},
		{"at the first", at(5), 0, []string{"r5"}},
		{"all due, earliest first", at(60), 0, []string{"r5", "d10", "d20", "d30"}},
		{"limited", at(60), 2, []string{"r5", "d10"}},
		{"negative limit", at(60), -1, []string{"r5", "d10", "d20", "d30"}},
		{"everything", at(3600), 0, []string{"r5", "d10", "d20", "d30", "later"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, e.due(tt.now, tt.limit))
		})
	}
	// The auto-recall worker claims what is due and removes what it recalled.
	require.Equal(t, []string{"r5", "d10"}, e.claim(e.due(at(60), 2)...))
	assert.Equal(t, []string{"d20", "d30"}, e.due(at(60), 0))
	require.NoError(t, e.l.Remove(e.ctx, "r5", "d10"))
	require.NoError(t, e.l.Fail(e.ctx, "", map[string]store.Failure{"d20": {Message: "nope"}}))
	assert.Equal(t, []string{"d20", "d30"}, e.due(at(60), 0))
}

func testChats(t *testing.T, f Factory) {
	e := newEnv(t, f)
	assert.Empty(t, e.chats())
	require.NoError(t, e.l.SetTitle(e.ctx, "cid-a", store.KindGroup, "Alpha"))
	require.NoError(t, e.l.SetTitle(e.ctx, "cid-empty", store.KindGroup, "Nobody here"))
	e.record(
		msg("a1", "cid-a", 1),
		msg("a2", "cid-a", 2, reply),
		msg("b1", "cid-b", 3, func(m *store.Message) { m.Kind = store.KindPrivate }),
		msg("u1", "staff-1", 4, func(m *store.Message) { m.Kind = store.KindOTO }),
	)
	require.Equal(t, []string{"b1"}, e.claim("b1"))
	assert.Equal(t, []store.Chat{
		{ID: "staff-1", Kind: store.KindOTO, Count: 1},
		{ID: "cid-b", Kind: store.KindPrivate, Count: 1},
		{ID: "cid-a", Kind: store.KindGroup, Title: "Alpha", Count: 2},
	}, e.chats(), "most recent first, replies and claimed counted, chats without messages left out")

	e.record(msg("a3", "cid-a", 10))
	require.NoError(t, e.l.SetTitle(e.ctx, "cid-b", store.KindPrivate, "Bea & Bo"))
	require.NoError(t, e.l.Remove(e.ctx, "u1"))
	assert.Equal(t, []store.Chat{
		{ID: "cid-a", Kind: store.KindGroup, Title: "Alpha", Count: 3},
		{ID: "cid-b", Kind: store.KindPrivate, Title: "Bea & Bo", Count: 1},
	}, e.chats())

	require.NoError(t, e.l.SetTitle(e.ctx, "cid-a", store.KindGroup, "Alpha 2"))
	require.NoError(t, e.l.SetTitle(e.ctx, "cid-b", store.KindPrivate, ""))
	assert.Equal(t, []store.Chat{
		{ID: "cid-a", Kind: store.KindGroup, Title: "Alpha 2", Count: 3},
		{ID: "cid-b", Kind: store.KindPrivate, Count: 1},
	}, e.chats(), "titles change and can be forgotten")
}

func testSetTitleInvalid(t *testing.T, f Factory) {
	e := newEnv(t, f)
	tests := []struct {
		name, chat string
		kind       store.Kind
	}{
		{"empty chat", "", store.KindGroup},
		{"empty kind", "cid-a", ""},
		{"unknown kind", "cid-a", "channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, e.l.SetTitle(e.ctx, tt.chat, tt.kind, "Title"), store.ErrInvalid)
			_, err := e.l.FindChat(e.ctx, "Title")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
}

func testFindChat(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(
		msg("a1", "cid-a", 1),
		msg("a2", "cid-a", 2),
		msg("b1", "cid-b", 3),
		msg("c1", "cid-c", 4),
		msg("d1", "cid-d", 5),
	)
	for _, ct := range []struct{ id, title string }{
		{"cid-a", "Release Train"},
		{"cid-b", "Ops"},
		{"cid-c", "ops"},
		{"cid-d", "cid-a"}, // a title that is another chat's ID
		{"cid-quiet", "Quiet Room"},
	} {
		require.NoError(t, e.l.SetTitle(e.ctx, ct.id, store.KindGroup, ct.title))
	}
	tests := []struct {
		name    string
		query   string
		want    store.Chat
		wantErr error
	}{
		{"by id", "cid-b", store.Chat{ID: "cid-b", Kind: store.KindGroup, Title: "Ops", Count: 1}, nil},
		{"id before title", "cid-a", store.Chat{ID: "cid-a", Kind: store.KindGroup, Title: "Release Train", Count: 2}, nil},
		{"by title", "Release Train", store.Chat{ID: "cid-a", Kind: store.KindGroup, Title: "Release Train", Count: 2}, nil},
		{"by title ignoring case", "release TRAIN", store.Chat{ID: "cid-a", Kind: store.KindGroup, Title: "Release Train", Count: 2}, nil},
		{"title of a chat without messages", "quiet room", store.Chat{ID: "cid-quiet", Kind: store.KindGroup, Title: "Quiet Room"}, nil},
		{"ambiguous title", "OPS", store.Chat{}, store.ErrAmbiguous},
		{"no prefix match", "Release", store.Chat{}, store.ErrNotFound},
		{"missing", "cid-zzz", store.Chat{}, store.ErrNotFound},
		{"empty", "", store.Chat{}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.l.FindChat(e.ctx, tt.query)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				for _, id := range []string{"cid-a", "cid-b", "cid-c", "cid-d", "cid-quiet"} {
					assert.NotContains(t, err.Error(), id, "the error lists no chat")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func testConcurrentRecordRemove(t *testing.T, f Factory) {
	e := newEnv(t, f)
	const (
		writers = 16
		each    = 60
		chats   = 5
	)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		done  = make(chan struct{})
		mu    sync.Mutex
		kept  = map[string][]string{}
	)
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range each {
				chatID := fmt.Sprintf("cid-%d", (w+i)%chats)
				k := fmt.Sprintf("w%02d-%03d", w, i)
				if !assert.NoError(t, e.l.Record(e.ctx, msg(k, chatID, w*each+i))) {
					return
				}
				if i%3 == 0 {
					assert.NoError(t, e.l.Remove(e.ctx, k))
					continue
				}
				mu.Lock()
				kept[chatID] = append(kept[chatID], k)
				mu.Unlock()
			}
		})
	}
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			<-start
			for {
				select {
				case <-done:
					return
				default:
				}
				chatID := fmt.Sprintf("cid-%d", r)
				_, err := e.l.Newest(e.ctx, chatID, 5)
				assert.NoError(t, err)
				_, err = e.l.List(e.ctx, chatID, 0)
				assert.NoError(t, err)
				_, err = e.l.Chats(e.ctx)
				assert.NoError(t, err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(done)
	readers.Wait()

	var want []store.Chat
	for c := range chats {
		chatID := fmt.Sprintf("cid-%d", c)
		got := e.list(chatID)
		require.Len(t, got, len(kept[chatID]), "chat %s: no key lost or duplicated", chatID)
		slices.Sort(got)
		exp := slices.Clone(kept[chatID])
		slices.Sort(exp)
		assert.Equal(t, exp, got)
		want = append(want, store.Chat{ID: chatID, Kind: store.KindGroup, Count: len(exp)})
	}
	got := e.chats()
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	assert.Equal(t, want, got)
}

func testContextCanceled(t *testing.T, f Factory) {
	e := newEnv(t, f)
	e.record(msg("a", "cid-a", 1))
	e.reserve(reservation("r0", "cid-a", 1))
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	calls := map[string]func() error{
		"Record":     func() error { return e.l.Record(ctx, msg("b", "cid-a", 2)) },
		"Get":        func() error { _, err := e.l.Get(ctx, "a"); return err },
		"List":       func() error { _, err := e.l.List(ctx, "cid-a", 0); return err },
		"Newest":     func() error { _, err := e.l.Newest(ctx, "cid-a", 1); return err },
		"TakeNewest": func() error { _, err := e.l.TakeNewest(ctx, "cid-a", 1); return err },
		"Claim":      func() error { _, err := e.l.Claim(ctx, []string{"a"}); return err },
		"Remove":     func() error { return e.l.Remove(ctx, "a") },
		"Fail":       func() error { return e.l.Fail(ctx, "", map[string]store.Failure{"a": {Message: "x"}}) },
		"Release":    func() error { return e.l.Release(ctx, "", "a") },
		"ByTag":      func() error { _, err := e.l.ByTag(ctx, "t"); return err },
		"Due":        func() error { _, err := e.l.Due(ctx, at(10), 0); return err },
		"SetTitle":   func() error { return e.l.SetTitle(ctx, "cid-a", store.KindGroup, "A") },
		"Chats":      func() error { _, err := e.l.Chats(ctx); return err },
		"FindChat":   func() error { _, err := e.l.FindChat(ctx, "cid-a"); return err },
		"Ping":       func() error { return e.l.Ping(ctx) },
		"TakeNewestWithInFlight": func() error {
			_, _, err := e.l.TakeNewestWithInFlight(ctx, "cid-a", 1)
			return err
		},
		"NewestWithInFlight": func() error { _, _, err := e.l.NewestWithInFlight(ctx, "cid-a", 1); return err },
		"Renew":              func() error { return e.l.Renew(ctx, "token", "a") },
		"Reserve":            func() error { return e.l.Reserve(ctx, reservation("r", "cid-a", 1)) },
		"Commit":             func() error { return e.l.Commit(ctx, "r0", msg("c", "cid-a", 3)) },
		"Drop":               func() error { return e.l.Drop(ctx, "r0") },
		"Pending":            func() error { _, err := e.l.Pending(ctx, at(100), 0); return err },
		"SettlePending":      func() error { _, _, err := e.l.SettlePending(ctx, "r0"); return err },
	}
	names := make([]string, 0, len(calls))
	for name := range calls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, calls[name](), context.Canceled)
		})
	}
	// Nothing changed.
	assert.Equal(t, normal(msg("a", "cid-a", 1)), normal(e.get("a")))
	assert.Equal(t, []string{"r0"}, ids(e.pending(at(100), 0)))
	e.requireGone("c")
	assert.Equal(t, []string{"a"}, e.newest("cid-a", 5))
	assert.Equal(t, []store.Chat{{ID: "cid-a", Kind: store.KindGroup, Count: 1}}, e.chats())
}

func testPing(t *testing.T, f Factory) {
	e := newEnv(t, f)
	require.NoError(t, e.l.Ping(e.ctx))
}
