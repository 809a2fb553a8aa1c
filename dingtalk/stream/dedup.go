package stream

import (
	"sync"
	"time"
)

// Defaults of the memory of delivered callbacks.
const (
	// DedupWindow is how long the client remembers a callback it handled.
	DedupWindow = time.Hour
	// DedupSize bounds how many keys (messageIds and msgIds) the client remembers; the
	// oldest are forgotten first.
	DedupSize = 100_000
)

// dedup remembers keys for a while, in bounded memory, shared by every connection of a
// client.
type dedup struct {
	window time.Duration
	size   int

	mu    sync.Mutex
	gen   uint64
	seen  map[string]uint64 // key → generation of its entry
	order []dedupEntry      // oldest first
}

type dedupEntry struct {
	key string
	gen uint64
	at  time.Time
}

func newDedup(window time.Duration, size int) *dedup {
	return &dedup{window: window, size: size, seen: map[string]uint64{}}
}

// claim remembers every non-empty key at now and reports true, unless one of them is
// remembered already: then it changes nothing and reports false.
func (d *dedup) claim(now time.Time, keys ...string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	for _, k := range keys {
		if _, ok := d.seen[k]; ok && k != "" {
			return false
		}
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		d.gen++
		d.seen[k] = d.gen
		d.order = append(d.order, dedupEntry{key: k, gen: d.gen, at: now})
	}
	d.prune(now)
	return true
}

// release forgets keys claimed by a delivery that failed, so a redelivery is handled.
func (d *dedup) release(keys ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.seen, k)
	}
}

// prune forgets entries older than the window and the oldest beyond the size. The caller
// holds d.mu.
func (d *dedup) prune(now time.Time) {
	for len(d.order) > 0 {
		e := d.order[0]
		if now.Sub(e.at) < d.window && len(d.order) <= d.size {
			break
		}
		if d.seen[e.key] == e.gen {
			delete(d.seen, e.key)
		}
		d.order[0] = dedupEntry{}
		d.order = d.order[1:]
	}
}

// len reports how many keys are remembered.
func (d *dedup) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}
