package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// codeData is what explanations of DingTalk codes may say: the day the
// monthly API quota starts again.
func (b *Bot) codeData() templates.CodeData {
	return templates.CodeData{ResetsOn: dingtalk.QuotaResetDay(b.now())}
}

// WarnQuota tells the recall admins, each one-to-one through this bot,
// that it has used used of its limit metered DingTalk calls this month
// (the quota governor calls it at 80 %). It logs the warning too, and each
// send that fails. It fails only when no admin got the warning, so that the
// governor tries again; with no RECALL_ADMINS there is nobody to try for.
func (b *Bot) WarnQuota(ctx context.Context, used, limit int64) error {
	data := templates.QuotaData{Bot: b.cfg.Name, Used: used, Limit: limit, ResetsOn: dingtalk.QuotaResetDay(b.now())}
	if limit > 0 {
		data.Percent = used * 100 / limit
	}
	log := b.log.WithFields(logrus.Fields{"used": used, "limit": limit, "resets_on": data.ResetsOn})
	log.Warn("the bot has used most of its monthly DingTalk API quota")
	text, err := b.tpl.Render(templates.QuotaWarning, data)
	if err != nil {
		log.WithError(err).Error("could not render the quota warning")
		return fmt.Errorf("render the quota warning: %w", err)
	}
	admins := make([]string, 0, len(b.cfg.Policy.Admins))
	for id, ok := range b.cfg.Policy.Admins {
		if ok {
			admins = append(admins, id)
		}
	}
	slices.Sort(admins)
	if len(admins) == 0 {
		log.Warn("no RECALL_ADMINS to tell of the quota")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var errs []error
	for _, id := range admins {
		o := Outgoing{Kind: store.KindOTO, ChatID: id, Message: dingtalk.Text(text), Reply: true}
		if _, err := b.sender.send(ctx, o); err != nil {
			log.WithField("admin", id).WithError(err).Error("could not send the quota warning")
			errs = append(errs, fmt.Errorf("warn %s: %w", id, err))
		}
	}
	if len(errs) == len(admins) {
		return errors.Join(errs...)
	}
	return nil
}
