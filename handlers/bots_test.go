package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
)

// Secrets of the bots of the several-bots tests.
const (
	defaultSecret = "secret-of-default-0001"
	alertsSecret  = "secret-of-alerts-0002"
	deploySecret  = "secret-of-deploys-0003"
)

// Each bot's callbacks come to its own path and are verified with its own
// secret; the plain path is the default bot's; a stream-only bot (not in
// Callbacks) has no path.
func TestCallbacksOfSeveralBots(t *testing.T) {
	cases := []struct {
		name, path, secret string
		want               int
		to                 string // the bot that gets the callback, "" for none
	}{
		{"default on the plain path", "/dingtalk/callback", defaultSecret, http.StatusOK, "default"},
		{"default on its own path", "/dingtalk/callback/default", defaultSecret, http.StatusOK, "default"},
		{"alerts on its path", "/dingtalk/callback/alerts", alertsSecret, http.StatusOK, "alerts"},
		{"alerts signed by default", "/dingtalk/callback/alerts", defaultSecret, http.StatusUnauthorized, ""},
		{"default signed by alerts", "/dingtalk/callback", alertsSecret, http.StatusUnauthorized, ""},
		{"alerts signed with the router's AppSecret", "/dingtalk/callback/alerts", testSecret, http.StatusUnauthorized, ""},
		{"a stream-only bot has no path", "/dingtalk/callback/deploys", deploySecret, http.StatusNotFound, ""},
		{"an unknown bot", "/dingtalk/callback/nobody", alertsSecret, http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bots := map[string]*fakeBot{"default": {acceptOutcome: bot.IntakeOK}, "alerts": {acceptOutcome: bot.IntakeOK}}
			r := newTestRouter(t, func(d *Deps) {
				d.Callbacks = []Callback{
					{Name: "default", AppSecret: defaultSecret, Bot: bots["default"]},
					{Name: "alerts", AppSecret: alertsSecret, Bot: bots["alerts"]},
				}
			})
			rec := r.do(http.MethodPost, tc.path, testCallback, signed(tc.secret, testNow)...)
			switch tc.want {
			case http.StatusOK:
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			case http.StatusUnauthorized:
				wantError(t, rec, tc.want, "bad_signature", "")
			default:
				wantError(t, rec, tc.want, "not_found", "")
			}
			for name, b := range bots {
				if name == tc.to {
					assert.Len(t, b.accepted, 1, name)
				} else {
					assert.Empty(t, b.accepted, "%s got a callback that was not its own", name)
				}
			}
			assert.Empty(t, r.bot.accepted, "Deps.Bot takes no callback when Callbacks is set")
		})
	}
}

// Without a default bot among the Callbacks the plain path is gone; with
// none at all (every bot on stream), every callback path is.
func TestCallbacksWithoutDefault(t *testing.T) {
	alerts := &fakeBot{acceptOutcome: bot.IntakeOK}
	r := newTestRouter(t, func(d *Deps) {
		d.Callbacks = []Callback{{Name: "alerts", AppSecret: alertsSecret, Bot: alerts}}
	})
	wantError(t, r.do(http.MethodPost, "/dingtalk/callback", testCallback, signed(alertsSecret, testNow)...), http.StatusNotFound, "not_found", "")
	wantError(t, r.do(http.MethodPost, "/dingtalk/callback/default", testCallback, signed(testSecret, testNow)...), http.StatusNotFound, "not_found", "")
	assert.Equal(t, http.StatusOK, r.do(http.MethodPost, "/dingtalk/callback/alerts", testCallback, signed(alertsSecret, testNow)...).Code)
	assert.Len(t, alerts.accepted, 1)
	plain := r.do(http.MethodPost, "/dingtalk/callback", testCallback)
	assert.Contains(t, plain.Body.String(), "each bot's HTTP callbacks go to /dingtalk/callback/", "the plain path says why")

	r = newTestRouter(t, func(d *Deps) { d.Callbacks = []Callback{} })
	for _, path := range []string{"/dingtalk/callback", "/dingtalk/callback/default"} {
		wantError(t, r.do(http.MethodPost, path, testCallback, signed(testSecret, testNow)...), http.StatusNotFound, "not_found", "")
	}
	assert.Empty(t, r.bot.accepted, "an empty Callbacks is not the single-bot fallback")
}

// With Callbacks nil the router is the single-app one: AppSecret verifies,
// Deps.Bot takes the callbacks, on the plain path and on the default's.
func TestCallbackFallback(t *testing.T) {
	for _, path := range []string{"/dingtalk/callback", "/dingtalk/callback/default"} {
		t.Run(path, func(t *testing.T) {
			r := newTestRouter(t)
			require.Equal(t, http.StatusOK, r.do(http.MethodPost, path, testCallback, signed(testSecret, testNow)...).Code)
			assert.Len(t, r.bot.accepted, 1)
			wantError(t, r.do(http.MethodPost, path, testCallback, signed(alertsSecret, testNow)...), http.StatusUnauthorized, "bad_signature", "")
			assert.Len(t, r.bot.accepted, 1)
		})
	}
	t.Run("a Bot that takes no callbacks", func(t *testing.T) {
		r := newTestRouter(t, func(d *Deps) { d.Bot = apiOnly{d.Bot} })
		wantError(t, r.do(http.MethodPost, "/dingtalk/callback", testCallback, signed(testSecret, testNow)...), http.StatusNotFound, "not_found", "")
	})
}

// apiOnly is a Bot that is no Acceptor.
type apiOnly struct{ Bot }

// The API's "bot" field reaches the bot in Outgoing.Bot and Selection.Bot,
// and "?bot=" reaches List and AuditLog; without them the bot is "".
func TestAPINamesABot(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		target  string
		body    string
		wantBot func(*fakeBot) []string
		want    string
	}{
		{"send", http.MethodPost, "/api/v1/messages", `{"conversationId":"cidA==","text":"hi","bot":"alerts"}`, sentBots, "alerts"},
		{"send without", http.MethodPost, "/api/v1/messages", `{"conversationId":"cidA==","text":"hi"}`, sentBots, ""},
		{"recall", http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","last":2,"bot":"deploys"}`, recalledBots, "deploys"},
		{"recall without", http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","last":2}`, recalledBots, ""},
		{"dry run", http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","last":2,"dryRun":true,"bot":"alerts"}`, previewedBots, "alerts"},
		{"list", http.MethodGet, "/api/v1/conversations/cidA==/messages?bot=alerts", "", func(f *fakeBot) []string { return f.listBots }, "alerts"},
		{"list of every bot", http.MethodGet, "/api/v1/conversations/cidA==/messages", "", func(f *fakeBot) []string { return f.listBots }, ""},
		{"audit", http.MethodGet, "/api/v1/audit?bot=deploys&limit=5", "", func(f *fakeBot) []string { return f.auditBots }, "deploys"},
		{"audit of every bot", http.MethodGet, "/api/v1/audit", "", func(f *fakeBot) []string { return f.auditBots }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t)
			rec := r.do(tc.method, tc.target, tc.body)
			require.Less(t, rec.Code, 300, rec.Body.String())
			assert.Equal(t, []string{tc.want}, tc.wantBot(r.bot))
		})
	}
}

func sentBots(f *fakeBot) []string {
	var out []string
	for _, o := range f.sent {
		out = append(out, o.Bot)
	}
	return out
}

func recalledBots(f *fakeBot) []string {
	var out []string
	for _, s := range f.recalled {
		out = append(out, s.Bot)
	}
	return out
}

func previewedBots(f *fakeBot) []string {
	var out []string
	for _, s := range f.previewed {
		out = append(out, s.Bot)
	}
	return out
}

// A query parameter the route does not take is still refused, "bot" on the
// routes that take none included.
func TestUnknownQueryWithBots(t *testing.T) {
	r := newTestRouter(t)
	for _, tc := range []struct{ target, field string }{
		{"/api/v1/audit?bot=alerts&robot=x", "robot"},
		{"/api/v1/conversations/cidA==/messages?bots=alerts", "bots"},
	} {
		wantError(t, r.do(http.MethodGet, tc.target, ""), http.StatusBadRequest, "invalid_request", tc.field)
	}
	wantError(t, r.do(http.MethodPost, "/api/v1/messages?bot=alerts", `{"conversationId":"cidA==","text":"hi"}`), http.StatusBadRequest, "invalid_request", "bot")
	assert.Empty(t, r.bot.listBots)
	assert.Empty(t, r.bot.auditBots)
	assert.Empty(t, r.bot.sent)
}

// Errors of several bots: a bot the fleet cannot resolve is the caller's
// mistake (400, field "bot"); DingTalk's spent quota and its ban page are
// 503s saying when to come back.
func TestErrorsOfSeveralBots(t *testing.T) {
	unknown := &bot.BotError{Name: "nobody", Known: []string{"alerts", "deploys"}, Err: bot.ErrUnknownBot}
	required := &bot.BotError{Known: []string{"alerts", "deploys"}, Err: bot.ErrBotRequired}
	quota := &dingtalk.APIError{API: dingtalk.PathGroupRecall, Status: http.StatusForbidden, Code: dingtalk.CodeOrgQuota, Message: "您的企业本月api调用量已超过限制"}
	legacy := &dingtalk.APIError{API: dingtalk.PathGroupRecall, Status: http.StatusOK, Code: dingtalk.CodeOrgQuotaLegacy, Message: "超过限制"}
	banned := &dingtalk.APIError{API: dingtalk.PathGroupRecall, Code: dingtalk.CodeBanPage, Message: "HTML", Err: dingtalk.ErrBanned}
	// Met 209.5 s ago: 90.5 s of the backoff are left, answered as 91.
	bannedEarlier := &dingtalk.APIError{API: dingtalk.PathGroupRecall, Code: dingtalk.CodeBanPage, Err: dingtalk.ErrBanned, Until: testNow.Add(90500 * time.Millisecond)}
	bannedEnding := &dingtalk.APIError{API: dingtalk.PathGroupRecall, Code: dingtalk.CodeBanPage, Err: dingtalk.ErrBanned, Until: testNow}
	// The quota starts again on 1 December, 00:00 in Shanghai (UTC+8).
	resets := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	quotaWait := strconv.Itoa(int(resets.Sub(testNow).Seconds()))
	cases := []struct {
		name       string
		err        error
		status     int
		code       string
		field      string
		resetsOn   string
		retryAfter string
	}{
		{"unknown bot", unknown, http.StatusBadRequest, "invalid_request", "bot", "", ""},
		{"unknown bot, wrapped", fmt.Errorf("send: %w", unknown), http.StatusBadRequest, "invalid_request", "bot", "", ""},
		{"bot required", required, http.StatusBadRequest, "invalid_request", "bot", "", ""},
		{"quota spent", fmt.Errorf("%w: %w", bot.ErrDingTalk, quota), http.StatusServiceUnavailable, "dingtalk_quota_exhausted", "", "2026-12-01", quotaWait},
		{"quota spent, errcode 90020", legacy, http.StatusServiceUnavailable, "dingtalk_quota_exhausted", "", "2026-12-01", quotaWait},
		{"ban page", fmt.Errorf("%w: %w", bot.ErrDingTalk, banned), http.StatusServiceUnavailable, "dingtalk_ip_banned", "", "", "300"},
		{"ban backoff", fmt.Errorf("recall: %w", dingtalk.ErrBanned), http.StatusServiceUnavailable, "dingtalk_ip_banned", "", "", "300"},
		{"ban backoff, partly over", fmt.Errorf("%w: %w", bot.ErrDingTalk, bannedEarlier), http.StatusServiceUnavailable, "dingtalk_ip_banned", "", "", "91"},
		{"ban backoff, ending", fmt.Errorf("%w: %w", bot.ErrDingTalk, bannedEnding), http.StatusServiceUnavailable, "dingtalk_ip_banned", "", "", "1"},
	}
	routes := []struct {
		name         string
		method, path string
		body         string
		set          func(*fakeBot, error)
	}{
		{"send", http.MethodPost, "/api/v1/messages", `{"conversationId":"cidA==","text":"hi","bot":"nobody"}`, func(f *fakeBot, err error) { f.sendErr = err }},
		{"recall", http.MethodPost, "/api/v1/recall", `{"conversationId":"cidA==","last":1,"bot":"nobody"}`, func(f *fakeBot, err error) { f.recallErr = err }},
		{"list", http.MethodGet, "/api/v1/conversations/cidA==/messages?bot=nobody", "", func(f *fakeBot, err error) { f.listErr = err }},
		{"audit", http.MethodGet, "/api/v1/audit?bot=nobody", "", func(f *fakeBot, err error) { f.auditErr = err }},
	}
	for _, tc := range cases {
		for _, rt := range routes {
			t.Run(tc.name+"/"+rt.name, func(t *testing.T) {
				r := newTestRouter(t)
				rt.set(r.bot, tc.err)
				rec := r.do(rt.method, rt.path, rt.body)
				e := wantError(t, rec, tc.status, tc.code, tc.field)
				var body struct {
					Error struct {
						ResetsOn *string `json:"resetsOn"`
					} `json:"error"`
				}
				decode(t, rec, &body)
				if tc.resetsOn == "" {
					assert.Nil(t, body.Error.ResetsOn, "resetsOn only for the quota")
				} else {
					require.NotNil(t, body.Error.ResetsOn)
					assert.Equal(t, tc.resetsOn, *body.Error.ResetsOn)
					assert.Contains(t, e.Message, tc.resetsOn)
				}
				assert.Equal(t, tc.retryAfter, rec.Header().Get("Retry-After"))
				var be *bot.BotError
				if errors.As(tc.err, &be) {
					assert.Contains(t, e.Message, "alerts, deploys", "the answer lists the bots there are")
				}
			})
		}
	}
}
