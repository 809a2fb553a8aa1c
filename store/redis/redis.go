// Package redis is the store shared by several replicas, kept in Redis
// through go-redis v9 (imported as goredis, since this package is named
// redis too): a Ledger whose every index operation is one Lua script
// (lua/*.lua), and the Deduper, Audit and States on the same client.
//
// Open builds a Ledger from a REDIS_URL without connecting, so that an
// application starts while Redis is down; New builds one on a client of the
// caller's. Every decision on time is taken from the injected clock
// (Options.Now); Redis's own expiry only reclaims space, a grace period
// later. Close the Ledger to close its client.
package redis
