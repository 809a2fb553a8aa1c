package redis_test

import (
	"testing"
	"time"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/redis"
	"github.com/dingrecall/dingrecall/store/storetest"
)

func TestAudit(t *testing.T) {
	c := testRedis(t)
	storetest.RunAudit(t, func(t *testing.T, clock *storetest.Clock, ttl time.Duration) store.Audit {
		return newLedger(t, c, redis.Options{Prefix: testPrefix(t, c), Now: clock.Now}).Audit(ttl)
	})
}

func TestStates(t *testing.T) {
	c := testRedis(t)
	storetest.RunStates(t, func(t *testing.T, clock *storetest.Clock) store.States {
		return newLedger(t, c, redis.Options{Prefix: testPrefix(t, c), Now: clock.Now}).States()
	})
}
