package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// Audit is the store.Audit shared by replicas, in the ledger's Redis. Each
// entry is kept whole (its JSON) as the member of zsets scored by its time:
// one of the global log's shards {P:al:<n>}, picked by its ID, and the
// audit zset of each chat it touches, {P:c:<chat>}:al, under the chat's
// hash tag. Entries older than the TTL by the injected clock are left out
// of reads and trimmed from a zset when an entry is added to it; Redis
// expiry reclaims a zset a grace period after its newest entry.
type Audit struct {
	c   goredis.UniversalClient
	k   keys
	ttl time.Duration
	now func() time.Time
}

var _ store.Audit = (*Audit)(nil)

// Audit returns the audit log on the ledger's client, prefix and clock,
// keeping entries for ttl (store.DefaultAuditTTL when not positive).
func (r *Ledger) Audit(ttl time.Duration) *Audit {
	if ttl <= 0 {
		ttl = store.DefaultAuditTTL
	}
	return &Audit{c: r.c, k: r.k, ttl: ttl, now: r.now}
}

// Close does nothing and returns nil: the client belongs to the Ledger the
// Audit came from, and Ledger.Close closes it. It exists so that every
// store closes alike.
func (a *Audit) Close() error { return nil }

// AddAudit appends e to the global log and to each of its chats' logs, in
// one pipeline; see store.Audit.
func (a *Audit) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if e.ID == "" {
		e.ID = store.NewAuditID()
	}
	if e.At.IsZero() {
		e.At = a.now()
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redis audit: add: %w", err)
	}
	keep := a.ttl + grace
	cut := strconv.FormatInt(a.now().Add(-a.ttl).UnixMilli(), 10)
	z := goredis.Z{Score: float64(e.At.UnixMilli()), Member: string(raw)}
	lists := []string{a.k.audit(e.ID)}
	for _, c := range e.Chats() {
		lists = append(lists, a.k.chatAudit(c))
	}
	_, err = a.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, list := range lists {
			p.ZAdd(ctx, list, z)
			p.ZRemRangeByScore(ctx, list, "-inf", cut)
			p.PExpire(ctx, list, keep)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis audit: add: %w", unavailable(err))
	}
	return nil
}

// AuditLog returns entries newest first; see store.Audit. The global log
// merges the newest limit entries of each shard.
func (a *Audit) AuditLog(ctx context.Context, chatID string, limit int) ([]store.AuditEntry, error) {
	lists := []string{a.k.chatAudit(chatID)}
	if chatID == "" {
		lists = lists[:0]
		for n := range auditShards {
			lists = append(lists, a.k.auditShard(n))
		}
	}
	by := &goredis.ZRangeBy{Min: "(" + strconv.FormatInt(a.now().Add(-a.ttl).UnixMilli(), 10), Max: "+inf"}
	if limit > 0 {
		by.Count = int64(limit)
	}
	cmds := make([]*goredis.ZSliceCmd, len(lists))
	_, _ = a.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, l := range lists {
			cmds[i] = p.ZRevRangeByScoreWithScores(ctx, l, by)
		}
		return nil
	})
	var all []goredis.Z
	for _, c := range cmds {
		zs, err := c.Result()
		if err != nil {
			return nil, fmt.Errorf("redis audit: read: %w", unavailable(err))
		}
		all = append(all, zs...)
	}
	// Newest first, ties as one zset orders them (the member, whose JSON
	// starts with the ID, descending).
	slices.SortFunc(all, func(x, y goredis.Z) int {
		if c := cmp.Compare(y.Score, x.Score); c != 0 {
			return c
		}
		return cmp.Compare(str(y.Member), str(x.Member))
	})
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	if len(all) == 0 {
		return nil, nil
	}
	out := make([]store.AuditEntry, 0, len(all))
	for _, z := range all {
		var e store.AuditEntry
		if err := json.Unmarshal([]byte(str(z.Member)), &e); err != nil {
			return nil, fmt.Errorf("redis audit: read: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
