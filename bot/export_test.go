package bot

import "context"

// HandleEvent runs ev's command and sends the reply, synchronously, as a
// worker does with an accepted callback.
func HandleEvent(ctx context.Context, b *Bot, ev Event) { b.handle(ctx, ev) }

// RecallDue runs one auto-recall pass and returns how many it recalled.
func RecallDue(ctx context.Context, b *Bot) int { return b.auto.recallDue(ctx) }

// Distance is the parser's edit distance, for its table test.
var Distance = distance
