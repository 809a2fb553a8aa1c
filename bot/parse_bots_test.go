package bot_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
)

// A trailing "for <bot>" names one of the registry's bots (SetBots): the
// word "for" in any case, the bot's name exactly; words after "for" that
// name no bot stay where they were.
func TestParseForBot(t *testing.T) {
	const max = 100
	bots := []string{"alerts", "deploys", "default"}
	tests := []struct {
		name    string
		bots    []string // nil: SetBots is never called
		text    string
		want    bot.Command
		suggest string // for an *UnknownError
	}{
		{"count", bots, "recall 3 for alerts", bot.Command{Name: bot.CmdRecall, N: 3, Bot: "alerts"}, ""},
		{"count and chat", bots, "recall 3 in ops for alerts", bot.Command{Name: bot.CmdRecall, N: 3, Chat: "ops", Bot: "alerts"}, ""},
		{"chat title with blanks", bots, "recall 2 in Ops Alerts for deploys", bot.Command{Name: bot.CmdRecall, N: 2, Chat: "Ops Alerts", Bot: "deploys"}, ""},
		{"since", bots, "recall since 10m for alerts", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: 10 * time.Minute, Bot: "alerts"}, ""},
		{"since in a chat", bots, "recall since 1h in ops for deploys", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: time.Hour, Chat: "ops", Bot: "deploys"}, ""},
		{"tag", bots, "recall tag x for alerts", bot.Command{Name: bot.CmdRecall, Sub: bot.SubTag, Tag: "x", Bot: "alerts"}, ""},
		{"preview", bots, "recall preview 4 for alerts", bot.Command{Name: bot.CmdRecall, Sub: bot.SubPreview, N: 4, Bot: "alerts"}, ""},
		{"log", bots, "recall log for alerts", bot.Command{Name: bot.CmdRecall, Sub: bot.SubLog, Bot: "alerts"}, ""},
		{"Chinese command", bots, "撤回 2 for alerts", bot.Command{Name: bot.CmdRecall, N: 2, Bot: "alerts"}, ""},
		{"reason and bot", bots, "recall 3 wrong env for alerts", bot.Command{Name: bot.CmdRecall, N: 3, Reason: "wrong env", Bot: "alerts"}, ""},
		{"not a bot: part of the reason", bots, "recall 3 wrong env for prod", bot.Command{Name: bot.CmdRecall, N: 3, Reason: "wrong env for prod"}, ""},
		{"not a bot: part of the chat", bots, "recall 3 in news for prod", bot.Command{Name: bot.CmdRecall, N: 3, Chat: "news for prod"}, ""},
		{"only the last two words", bots, "recall 3 for alerts please", bot.Command{Name: bot.CmdRecall, N: 3, Reason: "for alerts please"}, ""},
		{"no count", bots, "recall for alerts", bot.Command{Name: bot.CmdRecall, N: 1, DefaultN: true, Bot: "alerts"}, ""},
		{"FOR in capitals", bots, "recall 2 FOR alerts", bot.Command{Name: bot.CmdRecall, N: 2, Bot: "alerts"}, ""},
		{"For", bots, "recall 2 For deploys", bot.Command{Name: bot.CmdRecall, N: 2, Bot: "deploys"}, ""},
		{"a capital in the name", bots, "recall 2 for Alerts", bot.Command{Name: bot.CmdRecall, N: 2, Bot: "alerts"}, ""},
		{"full-width letters", bots, "recall 2 for ＤＥＰＬＯＹＳ", bot.Command{Name: bot.CmdRecall, N: 2, Bot: "deploys"}, ""},
		{"a slip in the name", bots, "recall 2 for alert", bot.Command{}, "recall 2 for alerts"},
		{"two slips in a long name", bots, "recall 1 in ops for delpoy", bot.Command{}, "recall 1 in ops for deploys"},
		{"a reason near no bot", bots, "recall 2 for me", bot.Command{Name: bot.CmdRecall, N: 2, Reason: "for me"}, ""},
		{"a reason far from every bot", bots, "recall 2 for release", bot.Command{Name: bot.CmdRecall, N: 2, Reason: "for release"}, ""},
		{"the bot's own name", bots, "recall 2 for default", bot.Command{Name: bot.CmdRecall, N: 2, Bot: "default"}, ""},
		{"no SetBots: never cut", nil, "recall 3 for alerts", bot.Command{Name: bot.CmdRecall, N: 3, Reason: "for alerts"}, ""},
		{"no SetBots: the tag keeps it", nil, "recall tag x for alerts", bot.Command{Name: bot.CmdRecall, Sub: bot.SubTag, Tag: "x for alerts"}, ""},
		{"confirm names no bot", bots, "recall confirm for alerts", bot.Command{}, "recall confirm"},
		{"a bad count stays bad", bots, "recall 3 4 for alerts", bot.Command{}, ""},
		{"restore names a bot", bots, "restore for alerts", bot.Command{Name: bot.CmdRestore, Bot: "alerts"}, ""},
		{"restore in a chat, for a bot", bots, "restore in ops-alerts for deploys", bot.Command{Name: bot.CmdRestore, Chat: "ops-alerts", Bot: "deploys"}, ""},
		{"restore takes no other words", bots, "restore now for alerts", bot.Command{}, "restore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bot.DefaultRegistry()
			if tt.bots != nil {
				r.SetBots(tt.bots)
			}
			got, err := r.Parse(tt.text, max)
			switch {
			case tt.suggest != "":
				var unknown *bot.UnknownError
				require.ErrorAs(t, err, &unknown)
				assert.ErrorIs(t, err, bot.ErrUnknownCommand)
				assert.Equal(t, tt.suggest, unknown.Suggestion)
			case tt.want.Name == "":
				require.Error(t, err)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

// SetBots keeps its own copy of the names.
func TestSetBotsCopies(t *testing.T) {
	r := bot.DefaultRegistry()
	names := []string{"alerts"}
	r.SetBots(names)
	names[0] = "deploys"
	cmd, err := r.Parse("recall 1 for alerts", 100)
	require.NoError(t, err)
	assert.Equal(t, "alerts", cmd.Bot)
	cmd, err = r.Parse("recall 1 for deploys", 100)
	require.NoError(t, err)
	assert.Empty(t, cmd.Bot)
	assert.False(t, errors.Is(err, bot.ErrUnknownCommand))
}
