// Package memory is the in-process store: a Ledger, Deduper, Audit and
// States that live in this process only, on go-cache and plain slices. One
// replica with the memory store forgets everything at a restart, unless
// its Ledger and Audit are the working set of store/bolt, which writes
// every change through to a database (STORE_FILE; the Ledger's Journal
// tells it what changed), or package store/file saves them to a JSON file.
//
// Every constructor takes an options struct whose zero values take the
// defaults and refuses negative values with an error wrapping
// store.ErrInvalid. Every expiry decision uses the injected clock
// (Options.Now and alike); go-cache's own expiry only reclaims space, a
// grace period later, when a janitor goroutine deletes what expired. Every
// value has Close, which stops its janitor (the Audit has none); one
// dropped without Close has its janitor stopped by the garbage collector.
package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// evictionGrace is how long go-cache keeps a message after the ledger's own
// clock already treats it as expired. It keeps go-cache the authority on
// which entry a key maps to: it never forgets an entry the ledger still
// considers live, even if the two clocks differ slightly.
const evictionGrace = time.Minute

// defaultCleanup is how often a janitor drops expired entries.
const defaultCleanup = time.Minute

// notNegative returns an error wrapping store.ErrInvalid when v, the option
// name of what, is negative, else nil.
func notNegative[T int | time.Duration](what, name string, v T) error {
	if v < 0 {
		return fmt.Errorf("%s: %w: %s is negative (%v)", what, store.ErrInvalid, name, v)
	}
	return nil
}

// ctxErr returns ctx's error, if any, as a failure of op.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
