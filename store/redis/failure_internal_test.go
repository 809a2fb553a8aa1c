package redis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
)

// The "f" field keeps a failure as JSON; the plain words older versions
// wrote there still read as its message.
func TestFailureField(t *testing.T) {
	cases := []struct {
		name  string
		field string
		want  store.Failure
	}{
		{"none", "", store.Failure{}},
		{"code and words", `{"code":"bot.stopped","message":"robot disabled"}`, store.Failure{Code: "bot.stopped", Message: "robot disabled"}},
		{"words of an older version", "message not found", store.Failure{Message: "message not found"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeFailure(tc.field)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			if tc.field != "message not found" {
				assert.Equal(t, tc.field, encodeFailure(tc.want), "round trip")
			}
		})
	}
	_, err := decodeFailure(`{"code":`)
	assert.Error(t, err)
}
