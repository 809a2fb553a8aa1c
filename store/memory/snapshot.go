package memory

import (
	"context"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// Snapshot is the durable state of memory stores, as package store/file
// saves and loads it: the tracked messages, the remembered chat titles and
// the audit log. Claims are not part of it: a restart releases them.
type Snapshot struct {
	// At is when the snapshot was taken, by the clock of the store that
	// took it.
	At time.Time
	// Messages are the tracked messages (a Ledger's part).
	Messages []store.Message
	// Titles are the remembered chat titles (a Ledger's part).
	Titles []Title
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

// Snapshot returns the tracked messages and chat titles; see Snapshotter.
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
				s.Messages = append(s.Messages, e.message())
			}
		}
	}
	return s
}

// Restore remembers the titles of s and records its messages, as SetTitle
// and Record would; see Snapshotter.
func (m *Ledger) Restore(ctx context.Context, s Snapshot) error {
	for _, t := range s.Titles {
		if err := m.SetTitle(ctx, t.ChatID, t.Kind, t.Title); err != nil {
			return err
		}
	}
	for _, msg := range s.Messages {
		if err := m.Record(ctx, msg); err != nil {
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
