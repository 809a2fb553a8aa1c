package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// New refuses missing dependencies and settings out of range, naming each,
// and starts nothing then.
func TestNewValidates(t *testing.T) {
	h := newHarness(t)
	good := func() (bot.Deps, bot.Config) {
		tpl, err := templates.Load("en", bot.TemplateNames()...)
		require.NoError(t, err)
		return bot.Deps{DingTalk: &dingtalk.Client{}, Ledger: h.store, Deduper: h.store.dedup, Audit: h.audit, States: h.store.states, Templates: tpl},
			bot.Config{RecallMax: 1, Workers: 1, QueueSize: 1}
	}
	tests := []struct {
		name   string
		change func(*bot.Deps, *bot.Config)
		want   []string
	}{
		{"no dependencies", func(d *bot.Deps, _ *bot.Config) { *d = bot.Deps{} },
			[]string{"no DingTalk", "no Ledger", "no Deduper", "no Audit", "no States", "no Templates"}},
		{"zero config", func(_ *bot.Deps, c *bot.Config) { *c = bot.Config{} },
			[]string{"RecallMax is 0", "Workers is 0", "QueueSize is 0"}},
		{"negative values", func(_ *bot.Deps, c *bot.Config) {
			c.ConfirmOver, c.LedgerTTL, c.RestoreWindow, c.DuplicateWindow, c.AutoRecallEvery, c.BurstLimit = -1, -1, -1, -1, -1, -1
		}, []string{"ConfirmOver is -1", "LedgerTTL is -1ns", "RestoreWindow is -1ns", "DuplicateWindow is -1ns", "AutoRecallEvery is -1ns", "BurstLimit is -1"}},
		{"replies outlive the ledger", func(_ *bot.Deps, c *bot.Config) { c.ReplyTTL, c.LedgerTTL = time.Hour, time.Hour },
			[]string{"ReplyTTL is 1h0m0s: want 0 or more and less than LedgerTTL (1h0m0s)"}},
		{"negative reply ttl", func(_ *bot.Deps, c *bot.Config) { c.ReplyTTL = -time.Second }, []string{"ReplyTTL is -1s"}},
		{"max age past DingTalk's day", func(_ *bot.Deps, c *bot.Config) { c.MaxAge = 25 * time.Hour }, []string{"MaxAge is 25h0m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c := good()
			tt.change(&d, &c)
			b, err := bot.New(d, c)
			require.ErrorIs(t, err, bot.ErrConfig)
			assert.Nil(t, b)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		d, c := good()
		b, err := bot.New(d, c)
		require.NoError(t, err)
		require.NoError(t, b.Close(context.Background()))
		require.NoError(t, b.Close(context.Background()), "Close twice is fine")
	})
}

// callback is a callback in which staff types text in ops.
func callback(msgID, staff, text string) *dingtalk.Callback {
	return &dingtalk.Callback{MsgID: msgID, ConversationID: ops, ConversationType: dingtalk.ConversationGroup, ConversationTitle: "ops-alerts",
		SenderStaffID: staff, SenderNick: "Nick " + staff, MsgType: "text", Text: dingtalk.CallbackText{Content: text}}
}

// Accept queues a callback's command once per msgId; Close runs what was
// queued before it returns. (One worker: two "recall"s at once would both
// mean the same newest message.)
func TestAcceptRunsEachCallbackOnce(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.Workers = 1 })
	msgs := h.post(ops, 3)
	for _, c := range []struct{ id, want string }{{"m1", bot.IntakeOK}, {"m2", bot.IntakeOK}, {"m1", bot.IntakeDuplicate}} {
		outcome, err := h.bot.Accept(h.ctx, callback(c.id, admin, "recall"), "req-"+c.id)
		require.NoError(t, err)
		assert.Equal(t, c.want, outcome, c.id)
	}
	require.NoError(t, h.bot.Close(h.ctx))
	assert.ElementsMatch(t, keys(msgs[1:]), h.fake.Recalled(), "two commands ran")
	outcome, err := h.bot.Accept(h.ctx, callback("m3", admin, "recall"), "")
	assert.Equal(t, bot.IntakeBusy, outcome)
	assert.ErrorIs(t, err, bot.ErrClosed)
	assert.Zero(t, h.bot.Queued())
	var logged bool
	for _, e := range h.logs.AllEntries() {
		if e.Data["request_id"] == "req-m2" {
			logged = true
		}
	}
	assert.True(t, logged, "the command's log lines carry the request ID")
}

// A full queue refuses a callback with ErrBusy and forgets its msgId, so
// that DingTalk's redelivery runs.
func TestAcceptWhenBusy(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.Workers, c.QueueSize = 1, 1 })
	entered, release := make(chan struct{}, 2), make(chan struct{})
	h.store.onSetTitle = func() {
		entered <- struct{}{}
		<-release
	}
	_, err := h.bot.Accept(h.ctx, callback("m1", admin, "help"), "")
	require.NoError(t, err)
	<-entered // the worker is busy with m1
	_, err = h.bot.Accept(h.ctx, callback("m2", admin, "help"), "")
	require.NoError(t, err, "m2 waits in the queue")
	assert.Equal(t, 1, h.bot.Queued())
	outcome, err := h.bot.Accept(h.ctx, callback("m3", admin, "help"), "")
	assert.Equal(t, bot.IntakeBusy, outcome)
	assert.ErrorIs(t, err, bot.ErrBusy)

	close(release)
	require.NoError(t, h.bot.Close(h.ctx))
	assert.Len(t, entered, 1, "m2 ran after m1")
	first, err := h.store.dedup.FirstSeen(h.ctx, "m3", time.Hour)
	require.NoError(t, err)
	assert.True(t, first, "m3 was forgotten")
}

// While the de-duplication store is down, callbacks are de-duplicated
// locally and their commands still run (one after the other, on one
// worker).
func TestAcceptWithTheDeduplicationStoreDown(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.Workers = 1 })
	h.post(ops, 2)
	h.store.dedupDown.Store(true)
	for _, id := range []string{"m1", "m1", "m2"} {
		_, err := h.bot.Accept(h.ctx, callback(id, admin, "recall"), "")
		require.NoError(t, err)
	}
	require.NoError(t, h.bot.Close(h.ctx))
	assert.Len(t, h.fake.Recalled(), 2)
}

// Without a local de-duplicator, a callback that arrives while the
// de-duplication store is down answers busy, so that DingTalk delivers it
// again, and runs nothing.
func TestAcceptWithoutALocalDeduplicator(t *testing.T) {
	h := newHarness(t, func(d *bot.Deps, _ *bot.Config) { d.LocalDeduper = nil })
	h.post(ops, 1)
	h.store.dedupDown.Store(true)
	outcome, err := h.bot.Accept(h.ctx, callback("m1", admin, "recall"), "")
	require.Error(t, err)
	assert.Equal(t, bot.IntakeBusy, outcome)
	require.NoError(t, h.bot.Close(h.ctx))
	assert.Empty(t, h.fake.Recalled())
}

// Close with a deadline that passes cancels the commands still running,
// waits for the workers all the same, and says so.
func TestCloseCancelsUnfinishedWorkAtItsDeadline(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.Workers = 1 })
	h.post(ops, 1)
	h.fake.SetLatency(time.Hour)
	entered := make(chan struct{}, 1)
	h.store.onSetTitle = func() { entered <- struct{}{} }
	_, err := h.bot.Accept(h.ctx, callback("m1", admin, "recall"), "")
	require.NoError(t, err)
	<-entered // the command runs and will wait an hour for DingTalk

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = h.bot.Close(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "unfinished commands were cancelled")
	assert.Empty(t, h.fake.Recalled())
}

// The API's reads go to the ledger and the audit log.
func TestReads(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 3)
	require.NoError(t, h.bot.Ping(h.ctx))
	got, err := h.bot.List(h.ctx, ops, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{msgs[2].Key, msgs[1].Key}, keys(got))
	preview, err := h.bot.Preview(h.ctx, bot.Selection{ChatID: ops, Keys: []string{msgs[0].Key, "nope"}})
	require.NoError(t, err)
	assert.Equal(t, []string{msgs[0].Key}, keys(preview))
	preview, err = h.bot.Preview(h.ctx, bot.Selection{ChatID: deploys, Keys: []string{msgs[0].Key}})
	require.NoError(t, err)
	assert.Empty(t, preview, "a key of another chat is not previewed")
	preview, err = h.bot.Preview(h.ctx, bot.Selection{})
	require.NoError(t, err)
	assert.Empty(t, preview)

	out, err := h.bot.Recall(h.ctx, bot.Selection{Keys: []string{msgs[0].Key}}, bot.Actor{Source: store.SourceAPI, Request: "keys"})
	require.NoError(t, err)
	assert.Equal(t, []string{msgs[0].Key}, out.Recalled)
	entries, err := h.bot.AuditLog(h.ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, out.AuditID, entries[0].ID)
	assert.Equal(t, "keys", entries[0].Request)

	h.store.down.Store(true)
	assert.ErrorIs(t, h.bot.Ping(h.ctx), errDown)
	_, err = h.bot.Preview(h.ctx, bot.Selection{ChatID: ops, Keys: []string{msgs[1].Key}})
	assert.ErrorIs(t, err, errDown)
	_, err = h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Last: 1}, bot.Actor{Source: store.SourceAPI})
	assert.ErrorIs(t, err, errDown)
}

// A recall by keys across chats groups them per chat; keys of another chat
// than the selection's are left alone.
func TestRecallByKeys(t *testing.T) {
	h := newHarness(t)
	a := h.post(ops, 2)
	b := h.post(deploys, 1)
	out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Keys: []string{a[0].Key, b[0].Key}}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.Equal(t, []string{a[0].Key}, out.Recalled)
	assert.Equal(t, bot.CodeNotTracked, out.Failed[b[0].Key].Code)
	_, err = h.store.Get(h.ctx, b[0].Key)
	require.NoError(t, err, "the other chat's message is still tracked")
	got, err := h.store.Claim(h.ctx, []string{b[0].Key})
	require.NoError(t, err)
	assert.Len(t, got, 1, "and not left claimed")

	out, err = h.bot.Recall(h.ctx, bot.Selection{Keys: []string{a[1].Key, b[0].Key}}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err, "without a chat, keys of every chat")
	assert.Equal(t, []string{a[1].Key}, out.Recalled)
	assert.Equal(t, map[string]store.Failure{b[0].Key: {Code: bot.CodeNotTracked, Message: bot.ReasonNotTracked}}, out.Failed, "b is still claimed above")
}

// Preview (a message's first line) is what replies show of a message.
func TestPreview(t *testing.T) {
	tests := []struct {
		param string
		want  string
	}{
		{`{"content":"disk full\non db-1"}`, "disk full"},
		{`{"title":"Deploy","text":"**done**"}`, "Deploy"},
		{`{"text":"only text"}`, "only text"},
		{`not json`, "not json"},
		{`{"content":"` + strings.Repeat("长", 50) + `"}`, strings.Repeat("长", 9) + "…"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, bot.Preview(store.Message{MsgParam: tt.param}, 10))
	}
}

// The reply's outcome, for the metrics, follows its template.
func TestReplyOutcome(t *testing.T) {
	for template, want := range map[string]string{
		templates.RefuseRecall: "refused", templates.RefuseAdmin: "refused", templates.StoreDown: "unavailable",
		templates.DidYouMean: "invalid", templates.UnknownChat: "invalid", templates.NotWhole: "invalid",
		templates.MissingDuration: "invalid", templates.RecallDone: "ok", templates.Help: "ok",
	} {
		assert.Equal(t, want, bot.Reply{Template: template}.Outcome(), template)
	}
}
