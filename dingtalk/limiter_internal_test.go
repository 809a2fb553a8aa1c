package dingtalk

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQPSLimiterSchedule checks the times the limiter lets calls leave at on
// a stopped clock, so scheduling jitter plays no part: whatever the burst,
// no window of a second holds more than n departures, and after a pause a
// whole second's worth leaves at once.
func TestQPSLimiterSchedule(t *testing.T) {
	tests := []struct {
		name  string
		qps   int
		calls int
		pause time.Duration // before a second burst of calls
	}{
		{"one per second", 1, 5, 0},
		{"default, three seconds' worth", DefaultQPS, 3 * DefaultQPS, 0},
		{"default, an odd count", DefaultQPS, 47, 0},
		{"after a pause", 5, 12, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			now := t0
			l := newQPSLimiter(tt.qps)
			l.now = func() time.Time { return now }
			var leave []time.Time
			burst := func() {
				for range tt.calls {
					d, _ := l.reserve()
					leave = append(leave, now.Add(d))
				}
			}
			burst()
			if tt.pause > 0 {
				now = slices.MaxFunc(leave, time.Time.Compare).Add(tt.pause)
				first := len(leave)
				burst()
				for _, at := range leave[first : first+tt.qps] {
					assert.Equal(t, now, at, "a second's worth leaves at once after a pause")
				}
			}
			slices.SortFunc(leave, time.Time.Compare)
			for i := tt.qps; i < len(leave); i++ {
				assert.GreaterOrEqual(t, leave[i].Sub(leave[i-tt.qps]), time.Second+limiterMargin,
					"calls %d and %d leave within one window", i-tt.qps, i)
			}
			for _, at := range leave[:min(tt.qps, len(leave))] {
				assert.Equal(t, t0, at, "the first second's worth leaves at once")
			}
		})
	}
}

// TestQPSLimiterCancelGivesTheCallBack: a call that never leaves (its
// context ended) frees its place for the next one.
func TestQPSLimiterCancelGivesTheCallBack(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	l := newQPSLimiter(1)
	l.now = func() time.Time { return now }
	d, _ := l.reserve()
	require.Zero(t, d)
	d, cancel := l.reserve()
	require.Equal(t, time.Second+limiterMargin, d)
	cancel()
	d, _ = l.reserve()
	assert.Equal(t, time.Second+limiterMargin, d, "the cancelled call's place is the next one's")
}
