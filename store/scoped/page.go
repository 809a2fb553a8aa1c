package scoped

import (
	"context"
	"math"
)

// Paging of the filtered listings (Due, Pending and the whole audit log).
// A view asks the underlying store for limit items; while fewer than limit
// of them are the bot's and the store had more, it asks again for Growth
// times as many, at most Rounds times in all. So a view reads at most
// limit × Growth^(Rounds-1) items (1024 × limit) and returns fewer than
// limit of its own only when more than that many items of other bots come
// before them: those are served (recalled, settled or expired) in the
// meantime, and the next call reaches the bot's own. A limit <= 0 reads
// everything in one call, as the underlying store does.
const (
	// Rounds is the most calls of the underlying store per listing.
	Rounds = 6
	// Growth is how much bigger each page is than the one before.
	Growth = 4
)

// collect returns, in the underlying order, at most limit (all when
// limit <= 0) of the items fetch returns that keep accepts, mapped by keep;
// see Rounds.
func collect[T any](ctx context.Context, limit int, fetch func(ctx context.Context, n int) ([]T, error), keep func(T) (T, bool)) ([]T, error) {
	n := max(limit, 0)
	for round := 1; ; round++ {
		got, err := fetch(ctx, n)
		if err != nil {
			return nil, err
		}
		out := filter(got, keep)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if limit <= 0 || len(got) < n || round == Rounds || n > math.MaxInt/Growth {
			return out, nil
		}
		n *= Growth
	}
}

// filter keeps, in place, the items keep takes, as keep returns them.
func filter[T any](items []T, keep func(T) (T, bool)) []T {
	out := items[:0]
	for _, it := range items {
		if kept, ok := keep(it); ok {
			out = append(out, kept)
		}
	}
	return out
}
