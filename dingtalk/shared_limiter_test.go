package dingtalk_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// countingLimiter admits every call, counting them per API, or fails
// with err.
type countingLimiter struct {
	mu    sync.Mutex
	calls map[string]int
	err   error
}

func (l *countingLimiter) Wait(ctx context.Context, api string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	l.calls[api]++
	return l.err
}

func TestWithLimiter(t *testing.T) {
	unreachable := errors.New("store: unavailable")
	tests := []struct {
		name     string
		err      error
		warnings int
	}{
		{"shared limiter paces every call", nil, 0},
		{"failing shared limiter: the client paces itself, warning once", unreachable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := dingtalktest.NewTest(t)
			log, hook := test.NewNullLogger()
			l := &countingLimiter{err: tt.err}
			c := newClient(t, fake, dingtalk.WithLimiter(l), dingtalk.WithLogger(log))
			keys := sendGroup(t, c, "cidA", 3)
			_, err := c.RecallGroup(context.Background(), "cidA", keys)
			require.NoError(t, err)
			assert.Equal(t, 3, l.calls[dingtalk.PathGroupSend], "asked once per send")
			assert.Equal(t, 1, l.calls[dingtalk.PathAccessToken], "the token call is paced too")
			assert.Len(t, fake.Recalled(), 3)
			warnings := 0
			for _, e := range hook.AllEntries() {
				if e.Level == logrus.WarnLevel {
					warnings++
					assert.NotContains(t, e.Message, fake.AppSecret())
				}
			}
			assert.Equal(t, tt.warnings, warnings)
		})
	}
}

func TestWithLimiterHonoursContext(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake, dingtalk.WithLimiter(&countingLimiter{err: context.Canceled}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.SendGroup(ctx, "cidA", dingtalk.Text("hi"))
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, fake.Sent())
}
