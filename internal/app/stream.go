package app

import (
	"context"
	"fmt"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/botsfile"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
	"github.com/dingrecall/dingrecall/metrics"
)

// newStreamClient builds a bot's Stream mode client for callback mode
// stream or both, which also takes card button clicks when buttons is on;
// for http, a client that takes card clicks only when buttons is on (card
// clicks come over Stream mode whatever the robot's mode), else nil. Its
// callbacks and clicks take the same intake as HTTP ones; one the pool
// cannot take is acknowledged with 500 so that DingTalk delivers it again.
func newStreamClient(mode string, buttons bool, client *dingtalk.Client, b *bot.Bot, mx *metrics.Metrics, obs stream.Observer) (*stream.Client, error) {
	if mode == botsfile.ModeHTTP && !buttons {
		return nil, nil
	}
	handle := func(ctx context.Context, cb *dingtalk.Callback) error {
		outcome, err := b.Accept(ctx, cb, "")
		mx.Callback(outcome)
		return err
	}
	opts := []stream.Option{stream.WithObserver(obs), stream.WithUA("dingrecall/" + Version)}
	if buttons {
		opts = append(opts, stream.WithCardHandler(func(ctx context.Context, cb *dingtalk.CardCallback) error {
			outcome, err := b.AcceptCardClick(ctx, cb)
			mx.Callback(outcome)
			return err
		}))
	}
	if mode == botsfile.ModeHTTP {
		opts = append(opts, stream.WithCardsOnly())
	}
	c, err := stream.New(client, handle, opts...)
	if err != nil {
		return nil, fmt.Errorf("stream mode: %w", err)
	}
	return c, nil
}
