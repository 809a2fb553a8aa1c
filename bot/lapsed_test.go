package bot_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// A replica that died mid-recall leaves claims that lapse. "recall N" then
// asks DingTalk about those messages: the ones already recalled leave the
// ledger without a second recall call and do not count, so N still means
// the newest N messages in the chat.
func TestRecallNAfterACrashTakesTheNewestStillInTheChat(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 10)
	dead, err := h.store.Ledger.TakeNewest(h.ctx, ops, 5) // the replica that dies
	require.NoError(t, err)
	require.Equal(t, keys(msgs[5:]), reverse(keys(dead)))
	res, err := h.dingtalk().RecallGroup(h.ctx, ops, keys(msgs[7:])) // it got this far
	require.NoError(t, err)
	require.Len(t, res.Recalled, 3)
	h.fake.Reset()

	reply := h.say(inGroup(admin, "recall 5"))
	assert.Contains(t, reply, "There is nothing of mine to recall here. 5 of the newest 5 are being recalled by another request right now.")
	assert.Zero(t, h.fake.CallCount(dingtalk.PathGroupRecall))

	h.clock.Advance(store.DefaultLease + time.Second) // the dead replica's claims lapse
	reply = h.say(inGroup(admin, "recall 5"))
	assert.Contains(t, reply, "Recalled 5 messages.")
	assert.NotContains(t, reply, "another request")
	for _, m := range msgs[2:7] {
		assert.True(t, h.recalled(m.Key), m.Key)
	}
	for _, m := range msgs[7:] {
		assert.Zero(t, h.fake.RecallAttempts(m.Key), "recalled before: not sent to DingTalk again")
	}
	assert.Equal(t, 5, h.fake.CallCount(dingtalk.PathGroupStatus), "each lapsed message was checked")
	left, err := h.store.Newest(h.ctx, ops, 10)
	require.NoError(t, err)
	assert.Equal(t, reverse(keys(msgs[:2])), keys(left), "nothing recalled stays listed")

	entries, err := h.bot.AuditLog(h.ctx, ops, 1)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	gone := 0
	for _, it := range entries[0].Items {
		assert.Equal(t, store.ResultRecalled, it.Result)
		if it.Code == dingtalk.CodeAlreadyRecalled {
			gone++
		}
	}
	assert.Equal(t, 3, gone, "the audit says which were gone already")

	reply = h.say(inGroup(admin, "recall 2"))
	assert.Contains(t, reply, "Recalled 2 messages.", "no ghost blocks the next recall")
}

// "recall 1" looks past as many already recalled messages as it finds, one
// window after another.
func TestRecallOneLooksPastManyAlreadyRecalled(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 40)
	_, err := h.store.Ledger.TakeNewest(h.ctx, ops, 30) // the replica that dies
	require.NoError(t, err)
	res, err := h.dingtalk().RecallGroup(h.ctx, ops, keys(msgs[10:]))
	require.NoError(t, err)
	require.Len(t, res.Recalled, 30)
	h.clock.Advance(store.DefaultLease + time.Second)
	assert.Contains(t, h.say(inGroup(admin, "recall")), "Recalled 1 message.")
	assert.True(t, h.recalled(msgs[9].Key), "the newest still in the chat")
	left, err := h.store.Newest(h.ctx, ops, 40)
	require.NoError(t, err)
	assert.Equal(t, reverse(keys(msgs[:9])), keys(left))
}

// Messages another request is recalling still count among the newest N:
// the reply and the outcome say how many, instead of reaching further back.
func TestRecallNCountsTheMessagesInFlight(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 6)
	_, err := h.store.Ledger.TakeNewest(h.ctx, ops, 3) // another request, alive
	require.NoError(t, err)

	reply := h.say(inGroup(admin, "recall 5"))
	assert.Contains(t, reply, "Recalled 2 messages. 3 more of the newest 5 are being recalled by another request right now.")
	assert.True(t, h.recalled(msgs[2].Key))
	assert.True(t, h.recalled(msgs[1].Key))
	assert.False(t, h.recalled(msgs[0].Key), "not the sixth newest")

	out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Last: 4}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.Equal(t, reverse(keys(msgs[3:])), keys(out.InFlight))
	assert.Equal(t, []string{msgs[0].Key}, out.Recalled)

	preview, err := h.bot.Preview(h.ctx, bot.Selection{ChatID: ops, Last: 3})
	require.NoError(t, err)
	assert.Empty(t, preview, "the newest 3 are in flight")
}

// blockingDingTalk holds the first group recall until release closes.
type blockingDingTalk struct {
	bot.DingTalk
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (d *blockingDingTalk) RecallGroup(ctx context.Context, conversationID string, keys []string, opts ...dingtalk.RecallOption) (*dingtalk.RecallResult, error) {
	d.once.Do(func() {
		close(d.entered)
		<-d.release
	})
	return d.DingTalk.RecallGroup(ctx, conversationID, keys, opts...)
}

// A recall that takes longer than the claim lease renews its claims: no
// other recall takes its messages meanwhile, and none is sent to DingTalk
// twice.
func TestLongRecallRenewsItsClaims(t *testing.T) {
	spy := &spyLedger{renewals: make(chan renewal, 1)}
	slow := &blockingDingTalk{entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, withSpy(spy), func(d *bot.Deps, c *bot.Config) {
		slow.DingTalk = d.DingTalk
		d.DingTalk = slow
		c.Lease = 30 * time.Millisecond // renewals every 10 ms of real time; the ledger's lease is 30 s of the test clock
	})
	msgs := h.post(ops, 3)
	done := make(chan bot.Outcome, 1)
	go func() {
		out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Last: 3}, bot.Actor{Source: store.SourceAPI})
		assert.NoError(t, err)
		done <- out
	}()
	<-slow.entered
	for range 4 { // 80 s of the test clock: well past the 30 s lease
		h.clock.Advance(20 * time.Second)
		drain(spy.renewals)
		for range 2 { // the second surely began after the clock moved
			select {
			case <-spy.renewals:
			case <-time.After(10 * time.Second):
				close(slow.release)
				t.Fatal("the recall under way does not renew its claims")
			}
		}
		other, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Last: 3}, bot.Actor{Source: store.SourceAPI})
		require.NoError(t, err)
		require.Empty(t, other.Selected, "another recall takes nothing")
		require.Len(t, other.InFlight, 3, "it sees them in flight")
	}
	close(slow.release)
	out := <-done
	assert.ElementsMatch(t, keys(msgs), out.Recalled)
	for _, m := range msgs {
		assert.Equal(t, 1, h.fake.RecallAttempts(m.Key), "sent to DingTalk once")
	}
}

// drain empties ch.
func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// gatedStates holds the first PutStateIfAbsent after arm, once it has read
// the slot, until open is closed.
type gatedStates struct {
	store.States
	mu    sync.Mutex
	armed bool
	held  chan struct{}
	open  chan struct{}
}

func (s *gatedStates) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.held, s.open = true, make(chan struct{}), make(chan struct{})
}

func (s *gatedStates) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	v, stored, err := s.States.PutStateIfAbsent(ctx, key, value, ttl)
	s.mu.Lock()
	hold := s.armed
	s.armed = false
	held, open := s.held, s.open
	s.mu.Unlock()
	if hold {
		close(held)
		<-open
	}
	return v, stored, err
}

// Three senders of the same content after the first message was recalled,
// interleaved the worst way: B reads the recalled message's slot, A takes
// it and posts, then B goes on, then C comes. Exactly one copy is posted.
func TestDuplicateGuardInterleavedSendersPostOnce(t *testing.T) {
	gate := &gatedStates{}
	h := newHarness(t, func(d *bot.Deps, c *bot.Config) {
		c.DuplicateWindow = 30 * time.Second
		gate.States = d.States
		d.States = gate
	})
	first, err := h.send(ops, "deploy started")
	require.NoError(t, err)
	_, err = h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Keys: []string{first.Key}}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	before := len(h.fake.Sent())

	gate.arm()
	errB := make(chan error, 1)
	go func() { _, err := h.send(ops, "deploy started"); errB <- err }()
	<-gate.held // B has read the slot: the recalled first message's key
	a, errA := h.send(ops, "deploy started")
	require.NoError(t, errA)
	close(gate.open)
	var dup *bot.DuplicateError
	require.ErrorAs(t, <-errB, &dup, "B")
	_, errC := h.send(ops, "deploy started")
	require.ErrorAs(t, errC, &dup, "C")
	assert.Equal(t, a.Key, dup.Key, "C is told of A's message")
	assert.Len(t, h.fake.Sent(), before+1, "exactly one copy")

	// And at once: of three concurrent senders after a recall, one posts.
	_, err = h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Keys: []string{a.Key}}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	before = len(h.fake.Sent())
	var wg sync.WaitGroup
	var mu sync.Mutex
	posted := 0
	for range 3 {
		wg.Go(func() {
			if _, err := h.send(ops, "deploy started"); err == nil {
				mu.Lock()
				posted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, posted)
	assert.Len(t, h.fake.Sent(), before+1)
}

// reverse returns keys in the opposite order (newest first for keys of
// messages posted oldest first).
func reverse(keys []string) []string {
	out := slices.Clone(keys)
	slices.Reverse(out)
	return out
}

// A message whose claim lapsed is checked with the status API of its kind
// of chat; one DingTalk does not know (or no longer answers for) is
// recalled as usual.
func TestLapsedMessagesAreCheckedWithTheirKindsAPI(t *testing.T) {
	tests := []struct {
		kind   store.Kind
		chat   string
		status string
		recall string
	}{
		{store.KindGroup, ops, dingtalk.PathGroupStatus, dingtalk.PathGroupRecall},
		{store.KindPrivate, "cidPrivate==", dingtalk.PathPrivateStatus, dingtalk.PathPrivateRecall},
		{store.KindOTO, user, dingtalk.PathOTOStatus, dingtalk.PathOTORecall},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.CoolAppCode = "COOL" })
			m, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: tt.kind, ChatID: tt.chat, Message: dingtalk.Text("x")})
			require.NoError(t, err)
			_, err = h.store.Ledger.Claim(h.ctx, []string{m.Key})
			require.NoError(t, err)
			h.clock.Advance(store.DefaultLease + time.Second)
			out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: tt.chat, Last: 1}, bot.Actor{Source: store.SourceAPI})
			require.NoError(t, err)
			assert.Equal(t, []string{m.Key}, out.Recalled)
			assert.Empty(t, out.Gone, "still in the chat: recalled")
			assert.Equal(t, 1, h.fake.CallCount(tt.status))
			assert.Equal(t, 1, h.fake.CallCount(tt.recall))
		})
	}
	t.Run("unknown to DingTalk", func(t *testing.T) {
		h := newHarness(t)
		m := store.Message{Key: "never-issued", Kind: store.KindGroup, ChatID: ops, SentAt: h.clock.Now(), RobotCode: h.fake.RobotCode()}
		require.NoError(t, h.store.Record(h.ctx, m))
		_, err := h.store.Ledger.Claim(h.ctx, []string{m.Key})
		require.NoError(t, err)
		h.clock.Advance(store.DefaultLease + time.Second)
		out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Keys: []string{m.Key}}, bot.Actor{Source: store.SourceAPI})
		require.NoError(t, err)
		assert.Equal(t, 1, h.fake.CallCount(dingtalk.PathGroupStatus))
		assert.Equal(t, 1, h.fake.RecallAttempts(m.Key), "sent to DingTalk's recall, which decides")
		assert.Contains(t, out.Failed, m.Key)
	})
}
