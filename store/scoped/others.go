package scoped

import (
	"context"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// The views implement the interfaces of the stores they wrap.
var (
	_ store.Ledger  = (*Ledger)(nil)
	_ store.Ledger  = (*DeferringLedger)(nil)
	_ dueDeferrer   = (*DeferringLedger)(nil)
	_ store.Audit   = (*Audit)(nil)
	_ store.States  = (*States)(nil)
	_ store.Deduper = (*Deduper)(nil)
)

// Stores are one bot's views of the stores of a service.
type Stores struct {
	// Ledger is the bot's view of the ledger (NewLedger).
	Ledger store.Ledger
	// Audit is the bot's view of the audit log.
	Audit *Audit
	// States is the bot's view of the states.
	States *States
	// Dedup is the bot's view of the de-duplicator.
	Dedup *Deduper
}

// New returns bot's views of the stores; a nil store gets a nil view. An
// empty bot is Default. It panics when CheckName refuses bot.
func New(bot string, ledger store.Ledger, audit store.Audit, states store.States, dedup store.Deduper) Stores {
	var s Stores
	if ledger != nil {
		s.Ledger = NewLedger(bot, ledger)
	}
	if audit != nil {
		s.Audit = NewAudit(bot, audit)
	}
	if states != nil {
		s.States = NewStates(bot, states)
	}
	if dedup != nil {
		s.Dedup = NewDeduper(bot, dedup)
	}
	return s
}

// Audit is one bot's view of a store.Audit: it logs the bot's entries and
// lists only those. It implements store.Audit.
type Audit struct {
	s scope
	a store.Audit
}

// NewAudit returns bot's view of a; an empty bot is Default. It panics
// when CheckName refuses bot.
func NewAudit(bot string, a store.Audit) *Audit { return &Audit{s: mustScope(bot), a: a} }

// AddAudit appends the bot's entry, its chat IDs scoped and its Bot stored
// (empty for Default). A chat ID starting with '@' is refused with
// store.ErrInvalid.
func (v *Audit) AddAudit(ctx context.Context, e store.AuditEntry) error {
	for _, id := range e.Chats() {
		if !accepts(id) {
			return v.s.invalid("add audit", "chat id", id)
		}
	}
	e.ChatID = v.s.in(e.ChatID)
	if e.Items != nil {
		items := make([]store.AuditItem, len(e.Items))
		for i, it := range e.Items {
			it.ChatID = v.s.in(it.ChatID)
			items[i] = it
		}
		e.Items = items
	}
	e.Bot = ""
	if v.s.prefix != "" {
		e.Bot = v.s.bot
	}
	return v.a.AddAudit(ctx, e)
}

// AuditLog returns the bot's entries concerning its chat chatID, or all
// the bot's entries when chatID is empty, newest first; at most limit, or
// all when limit <= 0. See Rounds for how the whole log pages past other
// bots' entries.
func (v *Audit) AuditLog(ctx context.Context, chatID string, limit int) ([]store.AuditEntry, error) {
	if !accepts(chatID) {
		return nil, ctx.Err()
	}
	keep := func(e store.AuditEntry) (store.AuditEntry, bool) {
		if !v.s.ownsEntry(e) {
			return e, false
		}
		return v.s.entry(e), true
	}
	// A chat's own list holds only entries about it, the bot's; the whole
	// log ("") is filtered.
	return collect(ctx, limit, func(ctx context.Context, n int) ([]store.AuditEntry, error) {
		return v.a.AuditLog(ctx, v.s.in(chatID), n)
	}, keep)
}

// States is one bot's view of a store.States: its keys are the bot's own
// (scoped for all but Default). It implements store.States.
type States struct {
	s  scope
	st store.States
}

// NewStates returns bot's view of st; an empty bot is Default. It panics
// when CheckName refuses bot.
func NewStates(bot string, st store.States) *States { return &States{s: mustScope(bot), st: st} }

// key is the stored key of the bot's key, or an error wrapping
// store.ErrInvalid for a key starting with '@'.
func (v *States) key(op, key string) (string, error) {
	if !accepts(key) {
		return "", v.s.invalid(op, "key", key)
	}
	return v.s.in(key), nil
}

// PutStateIfAbsent is store.States' on the bot's key.
func (v *States) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	k, err := v.key("put state", key)
	if err != nil {
		return "", false, err
	}
	return v.st.PutStateIfAbsent(ctx, k, value, ttl)
}

// SetState is store.States' on the bot's key.
func (v *States) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	k, err := v.key("set state", key)
	if err != nil {
		return err
	}
	return v.st.SetState(ctx, k, value, ttl)
}

// TakeState is store.States' on the bot's key.
func (v *States) TakeState(ctx context.Context, key string) (string, bool, error) {
	k, err := v.key("take state", key)
	if err != nil {
		return "", false, err
	}
	return v.st.TakeState(ctx, k)
}

// DeleteState is store.States' on the bot's key.
func (v *States) DeleteState(ctx context.Context, key string) error {
	k, err := v.key("delete state", key)
	if err != nil {
		return err
	}
	return v.st.DeleteState(ctx, k)
}

// CompareAndSwapState is store.States' on the bot's key.
func (v *States) CompareAndSwapState(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	k, err := v.key("compare and swap state", key)
	if err != nil {
		return false, err
	}
	return v.st.CompareAndSwapState(ctx, k, old, value, ttl)
}

// AddEvent is store.States' on the bot's key.
func (v *States) AddEvent(ctx context.Context, key, member string, window time.Duration) ([]store.Event, error) {
	k, err := v.key("add event", key)
	if err != nil {
		return nil, err
	}
	return v.st.AddEvent(ctx, k, member, window)
}

// Events is store.States' on the bot's key.
func (v *States) Events(ctx context.Context, key string, window time.Duration) ([]store.Event, error) {
	k, err := v.key("events", key)
	if err != nil {
		return nil, err
	}
	return v.st.Events(ctx, k, window)
}

// Deduper is one bot's view of a store.Deduper: the bot's IDs are its own
// (scoped for all but Default). It implements store.Deduper.
type Deduper struct {
	s scope
	d store.Deduper
}

// NewDeduper returns bot's view of d; an empty bot is Default. It panics
// when CheckName refuses bot.
func NewDeduper(bot string, d store.Deduper) *Deduper { return &Deduper{s: mustScope(bot), d: d} }

// FirstSeen is store.Deduper's on the bot's id; an id starting with '@' is
// refused with store.ErrInvalid.
func (v *Deduper) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if !accepts(id) {
		return false, v.s.invalid("first seen", "id", id)
	}
	return v.d.FirstSeen(ctx, v.s.in(id), ttl)
}

// Forget is store.Deduper's on the bot's id; an id starting with '@' is
// never the bot's and is ignored.
func (v *Deduper) Forget(ctx context.Context, id string) error {
	if !accepts(id) {
		return ctx.Err()
	}
	return v.d.Forget(ctx, v.s.in(id))
}
