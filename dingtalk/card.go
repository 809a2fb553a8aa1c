package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Interactive card API paths.
const (
	// PathCardDeliver creates a card instance and delivers it in one call.
	PathCardDeliver = "/v1.0/card/instances/createAndDeliver"
	// PathCardUpdate updates a card instance's data in place (PUT).
	PathCardUpdate = "/v1.0/card/instances"
)

// BuiltinCardTemplate is the card template DingTalk itself offers to every
// app, which nobody has to design: the "AI card" that DingTalk's own Stream
// SDK for Python uses for its markdown cards (card_instance.py). Its data
// keys are msgTitle, msgContent, flowStatus ("3": finished) and
// sys_full_json_obj, a JSON string whose msgButtons list buttons; a button
// with "request": true calls back with its id among the click's actionIds.
const BuiltinCardTemplate = "382e4302-551d-4880-bf29-a30acfab2e71.schema"

// CallbackStream is the callbackType that sends a card's button clicks over
// Stream mode (topic /v1.0/card/instances/callback).
const CallbackStream = "STREAM"

// Card space types: where a card is delivered.
const (
	// SpaceGroup is a group chat.
	SpaceGroup = "IM_GROUP"
	// SpaceRobot is a person's one-to-one chat with the robot.
	SpaceRobot = "IM_ROBOT"
)

// CodeCardNotDelivered is dingrecall's code for a createAndDeliver answer
// that reports the delivery itself as failed (deliverResults[].success
// false).
const CodeCardNotDelivered = "dingrecall.cardNotDelivered"

// ErrInvalidCard is returned, wrapped, for a card the client refuses to
// send before calling DingTalk.
var ErrInvalidCard = errors.New("invalid card")

// CardSpace is where a card goes: a group, or one person's one-to-one chat
// with the robot.
type CardSpace struct {
	// Type is SpaceGroup or SpaceRobot.
	Type string
	// ID is the group's openConversationId, or the person's staff ID.
	ID string
}

// GroupSpace is the group chat openConversationID.
func GroupSpace(openConversationID string) CardSpace {
	return CardSpace{Type: SpaceGroup, ID: openConversationID}
}

// RobotSpace is staffID's one-to-one chat with the robot.
func RobotSpace(staffID string) CardSpace { return CardSpace{Type: SpaceRobot, ID: staffID} }

// OpenSpaceID is the space as createAndDeliver names it:
// "dtv1.card//IM_GROUP.<openConversationId>" or
// "dtv1.card//IM_ROBOT.<staffId>".
func (s CardSpace) OpenSpaceID() string { return "dtv1.card//" + s.Type + "." + s.ID }

// Card is a card to deliver.
type Card struct {
	// OutTrackID is the caller's unique ID of the card instance; updates
	// and button clicks name it.
	OutTrackID string
	// TemplateID is the card template (BuiltinCardTemplate, or one made in
	// DingTalk's card builder).
	TemplateID string
	// Data is the card's public data (cardParamMap): string values only, as
	// DingTalk requires.
	Data map[string]string
}

// CardDelivery is what createAndDeliver answered for a card.
type CardDelivery struct {
	// OutTrackID is the card instance's ID, as delivered.
	OutTrackID string
	// CarrierID is the delivered message: the key the robot recall APIs
	// take (as processQueryKey) to take the card back.
	CarrierID string
	// SpaceType and SpaceID are where it went, as DingTalk reported.
	SpaceType, SpaceID string
}

// Wire types of the card calls.
type (
	cardData struct {
		CardParamMap map[string]string `json:"cardParamMap"`
	}
	openSpaceModel struct {
		SupportForward bool `json:"supportForward"`
	}
	groupDeliverModel struct {
		RobotCode string `json:"robotCode"`
	}
	robotDeliverModel struct {
		SpaceType string `json:"spaceType"`
		RobotCode string `json:"robotCode"`
	}
	deliverRequest struct {
		OutTrackID              string             `json:"outTrackId"`
		CardTemplateID          string             `json:"cardTemplateId"`
		OpenSpaceID             string             `json:"openSpaceId"`
		CardData                cardData           `json:"cardData"`
		CallbackType            string             `json:"callbackType"`
		UserIDType              int                `json:"userIdType"`
		ImGroupOpenSpaceModel   *openSpaceModel    `json:"imGroupOpenSpaceModel,omitempty"`
		ImGroupOpenDeliverModel *groupDeliverModel `json:"imGroupOpenDeliverModel,omitempty"`
		ImRobotOpenSpaceModel   *openSpaceModel    `json:"imRobotOpenSpaceModel,omitempty"`
		ImRobotOpenDeliverModel *robotDeliverModel `json:"imRobotOpenDeliverModel,omitempty"`
	}
	deliverResult struct {
		SpaceType string `json:"spaceType"`
		SpaceID   string `json:"spaceId"`
		Success   bool   `json:"success"`
		CarrierID string `json:"carrierId"`
		ErrorMsg  string `json:"errorMsg"`
	}
	deliverResponse struct {
		Success bool `json:"success"`
		Result  struct {
			OutTrackID     string          `json:"outTrackId"`
			DeliverResults []deliverResult `json:"deliverResults"`
		} `json:"result"`
	}
	updateOptions struct {
		UpdateCardDataByKey bool `json:"updateCardDataByKey"`
	}
	updateRequest struct {
		OutTrackID        string        `json:"outTrackId"`
		CardData          cardData      `json:"cardData"`
		CardUpdateOptions updateOptions `json:"cardUpdateOptions"`
		UserIDType        int           `json:"userIdType"`
	}
)

// put marks a request body that do sends with PUT.
type put struct{ body any }

// userIDTypeStaff is userIdType 1: user IDs are staff IDs (userid).
const userIDTypeStaff = 1

// DeliverCard creates card and delivers it into space, as the robot, with
// button clicks called back over Stream mode, and returns the delivery:
// its CarrierID recalls the card. Forwarding is off, so that a card stays
// where it can be recalled. Like the sends, it is retried only when
// DingTalk throttled it: after a 5xx the card may or may not be out. A
// delivery DingTalk reports as failed is an *APIError with Code
// CodeCardNotDelivered and DingTalk's errorMsg.
func (c *Client) DeliverCard(ctx context.Context, space CardSpace, card Card) (CardDelivery, error) {
	if err := card.validate(space); err != nil {
		return CardDelivery{}, err
	}
	req := deliverRequest{
		OutTrackID: card.OutTrackID, CardTemplateID: card.TemplateID, OpenSpaceID: space.OpenSpaceID(),
		CardData: cardData{CardParamMap: card.Data}, CallbackType: CallbackStream, UserIDType: userIDTypeStaff,
	}
	if space.Type == SpaceGroup {
		req.ImGroupOpenSpaceModel = &openSpaceModel{}
		req.ImGroupOpenDeliverModel = &groupDeliverModel{RobotCode: c.robotCode}
	} else {
		req.ImRobotOpenSpaceModel = &openSpaceModel{}
		req.ImRobotOpenDeliverModel = &robotDeliverModel{SpaceType: SpaceRobot, RobotCode: c.robotCode}
	}
	var out deliverResponse
	if err := c.call(ctx, PathCardDeliver, req, &out, retryThrottled); err != nil {
		return CardDelivery{}, err
	}
	for _, r := range out.Result.DeliverResults {
		switch {
		case !r.Success:
			msg := r.ErrorMsg
			if msg == "" {
				msg = "DingTalk did not deliver the card"
			}
			return CardDelivery{}, &APIError{API: PathCardDeliver, Status: http.StatusOK, Code: CodeCardNotDelivered, Message: c.Redact(msg)}
		case r.CarrierID != "":
			id := out.Result.OutTrackID
			if id == "" {
				id = card.OutTrackID
			}
			return CardDelivery{OutTrackID: id, CarrierID: r.CarrierID, SpaceType: r.SpaceType, SpaceID: r.SpaceID}, nil
		}
	}
	return CardDelivery{}, &APIError{API: PathCardDeliver, Status: http.StatusOK, Code: CodeBadResponse, Message: "answer has no carrierId"}
}

// validate checks what DingTalk would refuse anyway.
func (card Card) validate(space CardSpace) error {
	switch {
	case space.Type != SpaceGroup && space.Type != SpaceRobot:
		return fmt.Errorf("%w: space type %q, want %s or %s", ErrInvalidCard, space.Type, SpaceGroup, SpaceRobot)
	case strings.TrimSpace(space.ID) == "":
		return fmt.Errorf("%w: empty space id", ErrInvalidCard)
	case strings.TrimSpace(card.OutTrackID) == "":
		return fmt.Errorf("%w: empty outTrackId", ErrInvalidCard)
	case strings.TrimSpace(card.TemplateID) == "":
		return fmt.Errorf("%w: empty cardTemplateId", ErrInvalidCard)
	case len(card.Data) == 0:
		return fmt.Errorf("%w: no card data", ErrInvalidCard)
	}
	return nil
}

// UpdateCard sets the given keys of the card outTrackID's public data, in
// place (the other keys keep their values). It is safe to retry, and is.
func (c *Client) UpdateCard(ctx context.Context, outTrackID string, data map[string]string) error {
	if strings.TrimSpace(outTrackID) == "" {
		return fmt.Errorf("%w: empty outTrackId", ErrInvalidCard)
	}
	if len(data) == 0 {
		return fmt.Errorf("%w: no card data to update", ErrInvalidCard)
	}
	req := updateRequest{OutTrackID: outTrackID, CardData: cardData{CardParamMap: data},
		CardUpdateOptions: updateOptions{UpdateCardDataByKey: true}, UserIDType: userIDTypeStaff}
	var out struct {
		Success bool `json:"success"`
	}
	return c.call(ctx, PathCardUpdate, put{req}, &out, retryAll)
}

// Card callback types.
const (
	// CardActionCallback is the type of a button click.
	CardActionCallback = "actionCallback"
)

// CardCallback is a card's button click as DingTalk calls it back (the
// data of a Stream frame on topic /v1.0/card/instances/callback).
type CardCallback struct {
	// Type is CardActionCallback for a click.
	Type string `json:"type"`
	// OutTrackID is the card instance clicked.
	OutTrackID string `json:"outTrackId"`
	// UserID is who clicked: a staff ID when UserIDType is 1.
	UserID string `json:"userId"`
	// UserIDType is 1 for staff IDs, 2 for unionIds.
	UserIDType flexInt `json:"userIdType"`
	// CorpID is the clicker's organisation.
	CorpID string `json:"corpId"`
	// SpaceType and SpaceID are where the card is; DingTalk may leave them
	// empty.
	SpaceType string `json:"spaceType"`
	SpaceID   string `json:"spaceId"`
	// Content is the click as DingTalk sent it: a JSON string holding
	// {"cardPrivateData": {"actionIds", "params"}}. Value is the same, in
	// callbacks that carry it there.
	Content string `json:"content"`
	Value   string `json:"value"`
	// Action is Content decoded.
	Action CardAction `json:"-"`
	// DeliveryID identifies the delivery that brought the click (the Stream
	// frame's messageId, which a redelivery repeats); set by the
	// transport, empty when it has none.
	DeliveryID string `json:"-"`
}

// CardAction is what was clicked: the cardPrivateData of a click.
type CardAction struct {
	// ActionIDs are the IDs of the components that fired (the button).
	ActionIDs []string `json:"actionIds"`
	// Params are the parameters the template attaches to the click.
	Params map[string]any `json:"params"`
}

// ID is the first action ID, "" when there is none.
func (a CardAction) ID() string {
	if len(a.ActionIDs) == 0 {
		return ""
	}
	return a.ActionIDs[0]
}

// Param is the parameter name as text: a string as is, a number or boolean
// in its JSON form, "" when absent or of another kind.
func (a CardAction) Param(name string) string {
	switch v := a.Params[name].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// flexInt is a number DingTalk may send as a JSON number or a string.
type flexInt int

// UnmarshalJSON reads 1, "1" or null.
func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*n = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	if len(b) == 0 {
		*n = 0
		return nil
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("not a whole number: %q", b)
	}
	*n = flexInt(v)
	return nil
}

// DecodeCardCallback parses a card callback and its click, and checks what
// acting on it needs: an outTrackId, a userId and a click (content, or
// value) that decodes with at least one action ID or parameter. Failures
// wrap ErrInvalidCallback.
func DecodeCardCallback(data []byte) (*CardCallback, error) {
	var cb CardCallback
	if err := json.Unmarshal(data, &cb); err != nil {
		return nil, fmt.Errorf("%w: card callback: %v", ErrInvalidCallback, err)
	}
	if missing := blank("outTrackId", cb.OutTrackID, "userId", cb.UserID); missing != "" {
		return nil, fmt.Errorf("%w: card callback: missing %s", ErrInvalidCallback, missing)
	}
	raw := cb.Content
	if strings.TrimSpace(raw) == "" {
		raw = cb.Value
	}
	var click struct {
		CardPrivateData CardAction `json:"cardPrivateData"`
	}
	if err := json.Unmarshal([]byte(raw), &click); err != nil {
		return nil, fmt.Errorf("%w: card callback content: %v", ErrInvalidCallback, err)
	}
	cb.Action = click.CardPrivateData
	if cb.Action.ID() == "" && len(cb.Action.Params) == 0 {
		return nil, fmt.Errorf("%w: card callback: the click names no action", ErrInvalidCallback)
	}
	return &cb, nil
}
