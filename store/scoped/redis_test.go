package scoped_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/redis"
	"github.com/dingrecall/dingrecall/store/redis/redistest"
	"github.com/dingrecall/dingrecall/store/scoped"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// redisClient returns a client of one Redis node (REDIS_URL, or a server
// started for tb), closed when tb ends.
func redisClient(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	o, err := goredis.ParseURL(redistest.Single(tb))
	require.NoError(tb, err)
	c := goredis.NewClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// clusterClient returns a client of a Redis Cluster (REDIS_CLUSTER_URL, or
// one started for tb), closed when tb ends.
func clusterClient(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	c, err := redis.Target{URL: redistest.Cluster(tb), Cluster: true}.Client()
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// redisLedger returns a Redis ledger on c with a prefix of its own, whose
// keys are deleted when tb ends.
func redisLedger(tb testing.TB, c goredis.UniversalClient, opts redis.Options) *redis.Ledger {
	tb.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	opts.Prefix = "scoped-test-" + hex.EncodeToString(b)
	tb.Cleanup(func() { require.NoError(tb, deletePrefix(context.Background(), c, opts.Prefix)) })
	l, err := redis.New(c, opts)
	require.NoError(tb, err)
	_, err = l.Migrate(context.Background())
	require.NoError(tb, err)
	return l
}

// deletePrefix deletes the keys with prefix p on every node of c.
func deletePrefix(ctx context.Context, c goredis.UniversalClient, p string) error {
	del := func(ctx context.Context, n *goredis.Client) error {
		var keys []string
		for _, pattern := range []string{"{" + p + "}:*", "{" + p + ":*", p + ":*"} {
			iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		for chunk := range slices.Chunk(keys, 500) {
			if _, err := n.Pipelined(ctx, func(pl goredis.Pipeliner) error {
				for _, k := range chunk {
					pl.Unlink(ctx, k)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, del)
	}
	return del(ctx, c.(*goredis.Client))
}

func TestRedisLedgerConformance(t *testing.T) {
	c := redisClient(t)
	for _, p := range pairs {
		t.Run(p.bot+"+"+p.noise, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, cfg storetest.Config) store.Ledger {
				l := redisLedger(t, c, redis.Options{TTL: cfg.TTL, PerChat: cfg.PerChat, Lease: cfg.Lease, Now: cfg.Clock.Now})
				return &harness{t: t, bot: p.bot, v: scoped.NewLedger(p.bot, l), noise: scoped.NewLedger(p.noise, l)}
			})
		})
	}
}

func TestRedisAuditConformance(t *testing.T) {
	c := redisClient(t)
	for _, p := range pairs {
		t.Run(p.bot+"+"+p.noise, func(t *testing.T) {
			storetest.RunAudit(t, func(t *testing.T, clock *storetest.Clock, ttl time.Duration) store.Audit {
				a := redisLedger(t, c, redis.Options{Now: clock.Now}).Audit(ttl)
				return &auditHarness{t: t, bot: p.bot, v: scoped.NewAudit(p.bot, a), noise: scoped.NewAudit(p.noise, a)}
			})
		})
	}
}

// The isolation table on Redis, one node and a cluster: a scoped chat's
// keys share one hash tag, so every per-chat script stays in one slot.
func TestRedisIsolation(t *testing.T) {
	for _, topo := range []struct {
		name   string
		client func(testing.TB) goredis.UniversalClient
	}{{"single", redisClient}, {"cluster", clusterClient}} {
		t.Run(topo.name, func(t *testing.T) {
			c := topo.client(t)
			runIsolation(t, func(t *testing.T, clock *storetest.Clock) backing {
				l := redisLedger(t, c, redis.Options{TTL: time.Hour, AuditTTL: time.Hour, Now: clock.Now})
				_, deferring := scoped.NewLedger("alerts", l).(*scoped.DeferringLedger)
				require.True(t, deferring, "the Redis ledger's views keep DeferDue")
				return backing{l, l.Audit(time.Hour), l.States(), l.Deduper()}
			})
		})
	}
}
