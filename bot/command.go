package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// Command names.
const (
	CmdRecall = "recall"
	CmdChats  = "chats"
	CmdHelp   = "help"
)

// Command is a parsed chat command.
type Command struct {
	// Name is the command's canonical name (CmdRecall, CmdChats, CmdHelp).
	Name string
	// N is how many messages to recall, 1..max, for CmdRecall.
	N int
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

// parseRecall reads "[N] [in <chat>]" ("[N] [在 <chat>]").
func parseRecall(args string, max int) (Command, error) {
	cmd := Command{Name: CmdRecall, N: 1}
	countPart := args
	if before, after, ok := cutChat(args); ok {
		if after == "" {
			return Command{}, &ArgError{Arg: args, Max: max, Err: ErrMissingChat}
		}
		countPart, cmd.Chat = before, after
	}
	if countPart == "" {
		return cmd, nil
	}
	count := strings.TrimSuffix(fold(countPart), "条")
	if strings.ContainsFunc(count, unicode.IsSpace) {
		return Command{}, &ArgError{Arg: countPart, Max: max, Err: ErrNotNumber}
	}
	n, err := strconv.Atoi(count)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange) {
			return Command{}, &ArgError{Arg: countPart, Max: max, Err: ErrOutOfRange}
		}
		return Command{}, &ArgError{Arg: countPart, Max: max, Err: ErrNotNumber}
	}
	if n < 1 || n > max {
		return Command{}, &ArgError{Arg: countPart, Max: max, Err: ErrOutOfRange}
	}
	cmd.N = n
	return cmd, nil
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
			{Text: map[string]string{"en": "recall [N]", "zh": "撤回 [N]"}, Summary: "cmd:recall"},
			{Text: map[string]string{"en": "recall N in <chat>", "zh": "撤回 N 在 <会话>"}, Summary: "cmd:recall-in"},
		}},
		Spec{Name: CmdChats, Aliases: []string{"会话"}, Parse: parseNoArgs(CmdChats), Run: (*Bot).runChats, Usages: []Usage{
			{Text: map[string]string{"en": "chats", "zh": "会话"}, Summary: "cmd:chats"},
		}},
		Spec{Name: CmdHelp, Aliases: []string{"帮助", "?"}, Parse: parseNoArgs(CmdHelp), Run: (*Bot).runHelp, Usages: []Usage{
			{Text: map[string]string{"en": "help", "zh": "帮助"}, Summary: "cmd:help"},
		}},
	)
	if err != nil {
		panic(err) // the built-in commands are fixed; a clash is a programming error
	}
	return r
}
