package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
)

// DedupWindow is how long a callback's msgId is remembered.
const DedupWindow = time.Hour

// Outcomes of Bot.Accept.
const (
	IntakeOK        = "ok"
	IntakeDuplicate = "duplicate"
	IntakeBusy      = "busy"
)

// intake is where callbacks enter the bot, whichever transport brought them
// (an HTTP callback or a Stream mode frame): it drops a msgId seen within
// DedupWindow and queues the command on the worker pool.
type intake struct {
	pool  *pool
	dedup store.Deduper
	// local de-duplicates while the shared store is down, so that commands
	// still run and can answer that the store is unavailable.
	local  store.Deduper
	handle func(context.Context, Event)
	log    logrus.FieldLogger
}

// newIntake builds the intake; handle runs an accepted event's command.
func newIntake(p *pool, dedup store.Deduper, now func() time.Time, log logrus.FieldLogger, handle func(context.Context, Event)) (*intake, error) {
	local, err := memory.NewDeduper(memory.DeduperOptions{Now: now})
	if err != nil {
		return nil, fmt.Errorf("local de-duplication: %w", err)
	}
	return &intake{pool: p, dedup: dedup, local: local, handle: handle, log: log}, nil
}

// accept is Bot.Accept.
func (in *intake) accept(ctx context.Context, cb *dingtalk.Callback, requestID string) (string, error) {
	dedup := in.dedup
	first, err := dedup.FirstSeen(ctx, cb.MsgID, DedupWindow)
	if err != nil {
		in.log.WithError(err).Warn("callback: de-duplication store unavailable, de-duplicating locally")
		dedup = in.local
		if first, err = dedup.FirstSeen(ctx, cb.MsgID, DedupWindow); err != nil {
			return IntakeBusy, err
		}
	}
	if !first {
		in.log.WithField("msg_id", cb.MsgID).Info("callback: duplicate msgId acknowledged, not run again")
		return IntakeDuplicate, nil
	}
	ev := EventFromCallback(cb)
	ev.RequestID = requestID
	if err := in.pool.submit(func(ctx context.Context) { in.handle(ctx, ev) }); err != nil {
		if ferr := dedup.Forget(context.WithoutCancel(ctx), cb.MsgID); ferr != nil {
			in.log.WithError(ferr).Warn("callback: could not forget a refused msgId")
		}
		in.log.WithFields(logrus.Fields{"msg_id": cb.MsgID, "chat": cb.ConversationID}).WithError(err).Warn("callback refused: busy")
		return IntakeBusy, err
	}
	return IntakeOK, nil
}
