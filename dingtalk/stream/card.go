package stream

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// TopicCardCallback is the CALLBACK topic of interactive card button clicks (cards
// delivered with callbackType STREAM).
const TopicCardCallback = "/v1.0/card/instances/callback"

// CardHandler is given each new card button click, on the connection's reader goroutine,
// as Handler is given robot callbacks: it must be quick, a nil error acknowledges the
// frame with 200 and an error with 500. The click's DeliveryID is the frame's messageId.
type CardHandler func(ctx context.Context, cb *dingtalk.CardCallback) error

// WithCardHandler subscribes the client to card button clicks (TopicCardCallback) as
// well as robot messages, and hands each new click to h. A click delivered again (the
// same messageId) is acknowledged and not handed over twice.
func WithCardHandler(h CardHandler) Option {
	return func(c *Client) error {
		if h == nil {
			return errors.New("card handler is nil")
		}
		c.handleCard = h
		return nil
	}
}

// WithCardsOnly subscribes the client to card button clicks only, for an app whose robot
// messages come by HTTP: card clicks come over Stream mode whatever the robot's message
// receiving mode (the card is delivered with callbackType STREAM). It needs
// WithCardHandler; the Handler given to New is then never called, and a robot
// message frame is answered 404 like any topic the client does not handle.
func WithCardsOnly() Option {
	return func(c *Client) error {
		c.cardsOnly = true
		return nil
	}
}

// subscriptions are the topics connections/open asks for: robot messages (unless
// WithCardsOnly), and card clicks when the client has a CardHandler.
func (c *Client) subscriptions() []dingtalk.Subscription {
	var subs []dingtalk.Subscription
	if !c.cardsOnly {
		subs = append(subs, dingtalk.Subscription{Type: TypeCallback, Topic: TopicBotMessage})
	}
	if c.handleCard != nil {
		subs = append(subs, dingtalk.Subscription{Type: TypeCallback, Topic: TopicCardCallback})
	}
	return subs
}

// deliverCard hands a card click to the card handler unless its frame was handled
// before, and returns the acknowledgement code. A click that does not decode is
// acknowledged with 500, like a malformed robot callback.
func (c *Client) deliverCard(ctx context.Context, log logrus.FieldLogger, messageID string, data []byte) int {
	cb, err := dingtalk.DecodeCardCallback(data)
	if err != nil {
		log.WithError(err).Warn("dingtalk stream: malformed card callback")
		return CodeFailed
	}
	cb.DeliveryID = messageID
	key := ""
	if messageID != "" {
		key = "card-frame:" + messageID
	}
	if !c.seen.claim(c.api.Now(), key) {
		log.WithField("outTrackId", cb.OutTrackID).Debug("dingtalk stream: card click delivered again, acknowledged without handling")
		return CodeOK
	}
	if err := c.handleCard(ctx, cb); err != nil {
		c.seen.release(key)
		log.WithError(err).WithField("outTrackId", cb.OutTrackID).Warn("dingtalk stream: card handler failed")
		return CodeFailed
	}
	return CodeOK
}
