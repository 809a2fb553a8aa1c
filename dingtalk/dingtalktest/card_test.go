package dingtalktest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// deliverBody is a valid createAndDeliver body into the group conv.
func deliverBody(s *dingtalktest.Server, track, conv string) map[string]any {
	return map[string]any{
		"outTrackId": track, "cardTemplateId": "tpl.schema", "openSpaceId": "dtv1.card//IM_GROUP." + conv,
		"cardData": map[string]any{"cardParamMap": map[string]any{"title": "deploy"}}, "callbackType": "STREAM",
		"imGroupOpenSpaceModel": map[string]any{"supportForward": false}, "imGroupOpenDeliverModel": map[string]any{"robotCode": s.RobotCode()},
	}
}

type deliverAnswer struct {
	Success bool `json:"success"`
	Result  struct {
		OutTrackID     string `json:"outTrackId"`
		DeliverResults []struct {
			SpaceType, SpaceID, CarrierID string
			Success                       bool
		} `json:"deliverResults"`
	} `json:"result"`
}

// deliver delivers a card and returns its carrierId.
func deliver(t *testing.T, s *dingtalktest.Server, token string, body map[string]any) string {
	t.Helper()
	var res deliverAnswer
	requireOK(t, post(t, s, dingtalktest.PathCardDeliver, token, body), &res)
	require.True(t, res.Success)
	require.Len(t, res.Result.DeliverResults, 1)
	return res.Result.DeliverResults[0].CarrierID
}

// put sends a PUT to path.
func put(t *testing.T, s *dingtalktest.Server, path, token string, body any) answer {
	t.Helper()
	req := newRequest(t, context.Background(), s, path, token, body)
	req.Method = http.MethodPut
	return roundTrip(t, req)
}

func TestCardDeliver(t *testing.T) {
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	carrier := deliver(t, s, tok, deliverBody(s, "t1", "cidA"))

	m, ok := s.Message(carrier)
	require.True(t, ok)
	assert.Equal(t, dingtalktest.KindGroup, m.Kind)
	assert.Equal(t, "cidA", m.ConversationID)
	assert.Equal(t, dingtalktest.CardMsgKey, m.MsgKey)
	assert.Equal(t, "t1", m.OutTrackID)
	assert.JSONEq(t, `{"title":"deploy"}`, m.MsgParam)
	c, ok := s.CardByCarrier(carrier)
	require.True(t, ok)
	assert.Equal(t, "tpl.schema", c.TemplateID)
	assert.Equal(t, "IM_GROUP", c.SpaceType)
	assert.Len(t, s.Cards(), 1)

	t.Run("one-to-one, space type in any case", func(t *testing.T) {
		body := deliverBody(s, "t2", "")
		body["openSpaceId"] = "dtv1.card//im_robot.staff-9"
		delete(body, "imGroupOpenDeliverModel")
		body["imRobotOpenDeliverModel"] = map[string]any{"spaceType": "IM_ROBOT"}
		m, _ := s.Message(deliver(t, s, tok, body))
		assert.Equal(t, dingtalktest.KindOTO, m.Kind)
		assert.Equal(t, []string{"staff-9"}, m.UserIDs)
	})
	t.Run("the carrier recalls like a message", func(t *testing.T) {
		var res recallAnswer
		requireOK(t, post(t, s, dingtalktest.PathGroupRecall, tok, map[string]any{"openConversationId": "cidA", "robotCode": s.RobotCode(), "processQueryKeys": []string{carrier}}), &res)
		assert.Equal(t, []string{carrier}, res.SuccessResult)
	})
}

func TestCardDeliverRefusals(t *testing.T) {
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	deliver(t, s, tok, deliverBody(s, "used", "cidA"))
	tests := []struct {
		name string
		edit func(map[string]any)
		code string
	}{
		{"no outTrackId", func(b map[string]any) { b["outTrackId"] = "" }, "param.outTrackIdEmpty"},
		{"no template", func(b map[string]any) { delete(b, "cardTemplateId") }, "param.cardTemplateIdEmpty"},
		{"bad space", func(b map[string]any) { b["openSpaceId"] = "IM_GROUP.cidA" }, "param.openSpaceIdInvalid"},
		{"unknown space type", func(b map[string]any) { b["openSpaceId"] = "dtv1.card//ONE_BOX.cidA" }, "param.openSpaceIdInvalid"},
		{"a number in the card data", func(b map[string]any) {
			b["cardData"] = map[string]any{"cardParamMap": map[string]any{"title": "x", "count": 3}}
		}, "param.cardParamMapInvalid"},
		{"unknown robot", func(b map[string]any) { b["imGroupOpenDeliverModel"] = map[string]any{"robotCode": "other"} }, "invalidParameter.robotCode.notExsit"},
		{"no robot", func(b map[string]any) { b["imGroupOpenDeliverModel"] = map[string]any{} }, "miss.chatbotId"},
		{"no deliver model", func(b map[string]any) { delete(b, "imGroupOpenDeliverModel") }, "invalidParameter.param.invalid"},
		{"bad callback type", func(b map[string]any) { b["callbackType"] = "WEBHOOK" }, "invalidParameter.param.invalid"},
		{"outTrackId used before", func(b map[string]any) { b["outTrackId"] = "used" }, "param.outTrackIdDuplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := deliverBody(s, "fresh", "cidA")
			tt.edit(body)
			requireError(t, post(t, s, dingtalktest.PathCardDeliver, tok, body), http.StatusBadRequest, tt.code)
		})
	}
	assert.Len(t, s.Cards(), 1, "nothing refused was delivered")
	t.Run("needs a token", func(t *testing.T) {
		a := post(t, s, dingtalktest.PathCardDeliver, "", deliverBody(s, "x", "cidA"))
		assert.Equal(t, http.StatusUnauthorized, a.status)
	})
}

func TestCardUpdate(t *testing.T) {
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	deliver(t, s, tok, deliverBody(s, "t1", "cidA"))
	update := func(byKey bool, data map[string]any) answer {
		return put(t, s, dingtalktest.PathCardUpdate, tok, map[string]any{
			"outTrackId": "t1", "cardData": map[string]any{"cardParamMap": data},
			"cardUpdateOptions": map[string]any{"updateCardDataByKey": byKey},
		})
	}
	var ok map[string]any
	requireOK(t, update(true, map[string]any{"status": "recalled"}), &ok)
	c, _ := s.Card("t1")
	assert.Equal(t, map[string]string{"title": "deploy", "status": "recalled"}, c.Data, "by key")
	requireOK(t, update(false, map[string]any{"status": "back"}), &ok)
	c, _ = s.Card("t1")
	assert.Equal(t, map[string]string{"status": "back"}, c.Data, "whole")
	assert.Len(t, c.Updates, 2)

	requireError(t, update(true, map[string]any{"n": 1}), http.StatusBadRequest, "param.cardParamMapInvalid")
	requireError(t, put(t, s, dingtalktest.PathCardUpdate, tok, map[string]any{"outTrackId": "nope", "cardData": map[string]any{"cardParamMap": map[string]any{}}}), http.StatusBadRequest, "card.notExist")
	requireError(t, post(t, s, dingtalktest.PathCardUpdate, tok, map[string]any{"outTrackId": "t1"}), http.StatusMethodNotAllowed, "InvalidAction.MethodNotAllowed")
	c, _ = s.Card("t1")
	assert.Len(t, c.Updates, 2, "refused updates change nothing")
}

func TestCardClick(t *testing.T) {
	s := dingtalktest.NewTest(t)
	tok := issueToken(t, s)
	carrier := deliver(t, s, tok, deliverBody(s, "t1", "cidA"))
	ws, _ := connect(t, s)

	id, err := s.ClickCard("", "t1", "staff-1", "recall", map[string]any{"action": "recall", "key": carrier})
	require.NoError(t, err)
	f, _ := readFrame(t, ws)
	assert.Equal(t, "CALLBACK", f.Type)
	assert.Equal(t, dingtalktest.TopicCardCallback, f.Headers["topic"])
	assert.Equal(t, id, f.Headers["messageId"])
	var cb struct {
		Type, OutTrackID, UserID, SpaceType, SpaceID, Content string
		UserIDType                                            int
	}
	require.NoError(t, json.Unmarshal([]byte(f.Data), &cb))
	assert.Equal(t, "actionCallback", cb.Type)
	assert.Equal(t, "t1", cb.OutTrackID)
	assert.Equal(t, "staff-1", cb.UserID)
	assert.Equal(t, 1, cb.UserIDType)
	assert.Equal(t, "cidA", cb.SpaceID)
	assert.JSONEq(t, `{"cardPrivateData":{"actionIds":["recall"],"params":{"action":"recall","key":"`+carrier+`"}}}`, cb.Content)

	t.Run("a recalled card cannot be clicked", func(t *testing.T) {
		post(t, s, dingtalktest.PathGroupRecall, tok, map[string]any{"openConversationId": "cidA", "robotCode": s.RobotCode(), "processQueryKeys": []string{carrier}})
		_, err := s.ClickCard("", "t1", "staff-1", "recall", nil)
		require.ErrorIs(t, err, dingtalktest.ErrNoCard)
		assert.True(t, strings.Contains(err.Error(), "t1"))
	})
}
