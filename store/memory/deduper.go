package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"

	"github.com/dingrecall/dingrecall/store"
)

// DeduperOptions configures a Deduper. Zero values take the defaults;
// negative ones are refused.
type DeduperOptions struct {
	// Now is the clock (time.Now); it decides whether an ID has expired.
	Now func() time.Time
	// CleanupInterval is how often the janitor reclaims expired IDs (one
	// minute).
	CleanupInterval time.Duration
}

// Deduper is the embedded store.Deduper, on go-cache. Each ID is kept with
// the time it expires by the injected clock; go-cache forgets it a grace
// period later.
type Deduper struct {
	c   *cache.Cache
	jan *janitor
	now func() time.Time
	// mu serialises the replacement of an ID that expired by the clock but
	// is still in go-cache, so that exactly one caller wins it.
	mu sync.Mutex
}

var _ store.Deduper = (*Deduper)(nil)

// NewDeduper returns an empty Deduper configured by opts. It fails with an
// error wrapping store.ErrInvalid when an option is negative.
func NewDeduper(opts DeduperOptions) (*Deduper, error) {
	if err := notNegative("memory deduper", "CleanupInterval", opts.CleanupInterval); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CleanupInterval == 0 {
		opts.CleanupInterval = defaultCleanup
	}
	d := &Deduper{c: cache.New(cache.NoExpiration, 0), now: opts.Now}
	d.jan = startJanitor(d, d.c, opts.CleanupInterval)
	return d, nil
}

// Close stops the deduper's janitor; the deduper still answers. Close
// always returns nil, and may be called more than once.
func (d *Deduper) Close() error {
	d.jan.Stop()
	return nil
}

// FirstSeen reports whether id was not seen within ttl before, and records
// it; see store.Deduper. An id is remembered for the ttl of the call that
// found it first seen (later sightings do not extend it), like Redis's SET
// NX PX. It fails with store.ErrInvalid for an empty id or a ttl that is
// not positive.
func (d *Deduper) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if err := ctxErr(ctx, "dedupe id"); err != nil {
		return false, err
	}
	switch {
	case id == "":
		return false, fmt.Errorf("dedupe id: %w: empty id", store.ErrInvalid)
	case ttl <= 0:
		return false, fmt.Errorf("dedupe id %q: %w: ttl %v is not positive", id, store.ErrInvalid, ttl)
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

// Forget drops id; see store.Deduper.
func (d *Deduper) Forget(ctx context.Context, id string) error {
	if err := ctxErr(ctx, "forget id"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.c.Delete(id)
	return nil
}
