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
// both (nil for http). Its callbacks take the same intake as HTTP ones; a
// callback the pool cannot take is acknowledged with 500 so that DingTalk
// delivers it again.
func newStreamClient(cfg config, client *dingtalk.Client, b *bot.Bot, mx *metrics.Metrics) (*stream.Client, error) {
	if cfg.CallbackMode == "http" {
		return nil, nil
	}
	handle := func(ctx context.Context, cb *dingtalk.Callback) error {
		outcome, err := b.Accept(ctx, cb, "")
		mx.Callback(outcome)
		return err
	}
	c, err := stream.New(client, handle, stream.WithObserver(mx), stream.WithUA("dingrecall/"+Version))
	if err != nil {
		return nil, fmt.Errorf("stream mode: %w", err)
	}
	return c, nil
}

// streamReady is the readiness check of stream mode: a connection is up.
// Without a stream client there is nothing to check.
func streamReady(c *stream.Client) func() error {
	if c == nil {
		return nil
	}
	return func() error {
		if !c.Connected() {
			return errors.New("no Stream mode connection to DingTalk is up")
		}
		return nil
	}
}
