// Package templates holds every text the bot replies with, in English (en)
// and Chinese (zh), as Go text templates embedded in the binary and parsed
// once at start-up. A language that lacks one of the Names is a start-up
// error, never a blank reply.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Names of the replies every language must define.
const (
	Help             = "help"
	RecallDone       = "recall.done"
	RecallNothing    = "recall.nothing"
	Chats            = "chats"
	ChatsEmpty       = "chats.empty"
	RefuseRecall     = "refuse.recall"
	RefuseAdmin      = "refuse.admin"
	OnlyOneToOne     = "error.only_one_to_one"
	BadNumber        = "error.bad_number"
	OutOfRange       = "error.out_of_range"
	UnknownChat      = "error.unknown_chat"
	MissingChat      = "error.missing_chat"
	AmbiguousChat    = "error.ambiguous_chat"
	UnknownCommand   = "error.unknown_command"
	NotText          = "error.not_text"
	StoreDown        = "error.store_unavailable"
	MissingTag       = "error.missing_tag"
	BadDuration      = "error.bad_duration"
	MissingDuration  = "error.missing_duration"
	NotWhole         = "error.not_whole"
	DidYouMean       = "error.did_you_mean"
	Preview          = "recall.preview"
	NothingToConfirm = "confirm.nothing"
	RetryDone        = "retry.done"
	NothingToRetry   = "retry.nothing"
	AuditLog         = "audit.log"
	AuditEmpty       = "audit.empty"
	RestoreDone      = "restore.done"
	NothingToRestore = "restore.nothing"
	RestoreTooLate   = "restore.too_late"
	BurstNotice      = "guard.burst"
	QuoteNotMine     = "quote.not_mine"
	QuoteUntracked   = "quote.untracked"
	QuoteChoose      = "quote.choose"
	QuotePick        = "quote.pick"
	QuotaWarning     = "quota.warning"
)

// Names lists every reply a language must define.
var Names = []string{
	Help, RecallDone, RecallNothing, Chats, ChatsEmpty, RefuseRecall, RefuseAdmin,
	OnlyOneToOne, BadNumber, OutOfRange, UnknownChat, MissingChat, AmbiguousChat, UnknownCommand, NotText,
	StoreDown, MissingTag, BadDuration, MissingDuration, NotWhole, DidYouMean, Preview, NothingToConfirm, RetryDone, NothingToRetry,
	AuditLog, AuditEmpty, RestoreDone, NothingToRestore, RestoreTooLate, BurstNotice,
	QuoteNotMine, QuoteUntracked, QuoteChoose, QuotePick, QuotaWarning,
}

// Languages are the reply languages (BOT_LANG).
var Languages = []string{"en", "zh"}

// CodeName is the name of the template that explains a DingTalk error code.
func CodeName(code string) string { return "code:" + code }

// CommandName is the name of the template that summarises a command in help.
func CommandName(command string) string { return "cmd:" + command }

// Set is the parsed replies of one language.
type Set struct {
	lang string
	t    *template.Template
}

// Load parses the replies of lang and checks that every name in Names and in
// extra (such as CodeName and CommandName names) is defined.
func Load(lang string, extra ...string) (*Set, error) {
	raw, err := files.ReadFile(lang + ".tmpl")
	if err != nil {
		return nil, fmt.Errorf("templates: unknown language %q (want one of %s)", lang, strings.Join(Languages, ", "))
	}
	t, err := template.New(lang).Funcs(funcs).Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("templates: %s: %w", lang, err)
	}
	set := &Set{lang: lang, t: t}
	if missing := set.Missing(append(Names[:len(Names):len(Names)], extra...)...); len(missing) > 0 {
		return nil, fmt.Errorf("templates: %s lacks %s", lang, strings.Join(missing, ", "))
	}
	return set, nil
}

// Missing returns those of names the set does not define, in the order
// given.
func (s *Set) Missing(names ...string) []string {
	var missing []string
	for _, n := range names {
		if s.t.Lookup(n) == nil {
			missing = append(missing, n)
		}
	}
	return missing
}

// Lang is the language of the set.
func (s *Set) Lang() string { return s.lang }

// Render executes the named reply with data. The result is trimmed of
// surrounding blank space.
func (s *Set) Render(name string, data any) (string, error) {
	t := s.t.Lookup(name)
	if t == nil {
		return "", fmt.Errorf("templates: %s has no %q", s.lang, name)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("templates: %s %q: %w", s.lang, name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// Explain turns a failure into words a person understands: a code the set
// explains (such as "bot.stopped") becomes that explanation; otherwise the
// failure's own message, or "code: message" when DingTalk's words alone
// would hide the code.
func (s *Set) Explain(code, message string) string {
	return s.ExplainWith(code, message, CodeData{})
}

// CodeData is what an explanation of a code may say beyond the code.
type CodeData struct {
	// ResetsOn is the day DingTalk's monthly API quota starts again
	// (2006-01-02), for the quota codes; empty when unknown.
	ResetsOn string
}

// ExplainWith is Explain with data for the explanations that use it.
func (s *Set) ExplainWith(code, message string, data CodeData) string {
	if code != "" {
		if t := s.t.Lookup(CodeName(code)); t != nil {
			var b bytes.Buffer
			if t.Execute(&b, data) == nil {
				return strings.TrimSpace(b.String())
			}
		}
	}
	switch {
	case code != "" && message != "" && !strings.HasPrefix(code, "dingrecall."):
		return code + ": " + message
	case message != "":
		return message
	}
	return code
}

// funcs are the helpers the templates use.
var funcs = template.FuncMap{
	"add": func(a, b int) int { return a + b },
}

// HelpLine is one command in the help reply.
type HelpLine struct {
	Usage   string
	Summary string
}

// HelpData is the data of Help and UnknownCommand.
type HelpData struct {
	Commands []HelpLine
	Max      int
	Text     string // what was typed, for UnknownCommand
	// Bots are the fleet's other bots, which "for <bot>" may name; empty
	// for a bot on its own.
	Bots []string
}

// Failure is one message a recall could not take back.
type Failure struct {
	Preview string
	Reason  string
}

// RecallData is the data of RecallDone, RecallNothing, RetryDone and
// NothingToRetry.
type RecallData struct {
	Asked    int       // N as asked ("recall N"), 0 for other selections
	Found    int       // tracked messages selected and recent enough to try
	Recalled int       // of Found, recalled
	TooOld   int       // selected but too old to recall
	MaxAge   string    // RECALL_MAX_AGE, the age past which they are too old
	Chat     string    // the chat named with "in <chat>", empty for this chat
	Window   string    // "recall since": the window, such as 10m0s
	Tag      string    // "recall tag": the tag
	Failures []Failure // of Found, not recalled
	// InFlight is, of the newest Asked, how many another request was
	// recalling right now (not in Found).
	InFlight int
}

// PreviewData is the data of Preview.
type PreviewData struct {
	Asked    int      // N of "recall N"
	Since    string   // the window of "recall since", instead of N
	Tag      string   // the tag of "recall tag", instead of N
	Count    int      // messages it would take
	Chat     string   // the chat named with "in <chat>", empty for this chat
	From, To string   // send times of the oldest and newest
	Lines    []string // the first line of each, newest first
	Confirm  bool     // the recall waits for "recall confirm"
	Within   string   // how long it waits
	Quoted   bool     // "recall preview" said while quoting: Asked counts from the quoted message back
}

// QuoteLine is one of the bot's messages in QuoteChoose.
type QuoteLine struct {
	N       int    // its number in the list, from 1
	When    string // when it was sent
	Preview string // its first line
}

// QuoteData is the data of the quote replies: QuoteNotMine, QuoteUntracked,
// QuoteChoose and QuotePick.
type QuoteData struct {
	Asked  int    // N of "recall N" said while quoting; 1 for "recall"
	Window string // how close to the quoted message's time a message of the bot's must be sent
	Kept   string // LEDGER_TTL: how long the bot tracks what it sent
	// Unknown is true when DingTalk said neither the quoted message's key
	// nor when it was sent, so the bot could not look for it.
	Unknown bool
	// Lines are the bot's messages sent near the quoted one, in the order
	// sent (QuoteChoose); More counts those left out of the list, and
	// Within is how long the list waits for a pick.
	Lines  []QuoteLine
	More   int
	Within string
	// Count is how many messages the list had and Arg the number picked
	// (QuotePick).
	Count int
	Arg   string
}

// AuditLine is one audit entry in AuditLog.
type AuditLine struct {
	When, Action, Source, Who, Request string
	Done, Failed                       int
}

// AuditData is the data of AuditLog and AuditEmpty.
type AuditData struct {
	Chat    string
	Entries []AuditLine
}

// RestoreData is the data of the restore replies.
type RestoreData struct {
	Chat     string
	Total    int // messages to re-send
	Resent   int
	Window   string // RESTORE_WINDOW
	Failures []Failure
}

// BurstData is the data of BurstNotice.
type BurstData struct {
	Limit      int    // BURST_LIMIT
	RetryAfter string // when sends resume
	Recalled   bool   // messages beyond the limit are being recalled (BURST_AUTO_RECALL)
}

// QuotaData is the data of QuotaWarning.
type QuotaData struct {
	Bot      string // the bot's name
	Used     int64  // metered calls this month
	Limit    int64  // monthlyQuota
	Percent  int64  // Used as a percentage of Limit
	ResetsOn string // the first day of next month (2006-01-02)
}

// ChatLine is one chat in the Chats reply.
type ChatLine struct {
	ID    string
	Title string
	Count int
}

// ChatsData is the data of Chats.
type ChatsData struct {
	Chats []ChatLine
	// Bot names the bot whose chats these are when it is not the one
	// answering ("chats for <bot>"); empty otherwise.
	Bot string
}

// ErrorData is the data of the refusal and error replies.
type ErrorData struct {
	Nick    string // who asked
	Command string // the command asked for: "recall", "restore", ...
	Arg     string // the offending argument, or for DidYouMean what was typed
	Chat    string // the chat named
	Max     int    // RECALL_MAX
	Matches int    // chats sharing a title
	// GroupAdmins is RECALL_GROUP_ADMINS: whether a group admin may help.
	GroupAdmins bool
	// Suggestion is the command closest to what was typed (DidYouMean).
	Suggestion string
	// Known are chats the bot knows, for UnknownChat; More counts those
	// left out.
	Known []ChatLine
	More  int
}
