package bolt

import (
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/dingrecall/dingrecall/store"
)

// checkKey refuses an ID the database cannot hold as a key.
func checkKey(op, what, id string) error {
	if len(id) > bbolt.MaxKeySize {
		return fmt.Errorf("bolt store: %s: %w: %s of %d bytes, at most %d", op, store.ErrInvalid, what, len(id), bbolt.MaxKeySize)
	}
	return nil
}

// Record tracks m and returns once that is on disk; see store.Ledger.
func (l *Ledger) Record(ctx context.Context, m store.Message) error {
	const op = "record message"
	if err := checkKey(op, "key", m.Key); err != nil {
		return err
	}
	if err := l.mem.Record(ctx, m); err != nil {
		return err
	}
	return l.durable(op)
}

// Get returns the tracked message with the key; see store.Ledger.
func (l *Ledger) Get(ctx context.Context, key string) (store.Message, error) {
	return l.mem.Get(ctx, key)
}

// List returns the tracked messages of a chat, newest first; see
// store.Ledger.
func (l *Ledger) List(ctx context.Context, chatID string, limit int) ([]store.Message, error) {
	return l.mem.List(ctx, chatID, limit)
}

// Newest returns the newest n unclaimed non-reply messages of a chat; see
// store.Ledger.
func (l *Ledger) Newest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	return l.mem.Newest(ctx, chatID, n)
}

// TakeNewest claims what Newest would and returns once the claims are on
// disk; see store.Ledger. When they cannot be written it releases them and
// fails.
func (l *Ledger) TakeNewest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	ms, err := l.mem.TakeNewest(ctx, chatID, n)
	if err != nil || len(ms) == 0 {
		return ms, err
	}
	if err := l.claimed("take newest messages", ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// claimed makes the claims on ms durable, or releases them and fails.
func (l *Ledger) claimed(op string, ms []store.Message) error {
	err := l.durable(op)
	if err != nil {
		keys := make([]string, len(ms))
		for i, m := range ms {
			keys[i] = m.Key
		}
		_ = l.mem.Release(context.Background(), ms[0].Claim, keys...)
	}
	return err
}

// Claim claims those of the keys that are tracked and unclaimed and returns
// once the claims are on disk; see store.Ledger.
func (l *Ledger) Claim(ctx context.Context, keys []string) ([]store.Message, error) {
	ms, err := l.mem.Claim(ctx, keys)
	if err != nil || len(ms) == 0 {
		return ms, err
	}
	if err := l.claimed("claim messages", ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// TakeNewestWithInFlight claims the free messages among the newest n and
// returns once the claims are on disk; see store.Ledger.
func (l *Ledger) TakeNewestWithInFlight(ctx context.Context, chatID string, n int) (taken, inFlight []store.Message, err error) {
	taken, inFlight, err = l.mem.TakeNewestWithInFlight(ctx, chatID, n)
	if err != nil || len(taken) == 0 {
		return taken, inFlight, err
	}
	if err := l.claimed("take newest messages", taken); err != nil {
		return nil, nil, err
	}
	return taken, inFlight, nil
}

// NewestWithInFlight returns what TakeNewestWithInFlight would, claiming
// nothing; see store.Ledger.
func (l *Ledger) NewestWithInFlight(ctx context.Context, chatID string, n int) (free, inFlight []store.Message, err error) {
	return l.mem.NewestWithInFlight(ctx, chatID, n)
}

// Renew extends the live claims that claim holds on the keys; see
// store.Ledger. Leases are not written to disk (after a restart no claim
// holds), so Renew returns without waiting for the disk.
func (l *Ledger) Renew(ctx context.Context, claim string, keys ...string) error {
	return l.mem.Renew(ctx, claim, keys...)
}

// Remove forgets the keys and returns once that is on disk; see
// store.Ledger.
func (l *Ledger) Remove(ctx context.Context, keys ...string) error {
	if err := l.mem.Remove(ctx, keys...); err != nil {
		return err
	}
	return l.durable("remove messages")
}

// Fail records the failures, releases the claims and returns once that is
// on disk; see store.Ledger.
func (l *Ledger) Fail(ctx context.Context, claim string, failures map[string]store.Failure) error {
	if err := l.mem.Fail(ctx, claim, failures); err != nil {
		return err
	}
	return l.durable("fail messages")
}

// Release releases the claims on the keys and returns once that is on
// disk; see store.Ledger.
func (l *Ledger) Release(ctx context.Context, claim string, keys ...string) error {
	if err := l.mem.Release(ctx, claim, keys...); err != nil {
		return err
	}
	return l.durable("release messages")
}

// ByTag returns the unclaimed non-reply messages with the tag; see
// store.Ledger.
func (l *Ledger) ByTag(ctx context.Context, tag string) ([]store.Message, error) {
	return l.mem.ByTag(ctx, tag)
}

// Due returns the unclaimed messages due at now; see store.Ledger.
func (l *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]store.Message, error) {
	return l.mem.Due(ctx, now, limit)
}

// SetTitle remembers the title of a chat and returns once that is on disk;
// see store.Ledger.
func (l *Ledger) SetTitle(ctx context.Context, chatID string, kind store.Kind, title string) error {
	const op = "set chat title"
	if err := checkKey(op, "chat id", chatID); err != nil {
		return err
	}
	if err := l.mem.SetTitle(ctx, chatID, kind, title); err != nil {
		return err
	}
	return l.durable(op)
}

// Chats returns the chats with tracked messages; see store.Ledger.
func (l *Ledger) Chats(ctx context.Context) ([]store.Chat, error) {
	return l.mem.Chats(ctx)
}

// FindChat returns the chat with the ID or title; see store.Ledger.
func (l *Ledger) FindChat(ctx context.Context, idOrTitle string) (store.Chat, error) {
	return l.mem.FindChat(ctx, idOrTitle)
}

// Ping reports whether the ledger can serve requests: it cannot once
// closed.
func (l *Ledger) Ping(ctx context.Context) error {
	if err := l.mem.Ping(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("bolt store: ping: %w", &unavailableError{ErrClosed})
	}
	return nil
}

// Reserve writes r and returns once it is on disk; see store.Ledger.
func (l *Ledger) Reserve(ctx context.Context, r store.Reservation) error {
	const op = "reserve"
	if err := checkKey(op, "reservation id", r.ID); err != nil {
		return err
	}
	if err := l.mem.Reserve(ctx, r); err != nil {
		return err
	}
	return l.durable(op)
}

// Commit drops the reservation and records m, atomically in memory and in
// one transaction on disk, and returns once that is on disk; see
// store.Ledger.
func (l *Ledger) Commit(ctx context.Context, id string, m store.Message) error {
	const op = "commit"
	if err := checkKey(op, "key", m.Key); err != nil {
		return err
	}
	if err := l.mem.Commit(ctx, id, m); err != nil {
		return err
	}
	return l.durable(op)
}

// Drop forgets the reservation and returns once that is on disk; see
// store.Ledger.
func (l *Ledger) Drop(ctx context.Context, id string) error {
	if err := l.mem.Drop(ctx, id); err != nil {
		return err
	}
	return l.durable("drop reservation")
}

// Pending returns the reservations made before olderThan that no settler
// holds; see store.Ledger.
func (l *Ledger) Pending(ctx context.Context, olderThan time.Time, limit int) ([]store.Reservation, error) {
	return l.mem.Pending(ctx, olderThan, limit)
}

// SettlePending takes the reservation for settlement; see store.Ledger.
// The settlement lease is not written to disk: after a restart no settler
// holds a reservation.
func (l *Ledger) SettlePending(ctx context.Context, id string) (store.Reservation, bool, error) {
	return l.mem.SettlePending(ctx, id)
}

// Len returns the number of tracked messages.
func (l *Ledger) Len() int { return l.mem.Len() }
