package app

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWorkBudget: a recall of RECALL_MAX keys gets twice the time its calls
// take at the bot's own rate, and 45 s more.
func TestWorkBudget(t *testing.T) {
	tests := []struct {
		recallMax, qps int
		want           time.Duration
	}{
		{100, 20, 2*time.Second + 45*time.Second},        // 5 calls: one second
		{2000, 20, 10*time.Second + 45*time.Second},      // 100 calls: 5 s
		{2000, 1, 200*time.Second + 45*time.Second},      // 100 calls at 1 a second
		{100000, 20, 250*2*time.Second + 45*time.Second}, // 5000 calls: 250 s
		{100000, 1, 5000*2*time.Second + 45*time.Second},
		{20, 0, 2*time.Second + 45*time.Second}, // no rate counts as one a second
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, workBudget(config{RecallMax: tt.recallMax}, tt.qps), "RECALL_MAX %d at %d/s", tt.recallMax, tt.qps)
	}
}

// TestWriteTimeoutFitsTheSlowestBot: the HTTP write deadline lets the
// slowest bot's longest recall finish, whichever of DINGTALK_QPS and
// BOTS_FILE sets its rate.
func TestWriteTimeoutFitsTheSlowestBot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bots.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`bots:
  - {name: fast, appKey: key-fast, appSecret: secret-fast, qps: 50}
  - {name: slow, appKey: key-slow, appSecret: secret-slow, qps: 2}
`), 0o600))
	tests := []struct {
		name string
		env  map[string]string
		qps  int // of the slowest bot
	}{
		{"one app", map[string]string{"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "s", "DINGTALK_QPS": "10"}, 10},
		{"a file bot is slower", map[string]string{"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "s", "BOTS_FILE": file}, 2},
		{"the file alone", map[string]string{"BOTS_FILE": file, "DINGTALK_QPS": "1"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["RECALL_MAX"] = "2000"
			cfg, err := loadConfig(func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			assert.Equal(t, workBudget(cfg, tt.qps)+15*time.Second, writeTimeout(cfg))
		})
	}
}
