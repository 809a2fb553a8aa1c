package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
)

// cardState is a bot message of the state answer, with its card.
type cardState struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	Text  string `json:"text"`
	Card  *struct {
		OutTrackID string `json:"outTrackId"`
		Buttons    []struct{ Action, Text string }
	} `json:"card"`
}

// cardsIn returns the bot messages of the chat slug that are cards.
func (g *rig) cardsIn(slug string) []cardState {
	g.t.Helper()
	_, _, raw := g.do(http.MethodGet, "/sandbox/api/state", "", nil, nil)
	var st struct {
		Chats []struct {
			ID       string      `json:"id"`
			Messages []cardState `json:"messages"`
		} `json:"chats"`
	}
	require.NoError(g.t, json.Unmarshal(raw, &st))
	var out []cardState
	for _, c := range st.Chats {
		for _, m := range c.Messages {
			if c.ID == slug && m.Card != nil {
				out = append(out, m)
			}
		}
	}
	return out
}

// builtinCard is the data of DingTalk's built-in card with a Recall button.
func builtinCard(title string) map[string]string {
	return map[string]string{"msgTitle": title, "msgContent": "~~gone~~ soon", "flowStatus": "3",
		"sys_full_json_obj": `{"order":["msgTitle","msgContent","msgButtons"],"msgButtons":[{"text":"Recall","color":"red","id":"recall","request":true}]}`}
}

func TestCardsShowWithTheirButtonsAndClickThroughTheGateway(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()
	d, err := g.app.client.DeliverCard(ctx, dingtalk.GroupSpace("cidSandboxOps=="), dingtalk.Card{OutTrackID: "t1", TemplateID: dingtalk.BuiltinCardTemplate, Data: builtinCard("deploy")})
	require.NoError(t, err)
	_, err = g.app.client.DeliverCard(ctx, dingtalk.GroupSpace("cidSandboxDeploy=="), dingtalk.Card{OutTrackID: "t2", TemplateID: "team.schema",
		Data: map[string]string{"title": "preview", "text": "25 messages", "recall": "false", "confirm": "true"}})
	require.NoError(t, err)

	cards := g.cardsIn("ops-alerts")
	require.Len(t, cards, 1)
	assert.Equal(t, d.CarrierID, cards[0].Key)
	assert.Equal(t, "deploy", cards[0].Title)
	assert.Equal(t, "~~gone~~ soon", cards[0].Text)
	assert.Equal(t, "t1", cards[0].Card.OutTrackID)
	require.Len(t, cards[0].Card.Buttons, 1)
	assert.Equal(t, "recall", cards[0].Card.Buttons[0].Action)
	team := g.cardsIn("deploys")
	require.Len(t, team, 1)
	assert.Len(t, team[0].Card.Buttons, 2, "a team template's Confirm and Cancel")

	click := map[string]any{"chat": "ops-alerts", "key": d.CarrierID, "user": "oncall", "action": "recall"}
	clickable := func() bool {
		_, _, raw := g.do(http.MethodGet, "/sandbox/api/state", "", nil, nil)
		var st struct {
			Clickable bool `json:"clickable"`
		}
		require.NoError(t, json.Unmarshal(raw, &st))
		return st.Clickable
	}
	assert.False(t, clickable(), "no Stream connection to carry clicks")
	t.Run("no Stream connection: nothing to deliver to", func(t *testing.T) {
		status, out := g.post("/sandbox/api/click", click)
		assert.Equal(t, http.StatusConflict, status, "%v", out)
	})

	var mu sync.Mutex
	var got []*dingtalk.CardCallback
	api, err := dingtalk.NewClient(g.fake.AppKey(), g.fake.AppSecret(), dingtalk.WithBaseURL(g.fake.URL()))
	require.NoError(t, err)
	sc, err := stream.New(api, func(context.Context, *dingtalk.Callback) error { return nil }, stream.WithCardsOnly(),
		stream.WithCardHandler(func(_ context.Context, cb *dingtalk.CardCallback) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, cb)
			return nil
		}))
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = sc.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	require.Eventually(t, sc.Connected, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, clickable, 10*time.Second, 5*time.Millisecond, "the page enables the buttons")

	status, out := g.post("/sandbox/api/click", click)
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.EqualValues(t, http.StatusOK, out["callbackStatus"], "the app's ack")
	mu.Lock()
	require.Len(t, got, 1)
	assert.Equal(t, "oncall", got[0].UserID)
	assert.Equal(t, "recall", got[0].Action.ID())
	assert.Equal(t, "t1", got[0].OutTrackID)
	mu.Unlock()

	for name, tc := range map[string]struct {
		edit  func(map[string]any)
		field string
	}{
		"a button the card does not have": {func(b map[string]any) { b["action"] = "confirm" }, "action"},
		"a card of another chat":          {func(b map[string]any) { b["chat"] = "deploys" }, "key"},
		"no such card":                    {func(b map[string]any) { b["key"] = "nope" }, "key"},
		"a bad user":                      {func(b map[string]any) { b["user"] = "a b" }, "user"},
	} {
		t.Run(name, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range click {
				body[k] = v
			}
			tc.edit(body)
			status, out := g.post("/sandbox/api/click", body)
			assert.Equal(t, http.StatusBadRequest, status, "%v", out)
			assert.Equal(t, tc.field, out["error"].(map[string]any)["field"])
		})
	}
}
