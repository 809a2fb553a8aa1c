package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
)

// Audit is the durable store.Audit in the database of the Ledger it comes
// from: entries are read from a memory.Audit and each AddAudit returns
// once its entry is on disk.
type Audit struct{ l *Ledger }

var _ store.Audit = (*Audit)(nil)

// Audit returns the ledger's audit log.
func (l *Ledger) Audit() *Audit { return &Audit{l: l} }

// Close does nothing and returns nil: the database belongs to the Ledger,
// and Ledger.Close closes it. It exists so that every store closes alike.
func (a *Audit) Close() error { return nil }

// AddAudit appends e and returns once it is on disk; see store.Audit.
func (a *Audit) AddAudit(ctx context.Context, e store.AuditEntry) error {
	const op = "add audit entry"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt store: %s: %w", op, err)
	}
	if e.ID == "" {
		e.ID = store.NewAuditID()
	}
	if e.At.IsZero() {
		e.At = a.l.now()
	}
	if err := checkKey(op, "entry id", e.ID); err != nil {
		return err
	}
	if err := a.l.audit.AddAudit(ctx, e); err != nil {
		return err
	}
	a.l.mu.Lock()
	a.l.auditQueue = append(a.l.auditQueue, e)
	a.l.mu.Unlock()
	return a.l.durable(op)
}

// AuditLog returns entries newest first; see store.Audit.
func (a *Audit) AuditLog(ctx context.Context, chatID string, limit int) ([]store.AuditEntry, error) {
	return a.l.audit.AuditLog(ctx, chatID, limit)
}

// putAudit writes the entries and deletes, oldest first, up to
// auditPrunePerCommit entries that expired or exceed what the memory audit
// log keeps (memory.AuditLimit). It returns how many it deleted.
func (l *Ledger) putAudit(tx *bbolt.Tx, entries []store.AuditEntry) (int, error) {
	b := tx.Bucket(bucketAudit)
	if err := writeAudit(b, entries); err != nil {
		return 0, err
	}
	excess := l.auditCount + len(entries) - memory.AuditLimit
	cut := l.now().Add(-l.ttl)
	deleted := 0
	c := b.Cursor()
	for deleted < auditPrunePerCommit {
		// From the first key each time: a cursor's Next after its Delete
		// may skip a key.
		k, _ := c.First()
		if k == nil {
			break
		}
		if at, ok := auditTime(k); ok && at.After(cut) && deleted >= excess {
			break
		}
		if err := c.Delete(); err != nil {
			return 0, err
		}
		deleted++
	}
	return deleted, nil
}

// writeAudit puts the entries into the audit bucket b.
func writeAudit(b *bbolt.Bucket, entries []store.AuditEntry) error {
	for _, e := range entries {
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("audit entry %s: %w", e.ID, err)
		}
		if err := b.Put(auditKey(e), v); err != nil {
			return fmt.Errorf("audit entry %s: %w", e.ID, err)
		}
	}
	return nil
}
