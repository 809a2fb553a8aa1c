package dingtalktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Interactive cards. POST /v1.0/card/instances/createAndDeliver creates a card and
// delivers it into a group (openSpaceId "dtv1.card//IM_GROUP.<openConversationId>") or a
// one-to-one chat with the robot ("dtv1.card//IM_ROBOT.<staffId>"); the delivery is a
// message of the chat, listed by Sent with MsgKey CardMsgKey, whose key is the card's
// carrierId, so the robot recall calls take it back like any message. PUT
// /v1.0/card/instances updates a card's data in place. ClickCard pushes the Stream mode
// callback DingTalk sends when someone clicks a card's button.
//
// Where the fake differs from DingTalk:
//   - Any cardTemplateId is accepted: the fake has no templates and renders nothing. It
//     keeps the data as given (Card.Data) and every update (Card.Updates).
//   - The error codes for a missing outTrackId or cardTemplateId are those of DingTalk's
//     card reference (param.outTrackIdEmpty, param.cardTemplateIdEmpty); the codes for a
//     malformed openSpaceId (param.openSpaceIdInvalid), an outTrackId used before
//     (param.outTrackIdDuplicate, DingTalk does not document reuse), a card data value that
//     is not a string (param.cardParamMapInvalid; DingTalk wants strings only) and an
//     unknown outTrackId on update (card.notExist) are the fake's own.
//   - Updates are accepted for a card whose message was recalled (DingTalk does not say).
//   - Clicks come only when a test asks (ClickCard); a card whose message was recalled
//     cannot be clicked. The callback's spaceType and spaceId are filled in, which
//     DingTalk sometimes leaves empty.

// Paths and the Stream topic of the card calls.
const (
	// PathCardDeliver creates and delivers a card.
	PathCardDeliver = "/v1.0/card/instances/createAndDeliver"
	// PathCardUpdate updates a card in place (PUT).
	PathCardUpdate = "/v1.0/card/instances"
	// TopicCardCallback is the CALLBACK topic of card button clicks.
	TopicCardCallback = "/v1.0/card/instances/callback"
	// CardMsgKey is the MsgKey of the message a delivered card is in Sent.
	CardMsgKey = "interactiveCard"
)

// Space types of the card calls.
const (
	spaceGroup = "IM_GROUP"
	spaceRobot = "IM_ROBOT"
)

// Card error codes the fake answers with.
const (
	codeCardNoTrackID   = "param.outTrackIdEmpty"
	codeCardNoTemplate  = "param.cardTemplateIdEmpty"
	codeCardBadSpace    = "param.openSpaceIdInvalid"
	codeCardDuplicate   = "param.outTrackIdDuplicate"
	codeCardBadParamMap = "param.cardParamMapInvalid"
	codeCardNotExist    = "card.notExist"
)

// ErrNoCard is returned by ClickCard for a card the fake never delivered or whose message
// was recalled.
var ErrNoCard = errors.New("dingtalktest: no such card to click")

// Card is a card the fake delivered.
type Card struct {
	// OutTrackID and TemplateID are the createAndDeliver call's outTrackId and
	// cardTemplateId; CallbackType its callbackType and RobotCode the deliver model's.
	OutTrackID, TemplateID, CallbackType, RobotCode string
	// AppKey is the app that delivered it; only that app can update it.
	AppKey string
	// SpaceType is IM_GROUP or IM_ROBOT and SpaceID the openConversationId or staff ID
	// the openSpaceId names.
	SpaceType, SpaceID string
	// CarrierID is the delivered message's key (its Message in Sent).
	CarrierID string
	// SupportForward is the open space model's supportForward.
	SupportForward bool
	// Data is the card's public data now: as delivered, with every update applied.
	Data map[string]string
	// Updates are the data of each update, in order.
	Updates []map[string]string
	// DeliveredAt and UpdatedAt are when the fake's clock said it was delivered and
	// last updated.
	DeliveredAt, UpdatedAt time.Time
}

// Wire types of the card calls.
type (
	cardDataWire struct {
		CardParamMap map[string]any `json:"cardParamMap"`
	}
	spaceModelWire struct {
		SupportForward bool `json:"supportForward"`
	}
	deliverModelWire struct {
		RobotCode string `json:"robotCode"`
		SpaceType string `json:"spaceType"`
	}
	cardDeliverRequest struct {
		OutTrackID              string            `json:"outTrackId"`
		CardTemplateID          string            `json:"cardTemplateId"`
		OpenSpaceID             string            `json:"openSpaceId"`
		CardData                cardDataWire      `json:"cardData"`
		CallbackType            string            `json:"callbackType"`
		ImGroupOpenSpaceModel   *spaceModelWire   `json:"imGroupOpenSpaceModel"`
		ImGroupOpenDeliverModel *deliverModelWire `json:"imGroupOpenDeliverModel"`
		ImRobotOpenSpaceModel   *spaceModelWire   `json:"imRobotOpenSpaceModel"`
		ImRobotOpenDeliverModel *deliverModelWire `json:"imRobotOpenDeliverModel"`
	}
	cardDeliverResult struct {
		SpaceType string `json:"spaceType"`
		SpaceID   string `json:"spaceId"`
		Success   bool   `json:"success"`
		CarrierID string `json:"carrierId"`
	}
	cardDeliverResponse struct {
		Success bool `json:"success"`
		Result  struct {
			OutTrackID     string              `json:"outTrackId"`
			DeliverResults []cardDeliverResult `json:"deliverResults"`
		} `json:"result"`
	}
	cardUpdateRequest struct {
		OutTrackID        string       `json:"outTrackId"`
		CardData          cardDataWire `json:"cardData"`
		CardUpdateOptions struct {
			UpdateCardDataByKey bool `json:"updateCardDataByKey"`
		} `json:"cardUpdateOptions"`
	}
	cardCallbackWire struct {
		Type       string `json:"type"`
		OutTrackID string `json:"outTrackId"`
		UserID     string `json:"userId"`
		UserIDType int    `json:"userIdType"`
		CorpID     string `json:"corpId"`
		SpaceType  string `json:"spaceType"`
		SpaceID    string `json:"spaceId"`
		Extension  string `json:"extension"`
		Content    string `json:"content"`
	}
)

// deliverCard answers createAndDeliver.
func (s *Server) deliverCard(a *app, body []byte) (any, []string, *apiError) {
	var req cardDeliverRequest
	if err := decode(body, &req); err != nil {
		return nil, nil, err
	}
	spaceType, spaceID, ok := parseOpenSpace(req.OpenSpaceID)
	data, bad := stringValues(req.CardData.CardParamMap)
	var model *deliverModelWire
	var space *spaceModelWire
	if spaceType == spaceGroup {
		model, space = req.ImGroupOpenDeliverModel, req.ImGroupOpenSpaceModel
	} else {
		model, space = req.ImRobotOpenDeliverModel, req.ImRobotOpenSpaceModel
	}
	switch {
	case strings.TrimSpace(req.OutTrackID) == "":
		return nil, nil, badRequest(codeCardNoTrackID, "outTrackId is empty")
	case strings.TrimSpace(req.CardTemplateID) == "":
		return nil, nil, badRequest(codeCardNoTemplate, "cardTemplateId is empty")
	case !ok:
		return nil, nil, badRequest(codeCardBadSpace, fmt.Sprintf("openSpaceId %q: want dtv1.card//IM_GROUP.<openConversationId> or dtv1.card//IM_ROBOT.<userId>", req.OpenSpaceID))
	case bad != "":
		return nil, nil, badRequest(codeCardBadParamMap, fmt.Sprintf("cardParamMap.%s is not a string: card data values must be strings", bad))
	case req.CallbackType != "" && req.CallbackType != "STREAM" && req.CallbackType != "HTTP":
		return nil, nil, invalidParam(fmt.Sprintf("callbackType %q: want STREAM or HTTP", req.CallbackType))
	case model == nil:
		return nil, nil, invalidParam(fmt.Sprintf("the open deliver model of %s is missing", spaceType))
	case model.RobotCode != "" && model.RobotCode != a.robotCode:
		return nil, nil, badRequest(codeUnknownRobot, fmt.Sprintf("robot %q does not exist", model.RobotCode))
	case spaceType == spaceGroup && model.RobotCode == "":
		return nil, nil, badRequest(codeMissingRobot, "imGroupOpenDeliverModel.robotCode is missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.cards[req.OutTrackID]; dup {
		return nil, nil, badRequest(codeCardDuplicate, fmt.Sprintf("outTrackId %q was used before", req.OutTrackID))
	}
	key := randomHex(16)
	for s.messages[key] != nil {
		key = randomHex(16)
	}
	now := s.now()
	m := &Message{Key: key, RobotCode: a.robotCode, AppKey: a.key, MsgKey: CardMsgKey, OutTrackID: req.OutTrackID, SentAt: now}
	m.MsgParam = string(mustJSON(data))
	if spaceType == spaceGroup {
		m.Kind, m.ConversationID = KindGroup, spaceID
	} else {
		m.Kind, m.UserIDs = KindOTO, []string{spaceID}
	}
	s.messages[key] = m
	s.sent = append(s.sent, m)
	s.cards[req.OutTrackID] = &Card{
		OutTrackID: req.OutTrackID, TemplateID: req.CardTemplateID, CallbackType: req.CallbackType,
		RobotCode: a.robotCode, AppKey: a.key, SpaceType: spaceType, SpaceID: spaceID, CarrierID: key,
		SupportForward: space != nil && space.SupportForward, Data: data, DeliveredAt: now, UpdatedAt: now,
	}
	var res cardDeliverResponse
	res.Success = true
	res.Result.OutTrackID = req.OutTrackID
	res.Result.DeliverResults = []cardDeliverResult{{SpaceType: spaceType, SpaceID: spaceID, Success: true, CarrierID: key}}
	return res, []string{key}, nil
}

// updateCard answers the card update.
func (s *Server) updateCard(a *app, body []byte) (any, []string, *apiError) {
	var req cardUpdateRequest
	if err := decode(body, &req); err != nil {
		return nil, nil, err
	}
	data, bad := stringValues(req.CardData.CardParamMap)
	switch {
	case strings.TrimSpace(req.OutTrackID) == "":
		return nil, nil, badRequest(codeCardNoTrackID, "outTrackId is empty")
	case bad != "":
		return nil, nil, badRequest(codeCardBadParamMap, fmt.Sprintf("cardParamMap.%s is not a string: card data values must be strings", bad))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cards[req.OutTrackID]
	if !ok || c.AppKey != a.key { // another app's card is unknown to a
		return nil, nil, badRequest(codeCardNotExist, fmt.Sprintf("no card with outTrackId %q", req.OutTrackID))
	}
	if req.CardUpdateOptions.UpdateCardDataByKey {
		maps.Copy(c.Data, data)
	} else {
		c.Data = maps.Clone(data)
	}
	c.Updates = append(c.Updates, data)
	c.UpdatedAt = s.now()
	return map[string]any{"success": true, "result": true}, nil, nil
}

// parseOpenSpace splits "dtv1.card//IM_GROUP.<id>" or "dtv1.card//IM_ROBOT.<id>" (the
// space type in any case).
func parseOpenSpace(id string) (spaceType, spaceID string, ok bool) {
	rest, found := strings.CutPrefix(id, "dtv1.card//")
	if !found {
		return "", "", false
	}
	typ, sid, found := strings.Cut(rest, ".")
	typ = strings.ToUpper(typ)
	if !found || sid == "" || (typ != spaceGroup && typ != spaceRobot) {
		return "", "", false
	}
	return typ, sid, true
}

// stringValues copies a cardParamMap whose values must all be strings; bad names the
// first key (in order) whose value is not.
func stringValues(in map[string]any) (map[string]string, string) {
	out := make(map[string]string, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v, ok := in[k].(string)
		if !ok {
			return nil, k
		}
		out[k] = v
	}
	return out, ""
}

// mustJSON encodes a value that always encodes (maps of strings).
func mustJSON(v any) []byte {
	raw, _ := json.Marshal(v)
	return raw
}

// Cards returns copies of every card delivered, in delivery order.
func (s *Server) Cards() []Card {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Card
	for _, m := range s.sent {
		if c, ok := s.cards[m.OutTrackID]; ok && m.OutTrackID != "" {
			out = append(out, c.clone())
		}
	}
	return out
}

// Card returns a copy of the card with outTrackID.
func (s *Server) Card(outTrackID string) (Card, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cards[outTrackID]
	if !ok {
		return Card{}, false
	}
	return c.clone(), true
}

// CardByCarrier returns a copy of the card delivered as the message carrierID.
func (s *Server) CardByCarrier(carrierID string) (Card, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[carrierID]
	if !ok || m.OutTrackID == "" {
		return Card{}, false
	}
	return s.cards[m.OutTrackID].clone(), true
}

func (c *Card) clone() Card {
	out := *c
	out.Data = maps.Clone(c.Data)
	out.Updates = make([]map[string]string, len(c.Updates))
	for i, u := range c.Updates {
		out.Updates[i] = maps.Clone(u)
	}
	return out
}

// CardClickBody is the data of the callback DingTalk sends when userID (a staff ID)
// clicks the component actionID of the card outTrackID: type actionCallback, the card,
// the user, and content, a JSON string holding {"cardPrivateData": {"actionIds":
// [actionID], "params": params}}. It fails with ErrNoCard for a card the fake never
// delivered or whose message was recalled.
func (s *Server) CardClickBody(outTrackID, userID, actionID string, params map[string]any) ([]byte, error) {
	s.mu.Lock()
	c, ok := s.cards[outTrackID]
	var gone bool
	var spaceType, spaceID string
	if ok {
		gone = s.messages[c.CarrierID].Recalled
		spaceType, spaceID = c.SpaceType, c.SpaceID
	}
	s.mu.Unlock()
	if !ok || gone {
		return nil, fmt.Errorf("%w: %s", ErrNoCard, outTrackID)
	}
	if params == nil {
		params = map[string]any{}
	}
	content := mustJSON(map[string]any{"cardPrivateData": map[string]any{"actionIds": []string{actionID}, "params": params}})
	return mustJSON(cardCallbackWire{
		Type: "actionCallback", OutTrackID: outTrackID, UserID: userID, UserIDType: 1, CorpID: "dingtestcorp",
		SpaceType: spaceType, SpaceID: spaceID, Extension: "{}", Content: string(content),
	}), nil
}

// ClickCard pushes, on connection connID ("" as for Push), the callback (CALLBACK,
// TopicCardCallback) of userID clicking the component actionID of the card outTrackID
// with params (see CardClickBody), and returns the frame's messageId.
func (s *Server) ClickCard(connID, outTrackID, userID, actionID string, params map[string]any) (string, error) {
	body, err := s.CardClickBody(outTrackID, userID, actionID, params)
	if err != nil {
		return "", err
	}
	return s.Push(connID, FrameCallback, TopicCardCallback, string(body))
}
