package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// DeduperOptions configures a Deduper. Zero values take the defaults.
type DeduperOptions struct {
	// Prefix starts every key of the deduper (DefaultPrefix); an ID is kept
	// under "<Prefix>:dedup:<id>".
	Prefix string
	// Now is the clock (time.Now); it decides whether an ID has expired.
	Now func() time.Time
}

// Deduper is the store.Deduper shared by several replicas, kept in Redis.
// Each ID is one string key holding the Unix millisecond time it expires by
// the injected clock, compared in a Lua script so that of concurrent
// callers, on any replica, exactly one wins; Redis deletes the key a grace
// period after that time (SET PX), only to reclaim space.
type Deduper struct {
	c      goredis.UniversalClient
	prefix string // "<Prefix>:dedup:"
	now    func() time.Time
}

var _ store.Deduper = (*Deduper)(nil)

// NewDeduper returns a Deduper on client, configured by opts. It does not
// connect. It fails with an error wrapping store.ErrInvalid when client is
// nil.
func NewDeduper(client goredis.UniversalClient, opts DeduperOptions) (*Deduper, error) {
	if client == nil {
		return nil, fmt.Errorf("redis deduper: new: %w: nil client", store.ErrInvalid)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Deduper{c: client, prefix: opts.Prefix + ":dedup:", now: opts.Now}, nil
}

// Close does nothing and returns nil: the client belongs to the Ledger the
// Deduper came from (Ledger.Close closes it), or to the caller of
// NewDeduper. It exists so that every store closes alike.
func (d *Deduper) Close() error { return nil }

// FirstSeen reports whether id was not seen within ttl before, and records
// it; see store.Deduper. An id is remembered for the ttl of the call that
// found it first seen (later sightings do not extend it), to the
// millisecond. It fails with store.ErrInvalid for an empty id or a ttl that
// is not positive.
func (d *Deduper) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redis deduper: first seen: %w", err)
	}
	switch {
	case id == "":
		return false, fmt.Errorf("redis deduper: first seen: %w: empty id", store.ErrInvalid)
	case ttl <= 0:
		return false, fmt.Errorf("redis deduper: first seen %q: %w: ttl %v is not positive", id, store.ErrInvalid, ttl)
	}
	now := d.now().UnixMilli()
	ms := millis(ttl)
	first, err := dedupeScript.Run(ctx, d.c, []string{d.prefix + id}, now, now+ms, ms+millis(grace)).Int()
	if err != nil {
		return false, fmt.Errorf("redis deduper: first seen %q: %w", id, unavailable(err))
	}
	return first == 1, nil
}

// Forget drops id; see store.Deduper.
func (d *Deduper) Forget(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis deduper: forget: %w", err)
	}
	if err := d.c.Del(ctx, d.prefix+id).Err(); err != nil {
		return fmt.Errorf("redis deduper: forget %q: %w", id, unavailable(err))
	}
	return nil
}
