package sandbox

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// Cards on the page. A card the bot delivered shows as the fake recorded it
// (its data after every update) with its buttons; POST /sandbox/api/click
// {chat, key, user, action} has user click one, which the fake DingTalk
// pushes to the app as the card callback over its Stream mode gateway (the
// app keeps a Stream connection for card clicks in every callback mode when
// CARD_BUTTONS is on, as it is by default in sandbox mode).

// cardView is a card as the page shows it.
type cardView struct {
	// OutTrackID is the card's outTrackId.
	OutTrackID string `json:"outTrackId"`
	// Template is its card template.
	Template string `json:"template"`
	// Buttons are its buttons, in order.
	Buttons []buttonView `json:"buttons"`
}

// buttonView is one button of a card.
type buttonView struct {
	// Action is the action ID a click calls back with.
	Action string `json:"action"`
	// Text is the button's label.
	Text string `json:"text"`
}

// withCard fills in v, the view of m, from the fake's record of the card m
// delivered, when m is a card: its title, text and buttons as they are now.
func (s *sim) withCard(v messageView, m dingtalktest.Message) messageView {
	if m.MsgKey != dingtalktest.CardMsgKey {
		return v
	}
	c, ok := s.d.Fake.Card(m.OutTrackID)
	if !ok {
		return v
	}
	view := &cardView{OutTrackID: c.OutTrackID, Template: c.TemplateID, Buttons: []buttonView{}}
	if full, ok := c.Data["sys_full_json_obj"]; ok {
		// DingTalk's built-in card.
		v.Title, v.Text = clip(c.Data["msgTitle"]), clip(c.Data["msgContent"])
		var obj struct {
			MsgButtons []struct {
				Text string `json:"text"`
				ID   string `json:"id"`
			} `json:"msgButtons"`
		}
		_ = json.Unmarshal([]byte(full), &obj)
		for _, b := range obj.MsgButtons {
			view.Buttons = append(view.Buttons, buttonView{Action: b.ID, Text: b.Text})
		}
	} else {
		// A team template with dingrecall's variables.
		v.Title, v.Text = clip(c.Data["title"]), clip(c.Data["text"])
		if c.Data["recall"] == "true" {
			view.Buttons = append(view.Buttons, buttonView{Action: "recall", Text: "Recall"})
		}
		if c.Data["confirm"] == "true" {
			view.Buttons = append(view.Buttons, buttonView{Action: "confirm", Text: "Confirm"}, buttonView{Action: "cancel", Text: "Cancel"})
		}
	}
	v.Card = view
	return v
}

// clickRequest is the body of POST /sandbox/api/click.
type clickRequest struct {
	// Chat is the chat's id on the page.
	Chat string `json:"chat"`
	// Key is the card's message key (its carrierId).
	Key string `json:"key"`
	// User is the staff ID of who clicks.
	User string `json:"user"`
	// Action is the button's action ID.
	Action string `json:"action"`
}

// clickResponse is the answer of POST /sandbox/api/click.
type clickResponse struct {
	// MessageID is the Stream frame that carried the click.
	MessageID string `json:"messageId"`
	// CallbackStatus is the code of the app's ack (0 when none came within
	// ackWait); CallbackError its message, if any.
	CallbackStatus int    `json:"callbackStatus"`
	CallbackError  string `json:"callbackError,omitempty"`
}

// click answers POST /sandbox/api/click: user clicks the button action of the
// card key in chat, and the fake pushes the card callback to the app.
func (s *sim) click(c *gin.Context) {
	var req clickRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	ch, rerr := s.chatAndUser(req.Chat, req.User)
	if rerr != nil {
		fail(c, rerr)
		return
	}
	card, ok := s.d.Fake.CardByCarrier(req.Key)
	if !ok || card.SpaceID != ch.ConversationID && card.SpaceID != ch.Owner {
		fail(c, badRequest("key", "no card %q in %s", req.Key, req.Chat))
		return
	}
	if !hasButton(s.withCard(messageView{}, dingtalktest.Message{MsgKey: dingtalktest.CardMsgKey, OutTrackID: card.OutTrackID}), req.Action) {
		fail(c, badRequest("action", "the card has no button %q now", req.Action))
		return
	}
	id, err := s.d.Fake.ClickCard("", card.OutTrackID, req.User, req.Action, map[string]any{"action": req.Action})
	if err != nil {
		fail(c, &reqError{status: http.StatusConflict, code: "not_clickable", message: "the click could not be delivered: " + err.Error()})
		return
	}
	status, errText, err := s.awaitAck(c.Request.Context(), id)
	if err != nil {
		fail(c, &reqError{status: http.StatusBadGateway, code: "unreachable", message: err.Error()})
		return
	}
	s.d.Log.WithFields(logrus.Fields{"chat": ch.ConversationID, "user": req.User, "action": req.Action, "status": status}).Debug("sandbox: clicked a card button")
	c.JSON(http.StatusOK, clickResponse{MessageID: id, CallbackStatus: status, CallbackError: errText})
}

// hasButton reports whether the card of v has a button for action.
func hasButton(v messageView, action string) bool {
	if v.Card == nil {
		return false
	}
	for _, b := range v.Card.Buttons {
		if b.Action == action {
			return true
		}
	}
	return false
}
