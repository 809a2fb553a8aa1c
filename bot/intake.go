package bot

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
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
// local, when not nil, de-duplicates while dedup is unavailable.
func newIntake(p *pool, dedup, local store.Deduper, log logrus.FieldLogger, handle func(context.Context, Event)) *intake {
	return &intake{pool: p, dedup: dedup, local: local, handle: handle, log: log}
}

// accept is Bot.Accept.
func (in *intake) accept(ctx context.Context, cb *dingtalk.Callback, requestID string) (string, error) {
	dedup := in.dedup
	first, err := dedup.FirstSeen(ctx, cb.MsgID, DedupWindow)
	if err != nil && in.local == nil {
		in.log.WithError(err).Warn("callback: de-duplication store unavailable; DingTalk will deliver it again")
		return IntakeBusy, err
	}
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
