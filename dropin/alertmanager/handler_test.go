package alertmanager_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dropin/alertmanager"
	"github.com/dingrecall/dingrecall/store"
)

// routes is a fixed set of Alertmanager routes.
type routes map[string]alertmanager.Route

func (r routes) Receiver(name string) (alertmanager.Route, bool) {
	rt, ok := r[name]
	return rt, ok
}

const token = "am-token-123"

// serve serves the receiver of r with the API token apiToken.
func serve(t *testing.T, r *rig, apiToken string) *httptest.Server {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	alertmanager.Register(e, alertmanager.Deps{Routes: routes{"ops": route(alertmanager.ResolvedRecall)}, Receiver: r.recv, APIToken: apiToken})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// notify posts body to /alertmanager/name and returns the status and answer.
func notify(t *testing.T, srv *httptest.Server, name, auth, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+alertmanager.PathPrefix+name, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func payloadJSON(t *testing.T, p alertmanager.Payload) string {
	t.Helper()
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	return string(raw)
}

func TestHandlerPosts(t *testing.T) {
	r := newRig(t)
	srv := serve(t, r, token)
	status, out := notify(t, srv, "ops", "Bearer "+token, payloadJSON(t, notification(alert("db-3", "firing"))))
	assert.Equal(t, http.StatusOK, status, "%v", out)
	assert.Equal(t, "key-1", out["processQueryKey"])
	assert.Equal(t, false, out["retry"])
	status, out = notify(t, srv, "ops", "bearer "+token, payloadJSON(t, notification(alert("db-3", "firing"))))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, out["retry"])
	assert.Len(t, r.bot.all(), 1)
}

func TestHandlerRefusals(t *testing.T) {
	valid := func(t *testing.T) string { return payloadJSON(t, notification(alert("db-3", "firing"))) }
	tests := []struct {
		name     string
		apiToken string
		route    string
		auth     string
		body     func(*testing.T) string
		status   int
		code     string
		field    string
	}{
		{"no API_TOKEN", "", "ops", "Bearer " + token, valid, http.StatusUnauthorized, "unauthorized", ""},
		{"no bearer", token, "ops", "", valid, http.StatusUnauthorized, "unauthorized", ""},
		{"wrong bearer", token, "ops", "Bearer nope", valid, http.StatusUnauthorized, "unauthorized", ""},
		{"basic auth", token, "ops", "Basic " + token, valid, http.StatusUnauthorized, "unauthorized", ""},
		{"unknown route", token, "dev", "Bearer " + token, valid, http.StatusNotFound, "not_found", ""},
		{"empty body", token, "ops", "Bearer " + token, func(*testing.T) string { return "" }, http.StatusBadRequest, "invalid_request", "body"},
		{"bad alert status", token, "ops", "Bearer " + token, func(t *testing.T) string {
			return strings.Replace(valid(t), `"status":"firing","labels"`, `"status":"on","labels"`, 1)
		}, http.StatusBadRequest, "invalid_request", "alerts[0].status"},
		{"old version", token, "ops", "Bearer " + token, func(t *testing.T) string {
			return strings.Replace(valid(t), `"version":"4"`, `"version":"2"`, 1)
		}, http.StatusBadRequest, "invalid_request", "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			srv := serve(t, r, tt.apiToken)
			status, out := notify(t, srv, tt.route, tt.auth, tt.body(t))
			assert.Equal(t, tt.status, status)
			e, _ := out["error"].(map[string]any)
			require.NotNil(t, e, "%v", out)
			assert.Equal(t, tt.code, e["code"])
			if tt.field != "" {
				assert.Equal(t, tt.field, e["field"])
				assert.Contains(t, e["message"], tt.field)
			}
			assert.Empty(t, r.bot.all())
		})
	}
}

func TestHandlerFailuresAreRetryable(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*rig)
		status     int
		code       string
		retryAfter string
	}{
		{"DingTalk down", func(r *rig) {
			r.bot.sendErrs = []error{fmt.Errorf("send: %w: %w", bot.ErrDingTalk, errors.New("timeout"))}
		}, http.StatusBadGateway, "dingtalk_failed", ""},
		{"DingTalk refuses the message", func(r *rig) {
			r.bot.sendErrs = []error{fmt.Errorf("send: %w", dingtalk.ErrInvalidMessage)}
		}, http.StatusBadGateway, "dingtalk_failed", ""},
		{"burst guard", func(r *rig) {
			r.bot.sendErrs = []error{&bot.BurstError{RetryAfter: 12 * time.Second, Limit: 20}}
		}, http.StatusServiceUnavailable, "burst", "12"},
		{"store down", func(r *rig) { r.states.failAll = true }, http.StatusServiceUnavailable, "store_unavailable", ""},
		{"something else", func(r *rig) { r.bot.recallErr = errors.New("select messages: surprise") }, http.StatusServiceUnavailable, "unavailable", ""},
		{"ledger refuses", func(r *rig) {
			r.bot.sendErrs = []error{fmt.Errorf("record: %w", store.ErrInvalid)}
		}, http.StatusInternalServerError, "internal", ""},
		{"group busy", func(r *rig) {
			lock := "am-lock:ops:" + strings.TrimPrefix(alertmanager.Tag("ops", groupKey), "am:ops:")
			r.states.values[lock] = stateValue{"other", start.Add(time.Minute)}
		}, http.StatusServiceUnavailable, "busy", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			tt.setup(r)
			srv := serve(t, r, token)
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/alertmanager/ops", strings.NewReader(payloadJSON(t, notification(alert("db-3", "firing")))))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var out map[string]map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.code, out["error"]["code"])
			assert.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"))
		})
	}
}
