package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// Fold exposes fold to the tests.
var Fold = fold

// Shard exposes shard to the tests.
var Shard = shard

// RecordBatch records msgs as Record would, but in one pipeline for all of
// them and without the clean-up of what a full chat drops, to fill a
// ledger fast for the benchmarks (which never fill a chat past its cap).
func (r *Ledger) RecordBatch(ctx context.Context, msgs []store.Message) error {
	now := r.now().UnixMilli()
	calls := make([]*call, len(msgs))
	for i, m := range msgs {
		if err := m.Validate(); err != nil {
			return err
		}
		calls[i] = r.chatCall(m.ChatID, now, recordScript, m.Key, m.SentAt.UnixMilli(), encodeBody(m), string(m.Kind), "", "", "")
	}
	return batch(ctx, r.c, calls, func(p goredis.Pipeliner) {
		for _, m := range msgs {
			life := time.Duration(m.SentAt.UnixMilli()+r.ttl+millis(grace)-now) * time.Millisecond
			p.Set(ctx, r.k.dir(m.Key), m.ChatID, life)
			p.ZAddGT(ctx, r.k.active(m.ChatID), goredis.Z{Score: float64(m.SentAt.UnixMilli()), Member: m.ChatID})
		}
	})
}

// Prefix is the ledger's key prefix.
func (r *Ledger) Prefix() string { return r.prefix }
