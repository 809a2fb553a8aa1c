package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// cardRecordMargin is how much longer than the ledger a card's records
// live.
const cardRecordMargin = time.Hour

// newCardBook builds the bot's card book, or nil when deps has no CardAPI.
func (b *Bot) newCardBook(deps Deps) *cardBook {
	if deps.Cards == nil {
		return nil
	}
	return &cardBook{
		api: deps.Cards, states: deps.States, layout: newCardLayout(b.cfg.CardTemplate),
		buttons: b.cfg.CardButtons, tombstones: b.cfg.RecallMode == ModeTombstone,
		keep: b.cfg.LedgerTTL + cardRecordMargin, labels: b.label, renderer: b.tpl.Render, now: deps.Now, log: deps.Log,
	}
}

// label renders a short text of the bot's language, or the name itself
// should the template fail.
func (b *Bot) label(name string) string {
	text, err := b.tpl.Render(name, nil)
	if err != nil {
		b.log.WithError(err).Error("could not render a card label")
		return name
	}
	return text
}

// tombstone, in RECALL_MODE=tombstone, replaces each card of msgs (the
// bot's command replies and preview cards aside) by its tombstone: the
// card is updated in place to a struck-through line saying who recalled it
// and when, and why if they said. Those count as recalled (and are listed
// in out.Tombstoned); a card the update failed for is failed with the
// update's error. It returns the messages left to recall: the others,
// cards with no record to update, and cards whose update the quota
// governor stopped (dingtalk.ErrOptionalCallStopped).
func (r *recaller) tombstone(ctx context.Context, msgs []store.Message, by Actor, out *Outcome) []store.Message {
	if r.cards == nil || !r.cards.tombstones {
		return msgs
	}
	var rest []store.Message
	for _, m := range msgs {
		if !IsCard(m.MsgKey) || m.Reply {
			rest = append(rest, m)
			continue
		}
		err := r.cards.bury(ctx, m.Key, by)
		switch {
		case errors.Is(err, errNoCardRecord):
			rest = append(rest, m) // it can still be recalled
		case errors.Is(err, dingtalk.ErrOptionalCallStopped):
			// The month's quota is spent: no card update, but the recall
			// itself still goes.
			rest = append(rest, m)
		case err != nil:
			r.log.WithError(err).WithField("key", m.Key).Warn("could not replace a card by its tombstone")
			out.Failed[m.Key] = failureOf(err)
		default:
			out.Recalled = append(out.Recalled, m.Key)
			out.Tombstoned = append(out.Tombstoned, m.Key)
		}
	}
	return rest
}

// bury updates the card delivered as key to its tombstone.
func (c *cardBook) bury(ctx context.Context, key string, by Actor) error {
	track, err := c.trackOf(ctx, key)
	if err != nil {
		return err
	}
	who := by.Nick
	if who == "" {
		who = by.StaffID
	}
	line, err := c.render(templates.CardTombstone, templates.TombstoneData{Who: who, Source: by.Source, At: clock(c.now()), Reason: clip(by.Reason)})
	if err != nil {
		return err
	}
	return c.update(ctx, track, c.layout.plain(c.labels(templates.CardTombstoneTitle), line))
}

// render renders a card text of the bot's language with data.
func (c *cardBook) render(name string, data any) (string, error) {
	if c.renderer == nil {
		return "", fmt.Errorf("no card texts to render %s", name)
	}
	return c.renderer(name, data)
}

// restoreCard puts back in place the card a tombstone recall replaced
// (audit item it, recalled with CodeTombstoned): the card shows its
// content again, with its buttons, and the ledger tracks it again under
// its key, with its original send time (DingTalk's recall window counts
// from it) and ttl from now, when it had one.
func (b *Bot) restoreCard(ctx context.Context, it store.AuditItem, ttl time.Duration, log logrus.FieldLogger) (store.Message, error) {
	if b.cards == nil {
		return store.Message{}, fmt.Errorf("restore a card: %w", ErrNoCards)
	}
	content, err := cardContentOf(it.MsgParam)
	if err != nil {
		return store.Message{}, err
	}
	track, err := b.cards.trackOf(ctx, it.Key)
	if err != nil {
		return store.Message{}, fmt.Errorf("restore the card %s: %w", it.Key, err)
	}
	if err := b.cards.update(ctx, track, b.cards.layout.show(content, b.cards.buttons, b.label)); err != nil {
		return store.Message{}, fmt.Errorf("restore the card %s: %w: %w", it.Key, ErrDingTalk, err)
	}
	m := store.Message{Key: it.Key, Kind: it.Kind, ChatID: it.ChatID, RobotCode: b.sender.dt.RobotCode(),
		MsgKey: it.MsgKey, MsgParam: it.MsgParam, Tag: it.Tag, SentAt: it.SentAt}
	if ttl > 0 {
		m.ExpiresAt = b.now().Add(ttl)
	}
	if err := b.ledger.Record(context.WithoutCancel(ctx), m); err != nil {
		log.WithError(err).WithField("key", m.Key).Error("restored a card but could not track it again")
		return m, fmt.Errorf("%w: key %s: %w", ErrUntracked, m.Key, err)
	}
	return m, nil
}
