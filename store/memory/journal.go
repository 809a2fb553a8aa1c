package memory

import (
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// JournalKind is what a JournalEntry is about.
type JournalKind uint8

// The kinds of record a journal notes.
const (
	// JournalMessage is a tracked message, by its key.
	JournalMessage JournalKind = iota + 1
	// JournalReservation is a reservation, by its ID.
	JournalReservation
	// JournalTitle is a chat title, by the chat's ID.
	JournalTitle
)

// journalKey names one record of the journal.
type journalKey struct {
	kind JournalKind
	id   string
}

// JournalEntry is the state of one changed record, as a write-through store
// writes it: the record as it is now, or Gone when it no longer exists.
type JournalEntry struct {
	// Kind says which of Message, Reservation and Title is meant.
	Kind JournalKind
	// ID is the message key, reservation ID or chat ID.
	ID string
	// Seq is the sequence number of the record's last change.
	Seq uint64
	// Gone is true when the record was removed (or expired).
	Gone bool
	// Message is the message, for JournalMessage. Its Lapsed is true when
	// it is claimed or a claim on it lapsed: a store that reloads it after
	// a crash must treat it as a lapsed claim (its holder died). Claim is
	// empty.
	Message store.Message
	// Reservation is the reservation, for JournalReservation.
	Reservation store.Reservation
	// Title is the chat title, for JournalTitle.
	Title Title
}

// mark notes a change of the record kind id; the caller holds mu.
func (ix *index) mark(kind JournalKind, id string) {
	if ix.journal == nil {
		return
	}
	ix.seq++
	ix.journal[journalKey{kind, id}] = ix.seq
}

// Journal returns the state of every record changed since it was last
// written (see Written), for a store that writes the ledger through to
// disk; nil unless the ledger was built with Options.Journal. A record
// changed several times appears once, as it is now.
func (m *Ledger) Journal() []JournalEntry {
	now := m.lock()
	defer m.unlock()
	ix := m.ix
	if len(ix.journal) == 0 {
		return nil
	}
	out := make([]JournalEntry, 0, len(ix.journal))
	for k, seq := range ix.journal {
		je := JournalEntry{Kind: k.kind, ID: k.id, Seq: seq, Gone: true}
		switch k.kind {
		case JournalMessage:
			if e := m.lookup(k.id); e != nil && ix.alive(e, now) {
				je.Gone = false
				je.Message = e.message()
				je.Message.Lapsed = e.lapsed || e.holder != ""
			}
		case JournalReservation:
			if r := ix.res[k.id]; r != nil {
				je.Gone = false
				je.Reservation = r.r
			}
		case JournalTitle:
			if ch := ix.chats[k.id]; ch != nil && ch.title != "" {
				je.Gone = false
				je.Title = Title{ChatID: ch.id, Kind: ch.kind, Title: ch.title}
			}
		}
		out = append(out, je)
	}
	return out
}

// Written tells the ledger that the entries, as Journal returned them, are
// on disk: each leaves the journal unless its record changed again since.
func (m *Ledger) Written(entries []JournalEntry) {
	m.lock()
	defer m.unlock()
	for _, je := range entries {
		k := journalKey{je.Kind, je.ID}
		if m.ix.journal[k] == je.Seq {
			delete(m.ix.journal, k)
		}
	}
}

// ResetJournal empties the journal without writing it, for a store that
// has just loaded the ledger from disk.
func (m *Ledger) ResetJournal() {
	m.lock()
	defer m.unlock()
	if m.ix.journal != nil {
		clear(m.ix.journal)
	}
}

// JournalLen returns the number of records the journal holds.
func (m *Ledger) JournalLen() int {
	m.lock()
	defer m.unlock()
	return len(m.ix.journal)
}

// Now returns the ledger's clock, for a store built on the ledger.
func (m *Ledger) Now() time.Time { return m.ix.now() }

// Tracked reports whether the record kind id exists: a message that is
// tracked, a reservation that is stored or a chat title that is set. A
// store that loads the ledger from disk deletes there what it does not
// track (expired, or over the per-chat cap).
func (m *Ledger) Tracked(kind JournalKind, id string) bool {
	now := m.lock()
	defer m.unlock()
	ix := m.ix
	switch kind {
	case JournalMessage:
		e := m.lookup(id)
		return e != nil && ix.alive(e, now)
	case JournalReservation:
		r := ix.res[id]
		return r != nil && !ix.expired(r, now)
	case JournalTitle:
		ch := ix.chats[id]
		return ch != nil && ch.title != ""
	}
	return false
}
