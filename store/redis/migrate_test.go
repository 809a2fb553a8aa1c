package redis_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/redis"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// oldLayout writes what a version before the per-chat layout left under
// prefix p, all under the one hash tag {p}: two tracked messages (one
// claimed, tagged, due and failed; one reply), one TTL old, a title, a
// reservation with a settlement lease, an audit entry, a state and an
// events zset.
func oldLayout(t *testing.T, c goredis.UniversalClient, p string, now time.Time) {
	t.Helper()
	ctx := t.Context()
	o := "{" + p + "}:"
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	res, err := json.Marshal(store.Reservation{ID: "r1", Kind: store.KindGroup, ChatID: "cid-a", MsgKey: "sampleText", ReservedAt: now.Add(-time.Minute).UTC()})
	require.NoError(t, err)
	entry, err := json.Marshal(store.AuditEntry{ID: "a1", At: now.Add(-time.Hour).UTC(), Action: store.ActionRecall, Source: store.SourceAPI, ChatID: "cid-a"})
	require.NoError(t, err)
	_, err = c.Pipelined(ctx, func(pp goredis.Pipeliner) error {
		pp.HSet(ctx, o+"m:k1", "c", "cid-a", "k", "group", "r", "robot", "n", "sampleText", "p", `{"content":"one"}`,
			"g", "deploy", "s", ms(-2*time.Minute), "e", ms(time.Minute), "f", `{"code":"c1","message":"busy"}`,
			"l", ms(time.Minute), "o", "holder-1")
		pp.HSet(ctx, o+"m:k2", "c", "cid-a", "k", "group", "n", "sampleText", "p", `{"content":"two"}`, "s", ms(-time.Minute), "y", "1")
		pp.HSet(ctx, o+"m:gone", "c", "cid-a", "k", "group", "s", ms(-48*time.Hour))
		pp.ZAdd(ctx, o+"c:cid-a", goredis.Z{Score: 1, Member: "k1"}, goredis.Z{Score: 2, Member: "k2"}, goredis.Z{Score: 0, Member: "gone"})
		pp.ZAdd(ctx, o+"chats", goredis.Z{Score: 2, Member: "cid-a"})
		pp.ZAdd(ctx, o+"due", goredis.Z{Score: 3, Member: "k1"})
		pp.ZAdd(ctx, o+"t:deploy", goredis.Z{Score: 1, Member: "k1"})
		pp.HSet(ctx, o+"kind", "cid-a", "group", "cid-b", "private")
		pp.HSet(ctx, o+"title", "cid-b", "Ops")
		pp.HSet(ctx, o+"fold", "cid-b", redis.Fold("Ops"))
		pp.SAdd(ctx, o+"f:"+redis.Fold("Ops"), "cid-b")
		pp.HSet(ctx, o+"res", "r1", string(res))
		pp.ZAdd(ctx, o+"resq", goredis.Z{Score: float64(now.Add(-time.Minute).UnixMilli()), Member: "r1"})
		pp.HSet(ctx, o+"resl", "r1", ms(10*time.Second))
		pp.ZAdd(ctx, o+"al", goredis.Z{Score: float64(now.Add(-time.Hour).UnixMilli()), Member: "a1"})
		pp.Set(ctx, o+"a:a1", string(entry), time.Hour)
		pp.Set(ctx, o+"s:guard", ms(time.Hour)+":on", time.Hour)
		pp.ZAdd(ctx, o+"s:e:burst", goredis.Z{Score: float64(now.UnixMilli()), Member: "x\x00id"})
		return nil
	})
	require.NoError(t, err)
}

func TestMigrate(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			c := topo.client(t)
			ctx := t.Context()
			prefix := testPrefix(t, c)
			clock := storetest.NewClock(storetest.Start)
			oldLayout(t, c, prefix, clock.Now())

			replicas := make([]*redis.Ledger, 3)
			for i := range replicas {
				l, err := redis.New(c, redis.Options{Prefix: prefix, Now: clock.Now})
				require.NoError(t, err)
				replicas[i] = l
			}
			l := replicas[0]
			require.ErrorIs(t, l.Ping(ctx), redis.ErrNotMigrated, "not ready before the migration")
			require.ErrorIs(t, l.Ping(ctx), store.ErrUnavailable)

			// Three replicas start at once: one migrates, the others wait.
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				reports []redis.MigrationReport
			)
			for _, r := range replicas {
				wg.Go(func() {
					rep, err := r.Migrate(ctx)
					if err != nil {
						assert.ErrorIs(t, err, redis.ErrMigrating)
						return
					}
					mu.Lock()
					reports = append(reports, rep)
					mu.Unlock()
				})
			}
			wg.Wait()
			ran := 0
			for _, rep := range reports {
				if rep.Ran {
					ran++
					assert.Equal(t, redis.MigrationReport{Ran: true, Messages: 2, Expired: 1, Titles: 1, Reservations: 1, AuditEntries: 1, States: 2}, rep)
				}
			}
			require.Equal(t, 1, ran, "one replica migrated")
			require.NoError(t, l.Ping(ctx))
			again, err := l.Migrate(ctx)
			require.NoError(t, err)
			assert.False(t, again.Ran, "once")

			keys, err := prefixKeys(ctx, c, prefix)
			require.NoError(t, err)
			for _, k := range keys {
				assert.NotRegexp(t, `^\{`+prefix+`\}:`, k, "no key of the old layout is left")
			}

			// The messages moved whole, the claim with them.
			k1, err := l.Get(ctx, "k1")
			require.NoError(t, err)
			assert.Equal(t, store.Message{
				Key: "k1", Kind: store.KindGroup, ChatID: "cid-a", RobotCode: "robot", MsgKey: "sampleText", MsgParam: `{"content":"one"}`,
				Tag: "deploy", SentAt: storetest.Start.Add(-2 * time.Minute).UTC(), ExpiresAt: storetest.Start.Add(time.Minute).UTC(),
				Failure: store.Failure{Code: "c1", Message: "busy"},
			}, k1)
			list, err := l.List(ctx, "cid-a", 0)
			require.NoError(t, err)
			require.Len(t, list, 2)
			assert.True(t, list[0].Reply)
			newest, err := l.Newest(ctx, "cid-a", 5)
			require.NoError(t, err)
			assert.Empty(t, newest, "k1 is still claimed, k2 a reply")
			_, err = l.Get(ctx, "gone")
			require.ErrorIs(t, err, store.ErrNotFound)

			clock.Advance(2 * time.Minute) // the claim lapses, k1 falls due
			due, err := l.Due(ctx, clock.Now(), 0)
			require.NoError(t, err)
			require.Len(t, due, 1)
			assert.True(t, due[0].Lapsed, "a claim that lapsed is flagged")
			tagged, err := l.ByTag(ctx, "deploy")
			require.NoError(t, err)
			assert.Len(t, tagged, 1)

			chat, err := l.FindChat(ctx, "ops")
			require.NoError(t, err)
			assert.Equal(t, store.Chat{ID: "cid-b", Kind: store.KindPrivate, Title: "Ops"}, chat)
			pending, err := l.Pending(ctx, clock.Now(), 0)
			require.NoError(t, err)
			require.Len(t, pending, 1)
			assert.Equal(t, "r1", pending[0].ID)
			entries, err := l.Audit(0).AuditLog(ctx, "cid-a", 0)
			require.NoError(t, err)
			require.Len(t, entries, 1)
			assert.Equal(t, "a1", entries[0].ID)
			v, ok, err := l.States().TakeState(ctx, "guard")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, "on", v)
			events, err := l.States().Events(ctx, "burst", time.Hour)
			require.NoError(t, err)
			assert.Len(t, events, 1)
		})
	}
}

// TestMigrateFresh: on a Redis without the old layout, Migrate only sets
// the marker.
func TestMigrateFresh(t *testing.T) {
	c := testRedis(t)
	ctx := t.Context()
	prefix := testPrefix(t, c)
	l, err := redis.New(c, redis.Options{Prefix: prefix})
	require.NoError(t, err)
	rep, err := l.Migrate(ctx)
	require.NoError(t, err)
	assert.Equal(t, redis.MigrationReport{Ran: true}, rep)
	require.NoError(t, l.Ping(ctx))
	v, err := c.Get(ctx, prefix+":layout").Result()
	require.NoError(t, err)
	assert.Equal(t, "2", v)

	// A replica finding the lock taken is told to come back later.
	require.NoError(t, c.Del(ctx, prefix+":layout").Err())
	require.NoError(t, c.Set(ctx, prefix+":migrate:lock", "someone", time.Minute).Err())
	_, err = l.Migrate(context.Background())
	require.ErrorIs(t, err, redis.ErrMigrating)
}
