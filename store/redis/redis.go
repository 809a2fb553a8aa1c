// Package redis is the store shared by several replicas, kept in Redis
// through go-redis v9 (imported as goredis, since this package is named
// redis too): a Ledger whose every index operation is one Lua script
// (lua/*.lua), and the Deduper, Audit and States on the same client.
//
// Open builds a Ledger from a REDIS_URL without connecting, so that an
// application starts while Redis is down; New builds one on a client of the
// caller's. Every decision on time is taken from the injected clock
// (Options.Now); Redis's own expiry only reclaims space, a grace period
// later. Every failed call to Redis is marked store.ErrUnavailable, so that
// callers can tell a store they cannot reach from a bad request. Close the
// Ledger to close its client.
package redis

import "github.com/dingrecall/dingrecall/store"

// unavailableError is a failed call to Redis: it reads as go-redis's error
// and is both store.ErrUnavailable and that error for errors.Is and As, so
// that a context's deadline, say, is still recognised.
type unavailableError struct{ err error }

// Error returns the text of the go-redis error.
func (e *unavailableError) Error() string { return e.err.Error() }

// Unwrap returns store.ErrUnavailable and the go-redis error.
func (e *unavailableError) Unwrap() []error { return []error{store.ErrUnavailable, e.err} }

// unavailable marks err, returned by a call to Redis, as
// store.ErrUnavailable; nil stays nil.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &unavailableError{err: err}
}
