package dingtalktest_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// Two apps beside the default one.
const (
	keyB, secretB, robotB = "app-b", "secret-b", "robot-b"
	keyC, secretC         = "app-c", "secret-c"
)

func newApps(t *testing.T, opts ...dingtalktest.Option) *dingtalktest.Server {
	t.Helper()
	return dingtalktest.NewTest(t, append([]dingtalktest.Option{
		dingtalktest.WithApp(keyB, secretB, robotB), dingtalktest.WithApp(keyC, secretC, ""),
	}, opts...)...)
}

// tokenOf issues a token for the app with key and secret.
func tokenOf(t *testing.T, s *dingtalktest.Server, key, secret string) string {
	t.Helper()
	var tok tokenAnswer
	requireOK(t, post(t, s, dingtalktest.PathToken, "", map[string]string{"appKey": key, "appSecret": secret}), &tok)
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

// as sets a body's robotCode.
func as(body map[string]any, robot string) map[string]any {
	body["robotCode"] = robot
	return body
}

func TestAppsHaveTheirOwnCredentialsAndTokens(t *testing.T) {
	s := newApps(t)
	tests := []struct {
		name, key, secret string
		ok                bool
	}{
		{"default app", s.AppKey(), s.AppSecret(), true},
		{"app B", keyB, secretB, true},
		{"app C", keyC, secretC, true},
		{"B's key with C's secret", keyB, secretC, false},
		{"unknown app", "app-x", secretB, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, s, dingtalktest.PathToken, "", map[string]string{"appKey": tt.key, "appSecret": tt.secret})
			if tt.ok {
				requireOK(t, a, &tokenAnswer{})
			} else {
				requireError(t, a, http.StatusBadRequest, "invalidClientIdOrSecret")
			}
		})
	}

	// A token names its app: B's token sends as robot B only.
	tokB := tokenOf(t, s, keyB, secretB)
	requireError(t, post(t, s, dingtalktest.PathGroupSend, tokB, sendBody(s, dingtalktest.KindGroup, "cid")), http.StatusBadRequest, "invalidParameter.robotCode.notExsit")
	var res sendAnswer
	requireOK(t, post(t, s, dingtalktest.PathGroupSend, tokB, as(sendBody(s, dingtalktest.KindGroup, "cid"), robotB)), &res)
	m, ok := s.Message(res.ProcessQueryKey)
	require.True(t, ok)
	assert.Equal(t, robotB, m.RobotCode)
	assert.Equal(t, keyB, m.AppKey)

	// App C's robotCode defaults to its key.
	tokC := tokenOf(t, s, keyC, secretC)
	requireOK(t, post(t, s, dingtalktest.PathGroupSend, tokC, as(sendBody(s, dingtalktest.KindGroup, "cid"), keyC)), &res)

	calls := s.CallsByApp(keyB)
	require.Len(t, calls, 4, "two tokens, refused send, send")
	for _, c := range calls {
		assert.Equal(t, keyB, c.AppKey)
	}
	assert.Len(t, s.CallsByApp(keyC), 3)
	assert.Len(t, s.CallsByApp("app-x"), 0)
}

func TestAppsDoNotTouchEachOthersMessages(t *testing.T) {
	s := newApps(t)
	tokA, tokB := issueToken(t, s), tokenOf(t, s, keyB, secretB)
	tests := []struct {
		name string
		kind dingtalktest.Kind
	}{
		{"group", dingtalktest.KindGroup},
		{"private", dingtalktest.KindPrivate},
		{"oto", dingtalktest.KindOTO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := send(t, s, tokA, tt.kind, "cid-"+tt.name)

			// B names A's key: unknown to B, for status and recall alike.
			requireError(t, statusCall(t, s, tokB, tt.kind, as(statusParams(s, tt.kind, "cid-"+tt.name, key), robotB)), http.StatusBadRequest, "invalid.processQueryKey")
			var res recallAnswer
			requireOK(t, post(t, s, recallPath[tt.kind], tokB, as(recallBody(s, tt.kind, "cid-"+tt.name, key), robotB)), &res)
			assert.Equal(t, map[string]string{key: dingtalktest.ReasonNotFound}, res.FailedResult)
			assert.Empty(t, res.SuccessResult)

			// A still can.
			requireStatus(t, s, tokA, tt.kind, "cid-"+tt.name, key, dingtalktest.StatusSent)
			assert.Equal(t, []string{key}, recall(t, s, tokA, tt.kind, "cid-"+tt.name, key).SuccessResult)
		})
	}
}

func TestAppsHaveTheirOwnReactionsAndCards(t *testing.T) {
	s := newApps(t)
	tokA, tokB := issueToken(t, s), tokenOf(t, s, keyB, secretB)

	emotionOK(t, post(t, s, dingtalktest.PathEmotionReply, tokA, emotionBody(s, "cid", "msg-1", "🤔思考中")))
	requireError(t, post(t, s, dingtalktest.PathEmotionRecall, tokB, as(emotionBody(s, "cid", "msg-1", "🤔思考中"), robotB)), http.StatusBadRequest, "resource.not.found")
	emotionOK(t, post(t, s, dingtalktest.PathEmotionReply, tokB, as(emotionBody(s, "cid", "msg-1", "🤔思考中"), robotB)))
	assert.Equal(t, []string{"🤔思考中", "🤔思考中"}, s.ReactionsShown("msg-1"), "one reaction per robot")
	emotionOK(t, post(t, s, dingtalktest.PathEmotionRecall, tokB, as(emotionBody(s, "cid", "msg-1", "🤔思考中"), robotB)))
	reactions := s.Reactions("msg-1")
	require.Len(t, reactions, 2)
	assert.False(t, reactions[0].Recalled, "A's reaction stays")
	assert.True(t, reactions[1].Recalled)
	assert.Equal(t, robotB, reactions[1].RobotCode)

	deliver(t, s, tokA, deliverBody(s, "track-a", "cid"))
	update := map[string]any{"outTrackId": "track-a", "cardData": map[string]any{"cardParamMap": map[string]any{"title": "x"}}}
	requireError(t, put(t, s, dingtalktest.PathCardUpdate, tokB, update), http.StatusBadRequest, "card.notExist")
	requireOK(t, put(t, s, dingtalktest.PathCardUpdate, tokA, update), &map[string]any{})
	c, ok := s.Card("track-a")
	require.True(t, ok)
	assert.Equal(t, s.AppKey(), c.AppKey)
	body := deliverBody(s, "track-b", "cid")
	body["imGroupOpenDeliverModel"] = map[string]any{"robotCode": robotB}
	carrier := deliver(t, s, tokB, body)
	m, _ := s.Message(carrier)
	assert.Equal(t, keyB, m.AppKey)
	assert.Equal(t, robotB, m.RobotCode)
}

// hammer makes n group sends with tok as robot at once and returns how many the QPS
// limit refused.
func hammer(t *testing.T, s *dingtalktest.Server, tok, robot string, n int) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for range n {
		wg.Go(func() {
			a := post(t, s, dingtalktest.PathGroupSend, tok, as(sendBody(s, dingtalktest.KindGroup, "cid"), robot))
			if a.status == http.StatusForbidden {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return refused
}

func TestQPSLimitIsPerApp(t *testing.T) {
	tests := []struct {
		name            string
		set             func(s *dingtalktest.Server)
		refusedA, refdB int
	}{
		{"SetQPSLimit gives every app its own window", func(s *dingtalktest.Server) { s.SetQPSLimit(5) }, 3, 3},
		{"SetAppQPSLimit limits one app", func(s *dingtalktest.Server) { s.SetAppQPSLimit(keyB, 5) }, 0, 3},
		{"an app's own limit beats the common one", func(s *dingtalktest.Server) { s.SetQPSLimit(5); s.SetAppQPSLimit(keyB, 8) }, 3, 0},
		{"0 gives the app the common limit again", func(s *dingtalktest.Server) {
			s.SetQPSLimit(5)
			s.SetAppQPSLimit(keyB, 8)
			s.SetAppQPSLimit(keyB, 0)
		}, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newApps(t)
			tokA, tokB := issueToken(t, s), tokenOf(t, s, keyB, secretB)
			tt.set(s)
			var wg sync.WaitGroup
			var refusedA, refusedB int
			wg.Go(func() { refusedA = hammer(t, s, tokA, s.RobotCode(), 8) })
			wg.Go(func() { refusedB = hammer(t, s, tokB, robotB, 8) })
			wg.Wait()
			assert.Equal(t, tt.refusedA, refusedA, "app A")
			assert.Equal(t, tt.refdB, refusedB, "app B")
		})
	}
}

func TestOrgQuota(t *testing.T) {
	s := newApps(t)
	tokA := issueToken(t, s)
	s.SetOrgQuota(keyB, 3)
	tokB := tokenOf(t, s, keyB, secretB) // 1
	send(t, s, tokA, dingtalktest.KindGroup, "cid")
	requireOK(t, post(t, s, dingtalktest.PathGroupSend, tokB, as(sendBody(s, dingtalktest.KindGroup, "cid"), robotB)), &sendAnswer{})                                       // 2
	requireError(t, post(t, s, dingtalktest.PathGroupSend, tokB, sendBody(s, dingtalktest.KindGroup, "cid")), http.StatusBadRequest, "invalidParameter.robotCode.notExsit") // 3: counted whatever it answers
	assert.Equal(t, 3, s.OrgQuotaUsed(keyB))

	sent := len(s.Sent())
	for _, a := range []answer{
		post(t, s, dingtalktest.PathGroupSend, tokB, as(sendBody(s, dingtalktest.KindGroup, "cid"), robotB)),
		post(t, s, dingtalktest.PathGroupRecall, tokB, as(recallBody(s, dingtalktest.KindGroup, "cid", "k"), robotB)),
		post(t, s, dingtalktest.PathToken, "", map[string]string{"appKey": keyB, "appSecret": secretB}),
		roundTrip(t, openRequest(t, s, map[string]any{
			"clientId": keyB, "clientSecret": secretB,
			"subscriptions": []map[string]string{{"type": "CALLBACK", "topic": dingtalktest.TopicBotMessage}},
		})),
	} {
		e := requireError(t, a, http.StatusForbidden, "Forbidden.AccessDenied.ApiCountLimitForOrg")
		assert.Contains(t, e.Message, "额度:3次")
	}
	assert.Len(t, s.Sent(), sent, "a refused call changes nothing")
	assert.Equal(t, 3, s.OrgQuotaUsed(keyB))

	// The other apps go on; lifting the quota lets B go on too.
	send(t, s, tokA, dingtalktest.KindGroup, "cid")
	assert.Zero(t, s.OrgQuotaUsed(s.AppKey()))
	s.SetOrgQuota(keyB, -1)
	requireOK(t, post(t, s, dingtalktest.PathGroupSend, tokB, as(sendBody(s, dingtalktest.KindGroup, "cid"), robotB)), &sendAnswer{})
}

func TestServeBanPage(t *testing.T) {
	s := newApps(t)
	tokA := issueToken(t, s)
	s.ServeBanPage(3)
	sent := len(s.Sent())
	for _, a := range []answer{
		post(t, s, dingtalktest.PathGroupSend, tokA, sendBody(s, dingtalktest.KindGroup, "cid")),
		post(t, s, dingtalktest.PathToken, "", map[string]string{"appKey": keyB, "appSecret": secretB}),
		roundTrip(t, openRequest(t, s, openBody(s))),
	} {
		assert.Equal(t, http.StatusForbidden, a.status)
		assert.True(t, strings.HasPrefix(string(a.body), "<!DOCTYPE html>"), string(a.body))
	}
	assert.Len(t, s.Sent(), sent)
	send(t, s, tokA, dingtalktest.KindGroup, "cid")

	req := newRequest(t, t.Context(), s, dingtalktest.PathGroupSend, tokA, sendBody(s, dingtalktest.KindGroup, "cid"))
	s.ServeBanPage(1)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))

	var banned []string
	for _, c := range s.Calls() {
		if c.BanPage {
			banned = append(banned, c.Path)
			assert.Equal(t, http.StatusForbidden, c.Status)
		}
	}
	assert.Equal(t, []string{dingtalktest.PathGroupSend, dingtalktest.PathToken, dingtalktest.PathGatewayOpen, dingtalktest.PathGroupSend}, banned)
}

func TestGatewayConnectionsArePerApp(t *testing.T) {
	clk := newClock()
	s := newApps(t, dingtalktest.WithClock(clk.Now))
	wsA, connA := connect(t, s)

	bodyB := openBody(s)
	bodyB["clientId"], bodyB["clientSecret"] = keyB, secretB
	var res openAnswer
	requireOK(t, roundTrip(t, openRequest(t, s, bodyB)), &res)
	wsB, status := dial(t, res.Endpoint, res.Ticket)
	require.Equal(t, http.StatusSwitchingProtocols, status)
	require.Eventually(t, func() bool { return len(s.ConnectionsOf(keyB)) == 1 }, 5*time.Second, time.Millisecond)
	connB := s.ConnectionsOf(keyB)[0].ID

	conns := s.ConnectionsOf(s.AppKey())
	require.Len(t, conns, 1)
	assert.Equal(t, connA, conns[0].ID)
	assert.Empty(t, s.ConnectionsOf(keyC))
	tickets := s.Tickets()
	require.Len(t, tickets, 2)
	assert.Equal(t, []string{s.AppKey(), keyB}, []string{tickets[0].AppKey, tickets[1].AppKey})

	tests := []struct {
		name        string
		conn        string
		ws          func() []byte
		body        any
		appID, want string
	}{
		{"A's robotCode filled in", connA, nil, map[string]string{"msgId": "m1"}, s.AppKey(), `{"msgId":"m1","robotCode":"` + s.RobotCode() + `"}`},
		{"B's robotCode filled in", connB, nil, `{"msgId":"m2"}`, keyB, `{"robotCode":"` + robotB + `","msgId":"m2"}`},
		{"empty robotCode filled in", connB, nil, []byte(`{"msgId":"m3","robotCode":""}`), keyB, `{"msgId":"m3","robotCode":"` + robotB + `"}`},
		{"a robotCode given is kept", connB, nil, `{"robotCode":"other"}`, keyB, `{"robotCode":"other"}`},
		{"an empty object gets one", connA, nil, `{}`, s.AppKey(), `{"robotCode":"` + s.RobotCode() + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PushCallback(tt.conn, tt.body)
			require.NoError(t, err)
			ws := wsA
			if tt.conn == connB {
				ws = wsB
			}
			f, _ := readFrame(t, ws)
			assert.Equal(t, tt.appID, f.Headers["appId"])
			assert.JSONEq(t, tt.want, f.Data)
		})
	}

	// Malformed bodies are still sent as they are.
	_, err := s.PushCallback(connB, "not json")
	require.NoError(t, err)
	f, _ := readFrame(t, wsB)
	assert.Equal(t, "not json", f.Data)
}
