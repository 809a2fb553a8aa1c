package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/dingrecall/dingrecall/store"
)

// ErrMigrating is returned by Migrate while another replica holds the
// migration lock; try again a little later.
var ErrMigrating = errors.New("redis ledger: another replica is migrating the key layout")

// MigrationReport says what Migrate moved from the single-tag layout.
type MigrationReport struct {
	// Ran is false when the layout was in place already.
	Ran bool
	// Messages were moved, with their claims, failures, tags and due
	// times.
	Messages int
	// Expired messages were TTL old by the ledger's clock: no longer
	// tracked, so not moved.
	Expired int
	// Titles, Reservations, AuditEntries and States were moved.
	Titles, Reservations, AuditEntries, States int
}

// migrateLease is how long the migration lock holds unless renewed; the
// migrating replica renews it after every batch.
const migrateLease = time.Minute

// migrateBatch is how many old keys one step of the migration reads.
const migrateBatch = 500

// renewLockScript extends the lock KEYS[1] by ARGV[2] ms if ARGV[1] holds it.
var renewLockScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// Migrate puts the key layout of this version in place. Versions before it
// kept every key under one hash tag, "{P}:…" (one slot, so one master of a
// cluster held the whole ledger); Migrate moves what they left into the
// per-chat layout: every tracked message with its claim, failure, tag and
// due time, the chat titles, the reservations, the audit log and the
// states, and deletes the old keys. Messages already TTL old by the
// ledger's clock are not tracked and are not moved; the report counts
// them.
//
// It runs once per Redis and prefix: the marker key P:layout says it is
// done, and the first call on a Redis without old keys only sets it. A
// lock (P:migrate:lock, held for a minute and renewed as it goes) lets
// one replica migrate while the others get ErrMigrating; a replica that
// dies mid-way leaves the lock to lapse, and the next call starts over,
// which is safe: each message is written to the new layout before its old
// key is deleted, and writing one again writes the same. Ping reports the
// ledger not ready until the marker is set. Old replicas should be stopped
// first: what they write in the old layout after the migration is not
// seen.
func (r *Ledger) Migrate(ctx context.Context) (MigrationReport, error) {
	var rep MigrationReport
	if done, err := r.migrated(ctx); err != nil || done {
		return rep, err
	}
	token := store.NewClaimToken()
	ok, err := r.c.SetNX(ctx, r.k.lock(), token, migrateLease).Result()
	if err != nil {
		return rep, redisErr("migrate", unavailable(err))
	}
	if !ok {
		return rep, ErrMigrating
	}
	defer func() {
		_ = dirDelScript.Run(context.WithoutCancel(ctx), r.c, []string{r.k.lock()}, token).Err()
	}()
	if done, err := r.migrated(ctx); err != nil || done {
		return rep, err
	}
	m := &migration{r: r, token: token, old: "{" + r.prefix + "}:", rep: &rep}
	if err := m.run(ctx); err != nil {
		return rep, redisErr("migrate", err)
	}
	if err := r.c.Set(ctx, r.k.marker(), layoutVersion, 0).Err(); err != nil {
		return rep, redisErr("migrate", unavailable(err))
	}
	return rep, nil
}

// migrated reports whether the marker says the layout is in place.
func (r *Ledger) migrated(ctx context.Context) (bool, error) {
	v, err := r.c.Get(ctx, r.k.marker()).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return false, nil
	case err != nil:
		return false, redisErr("migrate", unavailable(err))
	case v != layoutVersion:
		return false, redisErr("migrate", fmt.Errorf("key layout %q is not this version's (%s)", v, layoutVersion))
	}
	return true, nil
}

// migration is one run of Migrate.
type migration struct {
	r     *Ledger
	token string
	old   string // "{P}:"
	rep   *MigrationReport
	mu    sync.Mutex
}

// run moves messages and states, then titles, reservations and the audit
// log, then deletes what is left of the old layout.
func (m *migration) run(ctx context.Context) error {
	m.rep.Ran = true
	if err := m.scan(ctx, m.step); err != nil {
		return err
	}
	if err := m.titles(ctx); err != nil {
		return err
	}
	if err := m.reservations(ctx); err != nil {
		return err
	}
	if err := m.audit(ctx); err != nil {
		return err
	}
	return m.scan(ctx, func(ctx context.Context, keys []string) error {
		return m.r.c.Del(ctx, keys...).Err()
	})
}

// scan calls fn with batches of the old layout's keys, on every master of
// a cluster (all of them sit in one slot, so on one master), renewing the
// lock after each batch.
func (m *migration) scan(ctx context.Context, fn func(context.Context, []string) error) error {
	pattern := globEscape(m.old) + "*"
	each := func(ctx context.Context, c *goredis.Client) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, migrateBatch).Result()
			if err != nil {
				return unavailable(err)
			}
			if len(keys) > 0 {
				if err := fn(ctx, keys); err != nil {
					return err
				}
				if err := m.renew(ctx); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	switch c := m.r.c.(type) {
	case *goredis.ClusterClient:
		return c.ForEachMaster(ctx, each)
	case *goredis.Client:
		return each(ctx, c)
	}
	return fmt.Errorf("cannot scan with a %T", m.r.c)
}

// renew extends the lock, failing if another replica took it.
func (m *migration) renew(ctx context.Context) error {
	n, err := renewLockScript.Run(ctx, m.r.c, []string{m.r.k.lock()}, m.token, migrateLease.Milliseconds()).Int()
	if err != nil {
		return unavailable(err)
	}
	if n != 1 {
		return ErrMigrating
	}
	return nil
}

// globEscape escapes SCAN's glob characters.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}

// step moves the messages and states among keys and deletes their old
// keys.
func (m *migration) step(ctx context.Context, keys []string) error {
	var msgs, states []string
	for _, k := range keys {
		rest := strings.TrimPrefix(k, m.old)
		switch {
		case strings.HasPrefix(rest, "m:"):
			msgs = append(msgs, k)
		case strings.HasPrefix(rest, "s:"):
			states = append(states, k)
		}
	}
	if err := m.messages(ctx, msgs); err != nil {
		return err
	}
	return m.states(ctx, states)
}

// messages moves the old message hashes named by keys.
func (m *migration) messages(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	cmds := make([]*goredis.MapStringStringCmd, len(keys))
	_, _ = m.r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, k)
		}
		return nil
	})
	cut := m.r.now().UnixMilli() - m.r.ttl
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, c := range cmds {
		f, err := c.Result()
		if err != nil {
			return unavailable(err)
		}
		msg, claim, err := oldMessage(strings.TrimPrefix(keys[i], m.old+"m:"), f)
		if err != nil {
			return err
		}
		if msg.Key == "" || msg.SentAt.UnixMilli() <= cut {
			m.count(func(r *MigrationReport) { r.Expired++ })
			continue
		}
		g.Go(func() error {
			if err := m.r.record(gctx, "migrate", "", msg, claim); err != nil {
				return err
			}
			m.count(func(r *MigrationReport) { r.Messages++ })
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return m.r.c.Del(ctx, keys...).Err()
}

// count updates the report.
func (m *migration) count(f func(*MigrationReport)) {
	m.mu.Lock()
	f(m.rep)
	m.mu.Unlock()
}

// oldMessage reads an old message hash (fields c k r n p g s e y f, and
// the claim's l o x) as a message and its claim in this layout; a hash
// without a send time gives a message without key.
func oldMessage(key string, f map[string]string) (store.Message, string, error) {
	if f["s"] == "" || f["c"] == "" {
		return store.Message{}, "", nil
	}
	ms := func(name string) (time.Time, error) {
		if f[name] == "" {
			return time.Time{}, nil
		}
		n, err := strconv.ParseInt(f[name], 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("old message %q: bad field %s: %w", key, name, err)
		}
		return time.UnixMilli(n).UTC(), nil
	}
	sent, err := ms("s")
	if err != nil {
		return store.Message{}, "", err
	}
	exp, err := ms("e")
	if err != nil {
		return store.Message{}, "", err
	}
	failure, err := decodeFailure(f["f"])
	if err != nil {
		return store.Message{}, "", fmt.Errorf("old message %q: bad failure: %w", key, err)
	}
	kind := store.Kind(f["k"])
	if !kind.Valid() {
		kind = store.KindGroup
	}
	msg := store.Message{
		Key: key, ChatID: f["c"], Kind: kind, RobotCode: f["r"], MsgKey: f["n"], MsgParam: f["p"],
		Tag: f["g"], SentAt: sent, ExpiresAt: exp, Reply: f["y"] == "1", Failure: failure,
	}
	claim := ""
	if f["l"] != "" || f["o"] != "" || f["x"] != "" {
		until := f["l"]
		if until == "" {
			until = "0"
		}
		claim = until + "|" + f["o"] + "|" + f["x"]
	}
	return msg, claim, nil
}

// states moves old states (strings) and events (zsets), with the time
// they have left.
func (m *migration) states(ctx context.Context, keys []string) error {
	for _, k := range keys {
		to := m.r.prefix + ":" + strings.TrimPrefix(k, m.old)
		typ, err := m.r.c.Type(ctx, k).Result()
		if err != nil {
			return unavailable(err)
		}
		pttl, err := m.r.c.PTTL(ctx, k).Result()
		if err != nil {
			return unavailable(err)
		}
		if pttl <= 0 {
			pttl = 0 // none left, or no expiry: keep it so
		}
		switch typ {
		case "string":
			v, err := m.r.c.Get(ctx, k).Result()
			if errors.Is(err, goredis.Nil) {
				continue
			}
			if err != nil {
				return unavailable(err)
			}
			if err := m.r.c.Set(ctx, to, v, pttl).Err(); err != nil {
				return unavailable(err)
			}
		case "zset":
			zs, err := m.r.c.ZRangeWithScores(ctx, k, 0, -1).Result()
			if err != nil {
				return unavailable(err)
			}
			if len(zs) == 0 {
				continue
			}
			_, err = m.r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
				p.ZAdd(ctx, to, zs...)
				if pttl > 0 {
					p.PExpire(ctx, to, pttl)
				}
				return nil
			})
			if err != nil {
				return unavailable(err)
			}
		default:
			continue
		}
		m.rep.States++
		if err := m.r.c.Del(ctx, k).Err(); err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// titles moves the chat titles.
func (m *migration) titles(ctx context.Context) error {
	titles, err := m.r.c.HGetAll(ctx, m.old+"title").Result()
	if err != nil {
		return unavailable(err)
	}
	kinds, err := m.r.c.HGetAll(ctx, m.old+"kind").Result()
	if err != nil {
		return unavailable(err)
	}
	for chat, title := range titles {
		kind := store.Kind(kinds[chat])
		if !kind.Valid() {
			kind = store.KindGroup
		}
		if err := m.r.SetTitle(ctx, chat, kind, title); err != nil {
			return err
		}
		m.rep.Titles++
	}
	return nil
}

// reservations moves the reservations with their settlement leases.
func (m *migration) reservations(ctx context.Context) error {
	all, err := m.r.c.HGetAll(ctx, m.old+"res").Result()
	if err != nil {
		return unavailable(err)
	}
	leases, err := m.r.c.HGetAll(ctx, m.old+"resl").Result()
	if err != nil {
		return unavailable(err)
	}
	for _, body := range all {
		res, err := decodeReservation(body)
		if err != nil || res.Validate() != nil || res.ReservedAt.IsZero() {
			continue // unreadable: no send can be settled from it
		}
		res.ReservedAt = res.ReservedAt.Truncate(time.Millisecond).UTC()
		if err := m.r.reserve(ctx, res, leases[res.ID]); err != nil {
			return err
		}
		m.rep.Reservations++
	}
	return nil
}

// audit moves the audit log, a page of entries at a time.
func (m *migration) audit(ctx context.Context) error {
	a := m.r.Audit(m.r.auditTTL)
	for start := int64(0); ; start += migrateBatch {
		ids, err := m.r.c.ZRange(ctx, m.old+"al", start, start+migrateBatch-1).Result()
		if err != nil {
			return unavailable(err)
		}
		if len(ids) == 0 {
			return nil
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = m.old + "a:" + id
		}
		vals, err := m.r.c.MGet(ctx, keys...).Result()
		if err != nil {
			return unavailable(err)
		}
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // reclaimed
			}
			var e store.AuditEntry
			if err := json.Unmarshal([]byte(s), &e); err != nil {
				continue
			}
			if err := a.AddAudit(ctx, e); err != nil {
				return err
			}
			m.rep.AuditEntries++
		}
		if err := m.renew(ctx); err != nil {
			return err
		}
	}
}
