package store_test

import (
	"testing"
	"time"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/storetest"
)

func TestMemoryAudit(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T, clock *storetest.Clock, ttl time.Duration) store.Audit {
		return store.NewMemoryAudit(ttl, clock.Now)
	})
}

func TestMemoryStates(t *testing.T) {
	storetest.RunStates(t, func(t *testing.T, clock *storetest.Clock) store.States {
		return store.NewMemoryStates(clock.Now)
	})
}

func TestRedisAudit(t *testing.T) {
	c := testRedis(t)
	storetest.RunAudit(t, func(t *testing.T, clock *storetest.Clock, ttl time.Duration) store.Audit {
		return store.NewRedis(c, store.RedisOptions{Prefix: testPrefix(t, c), Now: clock.Now}).Audit(ttl)
	})
}

func TestRedisStates(t *testing.T) {
	c := testRedis(t)
	storetest.RunStates(t, func(t *testing.T, clock *storetest.Clock) store.States {
		return store.NewRedis(c, store.RedisOptions{Prefix: testPrefix(t, c), Now: clock.Now}).States()
	})
}
