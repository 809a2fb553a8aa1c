package bot

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// Button clicks. A click is a command from the person who clicked: Recall
// follows the policy of "recall" in the chat the card is in (the click does
// not say whether the person administers the group, so group admins who are
// neither recall users nor recall admins cannot use it), and Confirm and
// Cancel count only from the person who asked. Someone whose tap does
// nothing is told so in their one-to-one chat with the bot, never in the
// group. A click delivered again does nothing, and so does a Recall of a
// card that is gone already.

// userIDTypeUnion is a click whose userId is a unionId, not a staff ID.
const userIDTypeUnion = 2

// click is one button click, resolved.
type click struct {
	cb *dingtalk.CardCallback
	// track is the card's outTrackId.
	track string
	// staff is the clicker's staff ID ("" when the click carries none).
	staff string
	// action is ActionRecall, ActionConfirm, ActionCancel or what else the
	// click named.
	action string
}

// AcceptCardClick takes a card button click, as Accept takes a callback:
// IntakeDuplicate for a click delivered before (its DeliveryID seen within
// DedupWindow), IntakeOK once it is queued, or IntakeBusy with ErrBusy (or
// ErrClosed) when the worker pool cannot take it, in which case the
// delivery is forgotten so that DingTalk's redelivery runs.
func (b *Bot) AcceptCardClick(ctx context.Context, cb *dingtalk.CardCallback) (string, error) {
	in := b.intake
	id := ""
	if cb.DeliveryID != "" {
		id = "card-click:" + cb.DeliveryID
	}
	dedup := in.dedup
	if id != "" {
		first, err := dedup.FirstSeen(ctx, id, DedupWindow)
		if err != nil && in.local == nil {
			in.log.WithError(err).Warn("card click: de-duplication store unavailable; DingTalk will deliver it again")
			return IntakeBusy, err
		}
		if err != nil {
			dedup = in.local
			if first, err = dedup.FirstSeen(ctx, id, DedupWindow); err != nil {
				return IntakeBusy, err
			}
		}
		if !first {
			in.log.WithField("out_track_id", cb.OutTrackID).Info("card click: delivered again, not run again")
			return IntakeDuplicate, nil
		}
	}
	if err := in.pool.submit(func(ctx context.Context) { b.handleClick(ctx, cb) }); err != nil {
		if id != "" {
			if ferr := dedup.Forget(context.WithoutCancel(ctx), id); ferr != nil {
				in.log.WithError(ferr).Warn("card click: could not forget a refused click")
			}
		}
		in.log.WithField("out_track_id", cb.OutTrackID).WithError(err).Warn("card click refused: busy")
		return IntakeBusy, err
	}
	return IntakeOK, nil
}

// handleClick runs a click: it finds the card, and what was pressed.
func (b *Bot) handleClick(ctx context.Context, cb *dingtalk.CardCallback) {
	c := click{cb: cb, track: cb.OutTrackID, staff: cb.UserID, action: cb.Action.Param("action")}
	if c.action == "" {
		c.action = cb.Action.ID()
	}
	if cb.UserIDType == userIDTypeUnion {
		c.staff = "" // a unionId is no staff ID: nobody the policy knows
	}
	log := b.log.WithFields(logrus.Fields{"out_track_id": c.track, "user": c.staff, "action": c.action, "source": store.SourceButton})
	if b.cards == nil {
		log.Warn("card click, but the bot sends no cards: ignored")
		return
	}
	ref, ok, err := b.cards.ref(ctx, c.track)
	switch {
	case err != nil:
		log.WithError(err).Error("card click: the store is unavailable")
		b.note(ctx, c.staff, templates.StoreDown, nil, log)
		return
	case !ok:
		log.Info("card click on a card I have no record of: ignored")
		return
	}
	log = log.WithField("chat", ref.Chat)
	switch {
	case c.action == ActionRecall && ref.Preview == nil:
		b.obs.Command("recall_button", b.clickRecall(ctx, c, ref, log))
	case (c.action == ActionConfirm || c.action == ActionCancel) && ref.Preview != nil:
		b.obs.Command("recall_confirm_button", "ok")
		b.clickPreview(ctx, c, ref, log)
	default:
		log.Warn("card click: no such button on this card; ignored")
	}
}

// clickRecall handles a tap on a card's Recall button and returns the
// outcome for the metrics.
func (b *Bot) clickRecall(ctx context.Context, c click, ref cardRef, log logrus.FieldLogger) string {
	if key := c.cb.Action.Param("key"); key != "" && key != ref.Key {
		log.WithField("params_key", key).Warn("card click: its key is not the card's message; ignored")
		return "invalid"
	}
	ev := Event{StaffID: c.staff, Group: ref.Kind == store.KindGroup, ConversationID: ref.Chat}
	label := b.chatLabel(ctx, ref.Chat)
	if !b.cfg.Policy.MayRecallHere(ev) {
		log.Warn("refused: not allowed to recall in this chat (Recall button)")
		b.note(ctx, c.staff, templates.CardRefused, templates.CardNoteData{Chat: label}, log)
		return "refused"
	}
	if _, err := b.ledger.Get(ctx, ref.Key); errors.Is(err, store.ErrNotFound) {
		log.Info("card click: the card's message is recalled already; nothing to do")
		return "ok"
	} else if err != nil {
		log.WithError(err).Error("card click: the store is unavailable")
		b.note(ctx, c.staff, templates.StoreDown, nil, log)
		return "unavailable"
	}
	out, err := b.recaller.recall(ctx, Selection{ChatID: ref.Chat, Keys: []string{ref.Key}},
		Actor{Source: store.SourceButton, StaffID: c.staff, Request: "button recall"})
	if err != nil {
		log.WithError(err).Error("card click: recall failed before reaching DingTalk")
		b.note(ctx, c.staff, templates.StoreDown, nil, log)
		return "unavailable"
	}
	log.WithFields(logrus.Fields{"target": ref.Chat, "recalled": len(out.Recalled), "failed": len(out.Failed), "audit": out.AuditID}).Info("recall")
	if f, failed := out.Failed[ref.Key]; failed && f.Code != CodeNotTracked {
		b.note(ctx, c.staff, templates.RecallDone, b.recallData(out, 1, label), log)
	}
	return "ok"
}

// chatLabel is the chat's title when the bot knows it, else its ID.
func (b *Bot) chatLabel(ctx context.Context, chatID string) string {
	if chat, err := b.ledger.FindChat(ctx, chatID); err == nil && chat.Title != "" {
		return chat.Title
	}
	return chatID
}

// note tells staff something privately: a reply in their one-to-one chat
// with the bot, recalled after ReplyTTL like any reply. Without a staff ID
// there is nobody to tell, and it is only logged.
func (b *Bot) note(ctx context.Context, staff, name string, data any, log logrus.FieldLogger) {
	if staff == "" {
		log.Info("card click from someone without a staff ID: nobody to tell privately")
		return
	}
	reply := b.render(name, data, log)
	m, err := b.sender.send(ctx, Outgoing{Kind: store.KindOTO, ChatID: staff, Message: dingtalk.Text(fitReply(reply.Text)), TTL: b.cfg.ReplyTTL, Reply: true})
	if err != nil && m.Key == "" {
		log.WithError(err).Warn("could not tell the clicker privately")
	}
}
