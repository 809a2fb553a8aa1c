package redis

import (
	"context"
	"fmt"

	"github.com/dingrecall/dingrecall/store"
)

// RecordPipelined records msgs as Record would, in pipelines of EVALSHA
// calls of batch messages each, to fill a ledger fast for the benchmarks.
func (r *Ledger) RecordPipelined(ctx context.Context, msgs []store.Message, batch int) error {
	if err := recordScript.Load(ctx, r.c).Err(); err != nil {
		return fmt.Errorf("load record script: %w", err)
	}
	for len(msgs) > 0 {
		n := min(batch, len(msgs))
		pipe := r.c.Pipeline()
		for _, m := range msgs[:n] {
			if err := m.Validate(); err != nil {
				return err
			}
			pipe.EvalSha(ctx, recordScript.Hash(), r.keys, r.argv(recordArgs(m)...)...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("record pipeline: %w", err)
		}
		msgs = msgs[n:]
	}
	return nil
}

// Fold exposes fold to the tests.
var Fold = fold
