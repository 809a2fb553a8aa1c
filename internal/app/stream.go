package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
	"github.com/dingrecall/dingrecall/metrics"
)

// newStreamClient builds the Stream mode client for CALLBACK_MODE stream or
// both, which also takes card button clicks when CARD_BUTTONS is on; for
// http, a client that takes card clicks only when CARD_BUTTONS is on (card
// clicks come over Stream mode whatever the robot's mode), else nil. Its
// callbacks and clicks take the same intake as HTTP ones; one the pool
// cannot take is acknowledged with 500 so that DingTalk delivers it again.
func newStreamClient(cfg config, client *dingtalk.Client, b *bot.Bot, mx *metrics.Metrics) (*stream.Client, error) {
	if cfg.CallbackMode == "http" && !cfg.CardButtons {
		return nil, nil
	}
	handle := func(ctx context.Context, cb *dingtalk.Callback) error {
		outcome, err := b.Accept(ctx, cb, "")
		mx.Callback(outcome)
		return err
	}
	opts := []stream.Option{stream.WithObserver(mx), stream.WithUA("dingrecall/" + Version)}
	if cfg.CardButtons {
		opts = append(opts, stream.WithCardHandler(func(ctx context.Context, cb *dingtalk.CardCallback) error {
			outcome, err := b.AcceptCardClick(ctx, cb)
			mx.Callback(outcome)
			return err
		}))
	}
	if cfg.CallbackMode == "http" {
		opts = append(opts, stream.WithCardsOnly())
	}
	c, err := stream.New(client, handle, opts...)
	if err != nil {
		return nil, fmt.Errorf("stream mode: %w", err)
	}
	return c, nil
}

// streamReady is the readiness check of stream mode: a connection is up.
// Without a stream client, or with one that takes card clicks only (http
// mode), there is nothing to check: callbacks come by HTTP.
func streamReady(cfg config, c *stream.Client) func() error {
	if c == nil || cfg.CallbackMode == "http" {
		return nil
	}
	return func() error {
		if !c.Connected() {
			return errors.New("no Stream mode connection to DingTalk is up")
		}
		return nil
	}
}
