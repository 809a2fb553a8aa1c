package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
)

// loadChunk is how many messages load hands the memory ledger at once.
const loadChunk = 4096

// marshal encodes a reservation or title record.
func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return b, nil
}

// load reads the database into the memory ledger and audit log, then
// deletes from the database what they do not keep: expired messages,
// reservations and audit entries, messages over the per-chat cap and audit
// entries over memory.AuditLimit. A record that cannot be decoded stops
// it, so that a start-up never drops what it cannot read.
func (l *Ledger) load() error {
	ctx := context.Background()
	var (
		msgKeys, resIDs, titleIDs []string
		auditGone                 [][]byte
	)
	err := l.db.View(func(tx *bbolt.Tx) error {
		var snap memory.Snapshot
		err := tx.Bucket(bucketTitles).ForEach(func(k, v []byte) error {
			var t memory.Title
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("title of %q: %w: %v", k, errCorrupt, err)
			}
			titleIDs = append(titleIDs, string(k))
			snap.Titles = append(snap.Titles, t)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketReservations).ForEach(func(k, v []byte) error {
			var r store.Reservation
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("reservation %q: %w: %v", k, errCorrupt, err)
			}
			resIDs = append(resIDs, string(k))
			snap.Reservations = append(snap.Reservations, r)
			return nil
		})
		if err != nil {
			return err
		}
		if err := l.mem.Restore(ctx, snap); err != nil {
			return err
		}
		chunk := make([]store.Message, 0, loadChunk)
		err = tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			m, err := decodeMessage(string(k), v)
			if err != nil {
				return err
			}
			msgKeys = append(msgKeys, m.Key)
			chunk = append(chunk, m)
			if len(chunk) == loadChunk {
				err = l.mem.Restore(ctx, memory.Snapshot{Messages: chunk})
				chunk = chunk[:0]
			}
			return err
		})
		if err != nil {
			return err
		}
		if err := l.mem.Restore(ctx, memory.Snapshot{Messages: chunk}); err != nil {
			return err
		}
		return l.loadAudit(ctx, tx, &auditGone)
	})
	if err != nil {
		return err
	}
	err = l.db.Update(func(tx *bbolt.Tx) error {
		for _, set := range []struct {
			bucket []byte
			kind   memory.JournalKind
			ids    []string
		}{
			{bucketMessages, memory.JournalMessage, msgKeys},
			{bucketReservations, memory.JournalReservation, resIDs},
			{bucketTitles, memory.JournalTitle, titleIDs},
		} {
			b := tx.Bucket(set.bucket)
			for _, id := range set.ids {
				if !l.mem.Tracked(set.kind, id) {
					if err := b.Delete([]byte(id)); err != nil {
						return err
					}
				}
			}
		}
		b := tx.Bucket(bucketAudit)
		for _, k := range auditGone {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	// What the journal noted while loading is on disk already, or was
	// just deleted there.
	l.mem.ResetJournal()
	return nil
}

// loadAudit restores the live audit entries, at most memory.AuditLimit of
// the newest, and notes the keys of the others in gone.
func (l *Ledger) loadAudit(ctx context.Context, tx *bbolt.Tx, gone *[][]byte) error {
	cut := l.now().Add(-l.ttl)
	var keys [][]byte
	var entries []store.AuditEntry
	err := tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
		at, ok := auditTime(k)
		if !ok || !at.After(cut) {
			*gone = append(*gone, bytes.Clone(k))
			return nil
		}
		var e store.AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("audit entry %x: %w: %v", k, errCorrupt, err)
		}
		keys = append(keys, bytes.Clone(k))
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return err
	}
	if over := len(entries) - memory.AuditLimit; over > 0 {
		*gone = append(*gone, keys[:over]...)
		entries = entries[over:]
	}
	l.auditCount = len(entries)
	return l.audit.Restore(ctx, memory.Snapshot{Audit: entries})
}
