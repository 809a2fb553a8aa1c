package bot

import (
	"context"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// HandleClick runs a card click synchronously, as a worker does with an
// accepted one.
func HandleClick(ctx context.Context, b *Bot, cb *dingtalk.CardCallback) { b.handleClick(ctx, cb) }
