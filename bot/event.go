package bot

import (
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// Event is one message someone sent the bot, whichever transport brought it.
type Event struct {
	MsgID          string
	ConversationID string
	// Group is true for a group chat, false for a one-to-one chat with the bot.
	Group   bool
	Title   string
	StaffID string // empty for an external or unlinked account
	Nick    string
	// IsAdmin is DingTalk's word that the sender administers the group.
	IsAdmin bool
	// Text is what was typed; Textual is false for pictures, files and the like.
	Text    string
	Textual bool
	// Quote is the message the person quoted with the command, nil when
	// none (see dingtalk.Callback.Quote).
	Quote *dingtalk.Quote
	// RequestID is the ID of the HTTP request that brought it, for the logs.
	RequestID string
}

// EventFromCallback turns a robot callback into an Event.
func EventFromCallback(cb *dingtalk.Callback) Event {
	var quote *dingtalk.Quote
	if q, ok := cb.Quote(); ok {
		quote = &q
	}
	return Event{
		Quote:          quote,
		MsgID:          cb.MsgID,
		ConversationID: cb.ConversationID,
		Group:          cb.IsGroup(),
		Title:          cb.ConversationTitle,
		StaffID:        cb.SenderStaffID,
		Nick:           cb.SenderNick,
		IsAdmin:        cb.IsAdmin,
		Text:           cb.PlainText(),
		Textual:        cb.MsgType == "" || cb.MsgType == "text" || cb.MsgType == "richText",
	}
}

// here is the chat the event came from, as the ledger names it: the group,
// or for a one-to-one chat the sender's own chat with the bot.
func (ev Event) here() (store.Kind, string) {
	if ev.Group {
		return store.KindGroup, ev.ConversationID
	}
	return store.KindOTO, ev.StaffID
}
