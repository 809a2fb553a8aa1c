package bot

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	// DefaultN is true when no N was typed and N is the default, 1.
	DefaultN bool
	// Since is the window of "recall since", 1s..MaxSince.
	Since time.Duration
	// Tag is the tag of "recall tag".
	Tag string
	// Chat is the chat named with "in <chat>", empty for this chat.
	Chat string
	// Reason is why, for "recall N <reason>" ("recall 3 wrong env"): the
	// words after N, the first holding a letter. A tombstone shows it.
	Reason string
	// Bot is the bot named with a trailing "for <bot>" ("recall 3 in ops
	// for alerts"): the command acts on what that bot sent. Empty for the
	// bot that received the command.
	Bot string
}

// Parse errors. Text that names no command, or a command with words it does
// not take, comes as *UnknownError, which wraps ErrUnknownCommand; the
// argument problems come as *ArgError, which wraps one of the others.
var (
	ErrUnknownCommand  = errors.New("unknown command")
	ErrNotNumber       = errors.New("not a number")
	ErrNotWhole        = errors.New("not a whole number")
	ErrOutOfRange      = errors.New("out of range")
	ErrMissingChat     = errors.New("no chat named after in")
	ErrBadDuration     = errors.New("not a duration")
	ErrMissingDuration = errors.New("no duration named")
	ErrMissingTag      = errors.New("no tag named")
)

// ArgError is a command argument the parser refused.
type ArgError struct {
	// Command is the canonical name of the command the argument was for.
	Command string
	// Arg is the offending argument as typed.
	Arg string
	// Max is the largest N allowed.
	Max int
	// Err is ErrNotNumber, ErrNotWhole, ErrOutOfRange, ErrMissingChat,
	// ErrBadDuration, ErrMissingDuration or ErrMissingTag.
	Err error
}

// Error describes the bad argument.
func (e *ArgError) Error() string { return fmt.Sprintf("%s: argument %q: %v", e.Command, e.Arg, e.Err) }

// Unwrap returns the sentinel in Err.
func (e *ArgError) Unwrap() error { return e.Err }

// UnknownError is text the parser did not understand: no command word, or a
// command followed by words it does not take.
type UnknownError struct {
	// Text is what was typed, without @-mentions and surrounding blanks.
	Text string
	// Suggestion is the command closest to Text, as the person would type
	// it ("recall 3" for "recal 3"); empty when nothing is close.
	Suggestion string
}

// Error names the text and the suggestion.
func (e *UnknownError) Error() string {
	if e.Suggestion == "" {
		return fmt.Sprintf("%v: %q", ErrUnknownCommand, e.Text)
	}
	return fmt.Sprintf("%v: %q (closest: %q)", ErrUnknownCommand, e.Text, e.Suggestion)
}

// Unwrap returns ErrUnknownCommand.
func (e *UnknownError) Unwrap() error { return ErrUnknownCommand }

// argsError is what a command's parser returns for arguments it does not
// take; fix is the closest arguments it does take ("" for none). Parse turns
// it into an *UnknownError with the whole suggested command.
type argsError struct {
	fix string
}

// Error says the arguments were not understood.
func (e *argsError) Error() string { return "arguments not understood" }

// Spec is one command in the registry: its names, its usage lines for help
// and how to parse its arguments. What it does is the Bot's.
type Spec struct {
	// Name is the canonical name, Aliases the other words that invoke it
	// (the Chinese ones among them). Both are matched case-insensitively.
	Name    string
	Aliases []string
	// Usages are the lines help shows for the command.
	Usages []Usage
	// Parse turns the text after the command word into a Command.
	Parse func(args string, max int) (Command, error)
	// ForBot is true for a command that may end with "for <bot>", naming
	// one of the registry's other bots (SetBots).
	ForBot bool
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
	// bots are the names "for <bot>" may give (SetBots).
	bots []string
}

// SetBots sets the bot names a trailing "for <bot>" may give. Words after
// "for" that name no bot stay part of the arguments (a reason or a chat
// title), so one bot alone parses exactly as before.
func (r *Registry) SetBots(names []string) { r.bots = slices.Clone(names) }

// cutBot splits a trailing "for <bot>" off args: the last two words, the
// first "for" and the second one of bots, both in any case (full-width
// letters too); the name returned is as bots spells it.
func cutBot(args string, bots []string) (rest, botName string) {
	f := fieldsAt(args)
	if len(f) < 2 {
		return args, ""
	}
	word, name := f[len(f)-2], f[len(f)-1]
	if fold(word.text) != "for" {
		return args, ""
	}
	// Bot names are lower-case; a phone keyboard's capital is no other bot.
	i := slices.IndexFunc(bots, func(b string) bool { return fold(b) == fold(name.text) })
	if i < 0 {
		return args, ""
	}
	return strings.TrimSpace(args[:word.at]), bots[i]
}

// nearBot is args with its trailing "for <name>" corrected, when there are
// several bots and name is not one of them but near exactly one: one edit
// away, or two from a name of six letters or more. "" otherwise, so that
// a reason such as "for me" stays a reason.
func nearBot(args string, bots []string) string {
	f := fieldsAt(args)
	if len(bots) < 2 || len(f) < 2 || fold(f[len(f)-2].text) != "for" {
		return ""
	}
	typed := fold(f[len(f)-1].text)
	match := ""
	for _, b := range bots {
		if d := distance(typed, b); d > 0 && (d == 1 || d == 2 && len([]rune(b)) >= 6) && len([]rune(typed)) >= 3 {
			if match != "" {
				return "" // near two bots: no guess
			}
			match = b
		}
	}
	if match == "" {
		return ""
	}
	return strings.TrimSpace(args[:f[len(f)-1].at]) + " " + match
}

// NewRegistry builds a registry, failing on a command without a name or
// parser, or a name or alias used twice.
func NewRegistry(specs ...Spec) (*Registry, error) {
	r := &Registry{specs: specs, words: make(map[string]*Spec)}
	for i := range r.specs {
		s := &r.specs[i]
		if s.Name == "" || s.Parse == nil {
			return nil, fmt.Errorf("command %d: needs a name and a parser", i)
		}
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

// Parse reads a command from what someone typed to the bot: leading
// @-mentions, a leading "/" and surrounding blanks are dropped, the command
// word is matched without regard to case or full-width forms, and a command
// word may be followed directly by its argument: a Chinese one by anything
// ("撤回3", "撤回在运维群"), an English one by a number ("recall1"). A chat
// name is kept exactly as typed. Empty text is help. A parsed N is always
// within 1..max. Text that names no command comes back as an *UnknownError
// suggesting the closest one.
func (r *Registry) Parse(text string, max int) (Command, error) {
	text = strings.TrimLeft(normalise(text), "/／")
	if text == "" {
		return Command{Name: CmdHelp}, nil
	}
	word, args := splitWord(text)
	s, ok := r.words[fold(word)]
	if !ok {
		word, args, s = r.glued(text)
	}
	if s == nil {
		return Command{}, &UnknownError{Text: text, Suggestion: r.suggest(text, max)}
	}
	botName := ""
	if s.ForBot {
		args, botName = cutBot(args, r.bots)
		if botName == "" {
			if near := nearBot(args, r.bots); near != "" {
				// "for deploy" with a bot called deploys is a slip, not a
				// reason: acting on the bot typed to would take the wrong
				// bot's messages.
				return Command{}, &UnknownError{Text: text, Suggestion: word + " " + near}
			}
		}
	}
	cmd, err := s.Parse(args, max)
	if err == nil && botName != "" {
		if cmd.Sub == SubConfirm {
			err = &argsError{fix: SubConfirm} // a pending recall knows its bot
		}
		cmd.Bot = botName
	}
	var ae *argsError
	if errors.As(err, &ae) {
		return Command{}, &UnknownError{Text: text, Suggestion: strings.TrimSpace(word + " " + ae.fix)}
	}
	var argErr *ArgError
	if errors.As(err, &argErr) {
		argErr.Command = s.Name
	}
	return cmd, err
}

// glued finds a command word glued to its argument: a Chinese word to
// anything ("撤回3", "撤回在运维群", where 在 stands on its own), an English
// word to a number ("recall1"). It returns the word as typed, the arguments
// and the command, or a nil command.
func (r *Registry) glued(text string) (string, string, *Spec) {
	for w, s := range r.words {
		if rest, ok := strings.CutPrefix(text, w); ok && !isASCII(w) {
			rest = strings.TrimSpace(rest)
			if after, ok := strings.CutPrefix(rest, "在"); ok {
				rest = strings.TrimSpace("在 " + after) // "撤回在运维群": the count is left out
			}
			return w, rest, s
		}
	}
	word, rest := splitWord(text)
	for i, c := range word {
		if !isDigit(c) {
			continue
		}
		if s, ok := r.words[fold(word[:i])]; ok && i > 0 {
			return word[:i], strings.TrimSpace(word[i:] + " " + rest), s
		}
		break
	}
	return "", "", nil
}

// suggest returns the command closest to text, as it would be typed: a
// recall subcommand word typed alone gets "recall" in front ("preview 3" →
// "recall preview 3"), a command word with a typo is corrected ("recal 3" →
// "recall 3", "hlep" → "help"). Arguments are kept when the corrected text
// parses, else dropped. It returns "" when no command is close.
func (r *Registry) suggest(text string, max int) string {
	word, args := splitWord(text)
	for _, w := range subWords {
		if fold(word) == w.word {
			recall := CmdRecall
			if !isASCII(w.word) {
				recall = "撤回"
			}
			if _, err := r.Parse(recall+" "+text, max); err == nil {
				return recall + " " + text
			}
			return recall + " " + w.word
		}
	}
	var words []string
	for w := range r.words {
		words = append(words, w)
	}
	// A typo glued to a number, as in "recal3", is a typo of "recall 3".
	if i := strings.IndexFunc(word, isDigit); i > 0 {
		word, args = word[:i], strings.TrimSpace(word[i:]+" "+args)
	}
	best := closest(word, words)
	if best == "" {
		return ""
	}
	fixed := strings.TrimSpace(best + " " + args)
	if _, err := r.Parse(fixed, max); err == nil {
		return fixed
	}
	return best
}

// closest returns the candidate nearest to word, allowing one typo in a word
// of up to four characters and two in a longer one; "" when none is that
// near. Ties go to the candidate that sorts first, for determinism.
func closest(word string, candidates []string) string {
	n := utf8.RuneCountInString(word)
	if n < 2 || !strings.ContainsFunc(word, unicode.IsLetter) {
		return ""
	}
	limit := 1
	if n > 4 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		d := distance(fold(word), c)
		if d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	if bestDist > limit {
		return ""
	}
	return best
}

// distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of neighbouring
// characters each count one.
func distance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

// fold lower-cases s and turns full-width forms into ASCII, for matching
// command words and numbers.
func fold(s string) string { return strings.ToLower(width.Fold.String(s)) }

// cutFolded cuts prefix off s when s folds to prefix followed by more, and
// returns the rest exactly as typed.
func cutFolded(s, prefix string) (string, bool) {
	for i := range s {
		switch f := fold(s[:i]); {
		case f == prefix:
			return s[i:], true
		case len(f) > len(prefix):
			return "", false
		}
	}
	return "", fold(s) == prefix
}

// isDigit reports whether c is a decimal digit, ASCII or full-width.
func isDigit(c rune) bool { return ('0' <= c && c <= '9') || ('０' <= c && c <= '９') }

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
// "3"; the Chinese words may be glued to what follows ("预览3"), the English
// ones to a number ("preview3"). It also returns the word as typed.
func cutSub(args string) (sub, word, rest string) {
	first, after := splitWord(args)
	for _, w := range subWords {
		if fold(first) == w.word {
			return w.sub, w.word, after
		}
		if r, ok := strings.CutPrefix(args, w.word); ok && !isASCII(w.word) {
			return w.sub, w.word, strings.TrimSpace(r)
		}
		if r, ok := cutFolded(first, w.word); ok && r != "" && isDigit([]rune(r)[0]) {
			return w.sub, w.word, strings.TrimSpace(r + " " + after)
		}
	}
	return "", "", args
}

// parseRecall reads recall's arguments: "[N] [in <chat>]", "preview N [in
// <chat>]", "confirm", "since <duration> [in <chat>]", "<duration>" with a
// Chinese unit ("10分钟"), "tag <tag> [in <chat>]", "retry [in <chat>]" and
// "log [in <chat>]".
func parseRecall(args string, max int) (Command, error) {
	sub, subWord, rest := cutSub(args)
	if _, ok := zhDuration(beforeChat(args)); sub == "" && ok {
		sub, rest = SubSince, args // "撤回 10分钟"
	}
	cmd := Command{Name: CmdRecall, Sub: sub}
	switch sub {
	case SubConfirm:
		if rest != "" {
			return Command{}, &argsError{fix: subWord}
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
				return Command{}, &argsError{fix: strings.TrimSpace(subWord + " " + inChat(chat))}
			}
		}
		cmd.Chat = chat
		return cmd, nil
	case SubSince:
		span, chat, err := withChat(rest, max)
		if err != nil {
			return Command{}, err
		}
		if span == "" {
			return Command{}, &ArgError{Arg: rest, Max: max, Err: ErrMissingDuration}
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
	if first, why, ok := countAndReason(count); ok {
		if cmd.N, err = parseCount(first, max); err != nil {
			return Command{}, err
		}
		cmd.Reason = why
		return cmd, nil
	}
	if cmd.N, err = parseCount(count, max); err != nil {
		if fix := subTypo(count); fix != "" && errors.Is(err, ErrNotNumber) {
			return Command{}, &argsError{fix: strings.TrimSpace(fix + " " + inChat(chat))}
		}
		return Command{}, err
	}
	cmd.DefaultN = count == ""
	return cmd, nil
}

// countAndReason splits "N <reason>": a number (its first character a
// digit) followed by words on the same line, the first starting with no
// digit and holding a letter ("3 wrong env", "3 环境错了"), so that "3 4" and
// "3 42x" stay bad numbers, "three x" a typo, and a second line or a control
// or formatting character (a bidi override) refuses the whole command.
func countAndReason(args string) (count, reason string, ok bool) {
	first, why := splitWord(args)
	if why == "" || first == "" || !isDigit([]rune(first)[0]) || isDigit([]rune(why)[0]) {
		return "", "", false
	}
	if strings.ContainsFunc(args, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
		return "", "", false
	}
	if word, _ := splitWord(why); !strings.ContainsFunc(word, unicode.IsLetter) {
		return "", "", false
	}
	return first, why, true
}

// subTypo returns args with its first word corrected to the recall
// subcommand word it is a typo of ("previw 3" → "preview 3"), or "".
func subTypo(args string) string {
	first, rest := splitWord(args)
	words := make([]string, len(subWords))
	for i, w := range subWords {
		words[i] = w.word
	}
	if best := closest(first, words); best != "" {
		return strings.TrimSpace(best + " " + rest)
	}
	return ""
}

// inChat is " in <chat>" for a named chat, else "".
func inChat(chat string) string {
	if chat == "" {
		return ""
	}
	return "in " + chat
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

// parseCount reads N (default 1) within 1..max; "3条" is 3. A fraction
// ("1.5") is refused as not whole, anything else that is no integer as not a
// number.
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
		if f, ferr := strconv.ParseFloat(count, 64); ferr == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && f != math.Trunc(f) {
			return 0, &ArgError{Arg: countPart, Max: max, Err: ErrNotWhole}
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
		return Command{}, &argsError{fix: inChat(chat)}
	}
	return Command{Name: CmdRestore, Chat: chat}, nil
}

// cutChat splits "N in <chat>" or "N 在 <chat>" at whichever separator comes
// first: the word "in" (any case); "在" as a word of its own; or "在" right
// after a count or time span ("撤回2在运维群", "撤回10分钟在运维群"). A 在
// inside a word ("现在发布", "release-在线") separates nothing.
func cutChat(s string) (before, after string, found bool) {
	at, size := -1, 0
	for i, f := range fieldsAt(s) {
		if fold(f.text) == "in" || f.text == "在" {
			at, size = f.at, len(f.text)
			break
		}
		// 在 glued to a count or time span: only in the first word.
		if j := strings.Index(f.text, "在"); i == 0 && j > 0 && isArgument(f.text[:j]) {
			at, size = f.at+j, len("在")
			break
		}
	}
	if at < 0 {
		return s, "", false
	}
	return strings.TrimSpace(s[:at]), strings.TrimSpace(s[at+size:]), true
}

// isArgument reports whether s reads as a count ("2", "3条") or a time span
// ("10分钟", "10m"), after which a glued 在 starts a chat.
func isArgument(s string) bool {
	if _, ok := zhDuration(s); ok {
		return true
	}
	f := strings.TrimSuffix(fold(s), "条")
	if _, err := strconv.Atoi(f); err == nil {
		return true
	}
	_, err := time.ParseDuration(f)
	return err == nil
}

// field is one blank-separated word of a string and its byte offset.
type field struct {
	text string
	at   int
}

// fieldsAt splits s into blank-separated words with their byte offsets.
func fieldsAt(s string) []field {
	var out []field
	start := -1
	for pos, r := range s {
		switch {
		case unicode.IsSpace(r) && start >= 0:
			out = append(out, field{s[start:pos], start})
			start = -1
		case !unicode.IsSpace(r) && start < 0:
			start = pos
		}
	}
	if start >= 0 {
		out = append(out, field{s[start:], start})
	}
	return out
}

// parseNoArgs accepts a command that takes no arguments.
func parseNoArgs(name string) func(string, int) (Command, error) {
	return func(args string, _ int) (Command, error) {
		if args != "" {
			return Command{}, &argsError{}
		}
		return Command{Name: name}, nil
	}
}

// DefaultRegistry is the registry of the commands of interface.md.
func DefaultRegistry() *Registry {
	r, err := NewRegistry(
		Spec{Name: CmdRecall, Aliases: []string{"撤回"}, Parse: parseRecall, ForBot: true, Usages: []Usage{
			{Text: map[string]string{"en": "recall [N]", "zh": "撤回 [N]"}, Summary: templates.CommandName("recall")},
			{Text: map[string]string{"en": "recall [N], quoting a message", "zh": "撤回 [N]（引用一条消息）"}, Summary: templates.CommandName("recall-quote")},
			{Text: map[string]string{"en": "recall preview N", "zh": "撤回 预览 N"}, Summary: templates.CommandName("recall-preview")},
			{Text: map[string]string{"en": "recall confirm", "zh": "撤回 确认"}, Summary: templates.CommandName("recall-confirm")},
			{Text: map[string]string{"en": "recall since 10m", "zh": "撤回 10分钟"}, Summary: templates.CommandName("recall-since")},
			{Text: map[string]string{"en": "recall tag <tag>", "zh": "撤回 标签 <标签>"}, Summary: templates.CommandName("recall-tag")},
			{Text: map[string]string{"en": "recall retry", "zh": "撤回 重试"}, Summary: templates.CommandName("recall-retry")},
			{Text: map[string]string{"en": "recall log", "zh": "撤回 记录"}, Summary: templates.CommandName("recall-log")},
			{Text: map[string]string{"en": "recall N in <chat>", "zh": "撤回 N 在 <会话>"}, Summary: templates.CommandName("recall-in")},
		}},
		Spec{Name: CmdRestore, Aliases: []string{"恢复"}, Parse: parseRestore, ForBot: true, Usages: []Usage{
			{Text: map[string]string{"en": "restore", "zh": "恢复"}, Summary: templates.CommandName("restore")},
		}},
		Spec{Name: CmdChats, Aliases: []string{"会话"}, Parse: parseNoArgs(CmdChats), ForBot: true, Usages: []Usage{
			{Text: map[string]string{"en": "chats", "zh": "会话"}, Summary: templates.CommandName("chats")},
		}},
		Spec{Name: CmdHelp, Aliases: []string{"帮助", "?"}, Parse: parseNoArgs(CmdHelp), Usages: []Usage{
			{Text: map[string]string{"en": "help", "zh": "帮助"}, Summary: templates.CommandName("help")},
		}},
	)
	if err != nil {
		panic(err) // the built-in commands are fixed; a clash is a programming error
	}
	return r
}
