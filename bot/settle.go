package bot

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/store"
)

// The audit entry of a settled reservation: a send whose outcome the
// ledger never learnt.
const (
	// ActionSend is the audit action of a send settlement reports.
	ActionSend = store.ActionSend
	// SourceSettlement is the audit source of settlement (RunSettler).
	SourceSettlement = "settlement"
	// ResultUnknown is the audit result of a send whose outcome is unknown:
	// the message may be in the chat, untracked.
	ResultUnknown = "unknown"
	// CodeOutcomeUnknown is the code of such an audit item.
	CodeOutcomeUnknown = "dingrecall.outcomeUnknown"
)

// ReasonOutcomeUnknown is the reason of a settled reservation's audit item.
const ReasonOutcomeUnknown = "the send was reserved but its outcome never reached the ledger (a crash, or DingTalk not answering): " +
	"the message may be in the chat without a key to recall it by; look there and delete it by hand if it is"

// settleLimit is the most pending reservations one settlement pass reads.
const settleLimit = 1000

// settler settles the reservations sends leave behind: a process that died
// between reserving a send and recording its outcome, or a send whose
// outcome DingTalk left unknown. Without a processQueryKey DingTalk cannot
// be asked about such a send, so each is reported to operators — never
// silently dropped — and then dropped.
type settler struct {
	ledger store.Ledger
	audit  store.Audit
	obs    Observer
	// lease is the ledger's claim lease: a reservation older than two is
	// no send under way any more.
	lease time.Duration
	now   func() time.Time
	log   logrus.FieldLogger
}

// run settles at once, then every interval until ctx ends.
func (s *settler) run(ctx context.Context, interval time.Duration) {
	s.settle(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.settle(ctx)
		}
	}
}

// settle runs one pass: it tells the observer how many reservations are
// pending, and reports and drops those older than two leases that this
// replica wins. It returns how many it settled.
func (s *settler) settle(ctx context.Context) int {
	now := s.now()
	pending, err := s.ledger.Pending(ctx, now.Add(time.Nanosecond), settleLimit) // made at or before now
	if err != nil {
		if ctx.Err() == nil {
			s.log.WithError(err).Warn("settlement: could not read the pending reservations")
		}
		return 0
	}
	s.obs.PendingReservations(len(pending))
	cut := now.Add(-2 * s.lease)
	settled := 0
	for _, p := range pending {
		if !p.ReservedAt.Before(cut) || ctx.Err() != nil {
			break // oldest first: the rest are sends under way
		}
		r, ok, err := s.ledger.SettlePending(ctx, p.ID)
		if err != nil {
			s.log.WithError(err).Warn("settlement: could not take a reservation")
			continue
		}
		if !ok {
			continue // another replica settles it
		}
		if s.report(ctx, r) {
			settled++
		}
	}
	return settled
}

// report tells operators of r — an error log line, the observer and an
// audit entry — and drops it. When the audit entry cannot be written, r is
// kept: it comes back after its settlement lease and is reported again.
func (s *settler) report(ctx context.Context, r store.Reservation) bool {
	s.obs.Unsettled()
	s.log.WithFields(logrus.Fields{
		"chat": r.ChatID, "kind": string(r.Kind), "reservation": r.ID, "holder": r.Holder, "tag": r.Tag, "reply": r.Reply,
		"reserved_at": r.ReservedAt.UTC().Format(time.RFC3339Nano),
		"preview":     Preview(store.Message{MsgKey: r.MsgKey, MsgParam: r.MsgParam}, 40),
	}).Error("settlement: a send's outcome is unknown: the message may be in the chat, untracked; check the chat (see the audit log)")
	e := store.AuditEntry{
		ID: newID(), At: s.now(), Action: ActionSend, Source: SourceSettlement, ChatID: r.ChatID,
		Request: fmt.Sprintf("settle reservation %s (by %s)", r.ID, r.Holder),
		Items: []store.AuditItem{{
			ChatID: r.ChatID, Kind: r.Kind, MsgKey: r.MsgKey, MsgParam: r.MsgParam, Tag: r.Tag, SentAt: r.ReservedAt,
			Result: ResultUnknown, Code: CodeOutcomeUnknown, Reason: ReasonOutcomeUnknown,
		}},
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerWriteTimeout)
	defer cancel()
	if err := s.audit.AddAudit(wctx, e); err != nil {
		s.log.WithError(err).WithField("reservation", r.ID).Error("settlement: could not audit a reservation; it is reported again later")
		return false
	}
	if err := s.ledger.Drop(wctx, r.ID); err != nil {
		s.log.WithError(err).WithField("reservation", r.ID).Warn("settlement: could not drop a reported reservation; it may be reported again")
	}
	return true
}

// defaultHolder names this process: its host name and process ID.
func defaultHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}
