package bot

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
)

// DedupWindow is how long a callback's msgId is remembered.
const DedupWindow = time.Hour

// Intake outcomes.
const (
	IntakeOK        = "ok"
	IntakeDuplicate = "duplicate"
	IntakeBusy      = "busy"
)

// Intake is where callbacks enter the bot, whichever transport brought them
// (an HTTP callback or a Stream mode frame): it drops a msgId seen within
// DedupWindow and queues the command on the worker pool.
type Intake struct {
	bot   *Bot
	pool  *Pool
	dedup store.Deduper
	// local de-duplicates while the shared store is down, so that commands
	// still run and can answer that the store is unavailable.
	local store.Deduper
	log   logrus.FieldLogger
}

// NewIntake builds the intake.
func NewIntake(b *Bot, pool *Pool, dedup store.Deduper, now func() time.Time, log logrus.FieldLogger) *Intake {
	local, err := memory.NewDeduper(memory.DeduperOptions{Now: now})
	if err != nil {
		// NewDeduper refuses only negative options, and none are set.
		panic(err)
	}
	return &Intake{bot: b, pool: pool, dedup: dedup, local: local, log: log}
}

// Accept takes a callback, with the ID of the request that brought it (for
// the logs; "" when none): IntakeDuplicate for a msgId seen before (nothing
// to do), IntakeOK once queued, or IntakeBusy with ErrBusy (or ErrClosed)
// when the pool cannot take it, in which case the msgId is forgotten so
// that DingTalk's redelivery runs.
func (in *Intake) Accept(ctx context.Context, cb *dingtalk.Callback, requestID string) (string, error) {
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
	if err := in.pool.Submit(func(ctx context.Context) { in.bot.Handle(ctx, ev) }); err != nil {
		if ferr := dedup.Forget(context.WithoutCancel(ctx), cb.MsgID); ferr != nil {
			in.log.WithError(ferr).Warn("callback: could not forget a refused msgId")
		}
		in.log.WithFields(logrus.Fields{"msg_id": cb.MsgID, "chat": cb.ConversationID}).WithError(err).Warn("callback refused: busy")
		return IntakeBusy, err
	}
	return IntakeOK, nil
}
