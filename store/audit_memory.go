package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"
)

// Bounds of a memory audit log: entries kept per chat and in all.
const (
	maxAuditPerChat = 1000
	maxAuditAll     = 20000
)

// MemoryAudit is the in-process Audit: entries in slices by time, per chat
// and overall, dropped after the TTL by the injected clock.
type MemoryAudit struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	all     []*AuditEntry
	byChat  map[string][]*AuditEntry
	changes uint64
}

var _ Audit = (*MemoryAudit)(nil)

// NewMemoryAudit returns an empty audit log keeping entries for ttl
// (DefaultAuditTTL when not positive) by the clock now (time.Now when nil).
func NewMemoryAudit(ttl time.Duration, now func() time.Time) *MemoryAudit {
	if ttl <= 0 {
		ttl = DefaultAuditTTL
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryAudit{ttl: ttl, now: now, byChat: make(map[string][]*AuditEntry)}
}

// newAuditID returns a random entry ID.
func newAuditID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// AddAudit appends e; see Audit.
func (a *MemoryAudit) AddAudit(ctx context.Context, e AuditEntry) error {
	if err := ctxErr(ctx, "add audit entry"); err != nil {
		return err
	}
	if e.ID == "" {
		e.ID = newAuditID()
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
func (a *MemoryAudit) add(e *AuditEntry) {
	a.changes++
	a.all = appendBounded(a.all, e, maxAuditAll)
	for _, chat := range e.Chats() {
		a.byChat[chat] = appendBounded(a.byChat[chat], e, maxAuditPerChat)
	}
}

// appendBounded appends e, dropping the oldest beyond limit.
func appendBounded(list []*AuditEntry, e *AuditEntry, limit int) []*AuditEntry {
	list = append(list, e)
	if len(list) > limit {
		list = append(list[:0:0], list[len(list)-limit:]...)
	}
	return list
}

// entries returns the live entries, oldest first, for a snapshot.
func (a *MemoryAudit) entries() []AuditEntry {
	cut := a.now().Add(-a.ttl)
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []AuditEntry
	for _, e := range a.all {
		if e.At.After(cut) {
			out = append(out, *e)
		}
	}
	return out
}

// load adds entries (oldest first) from a snapshot.
func (a *MemoryAudit) load(entries []AuditEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range entries {
		a.add(&entries[i])
	}
}

// changeCount counts the entries added, for the STORE_FILE saver.
func (a *MemoryAudit) changeCount() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changes
}

// AuditLog returns entries newest first; see Audit.
func (a *MemoryAudit) AuditLog(ctx context.Context, chatID string, limit int) ([]AuditEntry, error) {
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
	var out []AuditEntry
	for i := len(list) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if list[i].At.After(cut) {
			out = append(out, *list[i])
		}
	}
	return out, nil
}

// MemoryStates is the in-process States on go-cache, expiring values by the
// injected clock.
type MemoryStates struct {
	c      *cache.Cache
	now    func() time.Time
	mu     sync.Mutex
	events map[string][]Event // oldest first
}

// maxEvents bounds the events MemoryStates keeps per key.
const maxEvents = 10000

var _ States = (*MemoryStates)(nil)

// stateValue is a value with its expiry by the injected clock.
type stateValue struct {
	value   string
	expires time.Time
}

// NewMemoryStates returns an empty MemoryStates on the clock now (time.Now
// when nil).
func NewMemoryStates(now func() time.Time) *MemoryStates {
	if now == nil {
		now = time.Now
	}
	return &MemoryStates{c: cache.New(cache.NoExpiration, defaultCleanup), now: now, events: make(map[string][]Event)}
}

// live returns the live value of key; the caller holds mu.
func (s *MemoryStates) live(key string) (string, bool) {
	v, ok := s.c.Get(key)
	if !ok {
		return "", false
	}
	sv := v.(stateValue)
	if !s.now().Before(sv.expires) {
		return "", false
	}
	return sv.value, true
}

// set stores value; the caller holds mu.
func (s *MemoryStates) set(key, value string, ttl time.Duration) {
	// go-cache's own expiry only reclaims space, a grace after the clock's.
	s.c.Set(key, stateValue{value: value, expires: s.now().Add(ttl)}, ttl+evictionGrace)
}

// checkState validates a key and ttl.
func checkState(op, key string, ttl time.Duration) error {
	switch {
	case key == "":
		return fmt.Errorf("%s: %w: empty key", op, ErrInvalid)
	case ttl <= 0:
		return fmt.Errorf("%s %q: %w: ttl %v is not positive", op, key, ErrInvalid, ttl)
	}
	return nil
}

// PutStateIfAbsent stores value unless key is live; see States.
func (s *MemoryStates) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	if err := ctxErr(ctx, "put state"); err != nil {
		return "", false, err
	}
	if err := checkState("put state", key, ttl); err != nil {
		return "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.live(key); ok {
		return cur, false, nil
	}
	s.set(key, value, ttl)
	return value, true, nil
}

// SetState stores value; see States.
func (s *MemoryStates) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := ctxErr(ctx, "set state"); err != nil {
		return err
	}
	if err := checkState("set state", key, ttl); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(key, value, ttl)
	return nil
}

// TakeState returns and deletes the live value; see States.
func (s *MemoryStates) TakeState(ctx context.Context, key string) (string, bool, error) {
	if err := ctxErr(ctx, "take state"); err != nil {
		return "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.live(key)
	s.c.Delete(key)
	return v, ok, nil
}

// DeleteState forgets key; see States.
func (s *MemoryStates) DeleteState(ctx context.Context, key string) error {
	if err := ctxErr(ctx, "delete state"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.Delete(key)
	return nil
}

// AddEvent records an event; see States.
func (s *MemoryStates) AddEvent(ctx context.Context, key, member string, window time.Duration) ([]Event, error) {
	if err := ctxErr(ctx, "add event"); err != nil {
		return nil, err
	}
	if err := checkState("add event", key, window); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := append(s.events[key], Event{Member: member, At: s.now()})
	if len(list) > maxEvents {
		list = list[len(list)-maxEvents:]
	}
	s.events[key] = list
	return s.window(key, window), nil
}

// Events returns the events within window; see States.
func (s *MemoryStates) Events(ctx context.Context, key string, window time.Duration) ([]Event, error) {
	if err := ctxErr(ctx, "read events"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.window(key, window), nil
}

// window trims key's events older than window and returns the rest newest
// first; the caller holds mu.
func (s *MemoryStates) window(key string, window time.Duration) []Event {
	cut := s.now().Add(-window)
	list := s.events[key]
	i := 0
	for i < len(list) && !list[i].At.After(cut) {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(s.events, key)
		return nil
	}
	s.events[key] = list
	out := make([]Event, len(list))
	for j, e := range list {
		out[len(list)-1-j] = e
	}
	return out
}
