package bot

import "context"

// Settle runs one settlement pass and returns how many reservations it
// settled.
func Settle(ctx context.Context, b *Bot) int { return b.settler.settle(ctx) }

// OutcomeUnknown is the sender's decision whether a failed send may have
// been posted, for its table test.
var OutcomeUnknown = outcomeUnknown
