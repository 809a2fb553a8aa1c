package handlers

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// Settings of the router under test.
const (
	testToken     = "test-api-token-0123456789"
	testSecret    = "test-app-secret-abcdef"
	testRecallMax = 100
	testMaxTTL    = 24*time.Hour - time.Second
)

// testNow is the router's clock in these tests.
var testNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// fakeBot is the Bot the handlers talk to in these tests: each method
// answers what its field says and records what it was asked.
type fakeBot struct {
	acceptOutcome string
	acceptErr     error
	accepted      []*dingtalk.Callback
	requestIDs    []string

	sendMsg  store.Message
	sendErr  error
	sendHook func() // runs inside Send, before it answers (a panic test uses it)
	sent     []bot.Outgoing

	previewMsgs []store.Message
	previewErr  error
	previewed   []bot.Selection

	outcome   bot.Outcome
	recallErr error
	recalled  []bot.Selection
	actors    []bot.Actor

	listMsgs  []store.Message
	listErr   error
	listChats []string
	listBots  []string
	listLimit []int

	entries     []store.AuditEntry
	auditErr    error
	auditChats  []string
	auditBots   []string
	auditLimits []int

	pingErr error
}

var _ Bot = (*fakeBot)(nil)

// Accept records the callback.
func (f *fakeBot) Accept(_ context.Context, cb *dingtalk.Callback, requestID string) (string, error) {
	f.accepted = append(f.accepted, cb)
	f.requestIDs = append(f.requestIDs, requestID)
	return f.acceptOutcome, f.acceptErr
}

// Send records the message.
func (f *fakeBot) Send(_ context.Context, o bot.Outgoing) (store.Message, error) {
	f.sent = append(f.sent, o)
	if f.sendHook != nil {
		f.sendHook()
	}
	return f.sendMsg, f.sendErr
}

// Preview records the selection.
func (f *fakeBot) Preview(_ context.Context, sel bot.Selection) ([]store.Message, error) {
	f.previewed = append(f.previewed, sel)
	return f.previewMsgs, f.previewErr
}

// Recall records the selection and who asked.
func (f *fakeBot) Recall(_ context.Context, sel bot.Selection, by bot.Actor) (bot.Outcome, error) {
	f.recalled = append(f.recalled, sel)
	f.actors = append(f.actors, by)
	return f.outcome, f.recallErr
}

// TooOldReason is a fixed reason.
func (f *fakeBot) TooOldReason() string { return "too old: test" }

// List records the chat and limit.
func (f *fakeBot) List(_ context.Context, botName, chatID string, limit int) ([]store.Message, error) {
	f.listBots = append(f.listBots, botName)
	f.listChats = append(f.listChats, chatID)
	f.listLimit = append(f.listLimit, limit)
	return f.listMsgs, f.listErr
}

// AuditLog records the chat and limit.
func (f *fakeBot) AuditLog(_ context.Context, botName, chatID string, limit int) ([]store.AuditEntry, error) {
	f.auditBots = append(f.auditBots, botName)
	f.auditChats = append(f.auditChats, chatID)
	f.auditLimits = append(f.auditLimits, limit)
	return f.entries, f.auditErr
}

// Ping answers pingErr.
func (f *fakeBot) Ping(context.Context) error { return f.pingErr }

// outcomes records the callback outcomes the router reports.
type outcomes []string

// Callback records one outcome.
func (o *outcomes) Callback(outcome string) { *o = append(*o, outcome) }

// testRouter is a router on a fakeBot, with its log captured.
type testRouter struct {
	http.Handler
	bot      *fakeBot
	log      *logtest.Hook
	outcomes *outcomes
}

// newTestRouter builds the router on a fresh fakeBot, logging at debug
// level into a hook; change adjusts the Deps first.
func newTestRouter(t *testing.T, change ...func(*Deps)) *testRouter {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	fb := &fakeBot{acceptOutcome: bot.IntakeOK}
	var seen outcomes
	d := Deps{
		AppSecret: testSecret, APIToken: testToken, RecallMax: testRecallMax, MaxTTL: testMaxTTL,
		Bot: fb, Now: func() time.Time { return testNow }, Log: log, Metrics: &seen,
	}
	for _, ch := range change {
		ch(&d)
	}
	return &testRouter{Handler: New(d), bot: fb, log: hook, outcomes: &seen}
}

// do serves one request; an API request carries the right token unless
// header sets Authorization (to "" for none).
func (r *testRouter) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if strings.HasPrefix(target, "/api/") {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

// apiErrorBody is the error answer of the API.
type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// errorOf decodes an error answer, failing the test when it is none.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) apiErrorBody {
	t.Helper()
	var out struct {
		Error *apiErrorBody `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	require.NotNil(t, out.Error, "no error member: %s", rec.Body.String())
	assert.NotEmpty(t, out.Error.Code)
	assert.NotEmpty(t, out.Error.Message)
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json"), rec.Header().Get("Content-Type"))
	return *out.Error
}

// wantError checks an error answer's status, code and field.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, field string) apiErrorBody {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	e := errorOf(t, rec)
	assert.Equal(t, code, e.Code, rec.Body.String())
	assert.Equal(t, field, e.Field, rec.Body.String())
	return e
}

// decode decodes a JSON answer into v.
func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), v), rec.Body.String())
}

// logged returns the entries of the hook at level whose message is msg.
func logged(hook *logtest.Hook, level logrus.Level, msg string) []logrus.Entry {
	var out []logrus.Entry
	for _, e := range hook.AllEntries() {
		if e.Level == level && e.Message == msg {
			out = append(out, *e)
		}
	}
	return out
}

// logText is every log line with its fields, for checks that something
// never appears in the log.
func logText(hook *logtest.Hook) string {
	var b strings.Builder
	for _, e := range hook.AllEntries() {
		line, _ := e.String()
		b.WriteString(line)
	}
	return b.String()
}
