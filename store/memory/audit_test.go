package memory_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

func TestAudit(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T, clock *storetest.Clock, ttl time.Duration) store.Audit {
		a, err := memory.NewAudit(memory.AuditOptions{TTL: ttl, Now: clock.Now})
		require.NoError(t, err)
		return a
	})
}

func TestStates(t *testing.T) {
	storetest.RunStates(t, func(t *testing.T, clock *storetest.Clock) store.States {
		s, err := memory.NewStates(memory.StatesOptions{Now: clock.Now})
		require.NoError(t, err)
		return s
	})
}
