package memory

import (
	"context"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"

	"github.com/dingrecall/dingrecall/store"
)

// StatesOptions configures a States. Zero values take the defaults;
// negative ones are refused.
type StatesOptions struct {
	// Now is the clock (time.Now); it decides when a value has expired.
	Now func() time.Time
	// CleanupInterval is how often the janitor reclaims expired values (one
	// minute).
	CleanupInterval time.Duration
}

// States is the in-process store.States on go-cache, expiring values by
// the injected clock.
type States struct {
	c      *cache.Cache
	jan    *janitor
	now    func() time.Time
	mu     sync.Mutex
	events map[string][]store.Event // oldest first
}

// maxEvents bounds the events a States keeps per key.
const maxEvents = 10000

var _ store.States = (*States)(nil)

// stateValue is a value with its expiry by the injected clock.
type stateValue struct {
	value   string
	expires time.Time
}

// NewStates returns an empty States configured by opts. It fails with an
// error wrapping store.ErrInvalid when an option is negative.
func NewStates(opts StatesOptions) (*States, error) {
	if err := notNegative("memory states", "CleanupInterval", opts.CleanupInterval); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CleanupInterval == 0 {
		opts.CleanupInterval = defaultCleanup
	}
	s := &States{c: cache.New(cache.NoExpiration, 0), now: opts.Now, events: make(map[string][]store.Event)}
	s.jan = startJanitor(s, s.c, opts.CleanupInterval)
	return s, nil
}

// Close stops the janitor; the States still answers. Close always returns
// nil, and may be called more than once.
func (s *States) Close() error {
	s.jan.Stop()
	return nil
}

// live returns the live value of key; the caller holds mu.
func (s *States) live(key string) (string, bool) {
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
func (s *States) set(key, value string, ttl time.Duration) {
	// go-cache's own expiry only reclaims space, a grace after the clock's.
	s.c.Set(key, stateValue{value: value, expires: s.now().Add(ttl)}, ttl+evictionGrace)
}

// PutStateIfAbsent stores value unless key is live; see store.States.
func (s *States) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	if err := ctxErr(ctx, "put state"); err != nil {
		return "", false, err
	}
	if err := store.CheckState("put state", key, ttl); err != nil {
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

// SetState stores value; see store.States.
func (s *States) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := ctxErr(ctx, "set state"); err != nil {
		return err
	}
	if err := store.CheckState("set state", key, ttl); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(key, value, ttl)
	return nil
}

// TakeState returns and deletes the live value; see store.States.
func (s *States) TakeState(ctx context.Context, key string) (string, bool, error) {
	if err := ctxErr(ctx, "take state"); err != nil {
		return "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.live(key)
	s.c.Delete(key)
	return v, ok, nil
}

// CompareAndSwapState stores value if the live value of key is old, in
// one critical section; see store.States.
func (s *States) CompareAndSwapState(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	if err := ctxErr(ctx, "swap state"); err != nil {
		return false, err
	}
	if err := store.CheckState("swap state", key, ttl); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, _ := s.live(key); cur != old {
		return false, nil
	}
	s.set(key, value, ttl)
	return true, nil
}

// DeleteState forgets key; see store.States.
func (s *States) DeleteState(ctx context.Context, key string) error {
	if err := ctxErr(ctx, "delete state"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.Delete(key)
	return nil
}

// AddEvent records an event; see store.States.
func (s *States) AddEvent(ctx context.Context, key, member string, window time.Duration) ([]store.Event, error) {
	if err := ctxErr(ctx, "add event"); err != nil {
		return nil, err
	}
	if err := store.CheckState("add event", key, window); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := append(s.events[key], store.Event{Member: member, At: s.now()})
	if len(list) > maxEvents {
		list = list[len(list)-maxEvents:]
	}
	s.events[key] = list
	return s.window(key, window), nil
}

// Events returns the events within window; see store.States.
func (s *States) Events(ctx context.Context, key string, window time.Duration) ([]store.Event, error) {
	if err := ctxErr(ctx, "read events"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.window(key, window), nil
}

// window trims key's events older than window and returns the rest newest
// first; the caller holds mu.
func (s *States) window(key string, window time.Duration) []store.Event {
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
	out := make([]store.Event, len(list))
	for j, e := range list {
		out[len(list)-1-j] = e
	}
	return out
}
