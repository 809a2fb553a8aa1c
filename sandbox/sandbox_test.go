package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/sandbox"
)

// token is the API token of the stub app.
const token = "sandbox-test-token"

// stubApp stands in for the app the simulator posts to: /dingtalk/callback
// checks the signature and records the callback; /api/v1/messages checks the
// bearer token and sends through a real client to the fake DingTalk.
type stubApp struct {
	t      *testing.T
	fake   *dingtalktest.Server
	client *dingtalk.Client
	srv    *httptest.Server

	mu             sync.Mutex
	callbacks      []map[string]any
	sends          []map[string]any
	callbackStatus int    // what /dingtalk/callback answers a signed callback with
	refuseSends    string // when set, /api/v1/messages answers 502 with this message
}

// newStubApp starts a stub app that sends to fake.
func newStubApp(t *testing.T, fake *dingtalktest.Server) *stubApp {
	t.Helper()
	client, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()), dingtalk.WithRobotCode(fake.RobotCode()))
	require.NoError(t, err)
	a := &stubApp{t: t, fake: fake, client: client, callbackStatus: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dingtalk/callback", a.callback)
	mux.HandleFunc("POST /api/v1/messages", a.messages)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// callback records a signed callback and answers a.callbackStatus.
func (a *stubApp) callback(w http.ResponseWriter, r *http.Request) {
	if err := dingtalk.VerifySignature(r.Header, a.fake.AppSecret(), time.Now()); err != nil {
		http.Error(w, `{"error":{"code":"bad_signature","message":"`+err.Error()+`"}}`, http.StatusUnauthorized)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.callbacks = append(a.callbacks, body)
	w.WriteHeader(a.callbackStatus)
	if a.callbackStatus != http.StatusOK {
		_, _ = io.WriteString(w, `{"error":{"code":"busy","message":"too much work queued; retry later"}}`)
		return
	}
	_, _ = io.WriteString(w, `{}`)
}

// messages sends a text through the client, as /api/v1/messages does.
func (a *stubApp) messages(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"code":"unauthorized","message":"missing or wrong bearer token"}}`)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.sends = append(a.sends, body)
	refuse := a.refuseSends
	a.mu.Unlock()
	if refuse != "" {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = fmt.Fprintf(w, `{"error":{"code":"bot.stopped","message":%q}}`, refuse)
		return
	}
	text, _ := body["text"].(string)
	var key string
	var err error
	if body["chatType"] == "oto" {
		var res *dingtalk.OTOResult
		if res, err = a.client.SendOTO(r.Context(), []string{body["userId"].(string)}, dingtalk.Text(text)); err == nil {
			key = res.ProcessQueryKey
		}
	} else {
		key, err = a.client.SendGroup(r.Context(), body["conversationId"].(string), dingtalk.Text(text))
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"processQueryKey":%q}`, key)
}

// recorded returns copies of the callbacks and sends the stub received.
func (a *stubApp) recorded() (callbacks, sends []map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]any(nil), a.callbacks...), append([]map[string]any(nil), a.sends...)
}

// rig is the simulator registered on a router, served over HTTP, posting to
// a stub app.
type rig struct {
	t    *testing.T
	fake *dingtalktest.Server
	app  *stubApp
	url  string
}

// newRig starts the simulator against a stub app and a fake DingTalk.
func newRig(t *testing.T) *rig {
	t.Helper()
	gin.SetMode(gin.TestMode)
	fake := dingtalktest.NewTest(t)
	app := newStubApp(t, fake)
	r := gin.New()
	sandbox.Register(r, sandbox.Deps{Fake: fake, AppSecret: fake.AppSecret(), APIToken: token, Self: func() string { return app.srv.URL }})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &rig{t: t, fake: fake, app: app, url: srv.URL}
}

// do sends a request and returns the status, the headers and the body.
func (g *rig) do(method, path, contentType string, body []byte, header http.Header) (int, http.Header, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(method, g.url+path, bytes.NewReader(body))
	require.NoError(g.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(g.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(g.t, err)
	return resp.StatusCode, resp.Header, raw
}

// post sends v as JSON and decodes the JSON answer.
func (g *rig) post(path string, v any) (int, map[string]any) {
	g.t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(g.t, err)
	status, _, body := g.do(http.MethodPost, path, "application/json", raw, nil)
	var out map[string]any
	require.NoError(g.t, json.Unmarshal(body, &out), "answer: %s", body)
	return status, out
}

// message is a message of the state answer.
type message struct {
	ID             string      `json:"id"`
	From           string      `json:"from"`
	Key            string      `json:"key"`
	MsgKey         string      `json:"msgKey"`
	User           string      `json:"user"`
	Nick           string      `json:"nick"`
	GroupAdmin     bool        `json:"groupAdmin"`
	Title          string      `json:"title"`
	Text           string      `json:"text"`
	At             time.Time   `json:"at"`
	Recalled       bool        `json:"recalled"`
	RecalledAt     *time.Time  `json:"recalledAt"`
	CallbackStatus int         `json:"callbackStatus"`
	CallbackError  string      `json:"callbackError"`
	Quote          *quoteState `json:"quote"`
	Reactions      []string    `json:"reactions"`
}

// quoteState is the quote of a typed message in the state answer.
type quoteState struct {
	ID   string `json:"id"`
	Nick string `json:"nick"`
	Text string `json:"text"`
}

// chatState is a chat of the state answer.
type chatState struct {
	ID             string    `json:"id"`
	Title          string    `json:"title"`
	Kind           string    `json:"kind"`
	ConversationID string    `json:"conversationId"`
	Owner          string    `json:"owner"`
	Discovered     bool      `json:"discovered"`
	Messages       []message `json:"messages"`
}

// state fetches GET /sandbox/api/state and returns the chats by id.
func (g *rig) state() (map[string]chatState, []string) {
	g.t.Helper()
	status, _, raw := g.do(http.MethodGet, "/sandbox/api/state", "", nil, nil)
	require.Equal(g.t, http.StatusOK, status, "%s", raw)
	var st struct {
		Chats  []chatState `json:"chats"`
		People []struct {
			ID string `json:"id"`
		} `json:"people"`
	}
	require.NoError(g.t, json.Unmarshal(raw, &st))
	byID := map[string]chatState{}
	var order []string
	for _, c := range st.Chats {
		byID[c.ID] = c
		order = append(order, c.ID)
	}
	require.Len(g.t, st.People, 3)
	return byID, order
}

// texts lists "from:text" of each message.
func texts(msgs []message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.From + ":" + m.Text
	}
	return out
}

func TestPageIsServedFromEmbeddedFiles(t *testing.T) {
	g := newRig(t)
	tests := []struct {
		path, contentType, contains string
	}{
		{"/sandbox", "text/html; charset=utf-8", `src="/sandbox/static/app.js"`},
		{"/sandbox/static/app.js", "text/javascript; charset=utf-8", "/sandbox/api/state"},
		{"/sandbox/static/style.css", "text/css; charset=utf-8", ".msg.recalled"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, h, body := g.do(http.MethodGet, tt.path, "", nil, nil)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, tt.contentType, h.Get("Content-Type"))
			assert.Contains(t, string(body), tt.contains)
			assert.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
			assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
			for _, external := range []string{"http://", "https://", "//cdn", "@import"} {
				assert.NotContains(t, string(body), external, "the page loads nothing from elsewhere")
			}
		})
	}
	for _, path := range []string{"/sandbox/static/nope.js", "/sandbox/static/..%2Fsandbox.go", "/sandbox/static/static"} {
		status, _, _ := g.do(http.MethodGet, path, "", nil, nil)
		assert.Equal(t, http.StatusNotFound, status, path)
	}
}

func TestRegisterOutsideSandboxAddsNothing(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	sandbox.Register(r, sandbox.Deps{})
	for _, path := range []string{"/sandbox", "/sandbox/api/state"} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, http.StatusNotFound, w.Code, path)
	}
}

func TestSayPostsASignedCallback(t *testing.T) {
	tests := []struct {
		name       string
		req        map[string]any
		want       map[string]any
		wantAbsent []string
	}{
		{
			name: "group, as a group admin",
			req:  map[string]any{"chat": "ops-alerts", "user": "oncall", "groupAdmin": true, "text": "  recall 3 "},
			want: map[string]any{
				"conversationId": "cidSandboxOps==", "conversationType": "2", "conversationTitle": "ops-alerts",
				"senderStaffId": "oncall", "senderNick": "On-call", "isAdmin": true, "msgtype": "text",
				"text": map[string]any{"content": " recall 3"}, "isInAtList": true,
			},
		},
		{
			name: "one-to-one: never a group admin, no title",
			req:  map[string]any{"chat": "dm-ops-lead", "user": "ops-lead", "groupAdmin": true, "text": "recall 5 in ops-alerts"},
			want: map[string]any{
				"conversationId": "cidSandboxDmOpsLead==", "conversationType": "1",
				"senderStaffId": "ops-lead", "senderNick": "Ops Lead", "isAdmin": false, "msgtype": "text",
				"text": map[string]any{"content": "recall 5 in ops-alerts"},
			},
			wantAbsent: []string{"conversationTitle"},
		},
		{
			name: "a staff ID the page does not list",
			req:  map[string]any{"chat": "deploys", "user": "alice.w@corp", "text": "help"},
			want: map[string]any{"conversationId": "cidSandboxDeploy==", "senderStaffId": "alice.w@corp", "senderNick": "alice.w@corp", "isAdmin": false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t)
			status, out := g.post("/sandbox/api/say", tt.req)
			require.Equal(t, http.StatusOK, status, "%v", out)
			assert.EqualValues(t, 200, out["callbackStatus"])
			callbacks, _ := g.app.recorded()
			require.Len(t, callbacks, 1)
			cb := callbacks[0]
			for k, v := range tt.want {
				assert.Equal(t, v, cb[k], k)
			}
			for _, k := range tt.wantAbsent {
				assert.NotContains(t, cb, k)
			}
			assert.Equal(t, out["msgId"], cb["msgId"])
			assert.Equal(t, g.fake.RobotCode(), cb["robotCode"])
			assert.NotEmpty(t, cb["createAt"])

			chats, _ := g.state()
			msgs := chats[tt.req["chat"].(string)].Messages
			require.Len(t, msgs, 1)
			assert.Equal(t, "user", msgs[0].From)
			assert.Equal(t, tt.want["senderStaffId"], msgs[0].User)
			assert.Equal(t, strings.TrimSpace(tt.req["text"].(string)), msgs[0].Text)
			assert.Equal(t, tt.want["isAdmin"], msgs[0].GroupAdmin)
			assert.Equal(t, 200, msgs[0].CallbackStatus)
			assert.Empty(t, msgs[0].CallbackError)
		})
	}
}

func TestSayGivesEachCallbackItsOwnMsgID(t *testing.T) {
	g := newRig(t)
	for range 3 {
		status, out := g.post("/sandbox/api/say", map[string]any{"chat": "ops-alerts", "user": "oncall", "text": "recall"})
		require.Equal(t, http.StatusOK, status, "%v", out)
	}
	callbacks, _ := g.app.recorded()
	ids := map[any]bool{}
	for _, cb := range callbacks {
		ids[cb["msgId"]] = true
	}
	assert.Len(t, ids, 3)
}

func TestSayShowsWhatTheCallbackAnswered(t *testing.T) {
	g := newRig(t)
	g.app.mu.Lock()
	g.app.callbackStatus = http.StatusServiceUnavailable
	g.app.mu.Unlock()
	status, out := g.post("/sandbox/api/say", map[string]any{"chat": "ops-alerts", "user": "oncall", "text": "recall 1"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.EqualValues(t, 503, out["callbackStatus"])
	assert.Equal(t, "too much work queued; retry later", out["callbackError"])
	chats, _ := g.state()
	msgs := chats["ops-alerts"].Messages
	require.Len(t, msgs, 1)
	assert.Equal(t, 503, msgs[0].CallbackStatus)
	assert.Equal(t, "too much work queued; retry later", msgs[0].CallbackError)
}

func TestSayWhenTheAppCannotBeReached(t *testing.T) {
	gin.SetMode(gin.TestMode)
	fake := dingtalktest.NewTest(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	r := gin.New()
	sandbox.Register(r, sandbox.Deps{Fake: fake, AppSecret: fake.AppSecret(), APIToken: token, Self: func() string { return gone.URL }})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	g := &rig{t: t, fake: fake, url: srv.URL}

	status, out := g.post("/sandbox/api/say", map[string]any{"chat": "ops-alerts", "user": "oncall", "text": "recall 1"})
	assert.Equal(t, http.StatusBadGateway, status)
	assert.Equal(t, "unreachable", out["error"].(map[string]any)["code"])
	chats, _ := g.state()
	require.Len(t, chats["ops-alerts"].Messages, 1)
	assert.Contains(t, chats["ops-alerts"].Messages[0].CallbackError, "could not be delivered")

	status, out = g.post("/sandbox/api/bot", map[string]any{"chat": "ops-alerts", "text": "hello"})
	assert.Equal(t, http.StatusBadGateway, status)
	assert.Equal(t, "unreachable", out["error"].(map[string]any)["code"])
}

func TestSayAndBotRefuseBadRequests(t *testing.T) {
	long := strings.Repeat("x", 2001)
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		header      http.Header
		status      int
		field       string
	}{
		{"unknown chat", "/sandbox/api/say", "", `{"chat":"nope","user":"oncall","text":"recall"}`, nil, 400, "chat"},
		{"bad staff ID", "/sandbox/api/say", "", `{"chat":"ops-alerts","user":"a b","text":"recall"}`, nil, 400, "user"},
		{"no staff ID", "/sandbox/api/say", "", `{"chat":"ops-alerts","user":"","text":"recall"}`, nil, 400, "user"},
		{"someone else in a one-to-one chat", "/sandbox/api/say", "", `{"chat":"dm-ops-lead","user":"stranger","text":"recall"}`, nil, 400, "user"},
		{"empty text", "/sandbox/api/say", "", `{"chat":"ops-alerts","user":"oncall","text":"   "}`, nil, 400, "text"},
		{"text too long", "/sandbox/api/say", "", `{"chat":"ops-alerts","user":"oncall","text":"` + long + `"}`, nil, 400, "text"},
		{"unknown field", "/sandbox/api/say", "", `{"chat":"ops-alerts","user":"oncall","text":"recall","extra":1}`, nil, 400, "extra"},
		{"not JSON", "/sandbox/api/say", "", `recall 3`, nil, 400, "body"},
		{"two JSON values", "/sandbox/api/say", "", `{} {}`, nil, 400, "body"},
		{"body too large", "/sandbox/api/say", "", `{"text":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, ""},
		{"form post", "/sandbox/api/say", "application/x-www-form-urlencoded", `chat=ops-alerts`, nil, 415, ""},
		{"another site's page", "/sandbox/api/say", "", `{"chat":"ops-alerts","user":"oncall","text":"recall"}`, http.Header{"Origin": {"https://evil.example"}}, 403, ""},
		{"bot: unknown chat", "/sandbox/api/bot", "", `{"chat":"nope","text":"hi"}`, nil, 400, "chat"},
		{"bot: empty text", "/sandbox/api/bot", "", `{"chat":"ops-alerts","text":""}`, nil, 400, "text"},
		{"bot: count too high", "/sandbox/api/bot", "", `{"chat":"ops-alerts","text":"hi","count":51}`, nil, 400, "count"},
		{"bot: negative count", "/sandbox/api/bot", "", `{"chat":"ops-alerts","text":"hi","count":-1}`, nil, 400, "count"},
		{"bot: another site's page", "/sandbox/api/bot", "", `{"chat":"ops-alerts","text":"hi"}`, http.Header{"Origin": {"null"}}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t)
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			status, _, raw := g.do(http.MethodPost, tt.path, ct, []byte(tt.body), tt.header)
			require.Equal(t, tt.status, status, "%s", raw)
			var out struct {
				Error struct{ Code, Message, Field string }
			}
			require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
			assert.NotEmpty(t, out.Error.Code)
			assert.NotEmpty(t, out.Error.Message)
			assert.Equal(t, tt.field, out.Error.Field)
			callbacks, sends := g.app.recorded()
			assert.Empty(t, callbacks, "nothing reached the callback")
			assert.Empty(t, sends, "nothing reached the API")
			chats, _ := g.state()
			for _, c := range chats {
				assert.Empty(t, c.Messages)
			}
		})
	}
}

func TestSameOriginRequestsAreAccepted(t *testing.T) {
	g := newRig(t)
	status, _, raw := g.do(http.MethodPost, "/sandbox/api/say", "application/json; charset=utf-8",
		[]byte(`{"chat":"ops-alerts","user":"oncall","text":"help"}`), http.Header{"Origin": {g.url}})
	assert.Equal(t, http.StatusOK, status, "%s", raw)
}

func TestBotPostsThroughTheAPIAndTheStateShowsRecalls(t *testing.T) {
	g := newRig(t)
	status, out := g.post("/sandbox/api/bot", map[string]any{"chat": "ops-alerts", "text": "disk full", "count": 3, "ttl": "10m", "tag": "disk"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.EqualValues(t, 3, out["sent"])
	keys := out["keys"].([]any)
	require.Len(t, keys, 3)

	_, sends := g.app.recorded()
	require.Len(t, sends, 3)
	for i, s := range sends {
		assert.Equal(t, map[string]any{"conversationId": "cidSandboxOps==", "text": fmt.Sprintf("disk full (%d/3)", i+1), "ttl": "10m", "tag": "disk"}, s)
	}

	status, out = g.post("/sandbox/api/bot", map[string]any{"chat": "dm-ops-lead", "text": "your shift starts"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	_, sends = g.app.recorded()
	assert.Equal(t, map[string]any{"chatType": "oto", "userId": "ops-lead", "text": "your shift starts"}, sends[3])

	res, err := g.app.client.RecallGroup(context.Background(), "cidSandboxOps==", []string{keys[2].(string)})
	require.NoError(t, err)
	require.Len(t, res.Recalled, 1)

	chats, order := g.state()
	assert.Equal(t, []string{"ops-alerts", "deploys", "dm-ops-lead"}, order)
	msgs := chats["ops-alerts"].Messages
	assert.Equal(t, []string{"bot:disk full (1/3)", "bot:disk full (2/3)", "bot:disk full (3/3)"}, texts(msgs))
	for i, m := range msgs {
		assert.Equal(t, keys[i], m.Key)
		assert.Equal(t, "bot-"+m.Key, m.ID)
		assert.Equal(t, "sampleText", m.MsgKey)
		assert.Equal(t, i == 2, m.Recalled, "message %d", i)
		assert.Equal(t, i == 2, m.RecalledAt != nil, "message %d", i)
	}
	assert.Equal(t, []string{"bot:your shift starts"}, texts(chats["dm-ops-lead"].Messages))
	assert.Empty(t, chats["deploys"].Messages)
}

func TestBotRelaysTheAPIRefusal(t *testing.T) {
	g := newRig(t)
	g.app.mu.Lock()
	g.app.refuseSends = "this bot is disabled in DingTalk"
	g.app.mu.Unlock()
	status, out := g.post("/sandbox/api/bot", map[string]any{"chat": "ops-alerts", "text": "hi", "count": 5})
	assert.Equal(t, http.StatusBadGateway, status)
	e := out["error"].(map[string]any)
	assert.Equal(t, "api_refused", e["code"])
	assert.Contains(t, e["message"], "this bot is disabled in DingTalk")
	_, sends := g.app.recorded()
	assert.Len(t, sends, 1, "stops at the first refusal")
}

func TestStateMergesChatsInTimeOrderAndFindsOtherChats(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()
	_, err := g.app.client.SendGroup(ctx, "cidSandboxOps==", dingtalk.Markdown("Deploy", "**v1.2.3** is out"))
	require.NoError(t, err)
	status, out := g.post("/sandbox/api/say", map[string]any{"chat": "ops-alerts", "user": "stranger", "text": "recall"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	_, err = g.app.client.SendGroup(ctx, "cidSandboxOps==", dingtalk.Text("Sorry Stranger, you are not allowed"))
	require.NoError(t, err)
	_, err = g.app.client.SendGroup(ctx, "cidSandbox==", dingtalk.Text("hello from the sandbox"))
	require.NoError(t, err)
	_, err = g.app.client.SendOTO(ctx, []string{"alice", "ops-lead"}, dingtalk.Text("to two people"))
	require.NoError(t, err)

	chats, order := g.state()
	msgs := chats["ops-alerts"].Messages
	assert.Equal(t, []string{"bot:**v1.2.3** is out", "user:recall", "bot:Sorry Stranger, you are not allowed"}, texts(msgs))
	assert.Equal(t, "Deploy", msgs[0].Title)
	assert.Equal(t, "sampleMarkdown", msgs[0].MsgKey)
	assert.Equal(t, "Stranger", msgs[1].Nick)

	require.Len(t, order, 5, "the chats the bot posted to are found")
	group, dm := chats[order[3]], chats[order[4]]
	assert.Equal(t, chatState{ID: order[3], Title: "cidSandbox==", Kind: "group", ConversationID: "cidSandbox==", Discovered: true}, chatState{
		ID: group.ID, Title: group.Title, Kind: group.Kind, ConversationID: group.ConversationID, Discovered: group.Discovered})
	assert.Equal(t, []string{"bot:hello from the sandbox"}, texts(group.Messages))
	assert.Equal(t, "oto", dm.Kind)
	assert.Equal(t, "alice", dm.Owner)
	assert.True(t, dm.Discovered)
	assert.Equal(t, []string{"bot:to two people"}, texts(dm.Messages))
	assert.Equal(t, []string{"bot:to two people"}, texts(chats["dm-ops-lead"].Messages), "a message to two people shows in both chats")

	// A found chat takes posts like the others: the bot answers there.
	status, out = g.post("/sandbox/api/say", map[string]any{"chat": order[3], "user": "oncall", "text": "recall"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	callbacks, _ := g.app.recorded()
	assert.Equal(t, "cidSandbox==", callbacks[len(callbacks)-1]["conversationId"])
	status, out = g.post("/sandbox/api/say", map[string]any{"chat": order[4], "user": "alice", "text": "chats"})
	require.Equal(t, http.StatusOK, status, "%v", out)
}

func TestTypedMessagesAreBounded(t *testing.T) {
	g := newRig(t)
	for i := range 205 {
		status, out := g.post("/sandbox/api/say", map[string]any{"chat": "deploys", "user": "oncall", "text": fmt.Sprintf("m%d", i)})
		require.Equal(t, http.StatusOK, status, "%v", out)
	}
	chats, _ := g.state()
	msgs := chats["deploys"].Messages
	require.Len(t, msgs, 200)
	assert.Equal(t, "m5", msgs[0].Text, "the oldest go first")
	assert.Equal(t, "m204", msgs[199].Text)
}
