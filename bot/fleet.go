package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// DefaultBot is the name of the bot the single-app settings describe
// (DINGTALK_APP_KEY and the others), and of a bot whose Config.Name is
// empty.
const DefaultBot = "default"

// Errors of a fleet that cannot tell which bot is meant.
var (
	// ErrUnknownBot means a request named a bot the fleet does not have.
	ErrUnknownBot = errors.New("no such bot")
	// ErrBotRequired means a request named no bot, and the fleet has
	// several and none called DefaultBot.
	ErrBotRequired = errors.New("a bot must be named")
)

// BotError is a bot name a fleet could not resolve; it wraps ErrUnknownBot
// or ErrBotRequired and lists the bots there are.
type BotError struct {
	// Name is the name asked for, "" when none was.
	Name string
	// Known are the fleet's bots.
	Known []string
	// Err is ErrUnknownBot or ErrBotRequired.
	Err error
}

// Error names the bot and the known ones.
func (e *BotError) Error() string {
	if errors.Is(e.Err, ErrBotRequired) {
		return fmt.Sprintf("name a bot: one of %s", strings.Join(e.Known, ", "))
	}
	return fmt.Sprintf("no bot is called %q: want one of %s", e.Name, strings.Join(e.Known, ", "))
}

// Unwrap returns ErrUnknownBot or ErrBotRequired.
func (e *BotError) Unwrap() error { return e.Err }

// Fleet is the bots of one dingrecall (one per DingTalk app), by name. It
// serves the HTTP API and the drop-ins: each call goes to the bot it names
// (Outgoing.Bot, Selection.Bot, a bot argument), or to DefaultBot (or the
// only bot) when it names none. Every bot keeps its messages apart in the
// shared store, so a call never touches another bot's messages.
type Fleet struct {
	mu    sync.RWMutex
	names []string // in the order given to NewFleet
	bots  map[string]*Bot
}

// NewFleet returns a fleet that will hold the bots called names (Add
// fills it in). A bot's "for <bot>" may name any of them.
func NewFleet(names ...string) *Fleet {
	return &Fleet{names: slices.Clone(names), bots: make(map[string]*Bot, len(names))}
}

// Add puts b into the fleet under its Config.Name, one of the names the
// fleet was made with.
func (f *Fleet) Add(b *Bot) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := b.cfg.Name
	switch {
	case !slices.Contains(f.names, name):
		return fmt.Errorf("%w: bot %q is not one of the fleet's %v", ErrConfig, name, f.names)
	case f.bots[name] != nil:
		return fmt.Errorf("%w: bot %q is in the fleet already", ErrConfig, name)
	}
	f.bots[name] = b
	return nil
}

// Names returns the fleet's bot names in order.
func (f *Fleet) Names() []string { return slices.Clone(f.names) }

// Bot returns the bot called name.
func (f *Fleet) Bot(name string) (*Bot, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, ok := f.bots[name]
	return b, ok
}

// Resolve returns the bot called name, in any case; for "", DefaultBot or
// the only bot. It fails with a *BotError.
func (f *Fleet) Resolve(name string) (*Bot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if name == "" {
		if b, ok := f.bots[DefaultBot]; ok {
			return b, nil
		}
		if len(f.bots) == 1 {
			for _, b := range f.bots {
				return b, nil
			}
		}
		return nil, &BotError{Known: f.names, Err: ErrBotRequired}
	}
	// Bot names are lower-case (botsfile.NameRE): "Alerts" is alerts.
	if b, ok := f.bots[strings.ToLower(name)]; ok {
		return b, nil
	}
	return nil, &BotError{Name: name, Known: f.names, Err: ErrUnknownBot}
}

// all returns the fleet's bots in order.
func (f *Fleet) all() []*Bot {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*Bot, 0, len(f.bots))
	for _, n := range f.names {
		if b := f.bots[n]; b != nil {
			out = append(out, b)
		}
	}
	return out
}

// Send sends o through the bot o.Bot names (Bot.Send); the message it
// returns, when it has one, names that bot in its Bot field, as the
// fleet's List does.
func (f *Fleet) Send(ctx context.Context, o Outgoing) (store.Message, error) {
	b, err := f.Resolve(o.Bot)
	if err != nil {
		return store.Message{}, err
	}
	m, err := b.Send(ctx, o)
	if m.Key != "" {
		m.Bot = b.cfg.Name
	}
	return m, err
}

// Preview returns what Recall would take (Bot.Preview), from the bot
// sel.Bot names.
func (f *Fleet) Preview(ctx context.Context, sel Selection) ([]store.Message, error) {
	b, err := f.Resolve(sel.Bot)
	if err != nil {
		return nil, err
	}
	return b.Preview(ctx, sel)
}

// Recall recalls the selection (Bot.Recall) through the bot sel.Bot names.
func (f *Fleet) Recall(ctx context.Context, sel Selection, by Actor) (Outcome, error) {
	b, err := f.Resolve(sel.Bot)
	if err != nil {
		return Outcome{}, err
	}
	return b.Recall(ctx, sel, by)
}

// TooOldReason is the failure reason of a message older than MaxAge; the
// bots share the setting.
func (f *Fleet) TooOldReason() string {
	if all := f.all(); len(all) > 0 {
		return all[0].TooOldReason()
	}
	return ""
}

// List returns a chat's tracked messages (Bot.List) of the bot called
// name, or of every bot merged newest first when name is "".
func (f *Fleet) List(ctx context.Context, name, chatID string, limit int) ([]store.Message, error) {
	return merge(f, name, limit, func(b *Bot) ([]store.Message, error) { return b.List(ctx, chatID, limit) },
		func(m store.Message) time.Time { return m.SentAt })
}

// AuditLog returns the audit entries (Bot.AuditLog) of the bot called
// name, or of every bot merged newest first when name is "".
func (f *Fleet) AuditLog(ctx context.Context, name, chatID string, limit int) ([]store.AuditEntry, error) {
	return merge(f, name, limit, func(b *Bot) ([]store.AuditEntry, error) { return b.AuditLog(ctx, chatID, limit) },
		func(e store.AuditEntry) time.Time { return e.At })
}

// merge is what read returns for the bot called name, or for every bot
// merged newest first (by at) when name is ""; at most limit items, or all
// when limit <= 0.
func merge[T any](f *Fleet, name string, limit int, read func(*Bot) ([]T, error), at func(T) time.Time) ([]T, error) {
	bots, err := f.pick(name)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, b := range bots {
		items, err := read(b)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	if len(bots) > 1 {
		slices.SortStableFunc(out, func(a, b T) int { return at(b).Compare(at(a)) })
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// AddAudit writes e into the audit log of the bot e.Bot names (the
// drop-ins' sends).
func (f *Fleet) AddAudit(ctx context.Context, e store.AuditEntry) error {
	b, err := f.Resolve(e.Bot)
	if err != nil {
		return err
	}
	return b.audit.AddAudit(ctx, e)
}

// Ping reports whether the store behind the bots can serve requests: the
// bots of a fleet share one store (through store/scoped views), so one
// bot's ping answers for all.
func (f *Fleet) Ping(ctx context.Context) error {
	if all := f.all(); len(all) > 0 {
		return all[0].Ping(ctx)
	}
	return nil
}

// pick is the bot called name, or every bot for "".
func (f *Fleet) pick(name string) ([]*Bot, error) {
	if name == "" {
		return f.all(), nil
	}
	b, err := f.Resolve(name)
	if err != nil {
		return nil, err
	}
	return []*Bot{b}, nil
}

// keeper is the bot whose States keep what req leaves for the person's next
// command (a pending recall, a list of quoted candidates): the bot typed
// to, which takes that next command, also when it handed req to b. What
// it keeps names b (owner) when b is not the keeper.
func (b *Bot) keeper(req Request) (keeper *Bot, owner string) {
	if k, ok := b.fleetBot(req.Via); ok && k != b {
		return k, b.cfg.Name
	}
	return b, ""
}

// fleetBot is the bot of b's fleet called name; false when there is none
// (or no fleet, or no name).
func (b *Bot) fleetBot(name string) (*Bot, bool) {
	if b.fleet == nil || name == "" {
		return nil, false
	}
	return b.fleet.Bot(name)
}

// peers are the other bots of b's fleet.
func (b *Bot) peers() []*Bot {
	if b.fleet == nil {
		return nil
	}
	var out []*Bot
	for _, p := range b.fleet.all() {
		if p != b {
			out = append(out, p)
		}
	}
	return out
}

// delegate hands an admin's command that ends "for <name>" (recall,
// restore, chats) to the bot called name, which runs it on its own
// messages; the reply goes out through b, which was asked.
func (b *Bot) delegate(ctx context.Context, req Request, name string) (Reply, error) {
	if !b.cfg.Policy.IsAdmin(req.Event.StaffID) {
		return Reply{}, errAdminOtherBot
	}
	peer, ok := b.fleetBot(name)
	if !ok {
		return Reply{}, &BotError{Name: name, Err: ErrUnknownBot}
	}
	req.Command.Bot = ""
	req.Delegated, req.Via = true, b.cfg.Name
	req.Log = req.Log.WithField("for_bot", name)
	return peer.commands[req.Command.Name](ctx, req)
}
