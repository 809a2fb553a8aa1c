package memory

import (
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"
	"weak"

	"github.com/patrickmn/go-cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
)

var testStart = time.Date(2025, time.March, 1, 9, 0, 0, 0, time.UTC)

func testLedger(t *testing.T, opts Options) (*Ledger, *time.Time) {
	t.Helper()
	now := testStart
	opts.Now = func() time.Time { return now }
	m, err := New(opts)
	require.NoError(t, err)
	return m, &now
}

func testMsg(key, chatID string, sec int) store.Message {
	return store.Message{Key: key, Kind: store.KindGroup, ChatID: chatID, MsgParam: "p-" + key, SentAt: testStart.Add(time.Duration(sec) * time.Second)}
}

// checkIndex verifies the invariants of the index: dead counters match, the
// ends of every list are alive, lists are sorted, and go-cache holds exactly
// the live entries.
func checkIndex(t *testing.T, m *Ledger) {
	t.Helper()
	ix := m.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	live := map[*entry]bool{}
	checkList := func(name string, l *list, at func(*entry) int64) {
		t.Helper()
		dead := 0
		for i, e := range l.items {
			if e.dead.Load() {
				dead++
			} else {
				live[e] = true
			}
			if i > 0 {
				assert.LessOrEqual(t, at(l.items[i-1]), at(e), "%s sorted", name)
			}
		}
		assert.Equal(t, dead, l.dead, "%s dead count", name)
		if n := len(l.items); n > 0 {
			assert.False(t, l.items[0].dead.Load(), "%s head alive", name)
			assert.False(t, l.items[n-1].dead.Load(), "%s tail alive", name)
			assert.LessOrEqual(t, 2*l.dead, n, "%s compacted", name)
		}
	}
	chatLive := 0
	for id, ch := range ix.chats {
		assert.Equal(t, id, ch.id)
		assert.True(t, len(ch.msgs.items) > 0 || ch.title != "", "chat %s kept for nothing", id)
		checkList("chat "+id, &ch.msgs, bySentAt)
		chatLive += len(ch.msgs.items) - ch.msgs.dead
	}
	for tag, l := range ix.tags {
		assert.NotEmpty(t, l.items, "tag %s kept for nothing", tag)
		checkList("tag "+tag, l, bySentAt)
	}
	checkList("due", &ix.due, byExpiresAt)
	assert.Equal(t, chatLive, ix.live)
	assert.Equal(t, ix.live, len(live))
	assert.Empty(t, ix.evict)
	assert.Equal(t, ix.live, m.c.ItemCount(), "go-cache holds the live entries only")
	for e := range live {
		v, ok := m.c.Get(e.key)
		assert.True(t, ok && v == any(e), "go-cache maps %s to its live entry", e.key)
	}
}

func TestIndexInvariants(t *testing.T) {
	ctx := t.Context()
	m, now := testLedger(t, Options{TTL: time.Hour, PerChat: 50})
	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"record in order and out of order", func(t *testing.T) {
			for i := range 120 {
				sec := i
				if i%5 == 0 {
					sec = 200 - i // out of order
				}
				msg := testMsg("k"+strconv.Itoa(i), "cid-"+strconv.Itoa(i%2), sec)
				if i%3 == 0 {
					msg.Tag = "t" + strconv.Itoa(i%4)
				}
				if i%4 == 0 {
					msg.ExpiresAt = msg.SentAt.Add(time.Duration(100-i) * time.Second)
				}
				require.NoError(t, m.Record(ctx, msg))
			}
		}},
		{"re-record", func(t *testing.T) {
			for i := 60; i < 80; i++ {
				require.NoError(t, m.Record(ctx, testMsg("k"+strconv.Itoa(i), "cid-2", i)))
			}
		}},
		{"remove from the middle", func(t *testing.T) {
			var keys []string
			for i := 80; i < 110; i++ {
				keys = append(keys, "k"+strconv.Itoa(i))
			}
			require.NoError(t, m.Remove(ctx, keys...))
		}},
		{"take and remove the newest", func(t *testing.T) {
			ms, err := m.TakeNewest(ctx, "cid-1", 5)
			require.NoError(t, err)
			require.Len(t, ms, 5)
			var keys []string
			for _, msg := range ms {
				keys = append(keys, msg.Key)
			}
			require.NoError(t, m.Remove(ctx, keys...))
		}},
		{"query tags and due", func(t *testing.T) {
			for tag := range 4 {
				_, err := m.ByTag(ctx, "t"+strconv.Itoa(tag))
				require.NoError(t, err)
			}
			_, err := m.Due(ctx, testStart.Add(time.Hour), 0)
			require.NoError(t, err)
		}},
		{"partly expire", func(t *testing.T) {
			*now = testStart.Add(time.Hour + 100*time.Second)
			_, err := m.Chats(ctx)
			require.NoError(t, err)
		}},
		{"expire all", func(t *testing.T) {
			*now = testStart.Add(2 * time.Hour)
			assert.Zero(t, m.Len())
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(t)
			checkIndex(t, m)
		})
	}
	assert.Empty(t, m.ix.chats)
	assert.Empty(t, m.ix.tags)
	assert.Empty(t, m.ix.due.items)
}

func TestEvictedByJanitor(t *testing.T) {
	ctx := t.Context()
	m, _ := testLedger(t, Options{})
	a := testMsg("a", "cid-a", 1)
	a.Tag = "t"
	a.ExpiresAt = a.SentAt.Add(time.Minute)
	require.NoError(t, m.Record(ctx, a))
	require.NoError(t, m.Record(ctx, testMsg("b", "cid-b", 2)))

	// Deleting behind the ledger's back is what the janitor does to an
	// expired entry: the eviction callback must clean every index.
	m.c.Delete("a")

	_, err := m.Get(ctx, "a")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.NotContains(t, m.ix.chats, "cid-a")
	assert.NotContains(t, m.ix.tags, "t")
	assert.Empty(t, m.ix.due.items)
	assert.Equal(t, 1, m.Len())
	checkIndex(t, m)
}

// janitorCases build each value with a janitor, returning its cache and
// janitor.
var janitorCases = []struct {
	name  string
	build func(t *testing.T) (owner any, c *cache.Cache, j *janitor)
}{
	{"Ledger", func(t *testing.T) (any, *cache.Cache, *janitor) {
		m, err := New(Options{CleanupInterval: time.Hour})
		require.NoError(t, err)
		require.NoError(t, m.Record(t.Context(), testMsg("a", "cid-a", 1)))
		return m, m.c, m.jan
	}},
	{"Deduper", func(t *testing.T) (any, *cache.Cache, *janitor) {
		d, err := NewDeduper(DeduperOptions{CleanupInterval: time.Hour})
		require.NoError(t, err)
		_, err = d.FirstSeen(t.Context(), "id", time.Minute)
		require.NoError(t, err)
		return d, d.c, d.jan
	}},
	{"States", func(t *testing.T) (any, *cache.Cache, *janitor) {
		s, err := NewStates(StatesOptions{CleanupInterval: time.Hour})
		require.NoError(t, err)
		require.NoError(t, s.SetState(t.Context(), "k", "v", time.Minute))
		return s, s.c, s.jan
	}},
}

// stopped reports whether j's goroutine has ended.
func stopped(j *janitor) bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

func TestJanitorStopsWhenDropped(t *testing.T) {
	for _, tt := range janitorCases {
		t.Run(tt.name, func(t *testing.T) {
			owner, c, j := tt.build(t)
			wc := weak.Make(c)
			owner, c = nil, nil
			_, _ = owner, c
			require.Eventually(t, func() bool {
				runtime.GC()
				return stopped(j) && wc.Value() == nil
			}, 10*time.Second, 10*time.Millisecond, "an unreachable owner stops its janitor, and its cache is collected")
		})
	}
}

func TestCloseStopsJanitor(t *testing.T) {
	for _, tt := range janitorCases {
		t.Run(tt.name, func(t *testing.T) {
			owner, _, j := tt.build(t)
			closer := owner.(interface{ Close() error })
			require.False(t, stopped(j), "running before Close")
			require.NoError(t, closer.Close())
			assert.True(t, stopped(j), "stopped when Close returns")
			require.NoError(t, closer.Close(), "a second Close is harmless")
		})
	}
}

func TestJanitorReclaims(t *testing.T) {
	c := cache.New(cache.NoExpiration, 0)
	c.Set("k", 1, time.Nanosecond)
	owner := new(int)
	j := startJanitor(owner, c, time.Millisecond)
	t.Cleanup(j.Stop)
	require.Eventually(t, func() bool { return c.ItemCount() == 0 }, 10*time.Second, time.Millisecond,
		"the janitor deletes expired entries")
	runtime.KeepAlive(owner)
}

func TestEntriesShareStrings(t *testing.T) {
	ctx := t.Context()
	m, _ := testLedger(t, Options{})
	for i := range 3 {
		msg := testMsg("k"+strconv.Itoa(i), "cid-a", i)
		msg.RobotCode = string([]byte("robot-1")) // a fresh copy each time, as after JSON decoding
		msg.MsgKey = string([]byte("sampleText"))
		require.NoError(t, m.Record(ctx, msg))
	}
	v0, _ := m.c.Get("k0")
	v2, _ := m.c.Get("k2")
	e0, e2 := v0.(*entry), v2.(*entry)
	assert.Same(t, e0.chat, e2.chat, "chat ID and kind are stored once per chat")
	assert.Equal(t, unsafeData(e0.robot), unsafeData(e2.robot), "robot codes are interned")
	assert.Equal(t, unsafeData(e0.msgKey), unsafeData(e2.msgKey), "message keys are interned")
}

func TestInternBounded(t *testing.T) {
	m, _ := testLedger(t, Options{})
	for i := range 2 * internLimit {
		m.ix.intern("s" + strconv.Itoa(i))
	}
	assert.Len(t, m.ix.strs, internLimit)
}

// unsafeData returns the address of a string's bytes.
func unsafeData(s string) *byte { return unsafe.StringData(s) }
