package bot

import (
	"encoding/json"
	"strconv"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/templates"
)

// cardLayout maps what a card shows onto the data keys of its template.
type cardLayout interface {
	// template is the card template's ID.
	template() string
	// show is the data of a card showing c, with its buttons when buttons
	// (a Recall button, or a preview's Confirm and Cancel); label renders a
	// button's name (templates.CardRecallButton, ...).
	show(c CardContent, buttons bool, label func(string) string) map[string]string
	// plain is the data of a card that shows title and text and has no
	// buttons: a tombstone, or a preview card's outcome.
	plain(title, text string) map[string]string
	// key is the data that puts a message's key on its card, for templates
	// whose buttons send it as params.key; nil when the template takes none.
	key(messageKey string) map[string]string
}

// newCardLayout is the layout of templateID: DingTalk's built-in card when
// it is empty or dingtalk.BuiltinCardTemplate, else the team's own
// template with dingrecall's data keys (see teamLayout).
func newCardLayout(templateID string) cardLayout {
	if templateID == "" || templateID == dingtalk.BuiltinCardTemplate {
		return builtinLayout{}
	}
	return teamLayout{id: templateID}
}

// builtinLayout fills DingTalk's built-in card (dingtalk.BuiltinCardTemplate),
// which needs no design: msgTitle, msgContent (markdown), flowStatus "3"
// (finished, so that it is not shown as still typing) and sys_full_json_obj,
// whose order lists the parts shown and whose msgButtons are the buttons:
// {"text", "color", "id", "request": true}, where id is the action ID a
// click calls back with.
type builtinLayout struct{}

// builtinButton is one button of the built-in card.
type builtinButton struct {
	Text    string `json:"text"`
	Color   string `json:"color"`
	ID      string `json:"id"`
	Request bool   `json:"request"`
}

func (builtinLayout) template() string { return dingtalk.BuiltinCardTemplate }

func (l builtinLayout) show(c CardContent, buttons bool, label func(string) string) map[string]string {
	var btns []builtinButton
	switch {
	case !buttons:
	case c.Preview != nil:
		btns = []builtinButton{
			{Text: label(templates.CardConfirmButton), Color: "blue", ID: ActionConfirm, Request: true},
			{Text: label(templates.CardCancelButton), Color: "gray", ID: ActionCancel, Request: true},
		}
	case c.RecallButton:
		btns = []builtinButton{{Text: label(templates.CardRecallButton), Color: "red", ID: ActionRecall, Request: true}}
	}
	return l.data(c.Title, c.Text, btns)
}

func (l builtinLayout) plain(title, text string) map[string]string { return l.data(title, text, nil) }

func (builtinLayout) key(string) map[string]string { return nil }

// data is the built-in card's data.
func (builtinLayout) data(title, text string, btns []builtinButton) map[string]string {
	if btns == nil {
		btns = []builtinButton{} // an update must take the old buttons away
	}
	full, _ := json.Marshal(struct {
		Order      []string        `json:"order"`
		MsgButtons []builtinButton `json:"msgButtons"`
	}{[]string{"msgTitle", "msgContent", "msgButtons"}, btns})
	return map[string]string{"msgTitle": title, "msgContent": text, "flowStatus": "3", "sys_full_json_obj": string(full)}
}

// teamLayout fills the team's own template (CARD_TEMPLATE_ID), made in
// DingTalk's card builder with these variables: title (text), text
// (markdown), key (text), recall and confirm ("true"/"false", to show the
// Recall button, and the Confirm and Cancel buttons). Its buttons call back
// with action IDs recall, confirm and cancel and the params action (the
// same word) and key (the variable key: a message's key, or a preview's
// ID).
type teamLayout struct{ id string }

func (l teamLayout) template() string { return l.id }

func (teamLayout) show(c CardContent, buttons bool, _ func(string) string) map[string]string {
	d := map[string]string{"title": c.Title, "text": c.Text, "key": "",
		"recall":  strconv.FormatBool(buttons && c.RecallButton && c.Preview == nil),
		"confirm": strconv.FormatBool(buttons && c.Preview != nil)}
	if c.Preview != nil {
		d["key"] = c.Preview.ID
	}
	return d
}

func (teamLayout) plain(title, text string) map[string]string {
	return map[string]string{"title": title, "text": text, "recall": "false", "confirm": "false"}
}

func (teamLayout) key(messageKey string) map[string]string {
	return map[string]string{"key": messageKey}
}
