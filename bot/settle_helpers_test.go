package bot_test

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// settlementCounts is what settlement told a recordingObserver.
type settlementCounts struct {
	mu        sync.Mutex
	unsettled int
	pending   int
}

func (o *recordingObserver) Unsettled() {
	o.settlement.mu.Lock()
	defer o.settlement.mu.Unlock()
	o.settlement.unsettled++
}

func (o *recordingObserver) PendingReservations(n int) {
	o.settlement.mu.Lock()
	defer o.settlement.mu.Unlock()
	o.settlement.pending = n
}

// unsettled is how many reservations settlement reported.
func (o *recordingObserver) unsettled() int {
	o.settlement.mu.Lock()
	defer o.settlement.mu.Unlock()
	return o.settlement.unsettled
}

// pendingReservations is the pending count of the last settlement pass.
func (o *recordingObserver) pendingReservations() int {
	o.settlement.mu.Lock()
	defer o.settlement.mu.Unlock()
	return o.settlement.pending
}

// The ledger calls of write-ahead sends, in-flight selection and renewals
// go down with the test store, as the others do.

func (s *testStore) TakeNewestWithInFlight(ctx context.Context, chatID string, n int) ([]store.Message, []store.Message, error) {
	if err := s.err(); err != nil {
		return nil, nil, err
	}
	return s.Ledger.TakeNewestWithInFlight(ctx, chatID, n)
}

func (s *testStore) NewestWithInFlight(ctx context.Context, chatID string, n int) ([]store.Message, []store.Message, error) {
	if err := s.err(); err != nil {
		return nil, nil, err
	}
	return s.Ledger.NewestWithInFlight(ctx, chatID, n)
}

func (s *testStore) Renew(ctx context.Context, claim string, keys ...string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Ledger.Renew(ctx, claim, keys...)
}

func (s *testStore) Reserve(ctx context.Context, r store.Reservation) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Ledger.Reserve(ctx, r)
}

func (s *testStore) Commit(ctx context.Context, id string, m store.Message) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Ledger.Commit(ctx, id, m)
}

func (s *testStore) Drop(ctx context.Context, id string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Ledger.Drop(ctx, id)
}

func (s *testStore) Pending(ctx context.Context, olderThan time.Time, limit int) ([]store.Reservation, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Ledger.Pending(ctx, olderThan, limit)
}

func (s *testStore) SettlePending(ctx context.Context, id string) (store.Reservation, bool, error) {
	if err := s.err(); err != nil {
		return store.Reservation{}, false, err
	}
	return s.Ledger.SettlePending(ctx, id)
}

// spyLedger stands between the bot and the harness's ledger: with
// commitDown set, Commit fails as if the store went down after the
// reservation; renewals, when set, is told of every Renew.
type spyLedger struct {
	store.Ledger
	commitDown atomic.Bool
	renewals   chan renewal
}

// renewal is one call of Renew.
type renewal struct {
	claim string
	keys  []string
}

func (l *spyLedger) Commit(ctx context.Context, id string, m store.Message) error {
	if l.commitDown.Load() {
		return errDown
	}
	return l.Ledger.Commit(ctx, id, m)
}

func (l *spyLedger) Renew(ctx context.Context, claim string, keys ...string) error {
	err := l.Ledger.Renew(ctx, claim, keys...)
	if l.renewals != nil {
		select {
		case l.renewals <- renewal{claim, keys}:
		default: // the test is not waiting for this one
		}
	}
	return err
}

// withSpy puts spy between the bot and its ledger.
func withSpy(spy *spyLedger) option {
	return func(d *bot.Deps, _ *bot.Config) {
		spy.Ledger = d.Ledger
		d.Ledger = spy
	}
}

// pending lists the reservations of the harness's ledger made until now.
func (h *harness) pending() []store.Reservation {
	h.t.Helper()
	rs, err := h.store.Ledger.Pending(h.ctx, h.clock.Now().Add(time.Nanosecond), 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

// dingtalk is a client of the harness's fake, as another replica has.
func (h *harness) dingtalk() *dingtalk.Client {
	h.t.Helper()
	c, err := dingtalk.NewClient(h.fake.AppKey(), h.fake.AppSecret(), dingtalk.WithBaseURL(h.fake.URL()), dingtalk.WithQPS(1_000_000))
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// templates are the English replies.
func (h *harness) templates() *templates.Set {
	h.t.Helper()
	tpl, err := templates.Load("en", bot.TemplateNames()...)
	if err != nil {
		h.t.Fatal(err)
	}
	return tpl
}
