package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
	"github.com/dingrecall/dingrecall/templates"
)

// The people and chats of the tests.
const (
	admin    = "staff-admin" // a recall admin
	user     = "staff-user"  // a recall user
	owner    = "staff-owner" // a group admin, by DingTalk's isAdmin
	stranger = "staff-guest" // no rights
	ops      = "cidOps=="    // the group "ops-alerts"
	deploys  = "cidDeploys=="
)

// errDown is what the test store answers while it is down.
var errDown = errors.New("test store: connection refused")

// harness is a bot on the dingtalktest fake and the memory store, on a
// clock the test moves.
type harness struct {
	t      *testing.T
	ctx    context.Context
	clock  *storetest.Clock
	fake   *dingtalktest.Server
	store  *testStore
	audit  store.Audit
	bot    *bot.Bot
	obs    *recordingObserver
	logs   *test.Hook
	cfg    bot.Config
	nextID int
	// replyKey is the key of the reply say saw last.
	replyKey string
}

// option changes the harness's bot before it is built.
type option func(*bot.Deps, *bot.Config)

// withLang builds the bot with the replies of lang.
func withLang(lang string) option {
	return func(d *bot.Deps, _ *bot.Config) {
		tpl, err := templates.Load(lang, bot.TemplateNames()...)
		if err != nil {
			panic(err)
		}
		d.Templates = tpl
	}
}

// newHarness builds a bot with RECALL_MAX 100, confirmation over 20,
// replies recalled after a minute, restore within 10 minutes, the people
// above and no API guards, as opts change it.
func newHarness(t *testing.T, opts ...option) *harness {
	t.Helper()
	return newHarnessOn(t, nil, opts...)
}

// newHarnessOn is newHarness with a fake DingTalk built with fakeOpts.
func newHarnessOn(t *testing.T, fakeOpts []dingtalktest.Option, opts ...option) *harness {
	t.Helper()
	return newHarnessWith(t, fakeOpts, nil, opts...)
}

// newHarnessWith is newHarnessOn with a DingTalk client built with
// clientOpts too.
func newHarnessWith(t *testing.T, fakeOpts []dingtalktest.Option, clientOpts []dingtalk.Option, opts ...option) *harness {
	t.Helper()
	clock := storetest.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	fake := dingtalktest.NewTest(t, append([]dingtalktest.Option{dingtalktest.WithClock(clock.Now)}, fakeOpts...)...)
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	client, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(),
		append([]dingtalk.Option{dingtalk.WithBaseURL(fake.URL()), dingtalk.WithLogger(log), dingtalk.WithQPS(1_000_000)}, clientOpts...)...)
	require.NoError(t, err)
	tpl, err := templates.Load("en", bot.TemplateNames()...)
	require.NoError(t, err)
	st := newTestStore(clock.Now)
	obs := &recordingObserver{}
	deps := bot.Deps{
		DingTalk: client, Ledger: st, Deduper: st.dedupWrapper(), LocalDeduper: must2(memory.NewDeduper(memory.DeduperOptions{Now: clock.Now})),
		Audit: st.auditWrapper(), States: st.statesWrapper(),
		Templates: tpl, Log: log, Observer: obs, Now: clock.Now,
	}
	cfg := bot.Config{
		RecallMax: 100, ConfirmOver: 20, ReplyTTL: time.Minute, RestoreWindow: 10 * time.Minute,
		Policy: bot.NewPolicy(admin, user, true), Workers: 2, QueueSize: 10,
	}
	for _, o := range opts {
		o(&deps, &cfg)
	}
	b, err := bot.New(deps, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return &harness{t: t, ctx: context.Background(), clock: clock, fake: fake, store: st, audit: deps.Audit, bot: b, obs: obs, logs: hook, cfg: cfg}
}

// post has the bot send n messages "alert 1" … "alert n" to chat through
// its API path, a second apart, and returns them oldest first.
func (h *harness) post(chat string, n int, tweak ...func(*bot.Outgoing)) []store.Message {
	h.t.Helper()
	var out []store.Message
	for i := 1; i <= n; i++ {
		o := bot.Outgoing{Kind: store.KindGroup, ChatID: chat, Message: dingtalk.Text(fmt.Sprintf("alert %d", i))}
		for _, f := range tweak {
			f(&o)
		}
		m, err := h.bot.Send(h.ctx, o)
		require.NoError(h.t, err)
		out = append(out, m)
		h.clock.Advance(time.Second)
	}
	return out
}

// event is a text message to the bot.
type event = bot.Event

// inGroup is text typed by staff in the group ops.
func inGroup(staff, text string) event {
	return bot.Event{ConversationID: ops, Group: true, Title: "ops-alerts", StaffID: staff, Nick: "Nick " + staff, IsAdmin: staff == owner, Text: text, Textual: true}
}

// oneToOne is text typed by staff in their one-to-one chat with the bot.
func oneToOne(staff, text string) event {
	return bot.Event{ConversationID: "cidDirect-" + staff, StaffID: staff, Nick: "Nick " + staff, Text: text, Textual: true}
}

// say runs ev's command and returns the text of the reply the bot sent.
func (h *harness) say(ev event) string {
	h.t.Helper()
	h.nextID++
	ev.MsgID = fmt.Sprintf("msg-%d", h.nextID)
	before := len(h.fake.Sent())
	bot.HandleEvent(h.ctx, h.bot, ev)
	sent := h.fake.Sent()
	require.Greater(h.t, len(sent), before, "the bot replied")
	reply := sent[len(sent)-1]
	h.replyKey = reply.Key
	if ev.Group {
		require.Equal(h.t, ev.ConversationID, reply.ConversationID, "the reply went to the group")
	} else {
		require.Equal(h.t, []string{ev.StaffID}, reply.UserIDs, "the reply went one-to-one")
	}
	return content(h.t, reply.MsgParam)
}

// content is the text of a sampleText message's parameters.
func content(t *testing.T, param string) string {
	t.Helper()
	var p struct {
		Content string `json:"content"`
	}
	require.NoError(t, json.Unmarshal([]byte(param), &p))
	return p.Content
}

// lastReply is the newest tracked reply in chat.
func (h *harness) lastReply(chat string) store.Message {
	h.t.Helper()
	msgs, err := h.bot.List(h.ctx, chat, 0)
	require.NoError(h.t, err)
	for _, m := range msgs {
		if m.Reply {
			return m
		}
	}
	h.t.Fatalf("no reply tracked in %s", chat)
	return store.Message{}
}

// recalled reports whether DingTalk recalled the message with key.
func (h *harness) recalled(key string) bool {
	m, ok := h.fake.Message(key)
	return ok && m.Recalled
}

// keys lists the keys of msgs.
func keys(msgs []store.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Key
	}
	return out
}

// recordingObserver records what the bot tells its Observer; recalls, when
// set, is told of every recall.
type recordingObserver struct {
	mu       sync.Mutex
	commands []string
	recalls  chan [2]int
	// settlement counts what RunSettler tells (settle_helpers_test.go).
	settlement settlementCounts
}

func (o *recordingObserver) Command(name, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commands = append(o.commands, name+"/"+outcome)
}

func (o *recordingObserver) Recall(recalled, failed int) {
	o.mu.Lock()
	ch := o.recalls
	o.mu.Unlock()
	if ch != nil {
		ch <- [2]int{recalled, failed}
	}
}

// last is the newest command the observer was told of, "name/outcome".
func (o *recordingObserver) last() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.commands) == 0 {
		return ""
	}
	return o.commands[len(o.commands)-1]
}

// testStore is the memory store with a switch that takes all of it down
// and a hook into SetTitle.
type testStore struct {
	*memory.Ledger
	audit  *memory.Audit
	states *memory.States
	dedup  *memory.Deduper
	down   atomic.Bool
	// dedupDown takes only the de-duplication down.
	dedupDown atomic.Bool
	// onSetTitle, when set, runs at the start of every SetTitle.
	onSetTitle func()
	// afterEvents, when set, runs once after the next Events has read its
	// events, before it returns them.
	afterEvents func()
	// beforeList, when set, runs once at the start of the next List.
	beforeList func()
}

func newTestStore(now func() time.Time) *testStore {
	ledger, err := memory.New(memory.Options{Now: now})
	must(err)
	audit, err := memory.NewAudit(memory.AuditOptions{TTL: 30 * 24 * time.Hour, Now: now})
	must(err)
	states, err := memory.NewStates(memory.StatesOptions{Now: now})
	must(err)
	dedup, err := memory.NewDeduper(memory.DeduperOptions{Now: now})
	must(err)
	return &testStore{Ledger: ledger, audit: audit, states: states, dedup: dedup}
}

// must2 is must for a constructor's value and error.
func must2[T any](v T, err error) T {
	must(err)
	return v
}

// must stops a test helper on an error that cannot happen with its inputs.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

func (s *testStore) err() error {
	if s.down.Load() {
		return errDown
	}
	return nil
}

func (s *testStore) Record(ctx context.Context, m store.Message) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Ledger.Record(ctx, m)
}

func (s *testStore) Get(ctx context.Context, key string) (store.Message, error) {
	if err := s.err(); err != nil {
		return store.Message{}, err
	}
	return s.Ledger.Get(ctx, key)
}

func (s *testStore) List(ctx context.Context, chatID string, limit int) ([]store.Message, error) {
	if f := s.beforeList; f != nil {
		s.beforeList = nil
		f()
	}
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Ledger.List(ctx, chatID, limit)
}

func (s *testStore) Newest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Ledger.Newest(ctx, chatID, n)
}

func (s *testStore) TakeNewest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Ledger.TakeNewest(ctx, chatID, n)
}

func (s *testStore) Claim(ctx context.Context, keys []string) ([]store.Message, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Ledger.Claim(ctx, keys)
}

func (s *testStore) ByTag(ctx context.Context, tag string) ([]store.Message, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Ledger.ByTag(ctx, tag)
}

func (s *testStore) Due(ctx context.Context, now time.Time, limit int) ([]store.Message, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Ledger.Due(ctx, now, limit)
}

func (s *testStore) SetTitle(ctx context.Context, chatID string, kind store.Kind, title string) error {
	if s.onSetTitle != nil {
		s.onSetTitle()
	}
	if err := s.err(); err != nil {
		return err
	}
	return s.Ledger.SetTitle(ctx, chatID, kind, title)
}

func (s *testStore) Chats(ctx context.Context) ([]store.Chat, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Ledger.Chats(ctx)
}

func (s *testStore) FindChat(ctx context.Context, idOrTitle string) (store.Chat, error) {
	if err := s.err(); err != nil {
		return store.Chat{}, err
	}
	return s.Ledger.FindChat(ctx, idOrTitle)
}

func (s *testStore) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Ledger.Ping(ctx)
}

// auditWrapper is the audit log, down with the store.
func (s *testStore) auditWrapper() store.Audit { return testAudit{s} }

type testAudit struct{ s *testStore }

func (a testAudit) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if err := a.s.err(); err != nil {
		return err
	}
	return a.s.audit.AddAudit(ctx, e)
}

func (a testAudit) AuditLog(ctx context.Context, chatID string, limit int) ([]store.AuditEntry, error) {
	if err := a.s.err(); err != nil {
		return nil, err
	}
	return a.s.audit.AuditLog(ctx, chatID, limit)
}

// statesWrapper is the states, down with the store.
func (s *testStore) statesWrapper() store.States { return testStates{s} }

type testStates struct{ s *testStore }

func (x testStates) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	if err := x.s.err(); err != nil {
		return "", false, err
	}
	return x.s.states.PutStateIfAbsent(ctx, key, value, ttl)
}

func (x testStates) CompareAndSwapState(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	if err := x.s.err(); err != nil {
		return false, err
	}
	return x.s.states.CompareAndSwapState(ctx, key, old, value, ttl)
}

func (x testStates) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := x.s.err(); err != nil {
		return err
	}
	return x.s.states.SetState(ctx, key, value, ttl)
}

func (x testStates) TakeState(ctx context.Context, key string) (string, bool, error) {
	if err := x.s.err(); err != nil {
		return "", false, err
	}
	return x.s.states.TakeState(ctx, key)
}

func (x testStates) DeleteState(ctx context.Context, key string) error {
	if err := x.s.err(); err != nil {
		return err
	}
	return x.s.states.DeleteState(ctx, key)
}

func (x testStates) AddEvent(ctx context.Context, key, member string, window time.Duration) ([]store.Event, error) {
	if err := x.s.err(); err != nil {
		return nil, err
	}
	return x.s.states.AddEvent(ctx, key, member, window)
}

func (x testStates) Events(ctx context.Context, key string, window time.Duration) ([]store.Event, error) {
	if err := x.s.err(); err != nil {
		return nil, err
	}
	events, err := x.s.states.Events(ctx, key, window)
	if f := x.s.afterEvents; f != nil {
		x.s.afterEvents = nil
		f()
	}
	return events, err
}

// dedupWrapper is the de-duplicator, down with the store or on its own.
func (s *testStore) dedupWrapper() store.Deduper { return testDedup{s} }

type testDedup struct{ s *testStore }

func (d testDedup) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if err := d.s.err(); err != nil || d.s.dedupDown.Load() {
		return false, errDown
	}
	return d.s.dedup.FirstSeen(ctx, id, ttl)
}

func (d testDedup) Forget(ctx context.Context, id string) error {
	if err := d.s.err(); err != nil || d.s.dedupDown.Load() {
		return errDown
	}
	return d.s.dedup.Forget(ctx, id)
}

// contains reports whether list holds s.
func contains(list []string, s string) bool { return slices.Contains(list, s) }
