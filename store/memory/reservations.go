package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// reservation is one stored reservation and, while a settler holds it,
// the end of its settlement lease (Unix nanoseconds; 0 when none).
type reservation struct {
	r      store.Reservation
	settle int64
}

// expired reports whether r is TTL old at now.
func (ix *index) expired(r *reservation, now int64) bool {
	return r.r.ReservedAt.UnixNano() <= now-ix.ttl
}

// dropReservation forgets the reservation id; the caller holds mu.
func (ix *index) dropReservation(id string) {
	if _, ok := ix.res[id]; ok {
		delete(ix.res, id)
		ix.mark(JournalReservation, id)
	}
}

// Reserve writes r ahead of its send; see store.Ledger.
func (m *Ledger) Reserve(ctx context.Context, r store.Reservation) error {
	if err := ctxErr(ctx, "reserve"); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("reserve: %w", err)
	}
	now := m.lock()
	defer m.unlock()
	m.reserve(r, now)
	return nil
}

// reserve stores r, valid, at now; the caller holds the lock.
func (m *Ledger) reserve(r store.Reservation, now int64) {
	if r.ReservedAt.IsZero() {
		r.ReservedAt = time.Unix(0, now).UTC()
	}
	ix := m.ix
	ix.mark(JournalReservation, r.ID)
	res := &reservation{r: r}
	if ix.expired(res, now) {
		delete(ix.res, r.ID)
		return
	}
	ix.res[r.ID] = res
}

// Commit drops the reservation and records msg, atomically; see
// store.Ledger.
func (m *Ledger) Commit(ctx context.Context, id string, msg store.Message) error {
	if err := ctxErr(ctx, "commit"); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("commit: %w: empty reservation id", store.ErrInvalid)
	}
	if err := msg.Validate(); err != nil {
		return fmt.Errorf("commit reservation %q: %w", id, err)
	}
	now := m.lock()
	defer m.unlock()
	m.ix.dropReservation(id)
	m.record(msg, now, false)
	return nil
}

// Drop forgets the reservation; see store.Ledger.
func (m *Ledger) Drop(ctx context.Context, id string) error {
	if err := ctxErr(ctx, "drop reservation"); err != nil {
		return err
	}
	m.lock()
	defer m.unlock()
	m.ix.dropReservation(id)
	return nil
}

// Pending returns the reservations made before olderThan that no settler
// holds, oldest first; see store.Ledger. It forgets those that are TTL old.
func (m *Ledger) Pending(ctx context.Context, olderThan time.Time, limit int) ([]store.Reservation, error) {
	if err := ctxErr(ctx, "pending reservations"); err != nil {
		return nil, err
	}
	now := m.lock()
	defer m.unlock()
	ix := m.ix
	var out []store.Reservation
	for id, r := range ix.res {
		switch {
		case ix.expired(r, now):
			ix.dropReservation(id)
		case r.r.ReservedAt.Before(olderThan) && r.settle <= now:
			out = append(out, r.r)
		}
	}
	slices.SortFunc(out, func(a, b store.Reservation) int {
		return cmp.Or(a.ReservedAt.Compare(b.ReservedAt), strings.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// SettlePending takes the reservation for settlement; see store.Ledger.
func (m *Ledger) SettlePending(ctx context.Context, id string) (store.Reservation, bool, error) {
	if err := ctxErr(ctx, "settle reservation"); err != nil {
		return store.Reservation{}, false, err
	}
	now := m.lock()
	defer m.unlock()
	ix := m.ix
	r := ix.res[id]
	switch {
	case r == nil:
		return store.Reservation{}, false, nil
	case ix.expired(r, now):
		ix.dropReservation(id)
		return store.Reservation{}, false, nil
	case r.settle > now:
		return store.Reservation{}, false, nil
	}
	r.settle = now + ix.lease
	return r.r, true, nil
}

// ReservationCount returns the number of stored reservations, TTL old
// ones included until Pending forgets them.
func (m *Ledger) ReservationCount() int {
	m.lock()
	defer m.unlock()
	return len(m.ix.res)
}
