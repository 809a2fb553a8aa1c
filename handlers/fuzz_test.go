package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/metrics"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/templates"
)

// fuzzAPIToken is the API token of the fuzzed router.
const fuzzAPIToken = "fuzz-api-token-0123456789"

// fuzzRebuildEvery is how many requests one router serves before the fuzz
// target builds a fresh one, so the ledger and the fake do not grow without
// bound during a long run.
const fuzzRebuildEvery = 20000

// realRouter is the real router with real dependencies (memory ledger and
// deduper, bot, worker pool, DingTalk client, metrics) against an in-process
// fake DingTalk. The fuzz target and the ingress benchmark use it.
type realRouter struct {
	http.Handler
	fake *dingtalktest.Server
	bot  *bot.Bot
}

// newRealRouter builds the router the way internal/app does, logging at level
// to nowhere.
func newRealRouter(tb testing.TB, level logrus.Level) *realRouter {
	tb.Helper()
	gin.SetMode(gin.ReleaseMode)
	fake := dingtalktest.New()
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(level)
	client, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()),
		dingtalk.WithQPS(1_000_000), dingtalk.WithLogger(log))
	if err != nil {
		tb.Fatal(err)
	}
	tpl, err := templates.Load("en", bot.TemplateNames()...)
	if err != nil {
		tb.Fatal(err)
	}
	// Wired as main.go wires the memory store, with its defaults.
	ledger, err := memory.New(memory.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	audit, err := memory.NewAudit(memory.AuditOptions{TTL: 30 * 24 * time.Hour, Now: time.Now})
	if err != nil {
		tb.Fatal(err)
	}
	states, err := memory.NewStates(memory.StatesOptions{Now: time.Now})
	if err != nil {
		tb.Fatal(err)
	}
	dedup, err := memory.NewDeduper(memory.DeduperOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := bot.New(bot.Deps{
		DingTalk: client, Ledger: ledger, Deduper: dedup, Audit: audit, States: states, Templates: tpl, Log: log, Now: time.Now,
	}, bot.Config{
		RecallMax: 100, Policy: bot.NewPolicy("staff-admin", "staff-1001", true), CoolAppCode: "COOLAPP",
		ConfirmOver: 20, RestoreWindow: 10 * time.Minute, DuplicateWindow: 30 * time.Second, BurstLimit: 20,
		Workers: 2, QueueSize: 100000,
	})
	if err != nil {
		tb.Fatal(err)
	}
	fleet := bot.NewFleet(bot.DefaultBot)
	if err := fleet.Add(b); err != nil {
		tb.Fatal(err)
	}
	router := New(Deps{
		Callbacks: []Callback{{Name: DefaultCallback, AppSecret: fake.AppSecret(), Bot: b}},
		APIToken:  fuzzAPIToken, RecallMax: 100, MaxTTL: 24*time.Hour - time.Second,
		Bot: fleet, Now: time.Now, Log: log, Metrics: metrics.New(),
	})
	return &realRouter{Handler: router, fake: fake, bot: b}
}

// close stops the bot (after its queued commands) and the fake.
func (r *realRouter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.bot.Close(ctx)
	r.fake.Close()
}

// Routes the fuzz target drives.
const (
	fuzzSend = iota
	fuzzRecall
	fuzzList
	fuzzCallback
	fuzzAnyRoute
	fuzzAudit
	fuzzRoutes
)

// fuzzMethods are the methods fuzzAnyRoute picks from.
var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions}

// FuzzAPIRequest drives the real router in process with any body, path
// and query, on the API routes, the (correctly signed) callback and any
// method and path. Every answer must be a 2xx carrying JSON, or a 4xx
// carrying {"error": {"code", "message"[, "field"]}} (other top-level
// members, such as a 409's processQueryKey, may sit beside it); never a 5xx
// and never a panic (the recovery middleware would turn one into a 500).
// Wrong or missing API tokens always get 401, and a recall answer puts every
// selected key into exactly one of recalled and failed.
//
// One exception is allowed and counted: 502 with DingTalk's own error code,
// when the fake DingTalk refused content that only DingTalk judges (for
// example a msgKey it has no template for). README documents that answer.
func FuzzAPIRequest(f *testing.F) {
	seeds := []struct {
		route, auth uint8
		path, query string
		body        string
	}{
		{fuzzSend, 0, "", "", `{"conversationId":"cidA==","text":"hello","tag":"t1","ttl":"10m"}`},
		{fuzzSend, 0, "", "", `{"chatType":"oto","userId":"staff-1","markdown":{"title":"T","text":"**x**"}}`},
		{fuzzSend, 0, "", "", `{"conversationId":"cidA==","chatType":"private","msgKey":"sampleText","msgParam":"{\"content\":\"x\"}"}`},
		{fuzzSend, 0, "", "", `{"conversationId":"cidA==","msgKey":"sampleText","msgParam":{"content":"x"}}`},
		{fuzzSend, 0, "", "", `{"conversationId":"cidA==","msgKey":"noSuchTemplate","msgParam":{}}`},
		{fuzzSend, 0, "", "", `{"conversationId":"cidA==","text":"x","ttl":"-1s"}`},
		{fuzzSend, 0, "", "", `{"conversationId":"cidA==","text":"x"} {}`},
		{fuzzSend, 0, "", "", `{"conversationId":7}`},
		{fuzzSend, 0, "", "", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`},
		{fuzzSend, 1, "", "", `{"conversationId":"cidA==","text":"hello"}`},
		{fuzzSend, 2, "", "", `{"conversationId":"cidA==","text":"hello"}`},
		{fuzzRecall, 0, "", "", `{"conversationId":"cidA==","last":3}`},
		{fuzzRecall, 0, "", "", `{"conversationId":"cidA==","keys":["a","b","a"]}`},
		{fuzzRecall, 0, "", "", `{"tag":"t1","dryRun":true}`},
		{fuzzRecall, 0, "", "", `{"userId":"staff-1","last":1}`},
		{fuzzRecall, 0, "", "", `{"conversationId":"cidA==","last":1e3}`},
		{fuzzRecall, 0, "", "", `{"conversationId":"cidA==","last":-9223372036854775809}`},
		{fuzzRecall, 0, "", "", `{"conversationId":"cidA==","keys":null}`},
		{fuzzRecall, 0, "", "", `{"LAST":1,"ConversationID":"cidA=="}`},
		{fuzzList, 0, "cidA==", "limit=5", ``},
		{fuzzList, 0, "a/b", "limit=0", ``},
		{fuzzList, 0, "%zz", "limit=99999999999999999999", ``},
		{fuzzList, 2, "cidA==", "", ``},
		{fuzzCallback, 0, "", "", `{"conversationId":"cidA==","conversationType":"2","conversationTitle":"ops","senderStaffId":"staff-1001","msgId":"m1","msgtype":"text","text":{"content":"recall 2"}}`},
		{fuzzCallback, 0, "", "", `{"conversationId":"cidA==","conversationType":"1","msgId":"m2","text":{"content":"recall 1 in ops"}}`},
		{fuzzCallback, 0, "", "", `{"conversationId":"cidA==","msgId":"m3","msgtype":"richText","content":{"richText":[{"text":"help"}]}}`},
		{fuzzCallback, 0, "", "", `{"msgId":"m4"}`},
		{fuzzAnyRoute, 0, "api/v1/recall", "", `{}`},
		{fuzzAnyRoute, 1, "healthz", "", ``},
		{fuzzAnyRoute, 3, "readyz", "", ``},
		{fuzzAnyRoute, 5, "api/v1/conversations//messages", "", ``},
		{fuzzAnyRoute, 6, "dingtalk/callback", "", ``},
		{fuzzAudit, 0, "cidA==", "10", ``},
		{fuzzAudit, 0, "", "1001", ``},
		{fuzzRecall, 0, "", "", `{"conversationId":"cidA==","since":"10m"}`},
	}
	for _, s := range seeds {
		f.Add(s.route, s.auth, s.path, s.query, []byte(s.body))
	}
	var (
		router *realRouter
		served int
	)
	f.Cleanup(func() {
		if router != nil {
			router.close()
		}
	})
	f.Fuzz(func(t *testing.T, route, auth uint8, path, query string, body []byte) {
		if router == nil || served >= fuzzRebuildEvery {
			if router != nil {
				router.close()
			}
			router, served = newRealRouter(t, logrus.InfoLevel), 0
		}
		served++
		req, ok := fuzzRequest(router, route%fuzzRoutes, auth, path, query, body)
		if !ok {
			return
		}
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		checkFuzzAnswer(t, req, route%fuzzRoutes, auth, body, rec)
	})
}

// fuzzRequest builds the request the inputs describe; ok is false when they
// do not make a valid request at all.
func fuzzRequest(r *realRouter, route, auth uint8, path, query string, body []byte) (*http.Request, bool) {
	method, target := http.MethodPost, ""
	switch route {
	case fuzzSend:
		target = "/api/v1/messages"
	case fuzzRecall:
		target = "/api/v1/recall"
	case fuzzList:
		method, target = http.MethodGet, "/api/v1/conversations/"+url.PathEscape(path)+"/messages?limit="+url.QueryEscape(query)
	case fuzzCallback:
		target = "/dingtalk/callback"
	case fuzzAudit:
		method, target = http.MethodGet, "/api/v1/audit?conversationId="+url.QueryEscape(path)+"&limit="+url.QueryEscape(query)
	default:
		method, target = fuzzMethods[int(auth)%len(fuzzMethods)], "/"+path
		if query != "" {
			target += "?" + query
		}
	}
	req, err := http.NewRequest(method, "http://dingrecall.test"+target, bytes.NewReader(body))
	if err != nil {
		return nil, false
	}
	req.Header.Set("Content-Type", "application/json")
	switch auth % 3 {
	case 0:
		req.Header.Set("Authorization", "Bearer "+fuzzAPIToken)
	case 2:
		req.Header.Set("Authorization", "Bearer wrong-"+path) // never the token
	}
	if route == fuzzCallback || route == fuzzAnyRoute {
		dingtalk.SignHeader(req.Header, r.fake.AppSecret(), time.Now())
	}
	return req, true
}

// checkFuzzAnswer checks one answer against the router's promises.
func checkFuzzAnswer(t *testing.T, req *http.Request, route, auth uint8, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	status, raw := rec.Code, rec.Body.Bytes()
	describe := func() string {
		return req.Method + " " + req.URL.String() + " body " + truncateFuzz(string(body)) + " → " + http.StatusText(status) + " " + truncateFuzz(string(raw))
	}
	if (route <= fuzzList || route == fuzzAudit) && auth%3 != 0 && status != http.StatusUnauthorized {
		t.Fatalf("a request without the right token got %d: %s", status, describe())
	}
	if status >= 500 {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if status == http.StatusBadGateway && json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return // DingTalk itself refused the content; see FuzzAPIRequest
		}
		t.Fatalf("bad input got a server error: %s", describe())
	}
	if status < 200 || (status >= 300 && status < 400) {
		t.Fatalf("unexpected status: %s", describe())
	}
	if req.Method == http.MethodHead {
		return
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("answer is %q, not JSON: %s", ct, describe())
	}
	if status < 300 {
		if !json.Valid(raw) {
			t.Fatalf("a 2xx answer is not JSON: %s", describe())
		}
		if route == fuzzRecall {
			checkRecallAnswer(t, raw, describe)
		}
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top["error"] == nil {
		t.Fatalf("a 4xx answer is not {\"error\": …}: %s", describe())
	}
	var e map[string]any
	if err := json.Unmarshal(top["error"], &e); err != nil {
		t.Fatalf("error is not an object: %s", describe())
	}
	for k, v := range e {
		s, isString := v.(string)
		switch {
		case k != "code" && k != "message" && k != "field":
			t.Fatalf("error has an undocumented member %q: %s", k, describe())
		case !isString || (k != "field" && s == ""):
			t.Fatalf("error.%s is not a non-empty string: %s", k, describe())
		}
	}
	if e["code"] == nil || e["message"] == nil {
		t.Fatalf("error lacks code or message: %s", describe())
	}
}

// checkRecallAnswer checks a 200 of POST /api/v1/recall: every selected key
// is in exactly one of recalled and failed, and a dry run recalls nothing.
func checkRecallAnswer(t *testing.T, raw []byte, describe func() string) {
	t.Helper()
	var out struct {
		Selected []string          `json:"selected"`
		Recalled []string          `json:"recalled"`
		Failed   map[string]string `json:"failed"`
		DryRun   bool              `json:"dryRun"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Selected == nil || out.Recalled == nil || out.Failed == nil {
		t.Fatalf("recall answer lacks selected, recalled or failed: %s", describe())
	}
	if out.DryRun {
		if len(out.Recalled) > 0 || len(out.Failed) > 0 {
			t.Fatalf("a dry run recalled or failed keys: %s", describe())
		}
		return
	}
	recalled := make(map[string]bool, len(out.Recalled))
	for _, k := range out.Recalled {
		if recalled[k] {
			t.Fatalf("key %q recalled twice: %s", k, describe())
		}
		recalled[k] = true
		if _, failed := out.Failed[k]; failed {
			t.Fatalf("key %q both recalled and failed: %s", k, describe())
		}
	}
	for _, k := range out.Selected {
		if _, failed := out.Failed[k]; !failed && !recalled[k] {
			t.Fatalf("selected key %q neither recalled nor failed: %s", k, describe())
		}
	}
}

// truncateFuzz shortens s for a failure message.
func truncateFuzz(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
