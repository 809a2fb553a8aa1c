package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
)

// testCallback is a callback body the bot would take.
const testCallback = `{"conversationId":"cidA==","conversationType":"2","senderStaffId":"staff-1","msgId":"m1","msgtype":"text","text":{"content":"recall 2"}}`

// signed returns the header pairs of a callback signed with secret at at.
func signed(secret string, at time.Time) []string {
	h := http.Header{}
	dingtalk.SignHeader(h, secret, at)
	return []string{dingtalk.HeaderTimestamp, h.Get(dingtalk.HeaderTimestamp), dingtalk.HeaderSign, h.Get(dingtalk.HeaderSign)}
}

func TestCallbackSignatures(t *testing.T) {
	ts := strconv.FormatInt(testNow.UnixMilli(), 10)
	cases := []struct {
		name   string
		header []string
		want   int
	}{
		{"signed now", signed(testSecret, testNow), http.StatusOK},
		{"signed within the window", signed(testSecret, testNow.Add(-dingtalk.SignatureWindow+time.Second)), http.StatusOK},
		{"no headers", nil, http.StatusUnauthorized},
		{"timestamp only", []string{dingtalk.HeaderTimestamp, ts}, http.StatusUnauthorized},
		{"sign only", []string{dingtalk.HeaderSign, dingtalk.Signature(ts, testSecret)}, http.StatusUnauthorized},
		{"wrong secret", signed("another-secret", testNow), http.StatusUnauthorized},
		{"stale", signed(testSecret, testNow.Add(-dingtalk.SignatureWindow-time.Second)), http.StatusUnauthorized},
		{"from the future", signed(testSecret, testNow.Add(dingtalk.SignatureWindow+time.Second)), http.StatusUnauthorized},
		{"timestamp not a number", []string{dingtalk.HeaderTimestamp, "soon", dingtalk.HeaderSign, dingtalk.Signature("soon", testSecret)}, http.StatusUnauthorized},
		{"sign of another timestamp", []string{dingtalk.HeaderTimestamp, ts, dingtalk.HeaderSign, dingtalk.Signature(ts+"1", testSecret)}, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t)
			rec := r.do(http.MethodPost, "/dingtalk/callback", testCallback, tc.header...)
			if tc.want == http.StatusOK {
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				assert.Equal(t, "{}", rec.Body.String())
				assert.Equal(t, []string{bot.IntakeOK}, []string(*r.outcomes))
				return
			}
			wantError(t, rec, tc.want, "bad_signature", "")
			assert.Empty(t, r.bot.accepted, "an unsigned callback never reaches the bot")
			assert.Equal(t, []string{"bad_signature"}, []string(*r.outcomes))
			require.Len(t, logged(r.log, logrus.WarnLevel, "callback refused: bad signature"), 1)
		})
	}
}

func TestCallbackBodies(t *testing.T) {
	cases := []struct {
		name, body, code string
		want             int
	}{
		{"not JSON", `{"msgId":`, "invalid_callback", http.StatusBadRequest},
		{"empty", ``, "invalid_callback", http.StatusBadRequest},
		{"no msgId", `{"conversationId":"cidA=="}`, "invalid_callback", http.StatusBadRequest},
		{"no conversationId", `{"msgId":"m1"}`, "invalid_callback", http.StatusBadRequest},
		{"deep JSON", `{"msgId":"m","conversationId":"c","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, "invalid_callback", http.StatusBadRequest},
		{"over 1 MiB", `{"msgId":"m","conversationId":"c","text":{"content":"` + strings.Repeat("x", MaxBodyBytes) + `"}}`, "too_large", http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t)
			rec := r.do(http.MethodPost, "/dingtalk/callback", tc.body, signed(testSecret, testNow)...)
			wantError(t, rec, tc.want, tc.code, "")
			assert.Empty(t, r.bot.accepted)
			assert.Equal(t, []string{"bad_request"}, []string(*r.outcomes))
		})
	}
}

func TestCallbackAccepted(t *testing.T) {
	r := newTestRouter(t)
	rec := r.do(http.MethodPost, "/dingtalk/callback", testCallback, append(signed(testSecret, testNow), headerRequestID, "req-42")...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "{}", rec.Body.String())
	assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Len(t, r.bot.accepted, 1)
	assert.Equal(t, "m1", r.bot.accepted[0].MsgID)
	assert.Equal(t, "cidA==", r.bot.accepted[0].ConversationID)
	assert.Equal(t, "recall 2", r.bot.accepted[0].PlainText())
	assert.Equal(t, []string{"req-42"}, r.bot.requestIDs, "the bot gets the request ID for its logs")

	// DingTalk adds fields now and then: a callback is not refused for them.
	rec = r.do(http.MethodPost, "/dingtalk/callback", strings.Replace(testCallback, `"msgId"`, `"somethingNew":1,"msgId"`, 1), signed(testSecret, testNow)...)
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

func TestCallbackOutcomes(t *testing.T) {
	cases := []struct {
		name    string
		outcome string
		err     error
		want    int
		code    string
	}{
		{"queued", bot.IntakeOK, nil, http.StatusOK, ""},
		{"duplicate msgId", bot.IntakeDuplicate, nil, http.StatusOK, ""},
		{"queue full", bot.IntakeBusy, fmt.Errorf("queue: %w", bot.ErrBusy), http.StatusServiceUnavailable, "busy"},
		{"shutting down", bot.IntakeBusy, bot.ErrClosed, http.StatusServiceUnavailable, "busy"},
		{"store unreachable", bot.IntakeBusy, storeDown(), http.StatusServiceUnavailable, "store_unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t)
			r.bot.acceptOutcome, r.bot.acceptErr = tc.outcome, tc.err
			rec := r.do(http.MethodPost, "/dingtalk/callback", testCallback, signed(testSecret, testNow)...)
			assert.Equal(t, []string{tc.outcome}, []string(*r.outcomes), "the metrics see the bot's outcome")
			if tc.code == "" {
				require.Equal(t, tc.want, rec.Code)
				assert.Equal(t, "{}", rec.Body.String())
				return
			}
			wantError(t, rec, tc.want, tc.code, "")
		})
	}
}

func TestCallbackRouteOffInStreamMode(t *testing.T) {
	r := newTestRouter(t, func(d *Deps) { d.DisableCallback = true })
	rec := r.do(http.MethodPost, "/dingtalk/callback", testCallback, signed(testSecret, testNow)...)
	wantError(t, rec, http.StatusNotFound, "not_found", "")
	assert.Empty(t, r.bot.accepted)
	assert.Empty(t, *r.outcomes)
}

func TestCallbackWithoutMetrics(t *testing.T) {
	r := newTestRouter(t, func(d *Deps) { d.Metrics = nil })
	rec := r.do(http.MethodPost, "/dingtalk/callback", testCallback, signed(testSecret, testNow)...)
	assert.Equal(t, http.StatusOK, rec.Code)
	rec = r.do(http.MethodPost, "/dingtalk/callback", testCallback)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestCallbackClockIsDeps(t *testing.T) {
	// A router without a clock uses the wall clock.
	r := newTestRouter(t, func(d *Deps) { d.Now = nil })
	rec := r.do(http.MethodPost, "/dingtalk/callback", testCallback, signed(testSecret, time.Now())...)
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = r.do(http.MethodPost, "/dingtalk/callback", testCallback, signed(testSecret, time.Now().Add(-2*dingtalk.SignatureWindow))...)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "a signature older than the window, on the wall clock")
}
