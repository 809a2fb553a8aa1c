package dingtalk_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// testCard is a card with one data key and a unique outTrackId.
func testCard(id string) dingtalk.Card {
	return dingtalk.Card{OutTrackID: id, TemplateID: dingtalk.BuiltinCardTemplate, Data: map[string]string{"msgTitle": "deploy", "flowStatus": "3"}}
}

func TestDeliverCard(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	ctx := context.Background()
	tests := []struct {
		name     string
		space    dingtalk.CardSpace
		wantKind dingtalktest.Kind
		wantType string
	}{
		{"into a group", dingtalk.GroupSpace("cidGroup=="), dingtalktest.KindGroup, dingtalk.SpaceGroup},
		{"one-to-one", dingtalk.RobotSpace("staff-1"), dingtalktest.KindOTO, dingtalk.SpaceRobot},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := testCard("track-" + string(rune('a'+i)))
			d, err := c.DeliverCard(ctx, tt.space, card)
			require.NoError(t, err)
			assert.Equal(t, card.OutTrackID, d.OutTrackID)
			assert.Equal(t, tt.wantType, d.SpaceType)
			assert.Equal(t, tt.space.ID, d.SpaceID)

			got, ok := fake.Card(card.OutTrackID)
			require.True(t, ok)
			assert.Equal(t, d.CarrierID, got.CarrierID)
			assert.Equal(t, dingtalk.BuiltinCardTemplate, got.TemplateID)
			assert.Equal(t, "STREAM", got.CallbackType, "clicks come over Stream mode")
			assert.Equal(t, fake.RobotCode(), got.RobotCode)
			assert.False(t, got.SupportForward, "a forwarded copy could not be recalled")
			assert.Equal(t, card.Data, got.Data)

			m, ok := fake.Message(d.CarrierID)
			require.True(t, ok, "the delivered card is a message of the chat")
			assert.Equal(t, tt.wantKind, m.Kind)
			assert.Equal(t, dingtalktest.CardMsgKey, m.MsgKey)
		})
	}
	t.Run("the carrierId recalls the card", func(t *testing.T) {
		d, err := c.DeliverCard(ctx, dingtalk.GroupSpace("cidGroup=="), testCard("track-recall"))
		require.NoError(t, err)
		res, err := c.RecallGroup(ctx, "cidGroup==", []string{d.CarrierID})
		require.NoError(t, err)
		assert.Equal(t, []string{d.CarrierID}, res.Recalled)
		m, _ := fake.Message(d.CarrierID)
		assert.True(t, m.Recalled)
	})
	t.Run("an outTrackId used before is refused", func(t *testing.T) {
		_, err := c.DeliverCard(ctx, dingtalk.GroupSpace("cidGroup=="), testCard("track-recall"))
		var apiErr *dingtalk.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusBadRequest, apiErr.Status)
	})
}

func TestDeliverCardRefusesBadInputBeforeCalling(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	good := testCard("t1")
	tests := []struct {
		name  string
		space dingtalk.CardSpace
		edit  func(*dingtalk.Card)
	}{
		{"no outTrackId", dingtalk.GroupSpace("cid"), func(c *dingtalk.Card) { c.OutTrackID = " " }},
		{"no template", dingtalk.GroupSpace("cid"), func(c *dingtalk.Card) { c.TemplateID = "" }},
		{"no data", dingtalk.GroupSpace("cid"), func(c *dingtalk.Card) { c.Data = nil }},
		{"no space id", dingtalk.GroupSpace(""), func(*dingtalk.Card) {}},
		{"unknown space type", dingtalk.CardSpace{Type: "IM_SINGLE", ID: "x"}, func(*dingtalk.Card) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := good
			card.Data = map[string]string{"msgTitle": "x"}
			tt.edit(&card)
			_, err := c.DeliverCard(context.Background(), tt.space, card)
			require.ErrorIs(t, err, dingtalk.ErrInvalidCard)
		})
	}
	assert.Zero(t, fake.CallCount(dingtalk.PathCardDeliver))
	require.ErrorIs(t, c.UpdateCard(context.Background(), "", map[string]string{"a": "b"}), dingtalk.ErrInvalidCard)
	require.ErrorIs(t, c.UpdateCard(context.Background(), "t1", nil), dingtalk.ErrInvalidCard)
	assert.Zero(t, fake.CallCount(dingtalk.PathCardUpdate))
}

func TestDeliverCardRetriesOnlyThrottling(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	fake.FailNextOn(dingtalk.PathCardDeliver, 1, dingtalktest.FaultQPSLimit)
	_, err := c.DeliverCard(context.Background(), dingtalk.GroupSpace("cid"), testCard("t1"))
	require.NoError(t, err)
	assert.Equal(t, 2, fake.CallCount(dingtalk.PathCardDeliver), "a throttled delivery is retried")

	fake.FailNextOn(dingtalk.PathCardDeliver, 1, dingtalktest.FaultSystemError)
	_, err = c.DeliverCard(context.Background(), dingtalk.GroupSpace("cid"), testCard("t2"))
	assert.True(t, dingtalk.HasCode(err, dingtalk.CodeSystemError), "got %v", err)
	assert.Equal(t, 3, fake.CallCount(dingtalk.PathCardDeliver), "a card that may be out is not delivered twice")
}

// cardServer answers every card call with status and body, after the token
// call, and records the last request.
func cardServer(t *testing.T, status int, body string) (*dingtalk.Client, *http.Request, *[]byte) {
	t.Helper()
	var last http.Request
	var lastBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == dingtalk.PathAccessToken {
			_, _ = io.WriteString(w, `{"accessToken":"tok","expireIn":7200}`)
			return
		}
		last = *r
		lastBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := dingtalk.NewClient("k", "s", dingtalk.WithBaseURL(srv.URL), dingtalk.WithRetryPolicy(fastRetry))
	require.NoError(t, err)
	return c, &last, &lastBody
}

func TestDeliverCardAnswers(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantCode string
		carrier  string
	}{
		{"delivered", `{"success":true,"result":{"outTrackId":"t1","deliverResults":[{"spaceType":"IM_GROUP","spaceId":"cid","success":true,"carrierId":"car-1"}]}}`, "", "car-1"},
		{"delivery failed", `{"success":true,"result":{"deliverResults":[{"success":false,"errorMsg":"robot not in group"}]}}`, dingtalk.CodeCardNotDelivered, ""},
		{"no carrierId", `{"success":true,"result":{"deliverResults":[{"success":true}]}}`, dingtalk.CodeBadResponse, ""},
		{"no results", `{"success":true,"result":{}}`, dingtalk.CodeBadResponse, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, req, raw := cardServer(t, http.StatusOK, tt.body)
			d, err := c.DeliverCard(context.Background(), dingtalk.GroupSpace("cid"), testCard("t1"))
			if tt.wantCode != "" {
				assert.True(t, dingtalk.HasCode(err, tt.wantCode), "got %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.carrier, d.CarrierID)
			assert.Equal(t, http.MethodPost, req.Method)
			var sent map[string]any
			require.NoError(t, json.Unmarshal(*raw, &sent))
			assert.Equal(t, "dtv1.card//IM_GROUP.cid", sent["openSpaceId"])
			assert.Equal(t, "STREAM", sent["callbackType"])
			assert.EqualValues(t, 1, sent["userIdType"])
			assert.Equal(t, map[string]any{"robotCode": "k"}, sent["imGroupOpenDeliverModel"])
			assert.Equal(t, map[string]any{"cardParamMap": map[string]any{"msgTitle": "deploy", "flowStatus": "3"}}, sent["cardData"])
			assert.NotContains(t, sent, "imRobotOpenDeliverModel")
		})
	}
}

func TestUpdateCard(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	ctx := context.Background()
	_, err := c.DeliverCard(ctx, dingtalk.GroupSpace("cid"), testCard("t1"))
	require.NoError(t, err)

	require.NoError(t, c.UpdateCard(ctx, "t1", map[string]string{"msgContent": "~~gone~~"}))
	got, _ := fake.Card("t1")
	assert.Equal(t, map[string]string{"msgTitle": "deploy", "flowStatus": "3", "msgContent": "~~gone~~"}, got.Data, "updated by key")
	assert.Equal(t, []map[string]string{{"msgContent": "~~gone~~"}}, got.Updates)

	t.Run("is retried", func(t *testing.T) {
		fake.FailNextOn(dingtalk.PathCardUpdate, 1, dingtalktest.FaultSystemError)
		require.NoError(t, c.UpdateCard(ctx, "t1", map[string]string{"msgTitle": "x"}))
	})
	t.Run("an unknown card is a typed error", func(t *testing.T) {
		err := c.UpdateCard(ctx, "nope", map[string]string{"msgTitle": "x"})
		var apiErr *dingtalk.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusBadRequest, apiErr.Status)
	})
	t.Run("goes as a PUT", func(t *testing.T) {
		c, req, raw := cardServer(t, http.StatusOK, `{"success":true,"result":true}`)
		require.NoError(t, c.UpdateCard(ctx, "t9", map[string]string{"a": "b"}))
		assert.Equal(t, http.MethodPut, req.Method)
		assert.Equal(t, dingtalk.PathCardUpdate, req.URL.Path)
		assert.JSONEq(t, `{"outTrackId":"t9","cardData":{"cardParamMap":{"a":"b"}},"cardUpdateOptions":{"updateCardDataByKey":true},"userIdType":1}`, string(*raw))
	})
}

func TestDecodeCardCallback(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr bool
		id      string
		params  map[string]string
	}{
		{"a button with params", `{"type":"actionCallback","outTrackId":"t1","userId":"staff-1","userIdType":1,"content":"{\"cardPrivateData\":{\"actionIds\":[\"recall\"],\"params\":{\"action\":\"recall\",\"key\":\"car-1\",\"n\":3}}}"}`,
			false, "recall", map[string]string{"action": "recall", "key": "car-1", "n": "3", "missing": ""}},
		{"the click in value, userIdType as a string, empty space", `{"outTrackId":"t1","userId":"u","userIdType":"1","spaceType":"","spaceId":"","value":"{\"cardPrivateData\":{\"actionIds\":[\"button_1\"],\"params\":{}}}"}`,
			false, "button_1", nil},
		{"params only", `{"outTrackId":"t1","userId":"u","content":"{\"cardPrivateData\":{\"params\":{\"action\":\"cancel\",\"ok\":true}}}"}`,
			false, "", map[string]string{"action": "cancel", "ok": "true"}},
		{"no outTrackId", `{"userId":"u","content":"{\"cardPrivateData\":{\"actionIds\":[\"recall\"]}}"}`, true, "", nil},
		{"no userId", `{"outTrackId":"t1","content":"{\"cardPrivateData\":{\"actionIds\":[\"recall\"]}}"}`, true, "", nil},
		{"content is no JSON", `{"outTrackId":"t1","userId":"u","content":"recall"}`, true, "", nil},
		{"no action", `{"outTrackId":"t1","userId":"u","content":"{\"cardPrivateData\":{}}"}`, true, "", nil},
		{"bad userIdType", `{"outTrackId":"t1","userId":"u","userIdType":"staff","content":"{}"}`, true, "", nil},
		{"not JSON", `{`, true, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := dingtalk.DecodeCardCallback([]byte(tt.body))
			if tt.wantErr {
				require.ErrorIs(t, err, dingtalk.ErrInvalidCallback)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "t1", cb.OutTrackID)
			assert.Equal(t, tt.id, cb.Action.ID())
			for k, v := range tt.params {
				assert.Equal(t, v, cb.Action.Param(k), k)
			}
		})
	}
}

func TestFakeClickIsADecodableCallback(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	d, err := c.DeliverCard(context.Background(), dingtalk.GroupSpace("cid"), testCard("t1"))
	require.NoError(t, err)
	body, err := fake.CardClickBody("t1", "staff-1", "recall", map[string]any{"action": "recall", "key": d.CarrierID})
	require.NoError(t, err)
	cb, err := dingtalk.DecodeCardCallback(body)
	require.NoError(t, err)
	assert.Equal(t, dingtalk.CardActionCallback, cb.Type)
	assert.Equal(t, "staff-1", cb.UserID)
	assert.Equal(t, "recall", cb.Action.ID())
	assert.Equal(t, d.CarrierID, cb.Action.Param("key"))
	assert.Equal(t, dingtalk.SpaceGroup, cb.SpaceType)

	_, err = c.RecallGroup(context.Background(), "cid", []string{d.CarrierID})
	require.NoError(t, err)
	_, err = fake.CardClickBody("t1", "staff-1", "recall", nil)
	require.ErrorIs(t, err, dingtalktest.ErrNoCard, "a recalled card cannot be clicked")
	_, err = fake.CardClickBody("nope", "staff-1", "recall", nil)
	require.ErrorIs(t, err, dingtalktest.ErrNoCard)
}
