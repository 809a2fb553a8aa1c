package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
)

func TestParse(t *testing.T) {
	const max = 100
	tests := []struct {
		text    string
		want    bot.Command
		wantErr error
	}{
		{" recall 3", bot.Command{Name: bot.CmdRecall, N: 3}, nil},
		{"recall", bot.Command{Name: bot.CmdRecall, N: 1}, nil},
		{"RECALL 2", bot.Command{Name: bot.CmdRecall, N: 2}, nil},
		{"/recall 4", bot.Command{Name: bot.CmdRecall, N: 4}, nil},
		{"@dingrecall recall 5", bot.Command{Name: bot.CmdRecall, N: 5}, nil},
		{"@bot @Alice  recall\t6 ", bot.Command{Name: bot.CmdRecall, N: 6}, nil},
		{"recall 100", bot.Command{Name: bot.CmdRecall, N: 100}, nil},
		{"  撤回  2 ", bot.Command{Name: bot.CmdRecall, N: 2}, nil},
		{"撤回", bot.Command{Name: bot.CmdRecall, N: 1}, nil},
		{"撤回3", bot.Command{Name: bot.CmdRecall, N: 3}, nil},
		{"撤回 3条", bot.Command{Name: bot.CmdRecall, N: 3}, nil},
		{"撤回　５", bot.Command{Name: bot.CmdRecall, N: 5}, nil}, // full-width space and digit
		{"recall 5 in ops-alerts", bot.Command{Name: bot.CmdRecall, N: 5, Chat: "ops-alerts"}, nil},
		{"recall 2 in cidAbC123==", bot.Command{Name: bot.CmdRecall, N: 2, Chat: "cidAbC123=="}, nil},
		{"recall 1 IN Ops Alerts  Prod", bot.Command{Name: bot.CmdRecall, N: 1, Chat: "Ops Alerts  Prod"}, nil},
		{"recall in ops-alerts", bot.Command{Name: bot.CmdRecall, N: 1, Chat: "ops-alerts"}, nil},
		{"recall 2 in sync in prod", bot.Command{Name: bot.CmdRecall, N: 2, Chat: "sync in prod"}, nil},
		{"撤回 2 在 运维群", bot.Command{Name: bot.CmdRecall, N: 2, Chat: "运维群"}, nil},
		{"撤回2在运维群", bot.Command{Name: bot.CmdRecall, N: 2, Chat: "运维群"}, nil},
		{"recall 1 in 运维群（生产）", bot.Command{Name: bot.CmdRecall, N: 1, Chat: "运维群（生产）"}, nil},
		{"ｒｅｃａｌｌ ２ ｉｎ Ｏｐｓ", bot.Command{Name: bot.CmdRecall, N: 2, Chat: "Ｏｐｓ"}, nil},
		{"撤回 2 在 sign in 群", bot.Command{Name: bot.CmdRecall, N: 2, Chat: "sign in 群"}, nil},
		{"recall 2 in 现在的群", bot.Command{Name: bot.CmdRecall, N: 2, Chat: "现在的群"}, nil},
		{"／recall 2", bot.Command{Name: bot.CmdRecall, N: 2}, nil},
		{"＠bot 撤回 2", bot.Command{Name: bot.CmdRecall, N: 2}, nil},
		{"recall preview 5", bot.Command{Name: bot.CmdRecall, Sub: bot.SubPreview, N: 5}, nil},
		{"recall preview", bot.Command{Name: bot.CmdRecall, Sub: bot.SubPreview, N: 1}, nil},
		{"撤回 预览 3", bot.Command{Name: bot.CmdRecall, Sub: bot.SubPreview, N: 3}, nil},
		{"撤回预览3", bot.Command{Name: bot.CmdRecall, Sub: bot.SubPreview, N: 3}, nil},
		{"recall preview 2 in ops", bot.Command{Name: bot.CmdRecall, Sub: bot.SubPreview, N: 2, Chat: "ops"}, nil},
		{"recall confirm", bot.Command{Name: bot.CmdRecall, Sub: bot.SubConfirm}, nil},
		{"撤回 确认", bot.Command{Name: bot.CmdRecall, Sub: bot.SubConfirm}, nil},
		{"recall since 10m", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: 10 * time.Minute}, nil},
		{"recall since 1h in ops", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: time.Hour, Chat: "ops"}, nil},
		{"撤回 10分钟", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: 10 * time.Minute}, nil},
		{"撤回10分钟", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: 10 * time.Minute}, nil},
		{"撤回 1小时", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: time.Hour}, nil},
		{"撤回 30秒", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: 30 * time.Second}, nil},
		{"撤回 1小时30分钟", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: 90 * time.Minute}, nil},
		{"撤回 2天", bot.Command{}, bot.ErrBadDuration},
		{"撤回 最近 30s", bot.Command{Name: bot.CmdRecall, Sub: bot.SubSince, Since: 30 * time.Second}, nil},
		{"recall tag deploy-42", bot.Command{Name: bot.CmdRecall, Sub: bot.SubTag, Tag: "deploy-42"}, nil},
		{"撤回 标签 发布", bot.Command{Name: bot.CmdRecall, Sub: bot.SubTag, Tag: "发布"}, nil},
		{"recall retry", bot.Command{Name: bot.CmdRecall, Sub: bot.SubRetry}, nil},
		{"撤回 重试", bot.Command{Name: bot.CmdRecall, Sub: bot.SubRetry}, nil},
		{"recall log", bot.Command{Name: bot.CmdRecall, Sub: bot.SubLog}, nil},
		{"recall log in ops", bot.Command{Name: bot.CmdRecall, Sub: bot.SubLog, Chat: "ops"}, nil},
		{"recall log ops-alerts", bot.Command{Name: bot.CmdRecall, Sub: bot.SubLog, Chat: "ops-alerts"}, nil},
		{"撤回 记录", bot.Command{Name: bot.CmdRecall, Sub: bot.SubLog}, nil},
		{"restore", bot.Command{Name: bot.CmdRestore}, nil},
		{"恢复", bot.Command{Name: bot.CmdRestore}, nil},
		{"restore in ops", bot.Command{Name: bot.CmdRestore, Chat: "ops"}, nil},
		{"recall since soon", bot.Command{}, bot.ErrBadDuration},
		{"recall since 25h", bot.Command{}, bot.ErrBadDuration},
		{"recall since 0s", bot.Command{}, bot.ErrBadDuration},
		{"recall tag", bot.Command{}, bot.ErrMissingTag},
		{"recall confirm 3", bot.Command{}, bot.ErrUnknownCommand},
		{"recall retry 3", bot.Command{}, bot.ErrUnknownCommand},
		{"restore 3", bot.Command{}, bot.ErrUnknownCommand},
		{"chats", bot.Command{Name: bot.CmdChats}, nil},
		{"会话", bot.Command{Name: bot.CmdChats}, nil},
		{"help", bot.Command{Name: bot.CmdHelp}, nil},
		{"帮助", bot.Command{Name: bot.CmdHelp}, nil},
		{"？", bot.Command{Name: bot.CmdHelp}, nil},
		{"", bot.Command{Name: bot.CmdHelp}, nil},
		{"   ", bot.Command{Name: bot.CmdHelp}, nil},
		{"@dingrecall", bot.Command{Name: bot.CmdHelp}, nil},
		{"recall three", bot.Command{}, bot.ErrNotNumber},
		{"recall 3 4", bot.Command{}, bot.ErrNotNumber},
		{"recall 2.5", bot.Command{}, bot.ErrNotNumber},
		{"recall in", bot.Command{}, bot.ErrMissingChat},
		{"recall 1 in ", bot.Command{}, bot.ErrMissingChat},
		{"recall 0", bot.Command{}, bot.ErrOutOfRange},
		{"recall -1", bot.Command{}, bot.ErrOutOfRange},
		{"recall 101", bot.Command{}, bot.ErrOutOfRange},
		{"recall 100000", bot.Command{}, bot.ErrOutOfRange},
		{"recall 99999999999999999999999", bot.Command{}, bot.ErrOutOfRange},
		{"撤回 零", bot.Command{}, bot.ErrNotNumber},
		{"delete everything", bot.Command{}, bot.ErrUnknownCommand},
		{"chats please", bot.Command{}, bot.ErrUnknownCommand},
		{"recalled 3", bot.Command{}, bot.ErrUnknownCommand},
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

func TestArgErrorNamesTheArgument(t *testing.T) {
	_, err := bot.DefaultRegistry().Parse("recall 500", 100)
	var argErr *bot.ArgError
	require.ErrorAs(t, err, &argErr)
	assert.Equal(t, "500", argErr.Arg)
	assert.Equal(t, 100, argErr.Max)
}

func TestRegistryRejectsDuplicates(t *testing.T) {
	parse := func(string, int) (bot.Command, error) { return bot.Command{}, nil }
	run := func(*bot.Bot, context.Context, bot.Request) bot.Reply { return bot.Reply{} }
	tests := []struct {
		name  string
		specs []bot.Spec
	}{
		{"same name", []bot.Spec{{Name: "a", Parse: parse, Run: run}, {Name: "a", Parse: parse, Run: run}}},
		{"alias clashes with name", []bot.Spec{{Name: "a", Parse: parse, Run: run}, {Name: "b", Aliases: []string{"A"}, Parse: parse, Run: run}}},
		{"no parser", []bot.Spec{{Name: "a", Run: run}}},
		{"no run", []bot.Spec{{Name: "a", Parse: parse}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bot.NewRegistry(tt.specs...)
			require.Error(t, err)
		})
	}
}
