// Package scoped lets several bots (DingTalk apps) share one store without
// any bot seeing another's data. A view of a bot wraps a store.Ledger,
// store.Audit, store.States or store.Deduper and implements the same
// interface: what a bot writes through its view is stored under scoped
// names, and what it reads through its view is only its own, unscoped
// again and marked with its name (the Bot fields of store.Message,
// store.Chat, store.Reservation and store.AuditEntry).
//
// The bot named Default is the identity mapping: its chat IDs, tags,
// titles, reservation IDs, state keys and callback IDs are stored as
// given, so that the data of a single-bot service stays valid and it
// behaves as it did before views existed. Any other bot b stores chat ID c
// as "@b:c" (Scope), and likewise its tags, chat titles, reservation IDs,
// state keys and callback IDs. DingTalk's chat IDs never start with '@',
// and every view refuses a chat ID that does (store.ErrInvalid on a
// write, nothing found on a read), so scoped names never meet plain ones.
// Message keys (DingTalk's processQueryKeys) are unique across apps and
// stay as they are; a message's owner is the bot of its stored chat ID,
// which never changes for a key.
//
// Listings that span chats (Due, Pending, Chats, ByTag and the whole
// audit log) are filtered; Due, Pending and AuditLog ask the underlying
// store for bigger pages until they have enough of the bot's own (see
// Rounds), so that one bot's backlog does not starve another's.
package scoped

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dingrecall/dingrecall/store"
)

// Default is the name of the bot whose data is stored unscoped: the one
// bot of a single-app service.
const Default = "default"

// MaxNameLen is the longest bot name CheckName accepts.
const MaxNameLen = 32

// ErrName means a bot name cannot scope a store; see CheckName.
var ErrName = errors.New("scoped: invalid bot name")

// CheckName reports why name cannot name a bot, as an error wrapping
// ErrName, or nil when it can: 1 to MaxNameLen lower-case ASCII letters,
// digits, '-' or '_'. Lower case only, so that chat titles (compared
// ignoring case) of two bots never match each other's scope.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrName, name, MaxNameLen)
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return fmt.Errorf("%w: %q: only a-z, 0-9, '-' and '_' are allowed", ErrName, name)
		}
	}
	return nil
}

// Scope returns the stored form of a bot's chat ID (or tag, title,
// reservation ID, state key or callback ID): id itself for Default (or an
// empty bot), else "@" + bot + ":" + id. An empty id stays empty.
func Scope(bot, id string) string {
	if bot == "" || bot == Default || id == "" {
		return id
	}
	return "@" + bot + ":" + id
}

// Split is the inverse of Scope: the bot and unscoped ID of a stored chat
// ID (or tag, title, …). A stored ID that does not have the form "@b:id"
// is Default's.
func Split(stored string) (bot, id string) {
	if !strings.HasPrefix(stored, "@") {
		return Default, stored
	}
	i := strings.IndexByte(stored, ':')
	if i < 2 {
		return Default, stored
	}
	return stored[1:i], stored[i+1:]
}

// BotOf returns the bot of a stored chat ID, as Split does.
func BotOf(stored string) string {
	bot, _ := Split(stored)
	return bot
}

// UnscopeMessage returns a message as read from the underlying ledger as
// its bot's view would return it: chat ID and tag unscoped, Bot set. For
// listings across bots, which read the underlying store.
func UnscopeMessage(m store.Message) store.Message {
	return newScope(BotOf(m.ChatID)).message(m)
}

// UnscopeChat returns a chat of the underlying ledger as its bot's view
// would: ID and title unscoped, Bot set.
func UnscopeChat(c store.Chat) store.Chat {
	return newScope(BotOf(c.ID)).chat(c)
}

// UnscopeReservation returns a reservation of the underlying ledger as its
// bot's view would: ID, chat ID and tag unscoped, Bot set.
func UnscopeReservation(r store.Reservation) store.Reservation {
	return newScope(BotOf(r.ChatID)).reservation(r)
}

// UnscopeEntry returns an entry of the underlying audit log as its bot's
// view would: chat IDs unscoped, Bot set (Default when it was stored
// without one).
func UnscopeEntry(e store.AuditEntry) store.AuditEntry {
	bot := e.Bot
	if bot == "" {
		bot = Default
	}
	return newScope(bot).entry(e)
}

// scope maps one bot's names to and from their stored form.
type scope struct {
	bot string
	// prefix is "@bot:", empty for Default.
	prefix string
}

// newScope returns the scope of bot; an empty bot is Default.
func newScope(bot string) scope {
	if bot == "" || bot == Default {
		return scope{bot: Default}
	}
	return scope{bot: bot, prefix: "@" + bot + ":"}
}

// mustScope returns the scope of a bot whose name CheckName accepts (an
// empty name is Default), and panics otherwise: names are checked with the
// configuration, so a bad one here is a programming error that would mix
// bots' data.
func mustScope(bot string) scope {
	if bot != "" {
		if err := CheckName(bot); err != nil {
			panic(err)
		}
	}
	return newScope(bot)
}

// accepts reports whether id may be given to a view: it does not look
// scoped.
func accepts(id string) bool { return !strings.HasPrefix(id, "@") }

// in is the stored form of the bot's id.
func (s scope) in(id string) string {
	if s.prefix == "" || id == "" {
		return id
	}
	return s.prefix + id
}

// out is the bot's id of a stored one (which it owns).
func (s scope) out(stored string) string {
	if s.prefix == "" {
		return stored
	}
	return strings.TrimPrefix(stored, s.prefix)
}

// owns reports whether a stored chat ID (or reservation ID) is the bot's.
func (s scope) owns(stored string) bool {
	if s.prefix == "" {
		return accepts(stored)
	}
	return strings.HasPrefix(stored, s.prefix)
}

// invalid is the error of an argument that looks scoped.
func (s scope) invalid(op, what, id string) error {
	return fmt.Errorf("scoped %s: %s: %w: %s %q starts with '@'", s.bot, op, store.ErrInvalid, what, id)
}

// message is m as the bot's view returns it.
func (s scope) message(m store.Message) store.Message {
	m.ChatID = s.out(m.ChatID)
	m.Tag = s.out(m.Tag)
	m.Bot = s.bot
	return m
}

// messages maps message over ms, in place.
func (s scope) messages(ms []store.Message) []store.Message {
	for i := range ms {
		ms[i] = s.message(ms[i])
	}
	return ms
}

// stored is m as the underlying ledger keeps it.
func (s scope) stored(m store.Message) store.Message {
	m.ChatID = s.in(m.ChatID)
	m.Tag = s.in(m.Tag)
	m.Bot = ""
	return m
}

// chat is c as the bot's view returns it.
func (s scope) chat(c store.Chat) store.Chat {
	c.ID = s.out(c.ID)
	c.Title = s.out(c.Title)
	c.Bot = s.bot
	return c
}

// reservation is r as the bot's view returns it.
func (s scope) reservation(r store.Reservation) store.Reservation {
	r.ID = s.out(r.ID)
	r.ChatID = s.out(r.ChatID)
	r.Tag = s.out(r.Tag)
	r.Bot = s.bot
	return r
}

// ownsEntry reports whether a stored audit entry is the bot's: stored by
// its view (Bot, empty for Default) and about its chats only.
func (s scope) ownsEntry(e store.AuditEntry) bool {
	bot := e.Bot
	if bot == "" {
		bot = Default
	}
	if bot != s.bot {
		return false
	}
	if e.ChatID != "" && !s.owns(e.ChatID) {
		return false
	}
	for _, it := range e.Items {
		if it.ChatID != "" && !s.owns(it.ChatID) {
			return false
		}
	}
	return true
}

// entry is e as the bot's view returns it; its items are copied.
func (s scope) entry(e store.AuditEntry) store.AuditEntry {
	e.ChatID = s.out(e.ChatID)
	if e.Items != nil {
		items := make([]store.AuditItem, len(e.Items))
		for i, it := range e.Items {
			it.ChatID = s.out(it.ChatID)
			items[i] = it
		}
		e.Items = items
	}
	e.Bot = s.bot
	return e
}
