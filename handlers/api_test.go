package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// apiRoutes are the routes behind the bearer token, with a body each would
// accept.
var apiRoutes = []struct{ method, target, body string }{
	{http.MethodPost, "/api/v1/messages", `{"conversationId":"cidA==","text":"hi"}`},
	{http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","last":1}`},
	{http.MethodGet, "/api/v1/conversations/cidA==/messages", ""},
	{http.MethodGet, "/api/v1/audit", ""},
}

func TestAPIAuthorization(t *testing.T) {
	cases := []struct {
		name, auth string
		noToken    bool // API_TOKEN unset
		want       int
		message    string
	}{
		{name: "no header", auth: "", want: http.StatusUnauthorized, message: errUnauthorized.message},
		{name: "wrong token", auth: "Bearer nope", want: http.StatusUnauthorized, message: errUnauthorized.message},
		{name: "token with a suffix", auth: "Bearer " + testToken + "x", want: http.StatusUnauthorized, message: errUnauthorized.message},
		{name: "token prefix", auth: "Bearer " + testToken[:10], want: http.StatusUnauthorized, message: errUnauthorized.message},
		{name: "other scheme", auth: "Basic " + testToken, want: http.StatusUnauthorized, message: errUnauthorized.message},
		{name: "token alone", auth: testToken, want: http.StatusUnauthorized, message: errUnauthorized.message},
		{name: "right token", auth: "Bearer " + testToken, want: 0},
		{name: "scheme in any case, spaces around", auth: "  bearer  " + testToken + " ", want: 0},
		{name: "API disabled, no header", auth: "", noToken: true, want: http.StatusUnauthorized, message: errAPIDisabled.message},
		{name: "API disabled, empty bearer", auth: "Bearer ", noToken: true, want: http.StatusUnauthorized, message: errAPIDisabled.message},
		{name: "API disabled, some token", auth: "Bearer " + testToken, noToken: true, want: http.StatusUnauthorized, message: errAPIDisabled.message},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t, func(d *Deps) {
				if tc.noToken {
					d.APIToken = ""
				}
			})
			for _, rt := range apiRoutes {
				rec := r.do(rt.method, rt.target, rt.body, "Authorization", tc.auth)
				if tc.want == 0 {
					assert.Less(t, rec.Code, 300, "%s %s: %s", rt.method, rt.target, rec.Body.String())
					continue
				}
				e := wantError(t, rec, tc.want, "unauthorized", "")
				assert.Equal(t, tc.message, e.Message)
			}
			if tc.want != 0 {
				assert.Empty(t, r.bot.sent, "nothing reaches the bot")
				assert.Empty(t, r.bot.recalled)
				assert.Empty(t, r.bot.listChats)
				assert.Empty(t, r.bot.auditChats)
			}
			assert.NotContains(t, logText(r.log), testToken, "the token is never logged")
		})
	}
}

func TestSendMessage(t *testing.T) {
	r := newTestRouter(t)
	r.bot.sendMsg = store.Message{Key: "pqk-1", ChatID: "cidA==", Kind: store.KindGroup, SentAt: testNow.Add(time.Second).In(time.FixedZone("CST", 8*3600)), ExpiresAt: testNow.Add(10 * time.Minute)}
	rec := r.do(http.MethodPost, "/api/v1/messages", `{"conversationId":"cidA==","text":"deploy started","tag":"deploy-1","ttl":"10m"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var out map[string]string
	decode(t, rec, &out)
	assert.Equal(t, map[string]string{
		"processQueryKey": "pqk-1", "conversationId": "cidA==",
		"sentAt": "2026-11-26T10:00:01Z", "expiresAt": "2026-11-26T10:10:00Z", "bot": "default",
	}, out)
	require.Len(t, r.bot.sent, 1)
	assert.Equal(t, bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA==", Message: dingtalk.Text("deploy started"), Tag: "deploy-1", TTL: 10 * time.Minute}, r.bot.sent[0])

	r.bot.sendMsg.ExpiresAt = time.Time{}
	rec = r.do(http.MethodPost, "/api/v1/messages", `{"conversationId":"cidA==","text":"no ttl"}`)
	require.Equal(t, http.StatusCreated, rec.Code)
	decode(t, rec, &out)
	assert.NotContains(t, rec.Body.String(), "expiresAt", "no ttl, no expiresAt")
}

func TestSendMessageRequests(t *testing.T) {
	text := func(s string) dingtalk.Message { return dingtalk.Text(s) }
	cases := []struct {
		name, body string
		want       bot.Outgoing // when field is ""
		field      string       // the 400's field
	}{
		{name: "group by default", body: `{"conversationId":"cidA==","text":"x"}`, want: bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA==", Message: text("x")}},
		{name: "group", body: `{"conversationId":"cidA==","chatType":"group","text":"x"}`, want: bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA==", Message: text("x")}},
		{name: "private", body: `{"conversationId":"cidA==","chatType":"private","text":"x"}`, want: bot.Outgoing{Kind: store.KindPrivate, ChatID: "cidA==", Message: text("x")}},
		{name: "oto", body: `{"chatType":"oto","userId":"staff-1","text":"x"}`, want: bot.Outgoing{Kind: store.KindOTO, ChatID: "staff-1", Message: text("x")}},
		{name: "markdown", body: `{"conversationId":"cidA==","markdown":{"title":"T","text":"**b**"}}`, want: bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA==", Message: dingtalk.Markdown("T", "**b**")}},
		{name: "msgParam as a string", body: `{"conversationId":"cidA==","msgKey":"sampleText","msgParam":"{\"content\":\"x\"}"}`, want: bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA==", Message: dingtalk.Message{MsgKey: "sampleText", MsgParam: `{"content":"x"}`}}},
		{name: "msgParam as an object", body: `{"conversationId":"cidA==","msgKey":"sampleText","msgParam":{"content":"x"}}`, want: bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA==", Message: dingtalk.Message{MsgKey: "sampleText", MsgParam: `{"content":"x"}`}}},
		{name: "field names ignore case", body: `{"CONVERSATIONID":"cidA==","Text":"x"}`, want: bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA==", Message: text("x")}},
		{name: "longest ttl", body: `{"conversationId":"cidA==","text":"x","ttl":"23h59m59s"}`, want: bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA==", Message: text("x"), TTL: testMaxTTL}},

		{name: "unknown chatType", body: `{"conversationId":"cidA==","chatType":"channel","text":"x"}`, field: "chatType"},
		{name: "oto without userId", body: `{"chatType":"oto","text":"x"}`, field: "userId"},
		{name: "oto with conversationId", body: `{"chatType":"oto","userId":"s","conversationId":"cidA==","text":"x"}`, field: "conversationId"},
		{name: "no conversationId", body: `{"text":"x"}`, field: "conversationId"},
		{name: "blank conversationId", body: `{"conversationId":"  ","text":"x"}`, field: "conversationId"},
		{name: "userId on a group", body: `{"conversationId":"cidA==","userId":"s","text":"x"}`, field: "userId"},
		{name: "empty text", body: `{"conversationId":"cidA==","text":" "}`, field: "text"},
		{name: "markdown without title", body: `{"conversationId":"cidA==","markdown":{"text":"x"}}`, field: "markdown"},
		{name: "msgKey without msgParam", body: `{"conversationId":"cidA==","msgKey":"sampleText"}`, field: "msgParam"},
		{name: "msgParam without msgKey", body: `{"conversationId":"cidA==","msgParam":{"a":1}}`, field: "msgKey"},
		{name: "msgParam an array", body: `{"conversationId":"cidA==","msgKey":"k","msgParam":[1]}`, field: "msgParam"},
		{name: "msgParam null", body: `{"conversationId":"cidA==","msgKey":"k","msgParam":null}`, field: "msgParam"},
		{name: "no content", body: `{"conversationId":"cidA=="}`, field: "text"},
		{name: "two contents", body: `{"conversationId":"cidA==","text":"x","markdown":{"title":"T","text":"y"}}`, field: "text"},
		{name: "msgParam not an object in a string", body: `{"conversationId":"cidA==","msgKey":"sampleText","msgParam":"[1]"}`, field: "msgParam"},
		{name: "ttl not a duration", body: `{"conversationId":"cidA==","text":"x","ttl":"soon"}`, field: "ttl"},
		{name: "ttl zero", body: `{"conversationId":"cidA==","text":"x","ttl":"0s"}`, field: "ttl"},
		{name: "ttl too long", body: `{"conversationId":"cidA==","text":"x","ttl":"24h"}`, field: "ttl"},
		{name: "wrong type", body: `{"conversationId":7,"text":"x"}`, field: "conversationId"},
		{name: "wrong nested type", body: `{"conversationId":"cidA==","markdown":{"title":1,"text":"x"}}`, field: "markdown.title"},
		{name: "unknown field", body: `{"conversationId":"cidA==","text":"x","colour":"red"}`, field: "colour"},
		{name: "unknown nested field", body: `{"conversationId":"cidA==","markdown":{"title":"T","text":"x","colour":"red"}}`, field: "colour"},
		{name: "misspelt field", body: `{"conversationID":"cidA==","txt":"x"}`, field: "txt"},
		{name: "empty body", body: ``, field: "body"},
		{name: "not JSON", body: `{"conversationId":`, field: "body"},
		{name: "broken JSON", body: `{"conversationId" "x"}`, field: "body"},
		{name: "two values", body: `{"conversationId":"cidA==","text":"x"} {}`, field: "body"},
		{name: "an array", body: `[1,2]`, field: "body"},
		{name: "a string", body: `"text"`, field: "body"},
		{name: "deep JSON", body: strings.Repeat("[", 100000) + strings.Repeat("]", 100000), field: "body"},
		{name: "deep JSON in a field", body: `{"conversationId":"cidA==","msgKey":"k","msgParam":` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat("}", 20000) + `}`, field: "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t)
			r.bot.sendMsg = store.Message{Key: "k", ChatID: "c", SentAt: testNow}
			rec := r.do(http.MethodPost, "/api/v1/messages", tc.body)
			if tc.field != "" {
				e := wantError(t, rec, http.StatusBadRequest, "invalid_request", tc.field)
				assert.True(t, strings.HasPrefix(e.Message, tc.field+": "), e.Message)
				assert.Empty(t, r.bot.sent, "an invalid request is not sent")
				return
			}
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			require.Len(t, r.bot.sent, 1)
			assert.Equal(t, tc.want, r.bot.sent[0])
		})
	}
}

func TestBodyOverOneMiB(t *testing.T) {
	for _, target := range []string{"/api/v1/messages", "/api/v1/recall"} {
		r := newTestRouter(t)
		body := `{"conversationId":"cidA==","text":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
		rec := r.do(http.MethodPost, target, body)
		wantError(t, rec, http.StatusRequestEntityTooLarge, "too_large", "")
		assert.Empty(t, r.bot.sent)
		assert.Empty(t, r.bot.recalled)
	}
	r := newTestRouter(t)
	body := `{"conversationId":"cidA==","text":"` + strings.Repeat("x", MaxBodyBytes-len(`{"conversationId":"cidA==","text":""}`)) + `"}`
	require.Len(t, body, MaxBodyBytes)
	rec := r.do(http.MethodPost, "/api/v1/messages", body)
	assert.NotEqual(t, http.StatusRequestEntityTooLarge, rec.Code, "exactly 1 MiB is taken")
}

// failingReader fails every read.
type failingReader struct{}

// Read fails.
func (failingReader) Read([]byte) (int, error) { return 0, assert.AnError }

func TestUnreadableBody(t *testing.T) {
	r := newTestRouter(t)
	req, err := http.NewRequest(http.MethodPost, "/api/v1/messages", failingReader{})
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	wantError(t, rec, http.StatusBadRequest, "invalid_request", "body")
}

func TestUnknownField(t *testing.T) {
	type inner struct {
		Title string `json:"title"`
	}
	type outer struct {
		Name    string          `json:"name"`
		Inner   *inner          `json:"inner"`
		Plain   string          // no tag: its Go name
		Skipped string          `json:"-"`
		Raw     json.RawMessage `json:"raw"`
		hidden  string
	}
	_ = outer{}.hidden
	typ := reflect.TypeOf(&outer{})
	cases := []struct{ body, want string }{
		{`{"name":"a"}`, ""},
		{`{"NAME":"a","plain":"b"}`, ""},
		{`{"name":"a","zeta":1,"alpha":2}`, "alpha"},
		{`{"inner":{"title":"t","colour":1}}`, "colour"},
		{`{"inner":null}`, ""},
		{`{"raw":{"anything":1}}`, ""},
		{`{"Skipped":"x"}`, "Skipped"},
		{`{"hidden":"x"}`, "hidden"},
		{`[1]`, ""},
		{`not json`, ""},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, unknownField([]byte(tc.body), typ), tc.body)
	}
}

func TestRecall(t *testing.T) {
	r := newTestRouter(t)
	r.bot.outcome = bot.Outcome{
		Selected: []store.Message{{Key: "k3"}, {Key: "k2"}, {Key: "k1"}},
		Recalled: []string{"k3"},
		Failed:   map[string]store.Failure{"k2": {Code: "bot.stopped", Message: "this bot is disabled"}},
		TooOld:   []store.Message{{Key: "k1"}},
		InFlight: []store.Message{{Key: "k5"}, {Key: "k4"}},
	}
	rec := r.do(http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","last":3}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out recallResponse
	decode(t, rec, &out)
	assert.Equal(t, recallResponse{
		Selected: []string{"k3", "k2", "k1"},
		Recalled: []string{"k3"},
		Failed:   map[string]string{"k2": "bot.stopped: this bot is disabled", "k1": "too old: test"},
		// The codes come as data beside the words.
		FailedCodes: map[string]string{"k2": "bot.stopped", "k1": bot.CodeTooOld},
		// Of the newest, those another request was recalling.
		InFlight: []string{"k5", "k4"},
	}, out)
	require.Len(t, r.bot.recalled, 1)
	assert.Equal(t, bot.Selection{ChatID: "cidA==", Last: 3, Max: testRecallMax}, r.bot.recalled[0])
	assert.Equal(t, bot.Actor{Source: store.SourceAPI, Request: "last 3"}, r.bot.actors[0])
	assert.Empty(t, r.bot.previewed)
	require.Len(t, logged(r.log, logrus.InfoLevel, "recall"), 1, "every recall logs a recall line")

	// Nothing selected: empty arrays and object, never null.
	r.bot.outcome = bot.Outcome{}
	rec = r.do(http.MethodPost, "/api/v1/recall", `{"tag":"deploy-1"}`)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"selected":[],"recalled":[],"failed":{},"failedCodes":{},"inFlight":[],"dryRun":false}`, rec.Body.String())
}

func TestRecallDryRun(t *testing.T) {
	r := newTestRouter(t)
	r.bot.previewMsgs = []store.Message{{Key: "k2"}, {Key: "k1"}}
	rec := r.do(http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","since":"10m","dryRun":true}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"selected":["k2","k1"],"recalled":[],"failed":{},"failedCodes":{},"inFlight":[],"dryRun":true}`, rec.Body.String())
	require.Len(t, r.bot.previewed, 1)
	assert.Equal(t, bot.Selection{ChatID: "cidA==", Since: 10 * time.Minute, Max: testRecallMax}, r.bot.previewed[0])
	assert.Empty(t, r.bot.recalled, "a dry run recalls nothing")

	r.bot.previewErr = assert.AnError
	rec = r.do(http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","last":1,"dryRun":true}`)
	wantError(t, rec, http.StatusInternalServerError, "internal", "")
}

func TestRecallRequests(t *testing.T) {
	cases := []struct {
		name, body string
		want       bot.Selection
		summary    string
		field      string
	}{
		{name: "last", body: `{"conversationId":"c","last":5}`, want: bot.Selection{ChatID: "c", Last: 5}, summary: "last 5"},
		{name: "last max", body: `{"conversationId":"c","last":100}`, want: bot.Selection{ChatID: "c", Last: 100}, summary: "last 100"},
		{name: "keys", body: `{"conversationId":"c","keys":["a","b"]}`, want: bot.Selection{ChatID: "c", Keys: []string{"a", "b"}}, summary: "2 keys"},
		{name: "tag anywhere", body: `{"tag":"t"}`, want: bot.Selection{Tag: "t"}, summary: "tag t"},
		{name: "tag in a chat", body: `{"conversationId":"c","tag":"t"}`, want: bot.Selection{ChatID: "c", Tag: "t"}, summary: "tag t"},
		{name: "since", body: `{"conversationId":"c","since":"1h"}`, want: bot.Selection{ChatID: "c", Since: time.Hour}, summary: "since 1h"},
		{name: "userId", body: `{"userId":"staff-1","last":1}`, want: bot.Selection{ChatID: "staff-1", Last: 1}, summary: "last 1"},

		{name: "conversationId and userId", body: `{"conversationId":"c","userId":"s","last":1}`, field: "userId"},
		{name: "last zero", body: `{"conversationId":"c","last":0}`, field: "last"},
		{name: "last over max", body: `{"conversationId":"c","last":101}`, field: "last"},
		{name: "last not whole", body: `{"conversationId":"c","last":1.5}`, field: "last"},
		{name: "keys empty", body: `{"conversationId":"c","keys":[]}`, field: "keys"},
		{name: "keys too many", body: `{"conversationId":"c","keys":[` + strings.TrimSuffix(strings.Repeat(`"k",`, 101), ",") + `]}`, field: "keys"},
		{name: "a blank key", body: `{"conversationId":"c","keys":["a"," "]}`, field: "keys[1]"},
		{name: "blank tag", body: `{"tag":" "}`, field: "tag"},
		{name: "since too short", body: `{"conversationId":"c","since":"500ms"}`, field: "since"},
		{name: "since too long", body: `{"conversationId":"c","since":"25h"}`, field: "since"},
		{name: "since not a duration", body: `{"conversationId":"c","since":"a while"}`, field: "since"},
		{name: "nothing", body: `{"conversationId":"c"}`, field: "body"},
		{name: "two forms", body: `{"conversationId":"c","last":1,"tag":"t"}`, field: "body"},
		{name: "last without a chat", body: `{"last":1}`, field: "conversationId"},
		{name: "unknown field", body: `{"conversationId":"c","last":1,"dry_run":true}`, field: "dry_run"},
		{name: "wrong type", body: `{"conversationId":"c","keys":"a"}`, field: "keys"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t)
			rec := r.do(http.MethodPost, "/api/v1/recall", tc.body)
			if tc.field != "" {
				wantError(t, rec, http.StatusBadRequest, "invalid_request", tc.field)
				assert.Empty(t, r.bot.recalled)
				return
			}
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			tc.want.Max = testRecallMax
			require.Len(t, r.bot.recalled, 1)
			assert.Equal(t, tc.want, r.bot.recalled[0])
			assert.Equal(t, tc.summary, r.bot.actors[0].Request)
		})
	}
}

func TestListMessages(t *testing.T) {
	r := newTestRouter(t)
	r.bot.listMsgs = []store.Message{
		{Key: "k2", ChatID: "a/b", Kind: store.KindGroup, MsgKey: "sampleText", MsgParam: `{"content":"x"}`, Tag: "t", SentAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		{Key: "k1", ChatID: "a/b", Kind: store.KindGroup, MsgKey: "sampleMarkdown", SentAt: testNow.Add(-time.Minute), Reply: true, Failure: store.Failure{Code: "bot.stopped", Message: "robot disabled"}},
	}
	rec := r.do(http.MethodGet, "/api/v1/conversations/a%2Fb/messages?limit=5", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"messages":[
		{"processQueryKey":"k2","conversationId":"a/b","chatType":"group","msgKey":"sampleText","msgParam":"{\"content\":\"x\"}","tag":"t","sentAt":"2026-11-26T10:00:00Z","reply":false,"expiresAt":"2026-11-26T11:00:00Z","failure":"","failureCode":"","bot":"default"},
		{"processQueryKey":"k1","conversationId":"a/b","chatType":"group","msgKey":"sampleMarkdown","msgParam":"","tag":"","sentAt":"2026-11-26T09:59:00Z","reply":true,"expiresAt":null,"failure":"bot.stopped: robot disabled","failureCode":"bot.stopped","bot":"default"}
	]}`, rec.Body.String())
	assert.Equal(t, []string{"a/b"}, r.bot.listChats, "an escaped / belongs to the ID")
	assert.Equal(t, []int{5}, r.bot.listLimit)

	for _, path := range []string{"/api/v1/conversations/cid+a%2Bb==/messages", "/api/v1/conversations/cid%2Ba%2Bb%3D%3D/messages"} {
		rec = r.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Equal(t, "cid+a+b==", r.bot.listChats[len(r.bot.listChats)-1], "a + in the path is a +, escaped or not: %s", path)
	}

	r.bot.listMsgs = nil
	rec = r.do(http.MethodGet, "/api/v1/conversations/cidA==/messages", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"messages":[]}`, rec.Body.String())
	assert.Equal(t, 0, r.bot.listLimit[len(r.bot.listLimit)-1], "no limit lists all")

	for _, bad := range []string{"0", "-1", "x", "1.5", "99999999999999999999"} {
		rec = r.do(http.MethodGet, "/api/v1/conversations/cidA==/messages?limit="+bad, "")
		wantError(t, rec, http.StatusBadRequest, "invalid_request", "limit")
	}
	assert.Len(t, r.bot.listChats, 4, "a bad limit does not reach the bot")
}

func TestAuditLogAPI(t *testing.T) {
	r := newTestRouter(t)
	at := testNow.Add(-time.Minute)
	r.bot.entries = []store.AuditEntry{{
		ID: "a1", At: at, Action: store.ActionRecall, Source: store.SourceAPI, ChatID: "cidA==", Request: "2 keys",
		Items: []store.AuditItem{
			{Key: "k1", ChatID: "cidA==", Kind: store.KindGroup, MsgKey: "sampleText", SentAt: testNow.Add(-time.Hour), Result: store.ResultRecalled},
			{Key: "gone", Result: store.ResultFailed, Reason: "not tracked"},
		},
	}, {
		ID: "a0", At: at, Action: store.ActionRestore, Source: store.SourceCommand, StaffID: "s1", Nick: "Ann", ChatID: "cidA==", Ref: "a-1",
	}}
	rec := r.do(http.MethodGet, "/api/v1/audit?conversationId=cidA%3D%3D&limit=10", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"entries":[
		{"id":"a1","at":"2026-11-26T09:59:00Z","action":"recall","source":"api","staffId":"","nick":"","conversationId":"cidA==","request":"2 keys","ref":"","bot":"default",
		 "items":[
			{"processQueryKey":"k1","conversationId":"cidA==","chatType":"group","msgKey":"sampleText","msgParam":"","sentAt":"2026-11-26T09:00:00Z","result":"recalled"},
			{"processQueryKey":"gone","conversationId":"","chatType":"","msgKey":"","msgParam":"","result":"failed","reason":"not tracked"}
		 ]},
		{"id":"a0","at":"2026-11-26T09:59:00Z","action":"restore","source":"command","staffId":"s1","nick":"Ann","conversationId":"cidA==","request":"","ref":"a-1","bot":"default","items":[]}
	]}`, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "0001-01-01", "an unknown time is left out")
	assert.Equal(t, []string{"cidA=="}, r.bot.auditChats)
	assert.Equal(t, []int{10}, r.bot.auditLimits)

	r.bot.entries = nil
	rec = r.do(http.MethodGet, "/api/v1/audit", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"entries":[]}`, rec.Body.String())
	assert.Equal(t, "", r.bot.auditChats[1], "no conversationId: every chat")
	assert.Equal(t, 50, r.bot.auditLimits[1], "the default limit")

	rec = r.do(http.MethodGet, "/api/v1/audit?limit=1000", "")
	require.Equal(t, http.StatusOK, rec.Code)
	for _, bad := range []string{"0", "1001", "ten", ""} {
		rec = r.do(http.MethodGet, "/api/v1/audit?limit="+bad, "")
		if bad == "" {
			require.Equal(t, http.StatusOK, rec.Code, "an empty limit is the default")
			continue
		}
		wantError(t, rec, http.StatusBadRequest, "invalid_request", "limit")
	}
	r.bot.auditErr = assert.AnError
	rec = r.do(http.MethodGet, "/api/v1/audit", "")
	wantError(t, rec, http.StatusInternalServerError, "internal", "")
}

func TestQueryParameters(t *testing.T) {
	cases := []struct {
		name, method, target, body, field string
	}{
		{"misspelt audit parameter", http.MethodGet, "/api/v1/audit?conversationid=x", "", "conversationid"},
		{"unknown audit parameter", http.MethodGet, "/api/v1/audit?limit=5&chat=x", "", "chat"},
		{"repeated parameter", http.MethodGet, "/api/v1/audit?limit=5&limit=6", "", "limit"},
		{"parameter without a name", http.MethodGet, "/api/v1/audit?=x", "", "query"},
		{"broken escape", http.MethodGet, "/api/v1/audit?limit=%zz", "", "query"},
		{"semicolon", http.MethodGet, "/api/v1/audit?limit=5;x=1", "", "query"},
		{"unknown list parameter", http.MethodGet, "/api/v1/conversations/c/messages?conversationId=c", "", "conversationId"},
		{"misspelt limit", http.MethodGet, "/api/v1/conversations/c/messages?Limit=2", "", "Limit"},
		{"send takes none", http.MethodPost, "/api/v1/messages?dryRun=true", `{"conversationId":"c","text":"x"}`, "dryRun"},
		{"recall takes none", http.MethodPost, "/api/v1/recall?dryRun=true", `{"conversationId":"c","last":1}`, "dryRun"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t)
			rec := r.do(tc.method, tc.target, tc.body)
			e := wantError(t, rec, http.StatusBadRequest, "invalid_request", tc.field)
			assert.True(t, strings.HasPrefix(e.Message, tc.field+": "), e.Message)
			assert.Empty(t, r.bot.sent)
			assert.Empty(t, r.bot.recalled)
			assert.Empty(t, r.bot.listChats)
			assert.Empty(t, r.bot.auditChats, "nothing reaches the bot")
		})
	}
	// The right token comes first: a stranger learns nothing of parameters.
	r := newTestRouter(t)
	rec := r.do(http.MethodGet, "/api/v1/audit?conversationid=x", "", "Authorization", "")
	wantError(t, rec, http.StatusUnauthorized, "unauthorized", "")
	// Known parameters pass.
	rec = r.do(http.MethodGet, "/api/v1/audit?conversationId=x&limit=3", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	rec = r.do(http.MethodGet, "/api/v1/conversations/c/messages?limit=3", "")
	assert.Equal(t, http.StatusOK, rec.Code)
}
