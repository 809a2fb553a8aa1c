package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/store/redis"
	"github.com/dingrecall/dingrecall/store/redis/redistest"
)

// withRedisPrefix runs the app's Redis ledger under prefix.
func withRedisPrefix(prefix string) Option {
	return func(o *options) { o.redisPrefix = prefix }
}

// sharedRedis is a Redis (of any topology) that tests share, each under a
// prefix of its own whose keys it deletes when it ends.
type sharedRedis struct {
	t      *testing.T
	env    map[string]string // STORE, REDIS_URL, REDIS_CLUSTER or REDIS_SENTINEL_MASTER
	prefix string
	client goredis.UniversalClient
}

// onCluster returns the cluster of redistest.Cluster with a prefix of the
// test's own.
func onCluster(t *testing.T) *sharedRedis {
	t.Helper()
	return newShared(t, map[string]string{"STORE": "redis", "REDIS_URL": redistest.Cluster(t), "REDIS_CLUSTER": "true"})
}

// newShared connects to the Redis env names and registers the clean-up of
// a new prefix.
func newShared(t *testing.T, env map[string]string) *sharedRedis {
	t.Helper()
	cfg := config{RedisURL: env["REDIS_URL"], RedisCluster: env["REDIS_CLUSTER"] == "true", RedisMaster: env["REDIS_SENTINEL_MASTER"]}
	c, err := cfg.redisTarget().Client()
	require.NoError(t, err)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	s := &sharedRedis{t: t, env: env, prefix: "e2e-" + hex.EncodeToString(b), client: c}
	t.Cleanup(func() {
		_ = s.each(context.Background(), func(ctx context.Context, n *goredis.Client, keys []string) error {
			for _, k := range keys {
				_ = n.Del(ctx, k).Err()
			}
			return nil
		})
		_ = c.Close()
	})
	return s
}

// each calls fn with each master of the Redis and the keys of the prefix
// it holds.
func (s *sharedRedis) each(ctx context.Context, fn func(context.Context, *goredis.Client, []string) error) error {
	one := func(ctx context.Context, n *goredis.Client) error {
		var keys []string
		for _, pattern := range []string{"{" + s.prefix + ":*", s.prefix + ":*", "rate:" + s.prefix + ":*"} {
			iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		return fn(ctx, n, keys)
	}
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, one)
	}
	return one(ctx, s.client.(*goredis.Client))
}

// start starts an app on the Redis with env on top.
func (s *sharedRedis) start(fake *dingtalktest.Server, env map[string]string) *testApp {
	s.t.Helper()
	vars := map[string]string{}
	for k, v := range s.env {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	return startAppAt(s.t, fake, vars, time.Now, withRedisPrefix(s.prefix))
}

// ready waits until the app answers /readyz 200 (its layout in place).
func ready(t *testing.T, a *testApp) {
	t.Helper()
	require.Eventually(t, func() bool {
		status, _ := a.do(http.MethodGet, "/readyz", nil, nil)
		return status == http.StatusOK
	}, 15*time.Second, 20*time.Millisecond, "/readyz turns 200")
}

// TestClusterCallbackDeliveredToBothRunsOnce: two replicas on a cluster,
// each callback delivered to both (as DingTalk retries against a load
// balancer do): every command runs once, 10 commands recall 10 messages.
func TestClusterCallbackDeliveredToBothRunsOnce(t *testing.T) {
	r := onCluster(t)
	fake := dingtalktest.NewTest(t)
	a := r.start(fake, nil)
	b := r.start(fake, nil)
	ready(t, a)
	ready(t, b)
	keys := a.send(group, 10, nil)

	for i := range 10 {
		body := a.callbackBody("recall 1", nil) // one msgId for both
		var wg sync.WaitGroup
		for _, app := range []*testApp{a, b} {
			wg.Go(func() {
				status, _ := app.do(http.MethodPost, "/dingtalk/callback", body, signed(fake.AppSecret(), time.Now()))
				assert.Equal(t, http.StatusOK, status)
			})
		}
		wg.Wait()
		// One command at a time: "recall 1" means the newest, so a command
		// running beside another would see it in flight and take nothing.
		require.Eventually(t, func() bool { return len(fake.Sent()) >= 10+i+1 }, 10*time.Second, 10*time.Millisecond)
	}
	// Shutting down finishes every queued command.
	require.NoError(t, a.stop())
	require.NoError(t, b.stop())
	assert.ElementsMatch(t, keys, fake.Recalled(), "10 commands, 10 recalls")
	for _, k := range keys {
		assert.Equal(t, 1, fake.RecallAttempts(k), "each key reached DingTalk once")
	}
	assert.Len(t, fake.Sent(), 20, "10 messages and 10 replies, one per command")
}

// TestClusterSpreadsChats: sends over 1,000 chats leave keys on every
// master, the busiest holding at most 1.5 times the average.
func TestClusterSpreadsChats(t *testing.T) {
	r := onCluster(t)
	fake := dingtalktest.NewTest(t)
	a := r.start(fake, map[string]string{"DINGTALK_QPS": "10000"})
	ready(t, a)
	const chats = 1000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range chats {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": fmt.Sprintf("cidSpread%04d==", i), "text": "hi", "tag": fmt.Sprintf("t%d", i%50)})
			assert.Equal(t, http.StatusCreated, status, "%v", out)
		})
	}
	wg.Wait()
	var mu sync.Mutex
	perMaster := map[string]int{}
	require.NoError(t, r.each(t.Context(), func(_ context.Context, n *goredis.Client, keys []string) error {
		mu.Lock()
		perMaster[n.Options().Addr] = len(keys)
		mu.Unlock()
		return nil
	}))
	total, busiest := 0, 0
	for _, n := range perMaster {
		total += n
		busiest = max(busiest, n)
	}
	t.Logf("keys per master: %v", perMaster)
	require.Len(t, perMaster, 3)
	for addr, n := range perMaster {
		assert.Positive(t, n, "master %s holds keys", addr)
	}
	avg := float64(total) / float64(len(perMaster))
	assert.LessOrEqual(t, float64(busiest), 1.5*avg, "the busiest master holds at most 1.5 times the average")

	// The chat list is read a page at a time, and counted per page in one
	// pipeline.
	l, err := redis.New(r.client, redis.Options{Prefix: r.prefix})
	require.NoError(t, err)
	list, err := l.Chats(t.Context())
	require.NoError(t, err)
	assert.Len(t, list, chats)
}

// TestClusterAnySeedNode: an app given any one node of the cluster finds
// the rest: it sends, and recalls what another sent.
func TestClusterAnySeedNode(t *testing.T) {
	r := onCluster(t)
	fake := dingtalktest.NewTest(t)
	u, err := url.Parse(r.env["REDIS_URL"])
	require.NoError(t, err)
	seeds := append([]string{u.Host}, u.Query()["addr"]...)
	require.GreaterOrEqual(t, len(seeds), 3)
	var sent []string
	for _, seed := range seeds {
		a := r.start(fake, map[string]string{"REDIS_URL": "redis://" + seed})
		ready(t, a)
		sent = append(sent, a.send(group, 2, nil)...)
		require.NoError(t, a.stop())
	}
	last := r.start(fake, map[string]string{"REDIS_URL": "redis://" + seeds[len(seeds)-1]})
	reply := last.command(last.callbackBody(fmt.Sprintf("recall %d", len(sent)), nil))
	assert.Contains(t, replyText(t, reply), fmt.Sprintf("Recalled %d messages", len(sent)))
	assert.ElementsMatch(t, sent, fake.Recalled())
}

// TestClusterReadyzWhenDataUnreachable: /readyz turns 503 when a master
// of the cluster is gone (its slots unreachable), and a single-node
// REDIS_URL pointed at a cluster node is never ready (MOVED).
func TestClusterReadyzWhenDataUnreachable(t *testing.T) {
	redistest.NeedServer(t)
	cs := redistest.StartCluster(t, 3) // its own: the test stops a master
	fake := dingtalktest.NewTest(t)
	r := newShared(t, map[string]string{"STORE": "redis", "REDIS_URL": cs.URL() + "&dial_timeout=300ms&max_retries=1", "REDIS_CLUSTER": "true"})
	a := r.start(fake, nil)
	ready(t, a)
	a.send(group, 3, nil)

	wrong := r.start(fake, map[string]string{"REDIS_URL": "redis://" + cs.Nodes[0].Addr(), "REDIS_CLUSTER": ""})
	for range 3 {
		status, _ := wrong.do(http.MethodGet, "/readyz", nil, nil)
		assert.Equal(t, http.StatusServiceUnavailable, status, "a single-node client on a cluster is not ready")
	}

	cs.Nodes[1].Stop()
	require.Eventually(t, func() bool {
		status, _ := a.do(http.MethodGet, "/readyz", nil, nil)
		return status == http.StatusServiceUnavailable
	}, 20*time.Second, 50*time.Millisecond, "/readyz turns 503")
}

// TestSentinelFailover: on a master and a replica watched by a Sentinel,
// a failover (SENTINEL FAILOVER) changes the master, and sends and recalls
// keep working, what was sent before included.
func TestSentinelFailover(t *testing.T) {
	sentinelURL, master := redistest.Sentinel(t)
	r := newShared(t, map[string]string{"STORE": "redis", "REDIS_URL": sentinelURL, "REDIS_SENTINEL_MASTER": master})
	fake := dingtalktest.NewTest(t)
	a := r.start(fake, nil)
	ready(t, a)
	before := a.send(group, 5, nil)

	su, err := url.Parse(sentinelURL)
	require.NoError(t, err)
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: su.Host})
	t.Cleanup(func() { _ = sc.Close() })
	ctx := t.Context()
	old, err := sc.GetMasterAddrByName(ctx, master).Result()
	require.NoError(t, err)
	// What was sent reached the replica before the failover.
	oc := goredis.NewClient(&goredis.Options{Addr: strings.Join(old, ":")})
	t.Cleanup(func() { _ = oc.Close() })
	require.Eventually(t, func() bool {
		n, err := oc.Wait(ctx, 1, time.Second).Result()
		return err == nil && n >= 1
	}, 20*time.Second, 100*time.Millisecond, "the replica is in sync")
	require.Eventually(t, func() bool { return sc.Failover(ctx, master).Err() == nil }, 20*time.Second, 200*time.Millisecond, "SENTINEL FAILOVER")
	require.Eventually(t, func() bool {
		now, err := sc.GetMasterAddrByName(ctx, master).Result()
		return err == nil && !slices.Equal(now, old)
	}, 30*time.Second, 100*time.Millisecond, "the Sentinel promotes the replica")
	// Until the old master hears it is a replica it may still take writes
	// that the resync then drops (Redis replicates asynchronously): the
	// failover is over when it has.
	require.Eventually(t, func() bool {
		info, err := oc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "role:slave")
	}, 30*time.Second, 100*time.Millisecond, "the old master turns replica")

	var after []string
	require.Eventually(t, func() bool {
		status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "after failover"})
		if status == http.StatusCreated {
			after = append(after, out["processQueryKey"].(string))
		}
		return len(after) == 3
	}, 30*time.Second, 100*time.Millisecond, "sends work on the new master")
	reply := a.command(a.callbackBody("recall 8", nil))
	assert.Contains(t, replyText(t, reply), "Recalled 8 messages")
	assert.ElementsMatch(t, append(before, after...), fake.Recalled(), "sent before: %v, after: %v", before, after)
	ready(t, a)
}

// TestSharedRateLimit: three replicas recalling at once against a fake
// that refuses more than 20 calls per second per API stay within it, and
// together use at least 90 % of the limit.
func TestSharedRateLimit(t *testing.T) {
	r := onCluster(t)
	fake := dingtalktest.NewTest(t)
	fake.SetQPSLimit(dingtalk.DefaultQPS)
	apps := make([]*testApp, 3)
	for i := range apps {
		apps[i] = r.start(fake, map[string]string{"DINGTALK_QPS": "20"})
		ready(t, apps[i])
	}
	const perApp = 30
	chats := []string{"cidLimitA==", "cidLimitB==", "cidLimitC=="}
	for _, c := range chats {
		apps[0].send(c, perApp, nil)
	}
	var wg sync.WaitGroup
	for i, app := range apps {
		wg.Go(func() {
			for range perApp {
				status, out := app.api(http.MethodPost, "/recall", map[string]any{"conversationId": chats[i], "last": 1})
				assert.Equal(t, http.StatusOK, status, "%v", out)
			}
		})
	}
	wg.Wait()
	var recalls []time.Time
	refused := 0
	for _, c := range fake.Calls() {
		if c.Code == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi" {
			refused++
		}
		if c.Path == dingtalk.PathGroupRecall && c.Code == "" {
			recalls = append(recalls, c.At)
		}
	}
	// The shared limit spaces calls evenly when they leave; a call the
	// loaded test machine holds up in transit may still land beside the
	// next, and the client retries it. A stray one is that; a limit that
	// did not hold would be refused by the dozen.
	assert.LessOrEqual(t, refused, 2, "calls over DingTalk's limit")
	require.Len(t, recalls, 3*perApp)
	slices.SortFunc(recalls, func(x, y time.Time) int { return x.Compare(y) })
	rate := float64(len(recalls)-1) / recalls[len(recalls)-1].Sub(recalls[0]).Seconds()
	t.Logf("3 replicas: %d recall calls at %.2f calls/s (limit 20), %d refused", len(recalls), rate, refused)
	assert.GreaterOrEqual(t, rate, 18.0, "at least 90 % of the limit")
	assert.Len(t, fake.Recalled(), 3*perApp)
}
