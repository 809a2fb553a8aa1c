package bot

import (
	"context"
	"fmt"

	"github.com/dingrecall/dingrecall/templates"
)

// The chats command: "chats" lists, for recall admins, the chats with
// messages "recall N" could take, and how many.

// runChats lists the chats with recallable messages and how many, for
// recall admins.
func (b *Bot) runChats(ctx context.Context, req Request) (Reply, error) {
	if !b.cfg.Policy.IsAdmin(req.Event.StaffID) {
		return Reply{}, errAdminOnly
	}
	chats, err := b.ledger.Chats(ctx)
	if err != nil {
		return Reply{}, fmt.Errorf("list chats: %w", err)
	}
	var d templates.ChatsData
	if req.Delegated {
		d.Bot = b.cfg.Name
	}
	for _, c := range chats {
		// Count what "recall N" could take: not the bot's own replies.
		recallable, err := b.ledger.Newest(ctx, c.ID, c.Count)
		if err != nil {
			return Reply{}, fmt.Errorf("count the messages of chat %s: %w", c.ID, err)
		}
		if len(recallable) > 0 {
			d.Chats = append(d.Chats, templates.ChatLine{ID: c.ID, Title: c.Title, Count: len(recallable)})
		}
	}
	if len(d.Chats) == 0 {
		return b.render(templates.ChatsEmpty, d, req.Log), nil
	}
	return b.render(templates.Chats, d, req.Log), nil
}
