package bot_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// help lists every command; text that names no command gets the same list,
// a near miss a one-line suggestion, anything but text the list.
func TestHelp(t *testing.T) {
	tests := []struct {
		name   string
		ev     event
		lines  int      // lines of the reply, 0 for any
		want   []string // parts of the reply
		metric string
	}{
		{"help", inGroup(stranger, "help"), 14, []string{"I can take back what I posted here. Commands:", "• recall [N] — recall my last N messages", "• recall [N], quoting a message — recall exactly the message of mine you quote", "N is at most 100"}, "help/ok"},
		{"question mark", oneToOne(stranger, "？"), 14, []string{"• restore — send back"}, "help/ok"},
		{"mention only", inGroup(stranger, "@dingrecall"), 14, []string{"• chats — recall admins"}, "help/ok"},
		{"unknown", inGroup(stranger, "dance"), 15, []string{`I didn't understand "dance".`, "• help — this help"}, "unknown/invalid"},
		{"long unknown text is cut", inGroup(stranger, strings.Repeat("x", 200)), 15, []string{strings.Repeat("x", 79) + "…"}, "unknown/invalid"},
		{"typo", inGroup(stranger, "recal 3"), 1, []string{`I didn't understand "recal 3". Did you mean "recall 3"? Say "help" to list every command.`}, "unknown/invalid"},
		{"typo glued to its number", inGroup(stranger, "recal3"), 1, []string{`Did you mean "recall 3"?`}, "unknown/invalid"},
		{"a subcommand alone", inGroup(stranger, "preview 3"), 1, []string{`Did you mean "recall preview 3"?`}, "unknown/invalid"},
		{"help with words", inGroup(stranger, "help me"), 1, []string{`Did you mean "help"?`}, "unknown/invalid"},
		{"picture", picture(), 14, []string{"I only read text. I can take back"}, "unknown/invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			reply := h.say(tt.ev)
			for _, part := range tt.want {
				assert.Contains(t, reply, part)
			}
			if tt.lines > 0 {
				assert.Len(t, strings.Split(reply, "\n"), tt.lines, reply)
			}
			assert.Equal(t, tt.metric, h.obs.last())
		})
	}
}

func TestHelpInChinese(t *testing.T) {
	h := newHarness(t, withLang("zh"))
	reply := h.say(inGroup(stranger, "帮助"))
	assert.Contains(t, reply, "• 撤回 [N] — 撤回我在本会话中最近的 N 条消息")
	assert.Contains(t, reply, "• 撤回 N 在 <会话> — 撤回管理员在与我的单聊中使用")
	assert.Contains(t, reply, "• 撤回 [N]（引用一条消息） — 只撤回你引用的那条我的消息")
	assert.Contains(t, h.say(inGroup(stranger, "跳舞")), "我没有理解 “跳舞”。\n我可以撤回")
}

// picture is a picture sent to the bot in ops.
func picture() event {
	ev := inGroup(user, "")
	ev.Textual = false
	return ev
}
