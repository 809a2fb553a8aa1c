package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDedup(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 11, 26, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		steps func(d *dedup) []bool
		want  []bool
	}{
		{name: "first claim wins", steps: func(d *dedup) []bool {
			return []bool{d.claim(t0, "a", "b"), d.claim(t0, "a"), d.claim(t0, "b"), d.claim(t0, "c", "b")}
		}, want: []bool{true, false, false, false}},
		{name: "a refused claim remembers nothing", steps: func(d *dedup) []bool {
			return []bool{d.claim(t0, "a"), d.claim(t0, "c", "a"), d.claim(t0, "c")}
		}, want: []bool{true, false, true}},
		{name: "empty keys are ignored", steps: func(d *dedup) []bool {
			return []bool{d.claim(t0, "", "a"), d.claim(t0, "", "b")}
		}, want: []bool{true, true}},
		{name: "forgotten after the window", steps: func(d *dedup) []bool {
			return []bool{d.claim(t0, "a"), d.claim(t0.Add(time.Hour-time.Nanosecond), "a"), d.claim(t0.Add(time.Hour), "a")}
		}, want: []bool{true, false, true}},
		{name: "released keys may be claimed again", steps: func(d *dedup) []bool {
			first := d.claim(t0, "a", "b")
			d.release("a", "b")
			return []bool{first, d.claim(t0, "a", "b"), d.claim(t0, "a")}
		}, want: []bool{true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.steps(newDedup(time.Hour, 100)))
		})
	}
}

func TestDedupIsBounded(t *testing.T) {
	t.Parallel()
	d := newDedup(time.Hour, 10)
	t0 := time.Date(2025, 11, 26, 9, 0, 0, 0, time.UTC)
	for i := range 1000 {
		assert.True(t, d.claim(t0, fmt.Sprintf("k%d", i)))
		assert.LessOrEqual(t, d.len(), 10)
		assert.LessOrEqual(t, len(d.order), 10)
	}
	assert.False(t, d.claim(t0, "k999"), "the newest are kept")
	assert.True(t, d.claim(t0, "k0"), "the oldest are forgotten")
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := &Client{minBackoff: time.Second, maxBackoff: time.Minute}
	tests := []struct {
		failures int
		lo, hi   time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{3, 2 * time.Second, 4 * time.Second},
		{6, 16 * time.Second, 32 * time.Second},
		{7, 30 * time.Second, time.Minute},
		{40, 30 * time.Second, time.Minute},
		{1000, 30 * time.Second, time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.failures), func(t *testing.T) {
			for range 100 {
				d := c.backoff(tt.failures)
				assert.GreaterOrEqual(t, d, tt.lo)
				assert.LessOrEqual(t, d, tt.hi)
			}
		})
	}
}
