package bot_test

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// Whether a failed send may have been posted is decided on the client's
// *dingtalk.APIError: which call failed, its code and its status.
func TestOutcomeUnknown(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	read := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	send := dingtalk.PathGroupSend
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"5xx system.error", &dingtalk.APIError{API: send, Status: 500, Code: dingtalk.CodeSystemError}, true},
		{"a bare 503", &dingtalk.APIError{API: dingtalk.PathOTOSend, Status: 503, Code: "http.503"}, true},
		{"system.error on a 200", &dingtalk.APIError{API: send, Status: 200, Code: dingtalk.CodeSystemError}, true},
		{"timed out", &dingtalk.APIError{API: dingtalk.PathPrivateSend, Code: dingtalk.CodeTransport, Err: context.DeadlineExceeded}, true},
		{"connection reset", fmt.Errorf("wrapped: %w", &dingtalk.APIError{API: send, Code: dingtalk.CodeTransport, Err: read}), true},
		{"a 2xx without a key", &dingtalk.APIError{API: send, Status: 200, Code: dingtalk.CodeBadResponse}, true},
		{"connection refused", &dingtalk.APIError{API: send, Code: dingtalk.CodeTransport, Err: dial}, false},
		{"QPS limit", &dingtalk.APIError{API: send, Status: 403, Code: dingtalk.CodeQPSLimitAppAndAPI}, false},
		{"QPS limit of the API", &dingtalk.APIError{API: send, Status: 403, Code: dingtalk.CodeQPSLimitAPI}, false},
		{"refused", &dingtalk.APIError{API: send, Status: 400, Code: dingtalk.CodeBotStopped}, false},
		{"the token call timed out", fmt.Errorf("token: %w", &dingtalk.APIError{API: dingtalk.PathAccessToken, Code: dingtalk.CodeTransport, Err: context.DeadlineExceeded}), false},
		{"waiting for the rate limit", fmt.Errorf("dingtalk: waiting for rate limit: %w", context.Canceled), false},
		{"invalid message", dingtalk.ErrInvalidMessage, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, bot.OutcomeUnknown(tt.err))
		})
	}
}

// Every send is reserved before DingTalk is called: a ledger that cannot
// take the reservation means nothing is sent.
func TestSendIsReservedFirst(t *testing.T) {
	h := newHarness(t)
	h.store.down.Store(true)
	_, err := h.send(ops, "deploy started")
	require.ErrorIs(t, err, bot.ErrNotReserved)
	require.ErrorIs(t, err, errDown)
	assert.Zero(t, h.fake.CallCount(dingtalk.PathGroupSend), "nothing reached DingTalk")

	// A command's reply that cannot be tracked is not posted either.
	h.logs.Reset()
	bot.HandleEvent(h.ctx, h.bot, inGroup(admin, "help"))
	assert.Empty(t, h.fake.Sent())
	assert.Contains(t, h.errorMessages(), "could not send the reply")
}

// errorMessages are the messages logged at error level.
func (h *harness) errorMessages() []string {
	var out []string
	for _, e := range h.logs.AllEntries() {
		if e.Level <= 2 {
			out = append(out, e.Message)
		}
	}
	return out
}

// A sent message's reservation becomes the tracked message; one whose send
// DingTalk refused is dropped; one whose outcome DingTalk left unknown is
// kept (with what an operator needs to find the message) and its error says
// so.
func TestSendSettlesItsReservation(t *testing.T) {
	h := newHarness(t, func(d *bot.Deps, _ *bot.Config) { d.Holder = "replica-a" })
	m, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: ops, Message: dingtalk.Text("ok"), TTL: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, h.pending(), "committed")
	got, err := h.store.Get(h.ctx, m.Key)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, got.ExpiresAt.Sub(got.SentAt))

	h.fake.FailCallWith(dingtalk.PathGroupSend, 1, 400, dingtalk.CodeBotStopped, "robot disabled")
	_, err = h.send(ops, "refused")
	require.ErrorIs(t, err, bot.ErrDingTalk)
	assert.NotErrorIs(t, err, bot.ErrOutcomeUnknown)
	assert.Empty(t, h.pending(), "dropped")

	h.fake.FailCallWith(dingtalk.PathGroupSend, 1, 500, dingtalk.CodeSystemError, "unknown system error")
	_, err = h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: ops, Message: dingtalk.Text("lost answer"), Tag: "t1", Reply: false})
	require.ErrorIs(t, err, bot.ErrOutcomeUnknown)
	require.ErrorIs(t, err, bot.ErrDingTalk)
	var apiErr *dingtalk.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, dingtalk.CodeSystemError, apiErr.Code)
	assert.Equal(t, 1, h.fake.CallCount(dingtalk.PathGroupSend)-2, "a send is never retried after a 5xx")
	kept := h.pending()
	require.Len(t, kept, 1, "kept for settlement")
	assert.Equal(t, ops, kept[0].ChatID)
	assert.Equal(t, store.KindGroup, kept[0].Kind)
	assert.Equal(t, "t1", kept[0].Tag)
	assert.Equal(t, "replica-a", kept[0].Holder)
	assert.Equal(t, dingtalk.Text("lost answer").MsgParam, kept[0].MsgParam)
	assert.Equal(t, h.clock.Now(), kept[0].ReservedAt)
}

// A send whose outcome is unknown keeps its duplicate slot: a retry within
// DUPLICATE_WINDOW could post the message twice. A send DingTalk refused
// frees it.
func TestOutcomeUnknownKeepsTheDuplicateSlot(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.DuplicateWindow = 30 * time.Second })
	h.fake.FailCallWith(dingtalk.PathGroupSend, 1, 503, "ServiceUnavailable", "try later")
	_, err := h.send(ops, "deploy started")
	require.ErrorIs(t, err, bot.ErrOutcomeUnknown)
	_, err = h.send(ops, "deploy started")
	var dup *bot.DuplicateError
	require.ErrorAs(t, err, &dup, "the retry is refused")
	assert.Empty(t, dup.Key, "the first send's key is unknown")
	assert.Equal(t, 1, h.fake.CallCount(dingtalk.PathGroupSend))

	h.clock.Advance(30 * time.Second)
	_, err = h.send(ops, "deploy started")
	require.NoError(t, err, "after the window")
}

// A send admitted through the API finishes even when its caller hangs up
// while DingTalk is posting it: the message is tracked and recallable.
func TestSendOutlivesItsCaller(t *testing.T) {
	h := newHarness(t)
	h.fake.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var m store.Message
	go func() {
		var err error
		m, err = h.bot.Send(ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: ops, Message: dingtalk.Text("x")})
		done <- err
	}()
	require.Eventually(t, func() bool { return h.fake.CallCount(dingtalk.PathGroupSend) == 1 }, 5*time.Second, time.Millisecond)
	cancel() // the caller hangs up while DingTalk holds the call
	require.NoError(t, <-done)
	_, err := h.store.Get(h.ctx, m.Key)
	require.NoError(t, err, "tracked")
	assert.Empty(t, h.pending())
	h.fake.SetLatency(0)
	out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Last: 1}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.Equal(t, []string{m.Key}, out.Recalled)
}

// A recall admitted through the API finishes even when its caller hangs
// up, and never records "context canceled" as a reason.
func TestRecallOutlivesItsCaller(t *testing.T) {
	h := newHarness(t)
	msgs := h.post(ops, 2)
	h.fake.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bot.Outcome, 1)
	go func() {
		out, err := h.bot.Recall(ctx, bot.Selection{ChatID: ops, Last: 2}, bot.Actor{Source: store.SourceAPI})
		assert.NoError(t, err)
		done <- out
	}()
	require.Eventually(t, func() bool { return h.fake.CallCount(dingtalk.PathGroupRecall) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	out := <-done
	assert.ElementsMatch(t, keys(msgs), out.Recalled)
	assert.Empty(t, out.Failed)
	left, err := h.bot.List(h.ctx, ops, 0)
	require.NoError(t, err)
	assert.Empty(t, left)
}

// A recall whose time budget runs out before DingTalk answers records no
// failure: its messages stay tracked, free to be recalled again, and the
// audit says it was cut short, not "context deadline exceeded".
func TestRecallCutShortRecordsNoFailure(t *testing.T) {
	h := newHarness(t, func(_ *bot.Deps, c *bot.Config) { c.WorkBudget = 5 * time.Second })
	msgs := h.post(ops, 2)
	h.fake.SetLatency(time.Hour)
	out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Last: 2}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.Empty(t, out.Recalled)
	for _, m := range msgs {
		assert.Equal(t, bot.CodeInterrupted, out.Failed[m.Key].Code)
	}
	free, err := h.store.Newest(h.ctx, ops, 10)
	require.NoError(t, err)
	assert.Len(t, free, 2, "tracked and unclaimed")
	for _, m := range free {
		assert.True(t, m.Failure.IsZero(), "no failure recorded: %v", m.Failure)
	}
	entries, err := h.bot.AuditLog(h.ctx, ops, 1)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	for _, it := range entries[0].Items {
		assert.Equal(t, bot.CodeInterrupted, it.Code)
		assert.NotContains(t, it.Reason, "context")
	}
	h.fake.SetLatency(0)
	out, err = h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Last: 2}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.Len(t, out.Recalled, 2, "recalled on the next try")
}
