package bot_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/width"

	"github.com/dingrecall/dingrecall/bot"
)

// FuzzParse checks the command parser's promises on any text and any
// RECALL_MAX:
//   - it never panics and answers the same twice;
//   - an error is one of the documented ones and comes with no command;
//   - a parsed recall N (and recall preview N) has 1 <= N <= max, recall
//     since has a window within 1s..MaxSince, recall tag a tag; no command
//     carries an argument it does not take;
//   - Chat is set only when the text holds "in" (any case or width) or "在"
//     ("recall log <chat>" excepted); chat and tag are trimmed and kept
//     exactly as typed (substrings of the text);
//   - blanks around the text change nothing.
//
// Seeds live in testdata/fuzz/FuzzParse; scripts/fuzz.sh runs it for longer.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"recall 3", "recall", "RECALL 2", "/recall 4", "@bot recall 5", "撤回3", "撤回 3条", "撤回　５",
		"recall 5 in ops-alerts", "recall in x", "recall 1 in ", "撤回2在运维群", "ｒｅｃａｌｌ ２ ｉｎ Ｏｐｓ",
		"recall 2 in sync in prod", "chats", "会话", "help", "？", "", "recall -1", "recall 99999999999999999999",
		"recall +5", "recall ５条", "@@@", "撤回在", "recall\u00a0in\u00a0x", "recall \x00", "\xff\xfe", "／／／recall",
		"recall preview 3 in ops", "recall confirm", "recall since 10m", "撤回 1小时30分钟", "撤回 10分钟 在 运维群", "recall tag deploy-1 in ops",
		"recall tag", "recall retry", "recall log ops-alerts", "recall log in ops", "restore", "恢复 在 运维群", "撤回预览3", "recall since 25h",
	} {
		f.Add(s, 100)
	}
	reg := bot.DefaultRegistry()
	f.Fuzz(func(t *testing.T, text string, max int) {
		if max < 1 || max > 100000 {
			max = int(uint(max)%100000) + 1
		}
		cmd, err := reg.Parse(text, max)
		again, err2 := reg.Parse(text, max)
		if cmd != again || (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Parse(%q) is not deterministic: %+v, %v then %+v, %v", text, cmd, err, again, err2)
		}
		padded, errPadded := reg.Parse(" \t"+text+" \n", max)
		if padded != cmd || (err == nil) != (errPadded == nil) {
			t.Fatalf("blanks around %q changed the result: %+v, %v vs %+v, %v", text, cmd, err, padded, errPadded)
		}
		if err != nil {
			if cmd != (bot.Command{}) {
				t.Fatalf("Parse(%q) failed (%v) but returned %+v", text, err, cmd)
			}
			known := []error{bot.ErrUnknownCommand, bot.ErrNotNumber, bot.ErrNotWhole, bot.ErrOutOfRange, bot.ErrMissingChat, bot.ErrBadDuration, bot.ErrMissingDuration, bot.ErrMissingTag}
			if !isOneOf(err, known) {
				t.Fatalf("Parse(%q): undocumented error %v", text, err)
			}
			var argErr *bot.ArgError
			if errors.As(err, &argErr) && argErr.Max != max {
				t.Fatalf("Parse(%q): ArgError.Max = %d, want %d", text, argErr.Max, max)
			}
			return
		}
		if cmd.Chat != "" {
			if !strings.Contains(foldText(text), "in") && !strings.Contains(text, "在") && cmd.Sub != bot.SubLog {
				t.Fatalf(`Parse(%q): chat %q without "in" or "在"`, text, cmd.Chat)
			}
			if cmd.Chat != strings.TrimSpace(cmd.Chat) || !strings.Contains(text, cmd.Chat) {
				t.Fatalf("Parse(%q): chat %q is not trimmed and as typed", text, cmd.Chat)
			}
		}
		if cmd.Tag != "" && (cmd.Tag != strings.TrimSpace(cmd.Tag) || !strings.Contains(text, cmd.Tag)) {
			t.Fatalf("Parse(%q): tag %q is not trimmed and as typed", text, cmd.Tag)
		}
		type shape struct{ n, since, tag, chatAllowed bool }
		var want shape
		switch {
		case cmd.Name == bot.CmdRecall && (cmd.Sub == "" || cmd.Sub == bot.SubPreview):
			want = shape{n: true, chatAllowed: true}
			if cmd.N < 1 || cmd.N > max {
				t.Fatalf("Parse(%q, %d): recall N = %d, outside 1..%d", text, max, cmd.N, max)
			}
		case cmd.Name == bot.CmdRecall && cmd.Sub == bot.SubSince:
			want = shape{since: true, chatAllowed: true}
			if cmd.Since < time.Second || cmd.Since > bot.MaxSince {
				t.Fatalf("Parse(%q): since %v outside 1s..%v", text, cmd.Since, bot.MaxSince)
			}
		case cmd.Name == bot.CmdRecall && cmd.Sub == bot.SubTag:
			want = shape{tag: true, chatAllowed: true}
			if cmd.Tag == "" {
				t.Fatalf("Parse(%q): recall tag without a tag", text)
			}
		case cmd.Name == bot.CmdRecall && (cmd.Sub == bot.SubRetry || cmd.Sub == bot.SubLog):
			want = shape{chatAllowed: true}
		case cmd.Name == bot.CmdRecall && cmd.Sub == bot.SubConfirm:
		case cmd.Name == bot.CmdRestore && cmd.Sub == "":
			want = shape{chatAllowed: true}
		case (cmd.Name == bot.CmdChats || cmd.Name == bot.CmdHelp) && cmd.Sub == "":
		default:
			t.Fatalf("Parse(%q): unknown command %q sub %q", text, cmd.Name, cmd.Sub)
		}
		if (cmd.N != 0) != want.n || (cmd.Since != 0) != want.since || (cmd.Tag != "") != want.tag || (cmd.Chat != "" && !want.chatAllowed) {
			t.Fatalf("Parse(%q): %s %s has arguments it does not take: %+v", text, cmd.Name, cmd.Sub, cmd)
		}
	})
}

// foldText lower-cases s and narrows full-width forms, as the parser matches
// command words.
func foldText(s string) string { return strings.ToLower(width.Fold.String(s)) }

// isOneOf reports whether err wraps one of targets.
func isOneOf(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
