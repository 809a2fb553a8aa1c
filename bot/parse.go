package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/width"

	"github.com/dingrecall/dingrecall/templates"
)

// Command names.
const (
	CmdRecall  = "recall"
	CmdRestore = "restore"
	CmdChats   = "chats"
	CmdHelp    = "help"
)

// Subcommands of recall.
const (
	SubPreview = "preview"
	SubConfirm = "confirm"
	SubSince   = "since"
	SubTag     = "tag"
	SubRetry   = "retry"
	SubLog     = "log"
)

// MaxSince is the longest window "recall since" takes: DingTalk recalls only
// within 24 hours.
const MaxSince = 24 * time.Hour

// Command is a parsed chat command.
type Command struct {
	// Name is the command's canonical name (CmdRecall, CmdRestore, CmdChats,
	// CmdHelp).
	Name string
	// Sub is the recall subcommand (SubPreview, ...), empty for "recall N".
	Sub string
	// N is how many messages to recall, 1..max, for "recall N" and "recall
	// preview N".
	N int
	// Since is the window of "recall since", 1s..MaxSince.
	Since time.Duration
	// Tag is the tag of "recall tag".
	Tag string
	// Chat is the chat named with "in <chat>", empty for this chat.
	Chat string
}

// Parse errors. ErrUnknownCommand is returned wrapped; the argument
// problems come as *ArgError, which wraps ErrNotNumber, ErrOutOfRange or
// ErrMissingChat.
var (
	ErrUnknownCommand = errors.New("unknown command")
	ErrNotNumber      = errors.New("not a number")
	ErrOutOfRange     = errors.New("out of range")
	ErrMissingChat    = errors.New("no chat named after in")
	ErrBadDuration    = errors.New("not a duration")
	ErrMissingTag     = errors.New("no tag named")
)

// ArgError is a command argument the parser refused.
type ArgError struct {
	Arg string // the offending argument as typed
	Max int    // the largest N allowed
	Err error  // ErrNotNumber, ErrOutOfRange or ErrMissingChat
}

// Error describes the bad argument.
func (e *ArgError) Error() string { return fmt.Sprintf("argument %q: %v", e.Arg, e.Err) }

// Unwrap returns ErrNotNumber, ErrOutOfRange or ErrMissingChat.
func (e *ArgError) Unwrap() error { return e.Err }

// Spec is one command in the registry: its names, its usage lines for help,
// how to parse its arguments and what it does.
type Spec struct {
	// Name is the canonical name, Aliases the other words that invoke it
	// (the Chinese ones among them). Both are matched case-insensitively.
	Name    string
	Aliases []string
	// Usages are the lines help shows for the command.
	Usages []Usage
	// Parse turns the text after the command word into a Command.
	Parse func(args string, max int) (Command, error)
	// Run carries the command out for req and returns the reply.
	Run func(b *Bot, ctx context.Context, req Request) Reply
}

// Usage is one help line: how to type it in each language, and the template
// (templates.CommandName) that says what it does.
type Usage struct {
	Text    map[string]string // language → usage, e.g. "en": "recall [N]"
	Summary string            // templates.CommandName of the summary
}

// Registry is the set of commands the bot understands; help is generated
// from it.
type Registry struct {
	specs []Spec
	words map[string]*Spec
	names map[string]*Spec
}

// NewRegistry builds a registry, failing on a command without a name or
// parser, or a name or alias used twice.
func NewRegistry(specs ...Spec) (*Registry, error) {
	r := &Registry{specs: specs, words: make(map[string]*Spec), names: make(map[string]*Spec)}
	for i := range r.specs {
		s := &r.specs[i]
		if s.Name == "" || s.Parse == nil || s.Run == nil {
			return nil, fmt.Errorf("command %d: needs a name, a parser and a run func", i)
		}
		r.names[s.Name] = s
		for _, w := range append([]string{s.Name}, s.Aliases...) {
			w = fold(normalise(w))
			if other, dup := r.words[w]; dup {
				return nil, fmt.Errorf("command word %q is used by both %s and %s", w, other.Name, s.Name)
			}
			r.words[w] = s
		}
	}
	return r, nil
}

// Specs returns the registered commands in registration order.
func (r *Registry) Specs() []Spec { return r.specs }

// Lookup returns the command with the canonical name.
func (r *Registry) Lookup(name string) (*Spec, bool) {
	s, ok := r.names[name]
	return s, ok
}

// Parse reads a command from what someone typed to the bot: leading
// @-mentions, a leading "/" and surrounding blanks are dropped, the command
// word is matched without regard to case or full-width forms, and a Chinese
// command word may be followed directly by its argument ("撤回3"). A chat
// name is kept exactly as typed. Empty text is help. A parsed N is always
// within 1..max.
func (r *Registry) Parse(text string, max int) (Command, error) {
	text = strings.TrimLeft(normalise(text), "/／")
	if text == "" {
		return Command{Name: CmdHelp}, nil
	}
	word, args := splitWord(text)
	if s, ok := r.words[fold(word)]; ok {
		return s.Parse(args, max)
	}
	// A Chinese alias glued to its argument: "撤回3", "撤回3在运维群".
	for w, s := range r.words {
		if rest, ok := strings.CutPrefix(text, w); ok && !isASCII(w) {
			return s.Parse(strings.TrimSpace(rest), max)
		}
	}
	return Command{}, fmt.Errorf("%w: %q", ErrUnknownCommand, word)
}

// fold lower-cases s and turns full-width forms into ASCII, for matching
// command words and numbers.
func fold(s string) string { return strings.ToLower(width.Fold.String(s)) }

// normalise drops leading @-mentions and trims. Case and width are kept:
// chat IDs are case-sensitive and titles may hold full-width characters.
func normalise(s string) string {
	s = strings.TrimSpace(s)
	for strings.HasPrefix(s, "@") || strings.HasPrefix(s, "＠") {
		_, s = splitWord(s)
	}
	return s
}

// splitWord returns the first blank-separated word of s and the trimmed rest.
func splitWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// subWords maps the words of recall's subcommands, English and Chinese, to
// the subcommand.
var subWords = []struct{ word, sub string }{
	{"preview", SubPreview}, {"预览", SubPreview},
	{"confirm", SubConfirm}, {"确认", SubConfirm},
	{"since", SubSince}, {"最近", SubSince},
	{"tag", SubTag}, {"标签", SubTag},
	{"retry", SubRetry}, {"重试", SubRetry},
	{"log", SubLog}, {"记录", SubLog},
}

// cutSub splits a recall subcommand word off args: "preview 3" → preview,
// "3"; the Chinese words may be glued to what follows ("预览3").
func cutSub(args string) (sub, rest string) {
	word, after := splitWord(args)
	for _, w := range subWords {
		if fold(word) == w.word {
			return w.sub, after
		}
		if r, ok := strings.CutPrefix(args, w.word); ok && !isASCII(w.word) {
			return w.sub, strings.TrimSpace(r)
		}
	}
	return "", args
}

// parseRecall reads recall's arguments: "[N] [in <chat>]", "preview N [in
// <chat>]", "confirm", "since <duration> [in <chat>]", "<duration>" with a
// Chinese unit ("10分钟"), "tag <tag> [in <chat>]", "retry [in <chat>]" and
// "log [in <chat>]".
func parseRecall(args string, max int) (Command, error) {
	sub, rest := cutSub(args)
	if _, ok := zhDuration(beforeChat(args)); sub == "" && ok {
		sub, rest = SubSince, args // "撤回 10分钟"
	}
	cmd := Command{Name: CmdRecall, Sub: sub}
	switch sub {
	case SubConfirm:
		if rest != "" {
			return Command{}, fmt.Errorf("%w: recall confirm takes no arguments", ErrUnknownCommand)
		}
		return cmd, nil
	case SubTag:
		tag, chat, err := withChat(rest, max)
		if err != nil {
			return Command{}, err
		}
		if tag == "" {
			return Command{}, &ArgError{Arg: rest, Max: max, Err: ErrMissingTag}
		}
		cmd.Tag, cmd.Chat = tag, chat
		return cmd, nil
	case SubRetry, SubLog:
		what, chat, err := withChat(rest, max)
		if err != nil {
			return Command{}, err
		}
		if what != "" {
			if sub == SubLog && chat == "" {
				chat = what // "recall log <chat>"
			} else {
				return Command{}, fmt.Errorf("%w: recall %s takes no count", ErrUnknownCommand, sub)
			}
		}
		cmd.Chat = chat
		return cmd, nil
	case SubSince:
		span, chat, err := withChat(rest, max)
		if err != nil {
			return Command{}, err
		}
		d, err := parseSince(span)
		if err != nil {
			return Command{}, &ArgError{Arg: span, Max: max, Err: err}
		}
		cmd.Since, cmd.Chat = d, chat
		return cmd, nil
	}
	count, chat, err := withChat(rest, max)
	if err != nil {
		return Command{}, err
	}
	cmd.Chat = chat
	if cmd.N, err = parseCount(count, max); err != nil {
		return Command{}, err
	}
	return cmd, nil
}

// withChat splits "<what> [in <chat>]", failing when "in" names no chat.
func withChat(args string, max int) (what, chat string, err error) {
	before, after, ok := cutChat(args)
	if !ok {
		return args, "", nil
	}
	if after == "" {
		return "", "", &ArgError{Arg: args, Max: max, Err: ErrMissingChat}
	}
	return before, after, nil
}

// beforeChat is args without any "in <chat>".
func beforeChat(args string) string {
	before, _, _ := cutChat(args)
	return before
}

// parseCount reads N (default 1) within 1..max; "3条" is 3.
func parseCount(countPart string, max int) (int, error) {
	if countPart == "" {
		return 1, nil
	}
	count := strings.TrimSuffix(fold(countPart), "条")
	if strings.ContainsFunc(count, unicode.IsSpace) {
		return 0, &ArgError{Arg: countPart, Max: max, Err: ErrNotNumber}
	}
	n, err := strconv.Atoi(count)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange) {
			return 0, &ArgError{Arg: countPart, Max: max, Err: ErrOutOfRange}
		}
		return 0, &ArgError{Arg: countPart, Max: max, Err: ErrNotNumber}
	}
	if n < 1 || n > max {
		return 0, &ArgError{Arg: countPart, Max: max, Err: ErrOutOfRange}
	}
	return n, nil
}

// zhUnits are the Chinese time units "撤回 10分钟" takes.
var zhUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"分钟", time.Minute}, {"小时", time.Hour}, {"秒钟", time.Second}, {"秒", time.Second},
	{"分", time.Minute}, {"时", time.Hour}, {"天", 24 * time.Hour},
}

// zhDuration reads whole numbers with Chinese units: "10分钟", "1小时",
// "1小时30分钟".
func zhDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(fold(s))
	var total time.Duration
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return 0, false
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s[i:])
		matched := false
		for _, u := range zhUnits {
			if rest, ok := strings.CutPrefix(s, u.suffix); ok {
				// Anything past MaxSince is too long; stop counting there so
				// that a huge number cannot wrap around into range.
				if time.Duration(n) > MaxSince/u.unit || total+time.Duration(n)*u.unit > MaxSince {
					total = MaxSince + time.Second
				} else {
					total += time.Duration(n) * u.unit
				}
				s, matched = strings.TrimSpace(rest), true
				break
			}
		}
		if !matched {
			return 0, false
		}
	}
	return total, total > 0
}

// parseSince reads a window: a Go duration ("10m", "1h", "30s", "1h30m") or
// a number with a Chinese unit, within 1s..MaxSince.
func parseSince(s string) (time.Duration, error) {
	d, ok := zhDuration(s)
	if !ok {
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(fold(s))); err != nil {
			return 0, ErrBadDuration
		}
	}
	if d < time.Second || d > MaxSince {
		return 0, ErrBadDuration
	}
	return d, nil
}

// parseRestore reads restore's arguments: "[in <chat>]".
func parseRestore(args string, max int) (Command, error) {
	what, chat, err := withChat(args, max)
	if err != nil {
		return Command{}, err
	}
	if what != "" {
		return Command{}, fmt.Errorf("%w: restore takes no arguments", ErrUnknownCommand)
	}
	return Command{Name: CmdRestore, Chat: chat}, nil
}

// cutChat splits "N in <chat>" or "N 在 <chat>" at whichever separator comes
// first: the word "in" (any case), or "在" anywhere (Chinese has no spaces).
func cutChat(s string) (before, after string, found bool) {
	at, size := -1, 0
	if i := strings.Index(s, "在"); i >= 0 {
		at, size = i, len("在")
	}
	fields := strings.Fields(s)
	for i, f := range fields {
		if fold(f) == "in" {
			if idx := indexOfField(s, i); at < 0 || idx < at {
				at, size = idx, len(f)
			}
			break
		}
	}
	if at < 0 {
		return s, "", false
	}
	return strings.TrimSpace(s[:at]), strings.TrimSpace(s[at+size:]), true
}

// indexOfField is the byte offset of the i-th blank-separated field of s.
func indexOfField(s string, i int) int {
	inField, n := false, -1
	for pos, r := range s {
		if unicode.IsSpace(r) {
			inField = false
			continue
		}
		if !inField {
			inField = true
			n++
			if n == i {
				return pos
			}
		}
	}
	return len(s)
}

// parseNoArgs accepts a command that takes no arguments.
func parseNoArgs(name string) func(string, int) (Command, error) {
	return func(args string, _ int) (Command, error) {
		if args != "" {
			return Command{}, fmt.Errorf("%w: %s takes no arguments", ErrUnknownCommand, name)
		}
		return Command{Name: name}, nil
	}
}

// DefaultRegistry is the registry of the commands of interface.md.
func DefaultRegistry() *Registry {
	r, err := NewRegistry(
		Spec{Name: CmdRecall, Aliases: []string{"撤回"}, Parse: parseRecall, Run: (*Bot).runRecall, Usages: []Usage{
			{Text: map[string]string{"en": "recall [N]", "zh": "撤回 [N]"}, Summary: templates.CommandName("recall")},
			{Text: map[string]string{"en": "recall preview N", "zh": "撤回 预览 N"}, Summary: templates.CommandName("recall-preview")},
			{Text: map[string]string{"en": "recall confirm", "zh": "撤回 确认"}, Summary: templates.CommandName("recall-confirm")},
			{Text: map[string]string{"en": "recall since 10m", "zh": "撤回 10分钟"}, Summary: templates.CommandName("recall-since")},
			{Text: map[string]string{"en": "recall tag <tag>", "zh": "撤回 标签 <标签>"}, Summary: templates.CommandName("recall-tag")},
			{Text: map[string]string{"en": "recall retry", "zh": "撤回 重试"}, Summary: templates.CommandName("recall-retry")},
			{Text: map[string]string{"en": "recall log", "zh": "撤回 记录"}, Summary: templates.CommandName("recall-log")},
			{Text: map[string]string{"en": "recall N in <chat>", "zh": "撤回 N 在 <会话>"}, Summary: templates.CommandName("recall-in")},
		}},
		Spec{Name: CmdRestore, Aliases: []string{"恢复"}, Parse: parseRestore, Run: (*Bot).runRestore, Usages: []Usage{
			{Text: map[string]string{"en": "restore", "zh": "恢复"}, Summary: templates.CommandName("restore")},
		}},
		Spec{Name: CmdChats, Aliases: []string{"会话"}, Parse: parseNoArgs(CmdChats), Run: (*Bot).runChats, Usages: []Usage{
			{Text: map[string]string{"en": "chats", "zh": "会话"}, Summary: templates.CommandName("chats")},
		}},
		Spec{Name: CmdHelp, Aliases: []string{"帮助", "?"}, Parse: parseNoArgs(CmdHelp), Run: (*Bot).runHelp, Usages: []Usage{
			{Text: map[string]string{"en": "help", "zh": "帮助"}, Summary: templates.CommandName("help")},
		}},
	)
	if err != nil {
		panic(err) // the built-in commands are fixed; a clash is a programming error
	}
	return r
}
