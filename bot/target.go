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
	if errors.Is(err, store.ErrNotFound) {
		if c, ok := b.peerTitle(ctx, cmd.Chat, req.Via); ok {
			chat, err = c, nil
		}
	}
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

// peerTitle finds the chat another bot of the fleet knows by name (a title
// or an ID) when b does not: a group's title reaches only the bots its
// commands were typed to, yet names the same chat for all. The bot typed to
// (via, for a delegated command) is asked first; else the others, and it
// reports false unless exactly one chat is found.
func (b *Bot) peerTitle(ctx context.Context, name, via string) (store.Chat, bool) {
	if asked, ok := b.fleetBot(via); ok {
		if c, err := asked.ledger.FindChat(ctx, name); err == nil {
			c.Bot = ""
			return c, true
		}
	}
	var found store.Chat
	for _, peer := range b.peers() {
		c, err := peer.ledger.FindChat(ctx, name)
		switch {
		case err != nil:
			continue
		case found.ID != "" && found.ID != c.ID:
			return store.Chat{}, false // two chats of that name
		}
		found = c
	}
	found.Bot = ""
	return found, found.ID != ""
}
