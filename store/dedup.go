package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"
)

// MemoryDeduperOptions configures a MemoryDeduper. Zero values take the
// defaults.
type MemoryDeduperOptions struct {
	// Now is the clock (time.Now); it decides whether an ID has expired.
	Now func() time.Time
	// CleanupInterval is how often go-cache's janitor reclaims expired IDs
	// (one minute).
	CleanupInterval time.Duration
}

// MemoryDeduper is the embedded Deduper, on go-cache. Each ID is kept with
// the time it expires by the injected clock; go-cache forgets it a grace
// period later.
type MemoryDeduper struct {
	c   *cache.Cache
	now func() time.Time
	// mu serialises the replacement of an ID that expired by the clock but
	// is still in go-cache, so that exactly one caller wins it.
	mu sync.Mutex
}

var _ Deduper = (*MemoryDeduper)(nil)

// NewMemoryDeduper returns an empty MemoryDeduper configured by opts.
func NewMemoryDeduper(opts MemoryDeduperOptions) *MemoryDeduper {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CleanupInterval <= 0 {
		opts.CleanupInterval = defaultCleanup
	}
	return &MemoryDeduper{c: cache.New(cache.NoExpiration, opts.CleanupInterval), now: opts.Now}
}

// FirstSeen reports whether id was not seen within ttl before, and records
// it; see Deduper. An id is remembered for the ttl of the call that found it
// first seen (later sightings do not extend it), like Redis's SET NX PX. It
// fails with ErrInvalid for an empty id or a ttl that is not positive.
func (d *MemoryDeduper) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if err := ctxErr(ctx, "dedupe id"); err != nil {
		return false, err
	}
	switch {
	case id == "":
		return false, fmt.Errorf("dedupe id: %w: empty id", ErrInvalid)
	case ttl <= 0:
		return false, fmt.Errorf("dedupe id %q: %w: ttl %v is not positive", id, ErrInvalid, ttl)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now().UnixNano()
	until := now + int64(ttl)
	// Add is atomic in go-cache; it fails while the id is held.
	if d.c.Add(id, until, ttl+evictionGrace) == nil {
		return true, nil
	}
	if v, ok := d.c.Get(id); ok {
		if prev, _ := v.(int64); prev > now {
			return false, nil
		}
	}
	// Seen, but longer than its ttl ago by the clock.
	d.c.Set(id, until, ttl+evictionGrace)
	return true, nil
}

// Forget drops id; see Deduper.
func (d *MemoryDeduper) Forget(ctx context.Context, id string) error {
	if err := ctxErr(ctx, "forget id"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.c.Delete(id)
	return nil
}
