package handlers

import (
	"strings"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// cardBody is the "card" content of a send: an interactive card with a
// title, a markdown text and, when recallButton is true, a Recall button.
type cardBody struct {
	Title        string `json:"title"`
	Text         string `json:"text"`
	RecallButton bool   `json:"recallButton"`
}

// message checks the card and turns it into the bot's card message for a
// chat of kind: cards go to groups and one-to-one chats.
func (b *cardBody) message(kind store.Kind) (dingtalk.Message, error) {
	switch {
	case strings.TrimSpace(b.Title) == "" && strings.TrimSpace(b.Text) == "":
		return dingtalk.Message{}, badField("card", "needs a title or a text")
	case kind == store.KindPrivate:
		return dingtalk.Message{}, badField("chatType", "cards go to groups and one-to-one chats (oto), not private chats")
	}
	return bot.CardMessage(bot.CardContent{Title: b.Title, Text: b.Text, RecallButton: b.RecallButton}), nil
}
