package stream_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
)

// clicks is a CardHandler that records the clicks it is given and fails the first
// failFirst of them.
type clicks struct {
	mu        sync.Mutex
	got       []*dingtalk.CardCallback
	failFirst int
}

func (c *clicks) handle(_ context.Context, cb *dingtalk.CardCallback) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, cb)
	if c.failFirst > 0 {
		c.failFirst--
		return errors.New("queue full")
	}
	return nil
}

func (c *clicks) all() []*dingtalk.CardCallback {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*dingtalk.CardCallback(nil), c.got...)
}

// deliveredCard delivers a card through the fake and returns its outTrackId.
func deliveredCard(t *testing.T, fake *dingtalktest.Server) string {
	t.Helper()
	api := newAPI(t, fake, dingtalk.WithRobotCode(fake.RobotCode()))
	_, err := api.DeliverCard(context.Background(), dingtalk.GroupSpace("cidGroupOps001=="),
		dingtalk.Card{OutTrackID: "track-1", TemplateID: dingtalk.BuiltinCardTemplate, Data: map[string]string{"msgTitle": "x"}})
	require.NoError(t, err)
	return "track-1"
}

func TestCardClicksReachTheCardHandlerOnce(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	track := deliveredCard(t, fake)
	var got clicks
	start(t, fake, newRecorder().handle, stream.WithCardHandler(got.handle))
	connected(t, fake, 1)

	tickets := fake.Tickets()
	require.Len(t, tickets, 1)
	assert.Equal(t, []dingtalktest.Subscription{
		{Type: "CALLBACK", Topic: "/v1.0/im/bot/messages/get"},
		{Type: "CALLBACK", Topic: stream.TopicCardCallback},
	}, tickets[0].Subscriptions, "the client asks for card clicks")

	id, err := fake.ClickCard("", track, "staff-1001", "recall", map[string]any{"action": "recall"})
	require.NoError(t, err)
	a := acked(t, fake, id, 1)[0]
	assert.Equal(t, 200, a.Code)
	assert.Equal(t, `{"response": null}`, a.Data)
	require.Len(t, got.all(), 1)
	cb := got.all()[0]
	assert.Equal(t, track, cb.OutTrackID)
	assert.Equal(t, "staff-1001", cb.UserID)
	assert.Equal(t, "recall", cb.Action.ID())
	assert.Equal(t, id, cb.DeliveryID, "the frame's messageId identifies the delivery")

	t.Run("a redelivered click is acknowledged, not handed over again", func(t *testing.T) {
		require.NoError(t, fake.Redeliver(id, ""))
		assert.Equal(t, 200, acked(t, fake, id, 2)[1].Code)
		assert.Len(t, got.all(), 1)
	})
	t.Run("a malformed click is refused", func(t *testing.T) {
		bad, err := fake.Push("", "CALLBACK", stream.TopicCardCallback, `{"outTrackId":"x"}`)
		require.NoError(t, err)
		assert.Equal(t, 500, acked(t, fake, bad, 1)[0].Code)
		assert.Len(t, got.all(), 1)
	})
}

func TestCardHandlerErrorAcks500AndRedeliveryRetries(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	track := deliveredCard(t, fake)
	got := clicks{failFirst: 1}
	start(t, fake, newRecorder().handle, stream.WithCardHandler(got.handle))
	connected(t, fake, 1)

	id, err := fake.ClickCard("", track, "staff-1001", "recall", nil)
	require.NoError(t, err)
	assert.Equal(t, 500, acked(t, fake, id, 1)[0].Code)
	require.NoError(t, fake.Redeliver(id, ""))
	assert.Equal(t, 200, acked(t, fake, id, 2)[1].Code)
	assert.Len(t, got.all(), 2, "a failed click is handed over again when redelivered")
}

func TestWithCardHandlerNeedsAHandler(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	_, err := stream.New(newAPI(t, fake), newRecorder().handle, stream.WithCardHandler(nil))
	require.Error(t, err)
}

func TestCardsOnly(t *testing.T) {
	t.Parallel()
	fake := dingtalktest.NewTest(t)
	track := deliveredCard(t, fake)
	var got clicks
	rec := newRecorder()
	start(t, fake, rec.handle, stream.WithCardHandler(got.handle), stream.WithCardsOnly())
	connected(t, fake, 1)
	assert.Equal(t, []dingtalktest.Subscription{{Type: "CALLBACK", Topic: stream.TopicCardCallback}}, fake.Tickets()[0].Subscriptions,
		"robot messages keep coming by HTTP")
	id, err := fake.ClickCard("", track, "staff-1001", "recall", nil)
	require.NoError(t, err)
	assert.Equal(t, 200, acked(t, fake, id, 1)[0].Code)
	assert.Len(t, got.all(), 1)
	msg := pushCallback(t, fake, "", callback("msg-1", "recall"))
	assert.Equal(t, 404, acked(t, fake, msg, 1)[0].Code, "robot messages are not this client's")
	assert.Zero(t, rec.total())

	_, err = stream.New(newAPI(t, fake), rec.handle, stream.WithCardsOnly())
	require.Error(t, err, "card clicks only, but no card handler")
}
