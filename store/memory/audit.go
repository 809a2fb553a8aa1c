package memory

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// Bounds of a memory audit log: entries kept per chat and in all.
const (
	maxAuditPerChat = 1000
	maxAuditAll     = 20000
)

// AuditLimit is the most entries an Audit keeps; beyond it the oldest go.
const AuditLimit = maxAuditAll

// AuditOptions configures an Audit. Zero values take the defaults; negative
// ones are refused.
type AuditOptions struct {
	// TTL is how long entries are kept (store.DefaultAuditTTL).
	TTL time.Duration
	// Now is the clock (time.Now); it decides when an entry has expired.
	Now func() time.Time
}

// Audit is the in-process store.Audit: entries in slices by time, per chat
// and overall, dropped after the TTL by the injected clock.
type Audit struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	all     []*store.AuditEntry
	byChat  map[string][]*store.AuditEntry
	changes uint64
}

var _ store.Audit = (*Audit)(nil)

// NewAudit returns an empty audit log configured by opts. It fails with an
// error wrapping store.ErrInvalid when an option is negative.
func NewAudit(opts AuditOptions) (*Audit, error) {
	if err := notNegative("memory audit", "TTL", opts.TTL); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Audit{ttl: cmp.Or(opts.TTL, store.DefaultAuditTTL), now: opts.Now, byChat: make(map[string][]*store.AuditEntry)}, nil
}

// Close exists so that every store closes alike: an Audit runs nothing in
// the background and holds nothing to release, so it returns nil and the
// log still answers.
func (a *Audit) Close() error { return nil }

// AddAudit appends e; see store.Audit.
func (a *Audit) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if err := ctxErr(ctx, "add audit entry"); err != nil {
		return err
	}
	if e.ID == "" {
		e.ID = store.NewAuditID()
	}
	if e.At.IsZero() {
		e.At = a.now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.add(&e)
	return nil
}

// add indexes e; the caller holds mu.
func (a *Audit) add(e *store.AuditEntry) {
	a.changes++
	a.all = appendBounded(a.all, e, maxAuditAll)
	for _, chat := range e.Chats() {
		a.byChat[chat] = appendBounded(a.byChat[chat], e, maxAuditPerChat)
	}
}

// appendBounded appends e, dropping the oldest beyond limit.
func appendBounded(list []*store.AuditEntry, e *store.AuditEntry, limit int) []*store.AuditEntry {
	list = append(list, e)
	if len(list) > limit {
		list = append(list[:0:0], list[len(list)-limit:]...)
	}
	return list
}

// AuditLog returns entries newest first; see store.Audit.
func (a *Audit) AuditLog(ctx context.Context, chatID string, limit int) ([]store.AuditEntry, error) {
	if err := ctxErr(ctx, "read audit log"); err != nil {
		return nil, err
	}
	cut := a.now().Add(-a.ttl)
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.all
	if chatID != "" {
		list = a.byChat[chatID]
	}
	var out []store.AuditEntry
	for i := len(list) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if list[i].At.After(cut) {
			out = append(out, *list[i])
		}
	}
	return out, nil
}
