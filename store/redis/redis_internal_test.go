package redis

import (
	"context"
	"errors"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"

	"github.com/dingrecall/dingrecall/store"
)

func TestUnavailable(t *testing.T) {
	assert.NoError(t, unavailable(nil))
	tests := []struct {
		name string
		err  error
	}{
		{"deadline", context.DeadlineExceeded},
		{"closed client", goredis.ErrClosed},
		{"server error", errors.New("LOADING Redis is loading the dataset in memory")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := unavailable(tt.err)
			assert.ErrorIs(t, err, store.ErrUnavailable)
			assert.ErrorIs(t, err, tt.err, "the go-redis error stays in the chain")
			assert.Equal(t, tt.err.Error(), err.Error(), "the text is go-redis's")
			assert.NotErrorIs(t, err, store.ErrInvalid)
		})
	}
}

func TestInvalidIsNotUnavailable(t *testing.T) {
	l, err := New(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}), Options{})
	if !assert.NoError(t, err) {
		return
	}
	t.Cleanup(func() { _ = l.Close() })
	err = l.Record(t.Context(), store.Message{})
	assert.ErrorIs(t, err, store.ErrInvalid)
	assert.NotErrorIs(t, err, store.ErrUnavailable, "a bad argument is not an unreachable store")
}
