package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/dingrecall/dingrecall/store"
)

// target is the chat a command acts on.
type target struct {
	id    string
	label string // the title or ID named with "in <chat>", empty for here
}

// target resolves where a command acts and whether the sender may act
// there: here for recall users, group admins and recall admins; another
// chat ("in <chat>") only for recall admins writing one-to-one. adminOnly
// commands are for recall admins everywhere. It fails with a refusal,
// errOnlyOneToOne, a *chatError for a chat it does not know, or the
// ledger's error.
func (b *Bot) target(ctx context.Context, req Request, adminOnly bool) (target, error) {
	ev, cmd := req.Event, req.Command
	if cmd.Chat == "" {
		_, here := ev.here()
		switch {
		case adminOnly && !b.cfg.Policy.IsAdmin(ev.StaffID):
			return target{}, errAdminOnly
		case !b.cfg.Policy.MayRecallHere(ev):
			return target{}, errNotAllowedHere
		}
		return target{id: here}, nil
	}
	if ev.Group {
		return target{}, errOnlyOneToOne
	}
	if !b.cfg.Policy.IsAdmin(ev.StaffID) {
		return target{}, errAdminElsewhere
	}
	chat, err := b.ledger.FindChat(ctx, cmd.Chat)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAmbiguous):
		return target{}, &chatError{chat: cmd.Chat, err: err, ledger: b.ledger}
	case err != nil:
		return target{}, fmt.Errorf("look up the chat: %w", err)
	}
	label := chat.Title
	if label == "" {
		label = chat.ID
	}
	return target{id: chat.ID, label: label}, nil
}
