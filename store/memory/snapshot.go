package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// Snapshot is the durable state of memory stores, as package store/file
// saves and loads it: the tracked messages, the remembered chat titles and
// the audit log, and the reservations. Claims are not part of it: a
// message that was claimed, or whose claim lapsed, is in it with Lapsed
// set, so that a restore flags it as a lapsed claim (see
// store.Message.Lapsed).
type Snapshot struct {
	// At is when the snapshot was taken, by the clock of the store that
	// took it.
	At time.Time
	// Messages are the tracked messages (a Ledger's part).
	Messages []store.Message
	// Titles are the remembered chat titles (a Ledger's part).
	Titles []Title
	// Reservations are the stored reservations (a Ledger's part).
	Reservations []store.Reservation
	// Audit holds the live audit entries, oldest first (an Audit's part).
	Audit []store.AuditEntry
}

// Title is one remembered chat title.
type Title struct {
	// ChatID is the chat's ID.
	ChatID string
	// Kind is the chat's kind.
	Kind store.Kind
	// Title is the chat's title.
	Title string
}

// Snapshotter is a memory store whose durable state can be copied out and
// put back: the Ledger (its messages and titles) and the Audit (its
// entries). Each fills and reads only its own part of a Snapshot.
type Snapshotter interface {
	// Snapshot returns a copy of the store's part of the durable state.
	Snapshot() Snapshot
	// Restore adds the store's part of s to the store, skipping what
	// expired meanwhile. It fails when ctx is done, and with an error
	// wrapping store.ErrInvalid on contents the store's methods refuse.
	Restore(ctx context.Context, s Snapshot) error
	// Changes counts the changes made to the durable state so far, so that
	// a saver can tell whether anything changed since it last saved.
	Changes() uint64
}

var (
	_ Snapshotter = (*Ledger)(nil)
	_ Snapshotter = (*Audit)(nil)
)

// Snapshot returns the tracked messages, chat titles and reservations; see
// Snapshotter.
func (m *Ledger) Snapshot() Snapshot {
	now := m.lock()
	defer m.unlock()
	s := Snapshot{At: time.Unix(0, now).UTC()}
	for _, ch := range m.ix.chats {
		if ch.title != "" {
			s.Titles = append(s.Titles, Title{ChatID: ch.id, Kind: ch.kind, Title: ch.title})
		}
		for _, e := range ch.msgs.items {
			if m.ix.alive(e, now) {
				msg := e.message()
				msg.Lapsed = e.lapsed || e.holder != ""
				s.Messages = append(s.Messages, msg)
			}
		}
	}
	for _, r := range m.ix.res {
		if !m.ix.expired(r, now) {
			s.Reservations = append(s.Reservations, r.r)
		}
	}
	return s
}

// Restore remembers the titles of s, records its messages and stores its
// reservations, as SetTitle, Record and Reserve would, except that a
// message with Lapsed set keeps it; see Snapshotter.
func (m *Ledger) Restore(ctx context.Context, s Snapshot) error {
	for _, t := range s.Titles {
		if err := m.SetTitle(ctx, t.ChatID, t.Kind, t.Title); err != nil {
			return err
		}
	}
	for _, msg := range s.Messages {
		if err := ctxErr(ctx, "restore message"); err != nil {
			return err
		}
		if err := msg.Validate(); err != nil {
			return fmt.Errorf("restore message: %w", err)
		}
		now := m.lock()
		m.record(msg, now, msg.Lapsed)
		m.unlock()
	}
	for _, r := range s.Reservations {
		if err := m.Reserve(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// Changes counts the records, removals, failures and titles set so far
// (claims and releases are not kept, so they do not count); see
// Snapshotter.
func (m *Ledger) Changes() uint64 {
	m.lock()
	defer m.unlock()
	return m.ix.changes
}

// Snapshot returns the live audit entries, oldest first; see Snapshotter.
func (a *Audit) Snapshot() Snapshot {
	now := a.now()
	cut := now.Add(-a.ttl)
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Snapshot{At: now.UTC()}
	for _, e := range a.all {
		if e.At.After(cut) {
			s.Audit = append(s.Audit, *e)
		}
	}
	return s
}

// Restore adds the audit entries of s (oldest first); see Snapshotter.
func (a *Audit) Restore(ctx context.Context, s Snapshot) error {
	if err := ctxErr(ctx, "restore audit log"); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range s.Audit {
		a.add(&s.Audit[i])
	}
	return nil
}

// Changes counts the entries added so far; see Snapshotter.
func (a *Audit) Changes() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changes
}
