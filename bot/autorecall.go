package bot

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/store"
)

// autoRecallBatch is how many due messages one pass claims.
const autoRecallBatch = 100

// autoRecaller recalls messages whose TTL has run out (API sends with "ttl"
// and command replies under REPLY_TTL). It reads the ledger, so messages
// sent before a restart are recalled too for as long as the ledger has
// them.
type autoRecaller struct {
	ledger   store.Ledger
	recaller *recaller
	now      func() time.Time
	log      logrus.FieldLogger

	mu      sync.Mutex
	backoff map[string]retryState // keys whose last auto-recall failed
}

// dueDeferrer is a ledger that keeps the retry schedule of failed
// auto-recalls itself, shared by replicas and kept across restarts (the
// Redis ledger: the due index's score is the next attempt). Due leaves a
// deferred message out until it is due again, so a pass asks for one page.
type dueDeferrer interface {
	DeferDue(ctx context.Context, keys []string, base, max time.Duration) (map[string]time.Time, error)
}

// Pauses between auto-recall attempts of a message that keeps failing:
// 2 s, 4 s, 8 s, … up to an hour.
const (
	retryBase = 2 * time.Second
	retryMax  = time.Hour
)

// retryState is when a failed auto-recall is tried again.
type retryState struct {
	next     time.Time
	failures int
}

// newAutoRecaller builds the TTL worker.
func newAutoRecaller(ledger store.Ledger, recaller *recaller, now func() time.Time, log logrus.FieldLogger) *autoRecaller {
	return &autoRecaller{ledger: ledger, recaller: recaller, now: now, log: log, backoff: make(map[string]retryState)}
}

// run recalls due messages every interval until stop ends. Each pass runs
// with work, so that a pass under way when stop ends (at shutdown) still
// finishes its DingTalk calls and settles the ledger.
func (a *autoRecaller) run(stop, work context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case <-t.C:
			a.recallDue(work)
		}
	}
}

// recallDue recalls the messages due now and returns how many it recalled.
// A message whose recall fails is tried again with a growing pause (up to
// an hour) while the ledger keeps it.
func (a *autoRecaller) recallDue(ctx context.Context) int {
	total := 0
	for ctx.Err() == nil {
		now := a.now()
		limit := 0 // the memory ledger: every due message, the local backoff filters
		if _, shared := a.ledger.(dueDeferrer); shared {
			limit = autoRecallBatch // deferred messages are not due: one page is enough
		}
		due, err := a.ledger.Due(ctx, now, limit)
		if err != nil {
			a.log.WithError(err).Warn("auto-recall: could not read due messages")
			return total
		}
		keys := a.ready(due, now)
		if len(keys) == 0 {
			return total
		}
		claimed, err := a.ledger.Claim(ctx, keys)
		if err != nil {
			a.log.WithError(err).Warn("auto-recall: could not claim due messages")
			return total
		}
		// A pass made only of retries is audited only if it recalls something,
		// so a message that keeps failing does not fill the audit log.
		out := a.recaller.recallClaimed(ctx, claimed, Actor{Source: store.SourceTTL, Request: "ttl expired", Retry: a.allRetries(claimed)})
		total += len(out.Recalled)
		a.note(out, now)
		a.deferFailed(ctx, out)
		if len(out.Recalled) > 0 || len(out.Failed) > 0 {
			a.log.WithFields(logrus.Fields{"recalled": len(out.Recalled), "failed": len(out.Failed)}).Info("auto-recall of expired messages")
		}
		if len(keys) < autoRecallBatch {
			return total
		}
	}
	return total
}

// allRetries reports whether every message of msgs failed an auto-recall
// before.
func (a *autoRecaller) allRetries(msgs []store.Message) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, m := range msgs {
		if _, failed := a.backoff[m.Key]; !failed {
			return false
		}
	}
	return len(msgs) > 0
}

// ready picks up to autoRecallBatch due keys that are not waiting out a
// backoff.
func (a *autoRecaller) ready(due []store.Message, now time.Time) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var keys []string
	for _, m := range due {
		if st, waiting := a.backoff[m.Key]; waiting && now.Before(st.next) {
			continue
		}
		keys = append(keys, m.Key)
		if len(keys) == autoRecallBatch {
			break
		}
	}
	return keys
}

// deferFailed moves the failed keys' next attempt in a ledger that keeps
// the schedule itself; a failure to do so is logged, the local backoff
// still applying in this process.
func (a *autoRecaller) deferFailed(ctx context.Context, out Outcome) {
	d, shared := a.ledger.(dueDeferrer)
	if !shared || len(out.Failed) == 0 {
		return
	}
	keys := make([]string, 0, len(out.Failed))
	for k := range out.Failed {
		keys = append(keys, k)
	}
	if _, err := d.DeferDue(ctx, keys, retryBase, retryMax); err != nil {
		a.log.WithError(err).WithField("keys", len(keys)).Warn("auto-recall: could not defer the failed recalls in the ledger")
	}
}

// note records which keys failed, doubling their pause, and forgets the rest.
func (a *autoRecaller) note(out Outcome, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range out.Recalled {
		delete(a.backoff, k)
	}
	for k := range out.Failed {
		st := a.backoff[k]
		st.failures++
		wait := min(retryMax, retryBase<<min(st.failures-1, 12))
		st.next = now.Add(wait)
		a.backoff[k] = st
	}
	// Forget keys that left the ledger some other way, so the map stays small.
	if len(a.backoff) > 10*autoRecallBatch {
		for k, st := range a.backoff {
			if now.Sub(st.next) > time.Hour {
				delete(a.backoff, k)
			}
		}
	}
}
