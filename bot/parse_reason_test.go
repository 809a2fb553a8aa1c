package bot_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
)

// "recall N <reason>": the words after N say why; a tombstone shows them.
func TestParseRecallReason(t *testing.T) {
	const max = 100
	tests := []struct {
		text    string
		want    bot.Command
		wantErr error
	}{
		{"recall 3 wrong env", bot.Command{Name: bot.CmdRecall, N: 3, Reason: "wrong env"}, nil},
		{"recall 1 typo: deploy 42, not 24", bot.Command{Name: bot.CmdRecall, N: 1, Reason: "typo: deploy 42, not 24"}, nil},
		{"撤回 2 环境错了", bot.Command{Name: bot.CmdRecall, N: 2, Reason: "环境错了"}, nil},
		{"撤回2 环境错了", bot.Command{Name: bot.CmdRecall, N: 2, Reason: "环境错了"}, nil},
		{"recall 2 wrong env in ops-alerts", bot.Command{Name: bot.CmdRecall, N: 2, Reason: "wrong env", Chat: "ops-alerts"}, nil},
		{"recall 3", bot.Command{Name: bot.CmdRecall, N: 3}, nil},
		{"recall 3 4", bot.Command{}, bot.ErrNotNumber},
		{"recall 3 42x", bot.Command{}, bot.ErrNotNumber},
		{"recall 0 oops", bot.Command{}, bot.ErrOutOfRange},
		{"recall 101 oops", bot.Command{}, bot.ErrOutOfRange},
		{"recall 1.5 oops", bot.Command{}, bot.ErrNotWhole},
		{"recall three oops", bot.Command{}, bot.ErrNotNumber},
		{"recall 1\n\nrecall 2", bot.Command{}, bot.ErrNotNumber},
		{"recall 1 \u202eevil", bot.Command{}, bot.ErrNotNumber},
		{"recall 1 ok\x00", bot.Command{}, bot.ErrNotNumber},
	}
	reg := bot.DefaultRegistry()
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := reg.Parse(tt.text, max)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
