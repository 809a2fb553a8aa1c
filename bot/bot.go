package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// ErrConfig is returned, wrapped, by New for missing dependencies and bad
// settings; the error names each of them.
var ErrConfig = errors.New("bot: invalid configuration")

// Deps are the services a Bot works with. DingTalk, Ledger, Deduper, Audit,
// States and Templates are required.
type Deps struct {
	// DingTalk sends and recalls; *dingtalk.Client has what it takes.
	DingTalk DingTalk
	// Cards, optional, delivers and updates interactive cards (see
	// CardMessage); *dingtalk.Client has what it takes. Without it the bot
	// sends no cards.
	Cards CardAPI
	// Ledger records every message the bot sends.
	Ledger store.Ledger
	// Deduper drops a callback msgId seen within DedupWindow.
	Deduper store.Deduper
	// LocalDeduper, optional, de-duplicates in this process while Deduper
	// (a shared store) is unavailable, so that commands still run and can
	// answer that the store is down; without it such callbacks answer busy
	// and DingTalk delivers them again.
	LocalDeduper store.Deduper
	// Audit is the audit log recalls and restores write and "recall retry",
	// "recall log" and "restore" read.
	Audit store.Audit
	// States keeps pending confirmations, guard windows and failure reports,
	// shared by replicas.
	States store.States
	// Templates are the replies, loaded with TemplateNames().
	Templates *templates.Set
	// Log receives the bot's log lines; nil for logrus's standard logger.
	Log logrus.FieldLogger
	// Observer is told of every command and recall; nil for none.
	Observer Observer
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// Holder names this process in the reservations it writes ahead of
	// each send, for operators; "" for the host name and process ID.
	Holder string
	// Fleet, when set, is the set of bots this one belongs to: an admin's
	// "recall ... for <bot>" is handed to the bot it names. New does not
	// add the bot to it (Fleet.Add does).
	Fleet *Fleet
}

// Config is the bot's behaviour. New refuses values out of range; a zero
// value marked as defaulted takes that default.
type Config struct {
	// Name is the bot's name in a fleet (BOTS_FILE); "" for DefaultBot.
	Name string
	// RecallMax is the largest N one command may recall, at least 1
	// (RECALL_MAX).
	RecallMax int
	// ConfirmOver is the largest N "recall N" takes without asking for
	// "recall confirm"; 0 for RecallMax (RECALL_CONFIRM_OVER).
	ConfirmOver int
	// ReplyTTL has command replies recalled after it; 0 keeps them. It must
	// be below LedgerTTL (REPLY_TTL).
	ReplyTTL time.Duration
	// LedgerTTL is how long the ledger tracks a message; 0 for
	// store.DefaultTTL (LEDGER_TTL). A reply that reports failures stays
	// about this long (at most MaxAge) unless they are resolved first.
	LedgerTTL time.Duration
	// MaxAge is the age past which a message is not sent to DingTalk for
	// recall; 0 for 24 hours, at most 24 hours (RECALL_MAX_AGE).
	MaxAge time.Duration
	// RestoreWindow is how long after a recall "restore" may undo it
	// (RESTORE_WINDOW).
	RestoreWindow time.Duration
	// Policy says who may recall where.
	Policy Policy
	// CoolAppCode, when set, goes with private chat and group messages
	// (DINGTALK_COOL_APP_CODE); private chat messages need it.
	CoolAppCode string
	// DuplicateWindow refuses the same API send to the same chat within it;
	// 0 turns the duplicate guard off (DUPLICATE_WINDOW).
	DuplicateWindow time.Duration
	// BurstLimit is the most API sends one chat takes per minute; 0 turns
	// the burst guard off (BURST_LIMIT).
	BurstLimit int
	// BurstAutoRecall recalls the messages beyond BurstLimit that got
	// through anyway (BURST_AUTO_RECALL).
	BurstAutoRecall bool
	// Workers is how many commands run at once, at least 1 (WORKERS).
	Workers int
	// QueueSize is how many commands wait for a worker, at least 1
	// (QUEUE_SIZE).
	QueueSize int
	// AutoRecallEvery is how often RunAutoRecall looks for messages whose
	// TTL ran out; 0 for a second.
	AutoRecallEvery time.Duration
	// Ack is how commands are acknowledged: with replies, reactions or
	// both; "" for AckReply (ACK_STYLE).
	Ack AckStyle
	// CardTemplate is the card template of the bot's cards
	// (CARD_TEMPLATE_ID); empty for DingTalk's built-in card.
	CardTemplate string
	// CardButtons puts buttons on cards (a Recall button, a preview card's
	// Confirm and Cancel): button clicks reach the bot (AcceptCardClick).
	CardButtons bool
	// RecallMode is ModeRecall or ModeTombstone (RECALL_MODE); empty for
	// ModeRecall.
	RecallMode string
	// Lease is the ledger's claim lease; 0 for store.DefaultLease. A recall
	// renews its claims every third of it while it works, and RunSettler
	// settles reservations older than two leases, every lease.
	Lease time.Duration
	// WorkBudget is how long an admitted API send or recall (Send, Recall)
	// may take, on a context detached from its caller so that a caller who
	// hangs up cannot leave it half done; 0 for DefaultWorkBudget. It
	// should fit a recall of RecallMax keys at DingTalk's rate limit.
	WorkBudget time.Duration
}

// DefaultWorkBudget is Config.WorkBudget's default.
const DefaultWorkBudget = 2 * time.Minute

// validate checks c and fills in its defaults.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.Name == "" {
		c.Name = DefaultBot
	}
	if c.RecallMax < 1 {
		bad("RecallMax is %d: want at least 1", c.RecallMax)
	}
	if c.ConfirmOver < 0 {
		bad("ConfirmOver is %d: want 0 or more", c.ConfirmOver)
	} else if c.ConfirmOver == 0 {
		c.ConfirmOver = c.RecallMax
	}
	if c.LedgerTTL < 0 {
		bad("LedgerTTL is %v: want 0 or more", c.LedgerTTL)
	} else if c.LedgerTTL == 0 {
		c.LedgerTTL = store.DefaultTTL
	}
	if c.ReplyTTL < 0 || c.ReplyTTL >= c.LedgerTTL {
		bad("ReplyTTL is %v: want 0 or more and less than LedgerTTL (%v)", c.ReplyTTL, c.LedgerTTL)
	}
	if c.MaxAge < 0 || c.MaxAge > 24*time.Hour {
		bad("MaxAge is %v: want 0 (24h) up to 24h", c.MaxAge)
	} else if c.MaxAge == 0 {
		c.MaxAge = 24 * time.Hour
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"RestoreWindow", c.RestoreWindow}, {"DuplicateWindow", c.DuplicateWindow}, {"AutoRecallEvery", c.AutoRecallEvery},
		{"Lease", c.Lease}, {"WorkBudget", c.WorkBudget},
	} {
		if d.d < 0 {
			bad("%s is %v: want 0 or more", d.name, d.d)
		}
	}
	if c.AutoRecallEvery == 0 {
		c.AutoRecallEvery = time.Second
	}
	if c.Lease == 0 {
		c.Lease = store.DefaultLease
	}
	if c.WorkBudget == 0 {
		c.WorkBudget = DefaultWorkBudget
	}
	if c.BurstLimit < 0 {
		bad("BurstLimit is %d: want 0 or more", c.BurstLimit)
	}
	if c.Workers < 1 {
		bad("Workers is %d: want at least 1", c.Workers)
	}
	if c.QueueSize < 1 {
		bad("QueueSize is %d: want at least 1", c.QueueSize)
	}
	switch c.Ack {
	case "":
		c.Ack = AckReply
	case AckReply, AckReaction, AckBoth:
	default:
		bad("Ack is %q: want %s, %s or %s", c.Ack, AckReaction, AckReply, AckBoth)
	}
	switch c.RecallMode {
	case "":
		c.RecallMode = ModeRecall
	case ModeRecall, ModeTombstone:
	default:
		bad("RecallMode is %q: want %s or %s", c.RecallMode, ModeRecall, ModeTombstone)
	}
	return errors.Join(errs...)
}

// validate checks that the required dependencies are there and fills in
// the optional ones.
func (d *Deps) validate() error {
	var errs []error
	for _, dep := range []struct {
		name    string
		missing bool
	}{
		{"DingTalk", d.DingTalk == nil}, {"Ledger", d.Ledger == nil}, {"Deduper", d.Deduper == nil},
		{"Audit", d.Audit == nil}, {"States", d.States == nil}, {"Templates", d.Templates == nil},
	} {
		if dep.missing {
			errs = append(errs, fmt.Errorf("%w: no %s", ErrConfig, dep.name))
		}
	}
	if d.Templates != nil {
		if missing := d.Templates.Missing(TemplateNames()...); len(missing) > 0 {
			errs = append(errs, fmt.Errorf("%w: the %s templates lack %v", ErrConfig, d.Templates.Lang(), missing))
		}
	}
	if d.Log == nil {
		d.Log = logrus.StandardLogger()
	}
	if d.Observer == nil {
		d.Observer = nopObserver{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Holder == "" {
		d.Holder = defaultHolder()
	}
	return errors.Join(errs...)
}

// Observer is told what the bot does, for metrics. Its methods must be safe
// for concurrent use and quick.
type Observer interface {
	// Command is told of every command: its name ("unknown" when none
	// parsed) and outcome (ok, refused, invalid, unavailable).
	Command(name, outcome string)
	// Recall is told of every recall's count of recalled and failed keys.
	Recall(recalled, failed int)
	// Unsettled is told of every reservation settlement reports: a send
	// whose outcome the ledger never learnt (RunSettler).
	Unsettled()
	// PendingReservations is told, at every settlement pass, how many
	// reservations are pending: sends under way and leftovers not yet
	// settled.
	PendingReservations(n int)
}

// nopObserver is the Observer of a bot without one.
type nopObserver struct{}

func (nopObserver) Command(string, string)  {}
func (nopObserver) Recall(int, int)         {}
func (nopObserver) Unsettled()              {}
func (nopObserver) PendingReservations(int) {}

// Bot is dingrecall's domain: it answers chat commands that callbacks bring
// (Accept), sends the API's messages through its guards (Send), recalls
// (Preview, Recall), recalls messages whose TTL ran out (RunAutoRecall),
// and reads the ledger and the audit log for the API (List, AuditLog,
// Ping). Build it with New; stop it with Close.
type Bot struct {
	cfg    Config
	ledger store.Ledger
	audit  store.Audit
	states store.States
	tpl    *templates.Set
	log    logrus.FieldLogger
	obs    Observer
	now    func() time.Time
	// reactor puts and takes off the acknowledgement reactions.
	reactor Reactor
	// fleet is Deps.Fleet, nil for a bot on its own.
	fleet *Fleet

	reg      *Registry
	commands map[string]func(context.Context, Request) (Reply, error)

	sender   *sender
	recaller *recaller
	cards    *cardBook // nil without Deps.Cards
	guard    *guard
	pool     *pool
	auto     *autoRecaller
	settler  *settler
	intake   *intake

	// work is the context commands and auto-recall passes run with: it
	// outlives the callers, so work accepted before shutdown finishes, and
	// Close cancels it when its deadline passes.
	work       context.Context
	cancelWork context.CancelFunc
}

// New builds the bot and its parts (sender, recaller, guards, worker pool,
// auto-recall, intake) from deps and cfg, and starts the worker pool; Close
// stops it. It fails, wrapping ErrConfig, on a missing dependency or a bad
// setting, and then starts nothing.
func New(deps Deps, cfg Config) (*Bot, error) {
	if err := errors.Join(deps.validate(), cfg.validate()); err != nil {
		return nil, err
	}
	b := &Bot{
		cfg: cfg, ledger: deps.Ledger, audit: deps.Audit, states: deps.States, tpl: deps.Templates,
		log: deps.Log, obs: deps.Observer, now: deps.Now, reg: DefaultRegistry(), reactor: deps.DingTalk,
		fleet: deps.Fleet,
	}
	if deps.Fleet != nil {
		b.reg.SetBots(deps.Fleet.Names())
	}
	b.commands = map[string]func(context.Context, Request) (Reply, error){
		CmdRecall: b.runRecall, CmdRestore: b.runRestore, CmdChats: b.runChats, CmdHelp: b.runHelp,
	}
	for _, s := range b.reg.Specs() {
		if b.commands[s.Name] == nil {
			panic("bot: command " + s.Name + " has no run func") // the built-in commands are fixed
		}
	}
	b.cards = b.newCardBook(deps)
	b.sender = &sender{dt: cardDingTalk{DingTalk: deps.DingTalk, cards: b.cards}, ledger: deps.Ledger, coolAppCode: cfg.CoolAppCode, holder: deps.Holder, now: deps.Now, log: deps.Log}
	b.recaller = &recaller{dt: deps.DingTalk, ledger: deps.Ledger, audit: deps.Audit, obs: deps.Observer, maxAge: cfg.MaxAge,
		renewEvery: max(cfg.Lease/3, time.Millisecond), now: deps.Now, log: deps.Log}
	b.recaller.cards = b.cards
	b.settler = &settler{ledger: deps.Ledger, audit: deps.Audit, obs: deps.Observer, lease: cfg.Lease, now: deps.Now, log: deps.Log}
	b.guard = &guard{cfg: cfg, sender: b.sender, ledger: deps.Ledger, states: deps.States, recaller: b.recaller, tpl: deps.Templates, now: deps.Now, log: deps.Log}
	b.auto = newAutoRecaller(deps.Ledger, b.recaller, deps.Now, deps.Log)
	in := newIntake(nil, deps.Deduper, deps.LocalDeduper, deps.Log, b.handle)
	// The workers start last, so that no error path leaves them running.
	b.work, b.cancelWork = context.WithCancel(context.Background())
	b.pool = newPool(b.work, cfg.Workers, cfg.QueueSize)
	in.pool = b.pool
	b.intake = in
	return b, nil
}

// TemplateNames lists the templates the bot needs beyond templates.Names: a
// summary of every command and an explanation of every DingTalk error code
// it may report.
func TemplateNames() []string {
	var names []string
	for _, s := range DefaultRegistry().Specs() {
		for _, u := range s.Usages {
			names = append(names, u.Summary)
		}
	}
	codes := append(dingtalk.SeedCodes[:len(dingtalk.SeedCodes):len(dingtalk.SeedCodes)],
		dingtalk.CodeQPSLimitAppAndAPI, dingtalk.CodeQPSLimitAPI, dingtalk.CodeOrgQuota,
		dingtalk.CodeInvalidAuthentication, dingtalk.CodeInvalidClient, dingtalk.CodeTransport,
		dingtalk.CodeOrgQuotaLegacy, dingtalk.CodeBanPage)
	for _, c := range codes {
		names = append(names, templates.CodeName(c))
	}
	return append(names, templates.CardNames...)
}

// Accept takes a callback, with the ID of the request that brought it (for
// the logs; "" when none): IntakeDuplicate for a msgId seen within
// DedupWindow (nothing to do), IntakeOK once its command is queued, or
// IntakeBusy with ErrBusy (or ErrClosed) when the worker pool cannot take
// it, in which case the msgId is forgotten so that DingTalk's redelivery
// runs.
func (b *Bot) Accept(ctx context.Context, cb *dingtalk.Callback, requestID string) (string, error) {
	return b.intake.accept(ctx, cb, requestID)
}

// Send sends o through the guards and the sender, which reserves it in the
// ledger before calling DingTalk and records it after. Once admitted it
// runs detached from ctx's cancellation, within WorkBudget, so that a
// caller who hangs up cannot leave a message posted but untracked. A guard
// refuses with a *DuplicateError or a *BurstError; the send fails wrapping
// ErrNotReserved (nothing sent), ErrDingTalk, ErrRecipient, ErrNoCoolApp or
// dingtalk.ErrInvalidMessage; ErrOutcomeUnknown (with ErrDingTalk) when
// DingTalk may have posted it without answering; and a message sent but not
// recorded comes back with an error wrapping ErrUntracked.
func (b *Bot) Send(ctx context.Context, o Outgoing) (store.Message, error) {
	ctx, cancel := b.detach(ctx)
	defer cancel()
	return b.guard.send(ctx, o)
}

// detach returns a context for admitted API work: it keeps ctx's values but
// not its cancellation, ends after WorkBudget, and ends when Close cancels
// the bot's work.
func (b *Bot) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.WorkBudget)
	stop := context.AfterFunc(b.work, cancel)
	return ctx, func() { stop(); cancel() }
}

// Preview returns what Recall would select, claiming nothing.
func (b *Bot) Preview(ctx context.Context, sel Selection) ([]store.Message, error) {
	return b.recaller.preview(ctx, sel)
}

// Recall claims the selected messages, recalls them, applies the result to
// the ledger (recalled keys leave it, failed ones stay with their reason,
// too old ones leave without a call to DingTalk) and writes the audit entry
// in by's name. Keys named in sel.Keys that the ledger does not hold are
// reported as failed with ReasonNotTracked. A Last selection takes the
// chat's newest Last messages still in the chat and reports those another
// request is recalling in Outcome.InFlight. Once admitted it runs detached
// from ctx's cancellation, within WorkBudget; a recall cut short fails its
// remaining keys with CodeInterrupted and leaves them tracked. An error
// means the ledger could not be read and nothing was recalled.
func (b *Bot) Recall(ctx context.Context, sel Selection, by Actor) (Outcome, error) {
	ctx, cancel := b.detach(ctx)
	defer cancel()
	return b.recaller.recall(ctx, sel, by)
}

// TooOldReason is the failure reason of a message older than MaxAge.
func (b *Bot) TooOldReason() string { return b.recaller.tooOldReason() }

// List returns the tracked messages of a chat, replies and claimed ones
// included, newest first; at most limit, or all when limit <= 0.
func (b *Bot) List(ctx context.Context, chatID string, limit int) ([]store.Message, error) {
	return b.ledger.List(ctx, chatID, limit)
}

// AuditLog returns the audit entries concerning chatID (all when empty),
// newest first; at most limit, or all when limit <= 0.
func (b *Bot) AuditLog(ctx context.Context, chatID string, limit int) ([]store.AuditEntry, error) {
	return b.audit.AuditLog(ctx, chatID, limit)
}

// Ping reports whether the ledger can serve requests (readiness).
func (b *Bot) Ping(ctx context.Context) error { return b.ledger.Ping(ctx) }

// RunAutoRecall recalls the messages whose TTL ran out (API sends with a
// ttl, command replies under ReplyTTL) every AutoRecallEvery until ctx
// ends, on the caller's goroutine. A pass under way when ctx ends still
// finishes its DingTalk calls and settles the ledger, unless Close cancels
// the bot's work.
func (b *Bot) RunAutoRecall(ctx context.Context) {
	b.auto.run(ctx, b.work, b.cfg.AutoRecallEvery)
}

// RunSettler settles the reservations that sends left behind (a crash
// between reserving and recording, or a send whose outcome DingTalk left
// unknown) once at once and then every Lease until ctx ends, on the
// caller's goroutine: each reservation older than two leases is taken by
// exactly one replica, reported (an error log line, Observer.Unsettled and
// an audit entry with result "unknown") and dropped.
func (b *Bot) RunSettler(ctx context.Context) {
	b.settler.run(ctx, b.cfg.Lease)
}

// Close stops taking commands and waits until every accepted one has run.
// If ctx ends first, it cancels the commands still running, waits for the
// workers to return all the same, and returns an error wrapping ctx's.
// Close is safe to call more than once.
func (b *Bot) Close(ctx context.Context) error {
	defer b.cancelWork()
	if err := b.pool.close(ctx); err != nil {
		b.cancelWork()
		_ = b.pool.close(context.Background()) // the workers end once their work is cancelled
		return fmt.Errorf("unfinished commands were cancelled: %w", err)
	}
	return nil
}

// Queued is the number of commands waiting for a worker.
func (b *Bot) Queued() int { return b.pool.queued() }
