package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
)

func TestHealth(t *testing.T) {
	cases := []struct {
		name    string
		ping    error
		ready   func() error
		want    int
		code    string
		message string
	}{
		{name: "ready", want: http.StatusOK},
		{name: "ready, stream up", ready: func() error { return nil }, want: http.StatusOK},
		{name: "store down", ping: storeDown(), want: http.StatusServiceUnavailable, code: "store_unavailable", message: errNotReady.message},
		{name: "store answers oddly", ping: errors.New("LOADING"), want: http.StatusServiceUnavailable, code: "store_unavailable", message: errNotReady.message},
		{name: "stream down", ready: func() error { return errors.New("no Stream mode connection to DingTalk is up") }, want: http.StatusServiceUnavailable, code: "not_ready", message: "no Stream mode connection to DingTalk is up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t, func(d *Deps) { d.Ready = tc.ready })
			r.bot.pingErr = tc.ping
			rec := r.do(http.MethodGet, "/healthz", "")
			require.Equal(t, http.StatusOK, rec.Code, "liveness never depends on the store")
			assert.JSONEq(t, `{"status":"ok"}`, rec.Body.String())

			rec = r.do(http.MethodGet, "/readyz", "")
			if tc.code == "" {
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				assert.JSONEq(t, `{"status":"ready"}`, rec.Body.String())
				return
			}
			e := wantError(t, rec, tc.want, tc.code, "")
			assert.Equal(t, tc.message, e.Message)
			assert.NotContains(t, rec.Body.String(), redisAddr)
		})
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	r := newTestRouter(t)
	cases := []struct {
		method, target string
		want           int
		code           string
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/api/v1/nope", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/metrics", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/api/v1/recall", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodDelete, "/api/v1/messages", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodGet, "/dingtalk/callback", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, tc := range cases {
		rec := r.do(tc.method, tc.target, "")
		wantError(t, rec, tc.want, tc.code, "")
	}
}

func TestMetricsRoute(t *testing.T) {
	r := newTestRouter(t, func(d *Deps) {
		d.MetricsHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("dingrecall_up 1\n")) })
	})
	rec := r.do(http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "dingrecall_up 1\n", rec.Body.String())
}

func TestRequestLog(t *testing.T) {
	r := newTestRouter(t)
	rec := r.do(http.MethodGet, "/api/v1/conversations/cidSecretish==/messages?limit=3", "", headerRequestID, "caller-id-1")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "caller-id-1", rec.Header().Get(headerRequestID), "the caller's ID is kept")
	lines := logged(r.log, logrus.DebugLevel, "http request")
	require.Len(t, lines, 1, "one line per request, at debug")
	assert.Equal(t, logrus.Fields{
		"request_id": "caller-id-1", "method": http.MethodGet, "path": "/api/v1/conversations/:conversationId/messages",
		"status": http.StatusOK, "took": lines[0].Data["took"], "remote": lines[0].Data["remote"],
	}, lines[0].Data)
	assert.NotContains(t, logText(r.log), "cidSecretish", "the route, not the path")
	assert.NotContains(t, logText(r.log), testToken)

	r.do(http.MethodGet, "/no/such/thing", "")
	lines = logged(r.log, logrus.DebugLevel, "http request")
	require.Len(t, lines, 2)
	assert.Equal(t, "unmatched", lines[1].Data["path"])
	assert.Equal(t, http.StatusNotFound, lines[1].Data["status"])

	for _, bad := range []string{"", strings.Repeat("x", 65), "has space", "tab\there", "ünïcode"} {
		rec = r.do(http.MethodGet, "/healthz", "", headerRequestID, bad)
		id := rec.Header().Get(headerRequestID)
		assert.Len(t, id, 16, "a new ID for %q", bad)
		assert.NotEqual(t, bad, id)
	}
	rec = r.do(http.MethodGet, "/healthz", "", headerRequestID, strings.Repeat("y", 64))
	assert.Equal(t, strings.Repeat("y", 64), rec.Header().Get(headerRequestID))

	for _, e := range r.log.AllEntries() {
		assert.Equal(t, logrus.DebugLevel, e.Level, "nothing above debug for requests that went well: %s", e.Message)
	}
}

func TestRequestLogAtInfoWritesNothing(t *testing.T) {
	r := newTestRouter(t, func(d *Deps) {
		log := d.Log.(*logrus.Logger)
		log.SetLevel(logrus.InfoLevel)
	})
	for range 3 {
		require.Equal(t, http.StatusOK, r.do(http.MethodGet, "/api/v1/audit", "").Code)
	}
	assert.Empty(t, r.log.AllEntries(), "request lines are debug; info writes none")
}

func TestRecovery(t *testing.T) {
	r := newTestRouter(t)
	r.bot.sendHook = func() { panic("nil map in the guard") }
	header := append(signed(testSecret, testNow), "Cookie", "session=s3cr3t")
	rec := r.do(http.MethodPost, "/api/v1/messages", `{"conversationId":"c","text":"x"}`, append(header, headerRequestID, "req-panic")...)
	e := wantError(t, rec, http.StatusInternalServerError, "internal", "")
	assert.Equal(t, errInternal.message, e.Message)
	assert.NotContains(t, rec.Body.String(), "nil map")
	assert.Equal(t, "req-panic", rec.Header().Get(headerRequestID))

	lines := logged(r.log, logrus.ErrorLevel, "panic serving a request")
	require.Len(t, lines, 1)
	assert.Equal(t, "req-panic", lines[0].Data["request_id"])
	assert.Equal(t, "nil map in the guard", lines[0].Data["panic"])
	assert.Equal(t, "/api/v1/messages", lines[0].Data["path"])
	assert.Contains(t, lines[0].Data["stack"], "handlers.(*fakeBot).Send", "the stack shows where")
	text := logText(r.log)
	for i := 1; i < len(header); i += 2 {
		assert.NotContains(t, text, header[i], "header %s reaches the log", header[i-1])
	}
	assert.NotContains(t, text, testToken)
	assert.NotContains(t, text, dingtalk.HeaderSign)
	// The request line still shows the 500.
	reqLines := logged(r.log, logrus.DebugLevel, "http request")
	require.Len(t, reqLines, 1)
	assert.Equal(t, http.StatusInternalServerError, reqLines[0].Data["status"])

	// The router keeps serving.
	r.bot.sendHook = nil
	rec = r.do(http.MethodPost, "/api/v1/messages", `{"conversationId":"c","text":"y"}`)
	assert.Equal(t, http.StatusCreated, rec.Code)
}

func TestRecoveryAfterTheAnswerBegan(t *testing.T) {
	r := newTestRouter(t, func(d *Deps) {
		d.MetricsHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("partial"))
			panic(errors.New("exporter broke"))
		})
	})
	rec := r.do(http.MethodGet, "/metrics", "")
	assert.Equal(t, http.StatusOK, rec.Code, "a status already sent stays")
	assert.Equal(t, "partial", rec.Body.String(), "no error body is appended to a begun answer")
	lines := logged(r.log, logrus.ErrorLevel, "panic serving a request")
	require.Len(t, lines, 1)
	assert.Equal(t, "exporter broke", lines[0].Data["panic"])
}

func TestRecoveryPassesAbortHandlerOn(t *testing.T) {
	r := newTestRouter(t, func(d *Deps) {
		d.MetricsHandler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	})
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	}, "net/http aborts the connection quietly")
	assert.Empty(t, logged(r.log, logrus.ErrorLevel, "panic serving a request"))
}

func TestNewWithoutLogger(t *testing.T) {
	fb := &fakeBot{pingErr: storeDown()}
	h := New(Deps{Bot: fb, APIToken: testToken})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "a router without a log still answers")
}
