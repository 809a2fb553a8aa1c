package scoped

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// Ledger is one bot's view of a store.Ledger; see the package doc. It
// implements store.Ledger.
type Ledger struct {
	s scope
	l store.Ledger
}

// dueDeferrer is the optional method of a ledger that keeps the retry
// schedule of failed automatic recalls itself (store/redis); the bot looks
// for it on its ledger.
type dueDeferrer interface {
	DeferDue(ctx context.Context, keys []string, base, max time.Duration) (map[string]time.Time, error)
}

// DeferringLedger is the view of a ledger that has DeferDue (the Redis
// ledger): a Ledger that has it too.
type DeferringLedger struct {
	*Ledger
	d dueDeferrer
}

// NewLedger returns bot's view of l: a *Ledger or, when l has the optional
// DeferDue method, a *DeferringLedger, so that the bot finds the method
// exactly when the underlying ledger has it. An empty bot is Default. It
// panics when CheckName refuses bot (names are checked with the
// configuration).
func NewLedger(bot string, l store.Ledger) store.Ledger {
	v := &Ledger{s: mustScope(bot), l: l}
	if d, ok := l.(dueDeferrer); ok {
		return &DeferringLedger{Ledger: v, d: d}
	}
	return v
}

// Bot is the name of the view's bot.
func (v *Ledger) Bot() string { return v.s.bot }

// Unwrap returns the underlying ledger, shared by every bot (for what
// spans bots, such as the size metric).
func (v *Ledger) Unwrap() store.Ledger { return v.l }

// DeferDue defers the automatic recall of those of the keys that are the
// bot's, as the underlying ledger's DeferDue does; the others are left
// out.
func (v *DeferringLedger) DeferDue(ctx context.Context, keys []string, base, max time.Duration) (map[string]time.Time, error) {
	own, err := v.own(ctx, keys)
	if err != nil {
		return nil, err
	}
	return v.d.DeferDue(ctx, own, base, max)
}

// Record tracks m for the bot; see store.Ledger. A chat ID starting with
// '@' is refused with store.ErrInvalid.
func (v *Ledger) Record(ctx context.Context, m store.Message) error {
	if !accepts(m.ChatID) {
		return v.s.invalid("record", "chat id", m.ChatID)
	}
	return v.l.Record(ctx, v.s.stored(m))
}

// Get returns the bot's message with the key; another bot's is
// store.ErrNotFound.
func (v *Ledger) Get(ctx context.Context, key string) (store.Message, error) {
	m, err := v.l.Get(ctx, key)
	if err != nil {
		return store.Message{}, err
	}
	if !v.s.owns(m.ChatID) {
		return store.Message{}, fmt.Errorf("scoped %s: get %q: %w", v.s.bot, key, store.ErrNotFound)
	}
	return v.s.message(m), nil
}

// own returns, in order, those of keys whose messages are tracked and the
// bot's (a message's chat never changes, so this holds while it is
// tracked).
func (v *Ledger) own(ctx context.Context, keys []string) ([]string, error) {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		m, err := v.l.Get(ctx, k)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		case v.s.owns(m.ChatID):
			out = append(out, k)
		}
	}
	return out, nil
}

// chatMessages runs one of the per-chat reads on the bot's chat; a chat
// ID starting with '@' has nothing.
func (v *Ledger) chatMessages(ctx context.Context, chatID string, n int, read func(context.Context, string, int) ([]store.Message, error)) ([]store.Message, error) {
	if !accepts(chatID) {
		return nil, ctx.Err()
	}
	ms, err := read(ctx, v.s.in(chatID), n)
	if err != nil {
		return nil, err
	}
	return v.s.messages(ms), nil
}

// List returns the messages of the bot's chat; see store.Ledger.
func (v *Ledger) List(ctx context.Context, chatID string, limit int) ([]store.Message, error) {
	return v.chatMessages(ctx, chatID, limit, v.l.List)
}

// Newest returns the newest messages of the bot's chat; see store.Ledger.
func (v *Ledger) Newest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	return v.chatMessages(ctx, chatID, n, v.l.Newest)
}

// TakeNewest claims the newest messages of the bot's chat; see
// store.Ledger.
func (v *Ledger) TakeNewest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	return v.chatMessages(ctx, chatID, n, v.l.TakeNewest)
}

// TakeNewestWithInFlight is store.Ledger's on the bot's chat.
func (v *Ledger) TakeNewestWithInFlight(ctx context.Context, chatID string, n int) (taken, inFlight []store.Message, err error) {
	return v.withInFlight(ctx, chatID, n, v.l.TakeNewestWithInFlight)
}

// NewestWithInFlight is store.Ledger's on the bot's chat.
func (v *Ledger) NewestWithInFlight(ctx context.Context, chatID string, n int) (free, inFlight []store.Message, err error) {
	return v.withInFlight(ctx, chatID, n, v.l.NewestWithInFlight)
}

// withInFlight runs one of the in-flight reads on the bot's chat.
func (v *Ledger) withInFlight(ctx context.Context, chatID string, n int, read func(context.Context, string, int) ([]store.Message, []store.Message, error)) ([]store.Message, []store.Message, error) {
	if !accepts(chatID) {
		return nil, nil, ctx.Err()
	}
	a, b, err := read(ctx, v.s.in(chatID), n)
	if err != nil {
		return nil, nil, err
	}
	return v.s.messages(a), v.s.messages(b), nil
}

// Claim claims those of the keys that are the bot's, tracked and
// unclaimed; another bot's keys are never claimed, not even for a moment.
func (v *Ledger) Claim(ctx context.Context, keys []string) ([]store.Message, error) {
	own, err := v.own(ctx, keys)
	if err != nil {
		return nil, err
	}
	if len(own) == 0 {
		return nil, nil
	}
	ms, err := v.l.Claim(ctx, own)
	if err != nil {
		return nil, err
	}
	out := ms[:0]
	for _, m := range ms {
		if v.s.owns(m.ChatID) {
			out = append(out, v.s.message(m))
			continue
		}
		// The key was recorded again in another bot's chat between the
		// check and the claim (which a processQueryKey never is): give it
		// back at once.
		if err := v.l.Release(context.WithoutCancel(ctx), m.Claim, m.Key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Remove forgets those of the keys that are the bot's.
func (v *Ledger) Remove(ctx context.Context, keys ...string) error {
	own, err := v.own(ctx, keys)
	if err != nil || len(own) == 0 {
		return err
	}
	return v.l.Remove(ctx, own...)
}

// Fail sets failures as store.Ledger's Fail does. With an empty claim
// (which acts on any) only the bot's keys are failed; a claim token only
// ever holds the bot's keys, as the view handed it out.
func (v *Ledger) Fail(ctx context.Context, claim string, failures map[string]store.Failure) error {
	if claim == "" {
		keys := make([]string, 0, len(failures))
		for k := range failures {
			keys = append(keys, k)
		}
		own, err := v.own(ctx, keys)
		if err != nil {
			return err
		}
		mine := make(map[string]store.Failure, len(own))
		for _, k := range own {
			mine[k] = failures[k]
		}
		failures = mine
	}
	return v.l.Fail(ctx, claim, failures)
}

// Release releases claims as store.Ledger's Release does; with an empty
// claim, only on the bot's keys.
func (v *Ledger) Release(ctx context.Context, claim string, keys ...string) error {
	if claim == "" {
		own, err := v.own(ctx, keys)
		if err != nil {
			return err
		}
		keys = own
	}
	return v.l.Release(ctx, claim, keys...)
}

// Renew renews the claim's leases; see store.Ledger. A claim holds only
// the bot's keys.
func (v *Ledger) Renew(ctx context.Context, claim string, keys ...string) error {
	return v.l.Renew(ctx, claim, keys...)
}

// ByTag returns the bot's messages with the tag; see store.Ledger.
func (v *Ledger) ByTag(ctx context.Context, tag string) ([]store.Message, error) {
	ms, err := v.l.ByTag(ctx, v.s.in(tag))
	if err != nil {
		return nil, err
	}
	return filter(ms, v.ownMessage), nil
}

// ownMessage is m unscoped, and whether it is the bot's.
func (v *Ledger) ownMessage(m store.Message) (store.Message, bool) {
	if !v.s.owns(m.ChatID) {
		return m, false
	}
	return v.s.message(m), true
}

// Due returns the bot's due messages, earliest first; see store.Ledger
// and Rounds for how it pages past other bots'.
func (v *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]store.Message, error) {
	return collect(ctx, limit, func(ctx context.Context, n int) ([]store.Message, error) {
		return v.l.Due(ctx, now, n)
	}, v.ownMessage)
}

// SetTitle remembers the title of the bot's chat (stored scoped, so that
// FindChat matches the bot's titles only).
func (v *Ledger) SetTitle(ctx context.Context, chatID string, kind store.Kind, title string) error {
	if !accepts(chatID) {
		return v.s.invalid("set title", "chat id", chatID)
	}
	return v.l.SetTitle(ctx, v.s.in(chatID), kind, v.s.in(title))
}

// Chats returns the bot's chats; see store.Ledger.
func (v *Ledger) Chats(ctx context.Context) ([]store.Chat, error) {
	cs, err := v.l.Chats(ctx)
	if err != nil {
		return nil, err
	}
	return filter(cs, func(c store.Chat) (store.Chat, bool) {
		if !v.s.owns(c.ID) {
			return c, false
		}
		return v.s.chat(c), true
	}), nil
}

// FindChat finds the bot's chat by ID or title, with the underlying
// ledger's rules (the ID first, then the title ignoring case; several
// chats with the title are store.ErrAmbiguous); other bots' chats are
// never found. As Default's titles are stored as given, a Default chat
// whose title is literally another bot's scoped form ("@b:…") can make
// that bot's search ambiguous.
func (v *Ledger) FindChat(ctx context.Context, idOrTitle string) (store.Chat, error) {
	c, err := v.l.FindChat(ctx, v.s.in(idOrTitle))
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The underlying error names the scoped query; say it plainly.
		return store.Chat{}, fmt.Errorf("scoped %s: find chat %q: %w", v.s.bot, idOrTitle, store.ErrNotFound)
	case errors.Is(err, store.ErrAmbiguous):
		return store.Chat{}, fmt.Errorf("scoped %s: find chat %q: %w", v.s.bot, idOrTitle, store.ErrAmbiguous)
	case err != nil:
		return store.Chat{}, err
	case !v.s.owns(c.ID):
		return store.Chat{}, fmt.Errorf("scoped %s: find chat %q: %w", v.s.bot, idOrTitle, store.ErrNotFound)
	}
	return v.s.chat(c), nil
}

// Ping pings the underlying ledger.
func (v *Ledger) Ping(ctx context.Context) error { return v.l.Ping(ctx) }

// Reserve writes r ahead of the bot's send; see store.Ledger. Its ID and
// chat ID may not start with '@' (store.ErrInvalid).
func (v *Ledger) Reserve(ctx context.Context, r store.Reservation) error {
	switch {
	case !accepts(r.ID):
		return v.s.invalid("reserve", "reservation id", r.ID)
	case !accepts(r.ChatID):
		return v.s.invalid("reserve", "chat id", r.ChatID)
	}
	r.ID = v.s.in(r.ID)
	r.ChatID = v.s.in(r.ChatID)
	r.Tag = v.s.in(r.Tag)
	r.Bot = ""
	return v.l.Reserve(ctx, r)
}

// Commit drops the bot's reservation and records m; see store.Ledger.
func (v *Ledger) Commit(ctx context.Context, id string, m store.Message) error {
	switch {
	case !accepts(id):
		return v.s.invalid("commit", "reservation id", id)
	case !accepts(m.ChatID):
		return v.s.invalid("commit", "chat id", m.ChatID)
	}
	return v.l.Commit(ctx, v.s.in(id), v.s.stored(m))
}

// Drop forgets the bot's reservation; see store.Ledger.
func (v *Ledger) Drop(ctx context.Context, id string) error {
	if !accepts(id) {
		return ctx.Err() // never the bot's: unknown, ignored
	}
	return v.l.Drop(ctx, v.s.in(id))
}

// Pending returns the bot's pending reservations, oldest first; see
// store.Ledger and Rounds.
func (v *Ledger) Pending(ctx context.Context, olderThan time.Time, limit int) ([]store.Reservation, error) {
	return collect(ctx, limit, func(ctx context.Context, n int) ([]store.Reservation, error) {
		return v.l.Pending(ctx, olderThan, n)
	}, func(r store.Reservation) (store.Reservation, bool) {
		if !v.s.owns(r.ID) || !v.s.owns(r.ChatID) {
			return r, false
		}
		return v.s.reservation(r), true
	})
}

// SettlePending takes the bot's reservation for settlement; see
// store.Ledger. Another bot's ID is unknown to it (ok false).
func (v *Ledger) SettlePending(ctx context.Context, id string) (store.Reservation, bool, error) {
	if !accepts(id) {
		return store.Reservation{}, false, ctx.Err()
	}
	r, ok, err := v.l.SettlePending(ctx, v.s.in(id))
	if err != nil || !ok {
		return store.Reservation{}, ok, err
	}
	return v.s.reservation(r), true, nil
}
