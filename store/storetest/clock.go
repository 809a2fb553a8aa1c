// Package storetest is the conformance suite of package store: every
// store.Ledger implementation (store/memory, store/bolt, store/redis) must
// pass Run, every store.Deduper RunDeduper, every store.Audit RunAudit and
// every store.States RunStates. It also holds the ledger benchmarks'
// shared messages and operations (BenchLedgerAt), so that backends'
// figures compare.
//
// The suite drives time with a fake Clock handed to the implementation under
// test. Implementations must take every expiry and lease decision from that
// clock (a Redis ledger passes the clock's time into its scripts and uses
// key expiry only to reclaim space, a grace period later), so the suite never
// sleeps. Times in the suite are whole seconds, so implementations that keep
// millisecond precision pass too.
package storetest

import (
	"sync"
	"time"
)

// Start is the time every suite clock starts at.
var Start = time.Date(2025, time.March, 1, 9, 0, 0, 0, time.UTC)

// Clock is a settable fake clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that stands at t until moved.
func NewClock(t time.Time) *Clock {
	return &Clock{now: t}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
