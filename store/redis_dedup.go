package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisDeduperOptions configures a RedisDeduper. Zero values take the
// defaults.
type RedisDeduperOptions struct {
	// Prefix starts every key of the deduper (DefaultRedisPrefix); an ID
	// is kept under "<Prefix>:dedup:<id>".
	Prefix string
	// Now is the clock (time.Now); it decides whether an ID has expired.
	Now func() time.Time
}

// RedisDeduper is the Deduper shared by several replicas, kept in Redis.
// Each ID is one string key holding the Unix millisecond time it expires by
// the injected clock, compared in a Lua script so that of concurrent
// callers, on any replica, exactly one wins; Redis deletes the key a grace
// period after that time (SET PX), only to reclaim space.
type RedisDeduper struct {
	c      redis.UniversalClient
	prefix string // "<Prefix>:dedup:"
	now    func() time.Time
}

var _ Deduper = (*RedisDeduper)(nil)

// NewRedisDeduper returns a RedisDeduper on client, configured by opts. It
// does not connect.
func NewRedisDeduper(client redis.UniversalClient, opts RedisDeduperOptions) *RedisDeduper {
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &RedisDeduper{c: client, prefix: opts.Prefix + ":dedup:", now: opts.Now}
}

// FirstSeen reports whether id was not seen within ttl before, and records
// it; see Deduper. An id is remembered for the ttl of the call that found it
// first seen (later sightings do not extend it), to the millisecond. It
// fails with ErrInvalid for an empty id or a ttl that is not positive.
func (d *RedisDeduper) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redis deduper: first seen: %w", err)
	}
	switch {
	case id == "":
		return false, fmt.Errorf("redis deduper: first seen: %w: empty id", ErrInvalid)
	case ttl <= 0:
		return false, fmt.Errorf("redis deduper: first seen %q: %w: ttl %v is not positive", id, ErrInvalid, ttl)
	}
	now := d.now().UnixMilli()
	ms := millis(ttl)
	first, err := dedupeScript.Run(ctx, d.c, []string{d.prefix + id}, now, now+ms, ms+millis(redisGrace)).Int()
	if err != nil {
		return false, fmt.Errorf("redis deduper: first seen %q: %w", id, err)
	}
	return first == 1, nil
}

// Forget drops id; see Deduper.
func (d *RedisDeduper) Forget(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis deduper: forget: %w", err)
	}
	if err := d.c.Del(ctx, d.prefix+id).Err(); err != nil {
		return fmt.Errorf("redis deduper: forget %q: %w", id, err)
	}
	return nil
}
