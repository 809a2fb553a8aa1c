package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/redis"
	"github.com/dingrecall/dingrecall/store/redis/redistest"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// TestTargetClient checks the client each topology gets, and that a URL
// that does not fit its topology is refused without quoting a password.
func TestTargetClient(t *testing.T) {
	tests := []struct {
		name   string
		target redis.Target
		want   string // the client's type, "" when refused
	}{
		{"one node", redis.Target{URL: "redis://:s3cret@127.0.0.1:6379/2"}, "*redis.Client"},
		{"cluster", redis.Target{URL: "redis://:s3cret@127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", Cluster: true}, "*redis.ClusterClient"},
		{"cluster of one seed", redis.Target{URL: "redis://127.0.0.1:7000", Cluster: true}, "*redis.ClusterClient"},
		{"sentinels", redis.Target{URL: "redis://:s3cret@127.0.0.1:26379/1?addr=127.0.0.1:26380", SentinelMaster: "mymaster"}, "*redis.Client"},
		{"both", redis.Target{URL: "redis://127.0.0.1:7000", Cluster: true, SentinelMaster: "m"}, ""},
		{"seed list without REDIS_CLUSTER", redis.Target{URL: "redis://:s3cret@127.0.0.1:7000?addr=127.0.0.1:7001"}, ""},
		{"cluster database", redis.Target{URL: "redis://127.0.0.1:7000/3", Cluster: true}, ""},
		{"cluster over unix socket", redis.Target{URL: "unix:///tmp/redis.sock", Cluster: true}, ""},
		{"bad cluster addr", redis.Target{URL: "redis://:s3cret@127.0.0.1:7000?addr=nonsense", Cluster: true}, ""},
		{"sentinel bad database", redis.Target{URL: "redis://:s3cret@127.0.0.1:26379/x", SentinelMaster: "m"}, ""},
		{"bad scheme", redis.Target{URL: "http://:s3cret@127.0.0.1:6379"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.target.Client()
			if tt.want == "" {
				require.ErrorIs(t, err, redis.ErrTopology)
				assert.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			assert.Equal(t, tt.want, fmt.Sprintf("%T", c))
		})
	}
}

// TestClusterAnySeed: a ledger given any one node of the cluster as its
// only seed finds the others and works; a single-node client pointed at a
// cluster node is not ready (MOVED), and nor is a cluster missing a
// master.
func TestClusterAnySeed(t *testing.T) {
	redistest.NeedServer(t)
	cs := redistest.StartCluster(t, 3) // its own: the test stops a node
	ctx := t.Context()
	for i, n := range cs.Nodes {
		l, err := redis.OpenTarget(redis.Target{URL: "redis://" + n.Addr(), Cluster: true}, redis.Options{Prefix: "seed"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		_, err = l.Migrate(ctx)
		require.NoError(t, err)
		require.NoError(t, l.Ping(ctx), "seed %d", i)
		for c := range 20 {
			require.NoError(t, l.Record(ctx, store.Message{Key: fmt.Sprintf("k%d-%d", i, c), Kind: store.KindGroup,
				ChatID: fmt.Sprintf("cid-%d", c), SentAt: time.Now()}))
		}
		chats, err := l.Chats(ctx)
		require.NoError(t, err)
		assert.Len(t, chats, 20)
	}

	single, err := redis.Open("redis://"+cs.Nodes[0].Addr(), redis.Options{Prefix: "seed"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = single.Close() })
	err = single.Ping(ctx)
	require.ErrorIs(t, err, store.ErrUnavailable, "a single-node client on a cluster node is not ready")
	assert.ErrorContains(t, err, "MOVED")

	l, err := redis.OpenTarget(redis.Target{URL: cs.URL() + "&max_retries=1&dial_timeout=200ms", Cluster: true}, redis.Options{Prefix: "seed"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	require.NoError(t, l.Ping(ctx))
	cs.Nodes[2].Stop()
	require.Eventually(t, func() bool {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return l.Ping(c) != nil
	}, 15*time.Second, 100*time.Millisecond, "a cluster missing a master is not ready")
}

func TestDeferDue(t *testing.T) {
	c := testRedis(t)
	ctx := t.Context()
	clock := storetest.NewClock(storetest.Start)
	l := newLedger(t, c, redis.Options{Prefix: testPrefix(t, c), Now: clock.Now})
	at := func(sec int) time.Time { return storetest.Start.Add(time.Duration(sec) * time.Second) }
	for _, m := range []store.Message{
		{Key: "a", Kind: store.KindGroup, ChatID: "cid-a", SentAt: at(0), ExpiresAt: at(1)},
		{Key: "b", Kind: store.KindGroup, ChatID: "cid-b", SentAt: at(0), ExpiresAt: at(2)},
		{Key: "plain", Kind: store.KindGroup, ChatID: "cid-a", SentAt: at(0)},
	} {
		require.NoError(t, l.Record(ctx, m))
	}
	_, err := l.DeferDue(ctx, []string{"a"}, 0, time.Hour)
	require.ErrorIs(t, err, store.ErrInvalid)

	keys := func(ms []store.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Key)
		}
		return out
	}
	due := func() []string {
		ms, err := l.Due(ctx, clock.Now(), 0)
		require.NoError(t, err)
		return keys(ms)
	}
	clock.Set(at(5))
	assert.Equal(t, []string{"a", "b"}, due())
	// a fails three times: due again after 1 s, 2 s, then 4 s; the wait
	// never passes max.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		next, err := l.DeferDue(ctx, []string{"a", "plain", "missing"}, time.Second, 3*time.Second)
		require.NoError(t, err)
		want := min(wait, 3*time.Second)
		assert.Equal(t, map[string]time.Time{"a": clock.Now().Add(want)}, next, "failure %d", i+1)
		assert.Equal(t, []string{"b"}, due(), "a waits")
		clock.Advance(want - time.Millisecond)
		assert.Equal(t, []string{"b"}, due())
		clock.Advance(time.Millisecond)
		assert.Equal(t, []string{"b", "a"}, due(), "earliest next attempt first")
	}
	// A new ledger (a restart, another replica) sees the same schedule.
	other := newLedger(t, c, redis.Options{Prefix: l.Prefix(), Now: clock.Now})
	_, err = l.DeferDue(ctx, []string{"b"}, time.Minute, time.Hour)
	require.NoError(t, err)
	ms, err := other.Due(ctx, clock.Now(), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, keys(ms))
	// Recording the key again starts over.
	require.NoError(t, l.Record(ctx, store.Message{Key: "b", Kind: store.KindGroup, ChatID: "cid-b", SentAt: at(0), ExpiresAt: at(2)}))
	assert.Equal(t, []string{"b", "a"}, due())
}

func TestByTagCap(t *testing.T) {
	c := testRedis(t)
	ctx := t.Context()
	l := newLedger(t, c, redis.Options{Prefix: testPrefix(t, c), ByTagMax: 300})
	now := time.Now()
	var msgs []store.Message
	for i := range 700 {
		msgs = append(msgs, store.Message{Key: fmt.Sprintf("k%03d", i), Kind: store.KindGroup, ChatID: fmt.Sprintf("cid-%d", i%7),
			Tag: "big", SentAt: now.Add(time.Duration(i) * time.Millisecond), Reply: i%10 == 0})
	}
	require.NoError(t, l.RecordBatch(ctx, msgs))
	for _, m := range msgs {
		require.NoError(t, c.ZAdd(ctx, "{"+l.Prefix()+":t:big}", goredis.Z{Score: float64(m.SentAt.UnixMilli()), Member: fmt.Sprintf("%d:%s%s", len(m.ChatID), m.ChatID, m.Key)}).Err())
	}
	taken, err := l.TakeNewest(ctx, "cid-0", 30)
	require.NoError(t, err)
	require.Len(t, taken, 30)
	got, err := l.ByTag(ctx, "big")
	require.NoError(t, err)
	require.Len(t, got, 300, "capped")
	claimed := map[string]bool{}
	for _, m := range taken {
		claimed[m.Key] = true
	}
	var want []string
	for i := 699; i >= 0 && len(want) < 300; i-- {
		if k := msgs[i].Key; i%10 != 0 && !claimed[k] {
			want = append(want, k)
		}
	}
	var keys []string
	for _, m := range got {
		keys = append(keys, m.Key)
	}
	assert.Equal(t, want, keys, "the newest unclaimed non-replies, newest first")
}
