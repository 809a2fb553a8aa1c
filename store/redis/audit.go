package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// Audit is the store.Audit shared by replicas, in the ledger's Redis. Each
// entry is one JSON string {P}:a:<id>; {P}:al is a zset of every entry ID by
// time and {P}:al:<chat> one per chat. Entries older than the TTL by the
// injected clock are left out of reads and trimmed from the zsets when an
// entry is added; Redis expiry reclaims the strings a grace period later.
type Audit struct {
	c      goredis.UniversalClient
	prefix string
	ttl    time.Duration
	now    func() time.Time
}

var _ store.Audit = (*Audit)(nil)

// Audit returns the audit log on the ledger's client, prefix and clock,
// keeping entries for ttl (store.DefaultAuditTTL when not positive).
func (r *Ledger) Audit(ttl time.Duration) *Audit {
	if ttl <= 0 {
		ttl = store.DefaultAuditTTL
	}
	return &Audit{c: r.c, prefix: r.prefix, ttl: ttl, now: r.now}
}

// Close does nothing and returns nil: the client belongs to the Ledger the
// Audit came from, and Ledger.Close closes it. It exists so that every
// store closes alike.
func (a *Audit) Close() error { return nil }

// AddAudit appends e in one MULTI/EXEC; see store.Audit.
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
	z := goredis.Z{Score: float64(e.At.UnixMilli()), Member: e.ID}
	_, err = a.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, a.prefix+"a:"+e.ID, raw, keep)
		for _, list := range append([]string{a.prefix + "al"}, a.chatLists(e.Chats())...) {
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

// chatLists names the per-chat zsets of chats.
func (a *Audit) chatLists(chats []string) []string {
	out := make([]string, len(chats))
	for i, c := range chats {
		out[i] = a.prefix + "al:" + c
	}
	return out
}

// AuditLog returns entries newest first; see store.Audit.
func (a *Audit) AuditLog(ctx context.Context, chatID string, limit int) ([]store.AuditEntry, error) {
	list := a.prefix + "al"
	if chatID != "" {
		list = a.chatLists([]string{chatID})[0]
	}
	by := &goredis.ZRangeBy{Min: "(" + strconv.FormatInt(a.now().Add(-a.ttl).UnixMilli(), 10), Max: "+inf"}
	if limit > 0 {
		by.Count = int64(limit)
	}
	ids, err := a.c.ZRevRangeByScore(ctx, list, by).Result()
	if err != nil {
		return nil, fmt.Errorf("redis audit: read: %w", unavailable(err))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = a.prefix + "a:" + id
	}
	vals, err := a.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis audit: read: %w", unavailable(err))
	}
	out := make([]store.AuditEntry, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // reclaimed meanwhile
		}
		var e store.AuditEntry
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			return nil, fmt.Errorf("redis audit: read: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
