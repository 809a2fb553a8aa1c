package app

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedisTopologyConfig: REDIS_URL, REDIS_CLUSTER and
// REDIS_SENTINEL_MASTER pick the topology; a bad combination stops
// start-up with one line naming the variable, never the password.
func TestRedisTopologyConfig(t *testing.T) {
	const seeds = "redis://:s3cret@10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000"
	tests := []struct {
		name string
		env  map[string]string
		want string // the error line's start, "" when accepted
	}{
		{"one node", map[string]string{"STORE": "redis", "REDIS_URL": "redis://:s3cret@127.0.0.1:6379/0"}, ""},
		{"cluster", map[string]string{"STORE": "redis", "REDIS_URL": seeds, "REDIS_CLUSTER": "true"}, ""},
		{"sentinels", map[string]string{"STORE": "redis", "REDIS_URL": "redis://:s3cret@10.0.0.1:26379/0?addr=10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "mymaster"}, ""},
		{"seed list without REDIS_CLUSTER", map[string]string{"STORE": "redis", "REDIS_URL": seeds}, "REDIS_URL lists several addresses"},
		{"both topologies", map[string]string{"STORE": "redis", "REDIS_URL": seeds, "REDIS_CLUSTER": "true", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER cannot be used with a cluster"},
		{"REDIS_CLUSTER not a boolean", map[string]string{"STORE": "redis", "REDIS_URL": seeds, "REDIS_CLUSTER": "yes"}, "REDIS_CLUSTER is \"yes\""},
		{"cluster without redis store", map[string]string{"REDIS_URL": seeds, "REDIS_CLUSTER": "true"}, "REDIS_CLUSTER applies to STORE=redis only"},
		{"sentinel without redis store", map[string]string{"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER applies to STORE=redis only"},
		{"cluster database", map[string]string{"STORE": "redis", "REDIS_URL": "redis://:s3cret@10.0.0.1:7000/2", "REDIS_CLUSTER": "true"}, "REDIS_URL names a database"},
		{"cluster bad addr", map[string]string{"STORE": "redis", "REDIS_URL": "redis://:s3cret@10.0.0.1:7000?addr=x", "REDIS_CLUSTER": "true"}, "REDIS_URL is not a cluster seed list"},
		{"master name with a blank", map[string]string{"STORE": "redis", "REDIS_URL": "redis://10.0.0.1:26379", "REDIS_SENTINEL_MASTER": "my master"}, "REDIS_SENTINEL_MASTER is \"my master\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(func(k string) string { return tt.env[k] })
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cret")
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, 2, "one line: %s", err)
			assert.True(t, strings.HasPrefix(strings.TrimSpace(lines[1]), tt.want), "line %q", lines[1])
		})
	}
}
