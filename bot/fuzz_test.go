package bot_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/width"

	"github.com/dingrecall/dingrecall/bot"
)

// FuzzParse checks the command parser's promises on any text and any
// RECALL_MAX:
//   - it never panics and answers the same twice;
//   - an error is one of the four documented ones and comes with no command;
//   - a parsed recall has 1 <= N <= max; other commands have no N and no chat;
//   - Chat is set only when the text holds "in" (any case or width) or "在",
//     it is trimmed and kept exactly as typed (a substring of the text);
//   - blanks around the text change nothing.
//
// Seeds live in testdata/fuzz/FuzzParse; scripts/fuzz.sh runs it for longer.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"recall 3", "recall", "RECALL 2", "/recall 4", "@bot recall 5", "撤回3", "撤回 3条", "撤回　５",
		"recall 5 in ops-alerts", "recall in x", "recall 1 in ", "撤回2在运维群", "ｒｅｃａｌｌ ２ ｉｎ Ｏｐｓ",
		"recall 2 in sync in prod", "chats", "会话", "help", "？", "", "recall -1", "recall 99999999999999999999",
		"recall +5", "recall ５条", "@@@", "撤回在", "recall\u00a0in\u00a0x", "recall \x00", "\xff\xfe", "／／／recall",
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
			known := []error{bot.ErrUnknownCommand, bot.ErrNotNumber, bot.ErrOutOfRange, bot.ErrMissingChat}
			if !isOneOf(err, known) {
				t.Fatalf("Parse(%q): undocumented error %v", text, err)
			}
			var argErr *bot.ArgError
			if errors.As(err, &argErr) && argErr.Max != max {
				t.Fatalf("Parse(%q): ArgError.Max = %d, want %d", text, argErr.Max, max)
			}
			return
		}
		switch cmd.Name {
		case bot.CmdRecall:
			if cmd.N < 1 || cmd.N > max {
				t.Fatalf("Parse(%q, %d): recall N = %d, outside 1..%d", text, max, cmd.N, max)
			}
			if cmd.Chat != "" {
				if !strings.Contains(foldText(text), "in") && !strings.Contains(text, "在") {
					t.Fatalf(`Parse(%q): chat %q without "in" or "在"`, text, cmd.Chat)
				}
				if cmd.Chat != strings.TrimSpace(cmd.Chat) {
					t.Fatalf("Parse(%q): chat %q is not trimmed", text, cmd.Chat)
				}
				if !strings.Contains(text, cmd.Chat) {
					t.Fatalf("Parse(%q): chat %q is not as typed", text, cmd.Chat)
				}
			}
		case bot.CmdChats, bot.CmdHelp:
			if cmd.N != 0 || cmd.Chat != "" {
				t.Fatalf("Parse(%q): %s with arguments %+v", text, cmd.Name, cmd)
			}
		default:
			t.Fatalf("Parse(%q): unknown command name %q", text, cmd.Name)
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
