package bot

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// One-tap confirm: a recall above RECALL_CONFIRM_OVER answers with a preview
// card with Confirm and Cancel (when cards can have buttons). Only the
// asker's tap counts; the card then shows the outcome. Typed "recall
// confirm" still works, and closes the card too. A tap on a preview that is
// no longer pending says so on the card.

// withPreviewCard gives reply (the text preview of the pending recall p)
// the preview card to send instead, when the bot's cards have buttons.
func (b *Bot) withPreviewCard(req Request, p pending, data templates.PreviewData, reply Reply) Reply {
	if b.cards == nil || !b.cards.buttons || req.Delegated {
		return reply
	}
	asker := req.Event.Nick
	if asker == "" {
		asker = req.Event.StaffID
	}
	cd := templates.CardPreviewData{PreviewData: data, Asker: asker}
	title, err := b.tpl.Render(templates.CardPreviewTitle, cd)
	if err != nil {
		req.Log.WithError(err).Error("could not render a preview card; sending the text preview")
		return reply
	}
	text, err := b.tpl.Render(templates.CardPreview, cd)
	if err != nil {
		req.Log.WithError(err).Error("could not render a preview card; sending the text preview")
		return reply
	}
	reply.Card = &CardContent{Title: title, Text: text, Preview: &CardPreview{
		ID: p.ID, Asker: req.Event.StaffID, AskerNick: req.Event.Nick, Pending: pendingKey(req.Event)}}
	return reply
}

// sendCardReply sends reply's card as the reply, tracked like any reply; it
// stays at least as long as its recall may be confirmed. It reports false
// when the card did not go out, for the text to go instead.
func (b *Bot) sendCardReply(ctx context.Context, kind store.Kind, here string, reply Reply, log logrus.FieldLogger) bool {
	ttl := b.cfg.ReplyTTL
	if ttl > 0 && reply.Card.Preview != nil {
		ttl += ConfirmWindow // so that a late tap can still be told it expired
	}
	m, err := b.sender.send(ctx, Outgoing{Kind: kind, ChatID: here, Message: CardMessage(*reply.Card), TTL: ttl, Reply: true})
	if err != nil && m.Key == "" {
		log.WithError(err).Warn("could not send a card reply; sending it as text")
		return false
	}
	return true
}

// closePreview shows, on the preview card of the pending recall id (when
// there is one), title and text instead of its buttons: the recall's
// outcome, or why nothing was recalled.
func (b *Bot) closePreview(ctx context.Context, id, title, text string, log logrus.FieldLogger) {
	if b.cards == nil || id == "" {
		return
	}
	track, ok, err := b.cards.get(ctx, previewKey(id))
	if err != nil || !ok {
		if err != nil {
			log.WithError(err).Warn("could not find the preview card to close")
		}
		return
	}
	b.updatePreview(ctx, track, title, text, log)
}

// updatePreview sets a preview card's title and text and takes its buttons
// away.
func (b *Bot) updatePreview(ctx context.Context, track, titleName, text string, log logrus.FieldLogger) {
	if err := b.cards.update(context.WithoutCancel(ctx), track, b.cards.layout.plain(b.label(titleName), fitReply(text))); err != nil {
		log.WithError(err).Warn("could not update the preview card")
	}
}

// clickPreview handles a tap on Confirm or Cancel of the preview card ref
// by staff: only the asker's tap counts (anyone else is told privately);
// Confirm runs exactly the recall the card previewed, Cancel drops it, and
// the card shows what happened. A card whose recall is no longer pending
// says so.
func (b *Bot) clickPreview(ctx context.Context, c click, ref cardRef, log logrus.FieldLogger) {
	p := ref.Preview
	if key := c.cb.Action.Param("key"); key != "" && key != p.ID {
		log.WithField("params_key", key).Warn("card click: its key is not the preview's; ignored")
		return
	}
	if c.staff == "" || c.staff != p.Asker {
		asker := p.AskerNick
		if asker == "" {
			asker = p.Asker
		}
		log.Warn("card click: only the asker may confirm or cancel a recall; refused")
		b.note(ctx, c.staff, templates.CardNotYours, templates.CardNoteData{Asker: asker}, log)
		return
	}
	raw, ok, err := b.states.TakeState(ctx, p.Pending)
	if err != nil {
		log.WithError(err).Error("card click: could not read the pending recall")
		b.note(ctx, c.staff, templates.StoreDown, nil, log)
		return
	}
	var pend pending
	valid := ok && json.Unmarshal([]byte(raw), &pend) == nil && pend.ID == p.ID && len(pend.Keys) > 0
	if ok && !valid && pend.ID != p.ID {
		// A newer recall of the same person waits there: it stays.
		if err := b.states.SetState(ctx, p.Pending, raw, ConfirmWindow); err != nil {
			log.WithError(err).Warn("card click: could not put back a newer pending recall")
		}
	}
	if !valid {
		log.Info("card click: the preview's recall is no longer pending")
		b.updatePreview(ctx, c.track, templates.CardClosedTitle, b.label(templates.CardExpired), log)
		return
	}
	if c.action == ActionCancel {
		log.Info("card click: recall cancelled")
		b.updatePreview(ctx, c.track, templates.CardClosedTitle, b.label(templates.CardCancelled), log)
		return
	}
	by := Actor{Source: store.SourceButton, StaffID: c.staff, Nick: p.AskerNick, Request: "button confirm"}
	out, err := b.recaller.recall(ctx, Selection{ChatID: pend.Chat, Keys: pend.Keys}, by)
	if err != nil {
		log.WithError(err).Error("card click: confirm failed before reaching DingTalk")
		b.note(ctx, c.staff, templates.StoreDown, nil, log)
		return
	}
	log.WithFields(logrus.Fields{"target": pend.Chat, "recalled": len(out.Recalled), "failed": len(out.Failed), "audit": out.AuditID}).Info("recall")
	text := b.render(templates.RecallDone, b.recallData(out, len(pend.Keys), pend.Label), log).Text
	b.updatePreview(ctx, c.track, templates.CardDoneTitle, text, log)
}
