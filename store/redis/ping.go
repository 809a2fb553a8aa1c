package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// ErrNotMigrated is wrapped by Ping's error while the layout marker is
// missing: Migrate has not run (or not finished) on this Redis yet.
var ErrNotMigrated = errors.New("the ledger's key layout is not in place yet (the migration has not run)")

// Ping reports whether the ledger can serve requests (readiness); see
// store.Ledger. It makes the round trips the ledger's calls make, through
// the same client: it reads the layout marker and writes probe keys
// spread over the key space (so over a cluster's slots and masters), and
// on a cluster it pings every master too. So a client that cannot reach
// the data, or was pointed at a cluster node without REDIS_CLUSTER (and
// is answered MOVED), or at a replica (READONLY), is not ready, and nor is
// a ledger whose layout was not migrated yet (ErrNotMigrated). Every
// failure wraps store.ErrUnavailable.
func (r *Ledger) Ping(ctx context.Context) error {
	const op = "ping"
	if err := begin(ctx, op); err != nil {
		return err
	}
	now := r.now().UnixMilli()
	var marker *goredis.StringCmd
	probeCmds := make([]*goredis.StatusCmd, probes)
	_, _ = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		marker = p.Get(ctx, r.k.marker())
		for i := range probes {
			probeCmds[i] = p.Set(ctx, r.k.probe(i), now, time.Minute)
		}
		return nil
	})
	for _, c := range probeCmds {
		if err := c.Err(); err != nil {
			return redisErr(op, unavailable(err))
		}
	}
	v, err := marker.Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return redisErr(op, fmt.Errorf("%w: %w", store.ErrUnavailable, ErrNotMigrated))
	case err != nil:
		return redisErr(op, unavailable(err))
	case v != layoutVersion:
		return redisErr(op, fmt.Errorf("%w: key layout %q is not this version's (%s)", store.ErrUnavailable, v, layoutVersion))
	}
	if cc, ok := r.c.(*goredis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			return m.Ping(ctx).Err()
		})
		if err != nil {
			return redisErr(op, unavailable(err))
		}
	}
	return nil
}
