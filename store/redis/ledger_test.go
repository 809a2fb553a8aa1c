package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// testRedis returns a client of one Redis node (redistest.Single), closed
// when tb ends.
func testRedis(tb testing.TB) *goredis.Client {
	tb.Helper()
	o, err := goredis.ParseURL(redistest.Single(tb))
	require.NoError(tb, err)
	c := goredis.NewClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// testCluster returns a client of a Redis Cluster (redistest.Cluster),
// closed when tb ends.
func testCluster(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	c, err := redis.Target{URL: redistest.Cluster(tb), Cluster: true}.Client()
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(tb, c.Ping(ctx).Err(), "the cluster answers")
	return c
}

// topologies are the Redis topologies the ledger's tests run on.
var topologies = []struct {
	name   string
	client func(testing.TB) goredis.UniversalClient
}{
	{"single", func(tb testing.TB) goredis.UniversalClient { return testRedis(tb) }},
	{"cluster", testCluster},
}

// testPrefix returns a key prefix of its own for tb and deletes its keys
// when tb ends.
func testPrefix(tb testing.TB, c goredis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	p := "test-" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		if err := deleteKeys(context.Background(), c, p); err != nil {
			tb.Errorf("clean up keys of %s: %v", p, err)
		}
	})
	return p
}

// eachNode calls fn with each master of c (c itself for one node).
func eachNode(ctx context.Context, c goredis.UniversalClient, fn func(context.Context, *goredis.Client) error) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, fn)
	}
	return fn(ctx, c.(*goredis.Client))
}

// nodeKeys returns the keys of the ledger, deduper and limiter with prefix
// p on one node.
func nodeKeys(ctx context.Context, c *goredis.Client, p string) ([]string, error) {
	var out []string
	for _, pattern := range []string{"{" + p + "}:*", "{" + p + ":*", p + ":*", "rate:" + p + ":*"} {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			out = append(out, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// prefixKeys returns the keys with prefix p on every node of c, sorted.
func prefixKeys(ctx context.Context, c goredis.UniversalClient, p string) ([]string, error) {
	var mu sync.Mutex
	var out []string
	err := eachNode(ctx, c, func(ctx context.Context, n *goredis.Client) error {
		keys, err := nodeKeys(ctx, n, p)
		mu.Lock()
		out = append(out, keys...)
		mu.Unlock()
		return err
	})
	slices.Sort(out)
	return out, err
}

// deleteKeys deletes the keys with prefix p.
func deleteKeys(ctx context.Context, c goredis.UniversalClient, p string) error {
	return eachNode(ctx, c, func(ctx context.Context, n *goredis.Client) error {
		keys, err := nodeKeys(ctx, n, p)
		if err != nil {
			return err
		}
		for chunk := range slices.Chunk(keys, 1000) {
			_, err := n.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for _, k := range chunk {
					p.Unlink(ctx, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// newLedger returns a Ledger on c configured by opts, its layout migrated,
// failing tb if New refuses them. It does not close c.
func newLedger(tb testing.TB, c goredis.UniversalClient, opts redis.Options) *redis.Ledger {
	tb.Helper()
	l, err := redis.New(c, opts)
	require.NoError(tb, err)
	_, err = l.Migrate(context.Background())
	require.NoError(tb, err)
	return l
}

func TestLedger(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			c := topo.client(t)
			storetest.Run(t, func(t *testing.T, cfg storetest.Config) store.Ledger {
				return newLedger(t, c, redis.Options{
					Prefix:  testPrefix(t, c),
					TTL:     cfg.TTL,
					PerChat: cfg.PerChat,
					Lease:   cfg.Lease,
					Now:     cfg.Clock.Now,
				})
			})
		})
	}
}

func TestDeduper(t *testing.T) {
	c := testRedis(t)
	t.Run("NewDeduper", func(t *testing.T) {
		storetest.RunDeduper(t, func(t *testing.T, clock *storetest.Clock) store.Deduper {
			d, err := redis.NewDeduper(c, redis.DeduperOptions{Prefix: testPrefix(t, c), Now: clock.Now})
			require.NoError(t, err)
			return d
		})
	})
	t.Run("Ledger", func(t *testing.T) {
		storetest.RunDeduper(t, func(t *testing.T, clock *storetest.Clock) store.Deduper {
			return newLedger(t, c, redis.Options{Prefix: testPrefix(t, c), Now: clock.Now}).Deduper()
		})
	})
}

// TestReplicas runs two replicas, each with its own client, on one
// ledger: taking the newest messages concurrently they never take one twice
// and together take them all.
func TestReplicas(t *testing.T) {
	c := testRedis(t)
	prefix := testPrefix(t, c)
	clock := storetest.NewClock(storetest.Start)
	replicas := make([]*redis.Ledger, 2)
	for i := range replicas {
		o, err := goredis.ParseURL(redistest.Single(t))
		require.NoError(t, err)
		other := goredis.NewClient(o)
		t.Cleanup(func() { _ = other.Close() })
		replicas[i] = newLedger(t, other, redis.Options{Prefix: prefix, Now: clock.Now})
	}
	ctx := t.Context()
	var want []string
	for i := range 600 {
		k := fmt.Sprintf("k%03d", i)
		m := store.Message{Key: k, Kind: store.KindGroup, ChatID: "cid-a", SentAt: storetest.Start.Add(time.Duration(i) * time.Second)}
		if i%7 == 0 {
			m.Reply = true
		} else {
			want = append(want, k)
		}
		require.NoError(t, replicas[i%2].Record(ctx, m))
	}

	const workers = 8 // per replica
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   = map[string]int{}
		per   [2]int
		start = make(chan struct{})
	)
	for w := range 2 * workers {
		r := replicas[w%2]
		wg.Go(func() {
			<-start
			for {
				ms, err := r.TakeNewest(ctx, "cid-a", 1+w%4)
				if !assert.NoError(t, err) || len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					got[m.Key]++
				}
				per[w%2] += len(ms)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	for k, n := range got {
		assert.Equal(t, 1, n, "%s taken once", k)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	})
	assert.Equal(t, want, keys, "all taken")
	assert.Positive(t, per[0], "replica 0 took some")
	assert.Positive(t, per[1], "replica 1 took some")
}

// TestUnreachable checks that a ledger on a Redis that is down can be
// built, and that its calls, and those of its deduper, audit and states,
// fail quickly instead of hanging, with store.ErrUnavailable. It needs no
// Redis.
func TestUnreachable(t *testing.T) {
	for _, u := range []string{
		"redis://127.0.0.1:1/0?dial_timeout=200ms&max_retries=-1",       // refused
		"redis://10.255.255.1:6379/0?dial_timeout=200ms&max_retries=-1", // black hole, or unroutable
	} {
		t.Run(u, func(t *testing.T) {
			l, err := redis.Open(u, redis.Options{})
			require.NoError(t, err, "Open does not connect")
			t.Cleanup(func() { _ = l.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			calls := []struct {
				name string
				call func() error
			}{
				{"Ping", func() error { return l.Ping(ctx) }},
				{"Record", func() error {
					return l.Record(ctx, store.Message{Key: "k", Kind: store.KindGroup, ChatID: "cid-a", SentAt: time.Now()})
				}},
				{"TakeNewest", func() error { _, err := l.TakeNewest(ctx, "cid-a", 1); return err }},
				{"TakeNewestWithInFlight", func() error { _, _, err := l.TakeNewestWithInFlight(ctx, "cid-a", 1); return err }},
				{"Renew", func() error { return l.Renew(ctx, "token", "k") }},
				{"Reserve", func() error {
					return l.Reserve(ctx, store.Reservation{ID: "r", Kind: store.KindGroup, ChatID: "cid-a"})
				}},
				{"Commit", func() error {
					return l.Commit(ctx, "r", store.Message{Key: "k", Kind: store.KindGroup, ChatID: "cid-a", SentAt: time.Now()})
				}},
				{"Pending", func() error { _, err := l.Pending(ctx, time.Now(), 0); return err }},
				{"SettlePending", func() error { _, _, err := l.SettlePending(ctx, "r"); return err }},
				{"Get", func() error { _, err := l.Get(ctx, "k"); return err }},
				{"Chats", func() error { _, err := l.Chats(ctx); return err }},
				{"FirstSeen", func() error { _, err := l.Deduper().FirstSeen(ctx, "msg", time.Minute); return err }},
				{"Forget", func() error { return l.Deduper().Forget(ctx, "msg") }},
				{"AddAudit", func() error { return l.Audit(0).AddAudit(ctx, store.AuditEntry{Action: store.ActionRecall}) }},
				{"AuditLog", func() error { _, err := l.Audit(0).AuditLog(ctx, "", 0); return err }},
				{"PutStateIfAbsent", func() error { _, _, err := l.States().PutStateIfAbsent(ctx, "k", "v", time.Minute); return err }},
				{"SetState", func() error { return l.States().SetState(ctx, "k", "v", time.Minute) }},
				{"TakeState", func() error { _, _, err := l.States().TakeState(ctx, "k"); return err }},
				{"DeleteState", func() error { return l.States().DeleteState(ctx, "k") }},
				{"AddEvent", func() error { _, err := l.States().AddEvent(ctx, "k", "m", time.Minute); return err }},
				{"CompareAndSwapState", func() error {
					_, err := l.States().CompareAndSwapState(ctx, "k", "", "v", time.Minute)
					return err
				}},
			}
			for _, tt := range calls {
				t.Run(tt.name, func(t *testing.T) {
					began := time.Now()
					err := tt.call()
					require.Error(t, err)
					assert.NotErrorIs(t, err, store.ErrNotFound)
					assert.ErrorIs(t, err, store.ErrUnavailable, "a store that cannot be reached is unavailable")
					assert.Less(t, time.Since(began), 5*time.Second, "failed fast")
					assert.Contains(t, err.Error(), "redis")
				})
			}
		})
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"tcp", "redis://127.0.0.1:6379/0", true},
		{"with options", "redis://user:s3cret@localhost:6380/2?dial_timeout=1s&max_retries=1", true},
		{"tls", "rediss://localhost:6380", true},
		{"wrong scheme", "http://localhost:6379", false},
		{"bad port", "redis://user:s3cret@localhost:port x/0", false},
		{"bad escape", "redis://user:s3cret@loc%zzalhost/0", false},
		{"bad db", "redis://localhost:6379/db", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := redis.Open(tt.url, redis.Options{})
			if tt.ok {
				require.NoError(t, err)
				require.NoError(t, l.Close())
				return
			}
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cret", "the password is not in the error")
		})
	}
}

// TestLayout checks the keys the ledger leaves in Redis (see keys.go):
// one hash tag per chat, what expires when, and that nothing is left
// without an expiry once the messages are gone, but the marker.
func TestLayout(t *testing.T) {
	c := testRedis(t)
	ctx := t.Context()
	prefix := testPrefix(t, c)
	clock := storetest.NewClock(storetest.Start)
	const ttl = time.Hour
	l := newLedger(t, c, redis.Options{Prefix: prefix, TTL: ttl, Now: clock.Now})
	p := prefix
	sent := storetest.Start.Add(-10 * time.Minute)
	expires := storetest.Start.Add(time.Minute)
	require.NoError(t, l.Record(ctx, store.Message{
		Key: "k1", Kind: store.KindGroup, ChatID: "cid-a", RobotCode: "robot", MsgKey: "sampleText",
		MsgParam: `{"content":"hi"}`, Tag: "deploy", SentAt: sent, ExpiresAt: expires,
	}))
	require.NoError(t, l.Record(ctx, store.Message{Key: "k2", Kind: store.KindGroup, ChatID: "cid-a", SentAt: storetest.Start, Reply: true}))
	require.NoError(t, l.SetTitle(ctx, "cid-b", store.KindPrivate, "Ops"))

	chatA, chatB := "{"+p+":c:cid-a}:", "{"+p+":c:cid-b}:"
	due := fmt.Sprintf("{%s:d:%d}", p, redis.Shard("k1", 16))
	active := fmt.Sprintf("{%s:a:%d}", p, redis.Shard("cid-a", 16))
	fold := "{" + p + ":f:" + redis.Fold("Ops") + "}"
	keys, err := prefixKeys(ctx, c, prefix)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{
		chatA + "i", chatA + "m", chatA + "z", chatB + "i",
		active, due, fold, "{" + p + ":t:deploy}",
		p + ":k:k1", p + ":k:k2", p + ":layout",
	}, keys)

	body, err := c.HGet(ctx, chatA+"m", "k1").Result()
	require.NoError(t, err)
	ms := strconv.FormatInt(sent.UnixMilli(), 10)
	assert.Equal(t, "0"+strconv.FormatInt(expires.UnixMilli(), 10)+":6:deploy"+strconv.Itoa(len(ms))+":"+ms+
		"5:group5:robot10:sampleText16:{\"content\":\"hi\"}", body, "reply flag, expiry and tag first, then length-prefixed fields")
	info, err := c.HGetAll(ctx, chatB+"i").Result()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"k": "private", "t": "Ops", "f": redis.Fold("Ops")}, info)
	members, err := c.ZRange(ctx, "{"+p+":t:deploy}", 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"5:cid-ak1"}, members, "index members are the chat's length, ':', the chat and the key")

	// Redis reclaims a message a grace period after its TTL by the clock.
	grace := 5 * time.Minute
	pttl := func(key string) time.Duration {
		t.Helper()
		d, err := c.PTTL(ctx, key).Result()
		require.NoError(t, err)
		return d
	}
	within := func(key string, want time.Duration) {
		t.Helper()
		got := pttl(key)
		assert.LessOrEqual(t, got, want, key)
		assert.Greater(t, got, want-time.Minute, key)
	}
	within(chatA+"m", ttl+grace) // the chat lives as long as its newest message
	within(chatA+"z", ttl+grace)
	within(chatA+"i", ttl+grace)
	within(p+":k:k1", ttl-10*time.Minute+grace)
	within(p+":k:k2", ttl+grace)
	within("{"+p+":t:deploy}", ttl-10*time.Minute+grace)
	for _, k := range []string{chatB + "i", active, due, fold, p + ":layout"} {
		assert.Equal(t, time.Duration(-1), pttl(k), "%s does not expire", k)
	}

	// The clock, not Redis, decides: an hour later by the clock, Redis
	// still holds k2, but the ledger has dropped it.
	clock.Advance(ttl)
	_, err = l.Get(ctx, "k2")
	require.ErrorIs(t, err, store.ErrNotFound)
	n, err := c.HExists(ctx, chatA+"m", "k2").Result()
	require.NoError(t, err)
	assert.True(t, n)

	// Once the messages are gone and the title forgotten, the readers drop
	// the index entries, and every key left expires but the marker.
	chats, err := l.Chats(ctx)
	require.NoError(t, err)
	assert.Empty(t, chats)
	require.NoError(t, l.SetTitle(ctx, "cid-b", store.KindPrivate, ""))
	due0, err := l.Due(ctx, clock.Now(), 0)
	require.NoError(t, err)
	assert.Empty(t, due0)
	tagged, err := l.ByTag(ctx, "deploy")
	require.NoError(t, err)
	assert.Empty(t, tagged)
	keys, err = prefixKeys(ctx, c, prefix)
	require.NoError(t, err)
	for _, k := range keys {
		if k != p+":layout" {
			assert.Positive(t, pttl(k), "%s expires", k)
		}
	}
	assert.NotContains(t, keys, active, "the chat list forgot the quiet chat")
	assert.NotContains(t, keys, due, "Due dropped the entry of the message gone")
	assert.NotContains(t, keys, fold, "the title is forgotten")

	// Removing drops the message's directory, tag and due entries at once.
	clock.Set(storetest.Start)
	require.NoError(t, l.Record(ctx, store.Message{Key: "k3", Kind: store.KindOTO, ChatID: "staff-1", Tag: "x", SentAt: storetest.Start, ExpiresAt: storetest.Start}))
	require.NoError(t, l.Remove(ctx, "k3"))
	keys, err = prefixKeys(ctx, c, prefix)
	require.NoError(t, err)
	for _, k := range []string{p + ":k:k3", "{" + p + ":t:x}", "{" + p + ":c:staff-1}:z", "{" + p + ":c:staff-1}:m"} {
		assert.NotContains(t, keys, k)
	}
	card, err := c.ZCard(ctx, fmt.Sprintf("{%s:d:%d}", p, redis.Shard("k3", 16))).Result()
	require.NoError(t, err)
	assert.Zero(t, card)

	// The deduper's keys expire a grace period after their ttl.
	d := l.Deduper()
	first, err := d.FirstSeen(ctx, "msg-1", time.Minute)
	require.NoError(t, err)
	require.True(t, first)
	within(prefix+":dedup:msg-1", time.Minute+grace)
}

// TestFindChatFolding checks that titles match ignoring case exactly
// as strings.EqualFold does.
func TestFindChatFolding(t *testing.T) {
	c := testRedis(t)
	ctx := t.Context()
	l := newLedger(t, c, redis.Options{Prefix: testPrefix(t, c)})
	titles := map[string]string{
		"cid-greek":  "ΣΊΣΥΦΟΣ",
		"cid-kelvin": "\u212Aelvin", // KELVIN SIGN
		"cid-zh":     "发布群",
		"cid-german": "Straße",
	}
	for id, title := range titles {
		require.NoError(t, l.SetTitle(ctx, id, store.KindGroup, title))
	}
	tests := []struct {
		query, want string
	}{
		{"σίσυφοσ", "cid-greek"},
		{"σίσυφος", "cid-greek"}, // final sigma
		{"kelvin", "cid-kelvin"},
		{"KELVIN", "cid-kelvin"},
		{"发布群", "cid-zh"},
		{"STRASSE", ""}, // EqualFold does not fold ß to ss
		{"straße", "cid-german"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := l.FindChat(ctx, tt.query)
			if tt.want == "" {
				require.ErrorIs(t, err, store.ErrNotFound)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.ID)
			assert.True(t, strings.EqualFold(tt.query, got.Title))
		})
	}
}

func TestFold(t *testing.T) {
	words := []string{"", "a", "A", "ǅ", "ǆ", "Ǆ", "σ", "ς", "Σ", "k", "K", "\u212A", "ß", "ẞ", "ss", "İ", "i", "ı", "I", "\xff", "\xfe", "发布"}
	for _, a := range words {
		for _, b := range words {
			assert.Equal(t, strings.EqualFold(a, b), redis.Fold(a) == redis.Fold(b), "%q %q", a, b)
		}
	}
}

// TestOptions checks that New, Open and NewDeduper refuse a nil client and
// negative options with store.ErrInvalid, naming what is wrong. It needs
// no Redis: nothing connects.
func TestOptions(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })
	const url = "redis://127.0.0.1:1/0"
	tests := []struct {
		name  string
		build func() error
		want  string // in the error, "" when accepted
	}{
		{"zero", func() error { _, err := redis.New(client, redis.Options{}); return err }, ""},
		{"nil client", func() error { _, err := redis.New(nil, redis.Options{}); return err }, "nil client"},
		{"TTL", func() error { _, err := redis.New(client, redis.Options{TTL: -time.Second}); return err }, "TTL is negative"},
		{"PerChat", func() error { _, err := redis.New(client, redis.Options{PerChat: -1}); return err }, "PerChat is negative"},
		{"Lease", func() error { _, err := redis.New(client, redis.Options{Lease: -time.Second}); return err }, "Lease is negative"},
		{"Open TTL", func() error { _, err := redis.Open(url, redis.Options{TTL: -time.Second}); return err }, "TTL is negative"},
		{"deduper zero", func() error { _, err := redis.NewDeduper(client, redis.DeduperOptions{}); return err }, ""},
		{"deduper nil client", func() error { _, err := redis.NewDeduper(nil, redis.DeduperOptions{}); return err }, "nil client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, store.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// TestClose checks that the Deduper, Audit and States of a ledger leave
// its client open when they close, and that the Ledger closes it.
func TestClose(t *testing.T) {
	c := testRedis(t)
	ctx := t.Context()
	l, err := redis.Open(redistest.Single(t), redis.Options{Prefix: testPrefix(t, c)})
	require.NoError(t, err)
	_, err = l.Migrate(ctx)
	require.NoError(t, err)
	for name, closer := range map[string]interface{ Close() error }{
		"Deduper": l.Deduper(), "Audit": l.Audit(0), "States": l.States(),
	} {
		require.NoError(t, closer.Close(), name)
		require.NoError(t, l.Ping(ctx), "the ledger's client is still open after the %s closed", name)
	}
	require.NoError(t, l.Close())
	err = l.Ping(ctx)
	require.Error(t, err, "the ledger's Close closes its client")
	assert.ErrorIs(t, err, goredis.ErrClosed)
}
