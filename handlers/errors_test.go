package handlers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// redisAddr is an internal address that must never reach a caller.
const redisAddr = "10.9.8.7:6379"

// storeDown is the error of a store that cannot be reached, as the Redis
// ledger reports one: wrapped, with the address inside.
func storeDown() error {
	addr, _ := net.ResolveTCPAddr("tcp", redisAddr)
	return fmt.Errorf("redis ledger: get: %w", unavailable{&net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: syscall.ECONNREFUSED}})
}

// unavailable wraps a failed store call as the backends do: the text is the
// cause's, and errors.Is finds store.ErrUnavailable.
type unavailable struct{ error }

// Unwrap gives both the sentinel and the cause.
func (u unavailable) Unwrap() []error { return []error{store.ErrUnavailable, u.error} }

// dingTalkTransport is the client's error when DingTalk never answered.
func dingTalkTransport() error {
	addr, _ := net.ResolveTCPAddr("tcp", "10.1.2.3:443")
	return &dingtalk.APIError{API: "/v1.0/robot/groupMessages/send", Code: dingtalk.CodeTransport, Message: "dial tcp 10.1.2.3:443: connection refused",
		Err: &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: syscall.ECONNREFUSED}}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		status  int
		code    string
		field   string
		message string // the whole message, when it is fixed
		hidden  string // text of err that must not reach the caller
		logged  logrus.Level
	}{
		{name: "duplicate", err: &bot.DuplicateError{Key: "pqk-first"}, status: http.StatusConflict, code: "duplicate"},
		{name: "burst", err: &bot.BurstError{RetryAfter: 42 * time.Second, Limit: 20}, status: http.StatusTooManyRequests, code: "burst"},
		{name: "busy", err: fmt.Errorf("send: %w", bot.ErrBusy), status: http.StatusServiceUnavailable, code: "busy", message: errBusy.message},
		{name: "invalid message", err: fmt.Errorf("send: %w: content too long", dingtalk.ErrInvalidMessage), status: http.StatusBadRequest, code: "invalid_request"},
		{name: "unknown staff ID", err: fmt.Errorf("send to s: %w: unknown staff id", bot.ErrRecipient), status: http.StatusBadRequest, code: "invalid_request"},
		{name: "invalid for the store", err: fmt.Errorf("record: %w: empty key", store.ErrInvalid), status: http.StatusBadRequest, code: "invalid_request"},
		{name: "no cool app", err: fmt.Errorf("send to c: %w", bot.ErrNoCoolApp), status: http.StatusBadRequest, code: "invalid_request", field: "chatType"},
		{
			name: "DingTalk refused", err: fmt.Errorf("send: %w: %w", bot.ErrDingTalk, &dingtalk.APIError{API: "/v1.0/robot/groupMessages/send", Status: 400, Code: dingtalk.CodeBotStopped, Message: "robot stopped"}),
			status: http.StatusBadGateway, code: dingtalk.CodeBotStopped, message: "robot stopped",
		},
		{
			name: "DingTalk unreachable", err: fmt.Errorf("send to group c: %w: %w", bot.ErrDingTalk, dingTalkTransport()),
			status: http.StatusGatewayTimeout, code: "dingtalk_unavailable", message: errDingTalkUnreached.message, hidden: "10.1.2.3", logged: logrus.WarnLevel,
		},
		{
			name: "DingTalk unreachable, unwrapped", err: dingTalkTransport(),
			status: http.StatusGatewayTimeout, code: "dingtalk_unavailable", message: errDingTalkUnreached.message, hidden: "10.1.2.3", logged: logrus.WarnLevel,
		},
		{
			name: "DingTalk too slow", err: fmt.Errorf("send to group c: %w: %w", bot.ErrDingTalk, context.DeadlineExceeded),
			status: http.StatusGatewayTimeout, code: "dingtalk_unavailable", message: errDingTalkUnreached.message, logged: logrus.WarnLevel,
		},
		{
			name: "store unreachable", err: fmt.Errorf("burst guard: %w", storeDown()),
			status: http.StatusServiceUnavailable, code: "store_unavailable", message: errStoreUnavailable.message, hidden: redisAddr, logged: logrus.ErrorLevel,
		},
		{
			name: "outcome unknown", err: fmt.Errorf("send to group c: %w: %w: %w", bot.ErrOutcomeUnknown, bot.ErrDingTalk,
				&dingtalk.APIError{API: "/v1.0/robot/groupMessages/send", Code: dingtalk.CodeTransport, Message: "timed out", Err: context.DeadlineExceeded}),
			status: http.StatusBadGateway, code: "outcome_unknown", message: errOutcomeUnknown.message, logged: logrus.WarnLevel,
		},
		{
			name: "not reserved: the store is down", err: fmt.Errorf("send to group c: %w: %w", bot.ErrNotReserved, storeDown()),
			status: http.StatusServiceUnavailable, code: "store_unavailable", message: errStoreUnavailable.message, hidden: redisAddr, logged: logrus.ErrorLevel,
		},
		{
			name: "posted but untracked", err: fmt.Errorf("%w: key pqk-9: %w", bot.ErrUntracked, storeDown()),
			status: http.StatusInternalServerError, code: "untracked", hidden: redisAddr, logged: logrus.ErrorLevel,
		},
		{
			name: "anything else", err: errors.New("redis: unexpected reply from 10.9.8.7:6379"),
			status: http.StatusInternalServerError, code: "internal", message: errInternal.message, hidden: redisAddr, logged: logrus.ErrorLevel,
		},
		{
			name: "a cancelled send", err: fmt.Errorf("send: %w: %w", bot.ErrDingTalk, context.Canceled),
			status: http.StatusInternalServerError, code: "internal", message: errInternal.message, logged: logrus.ErrorLevel,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(t)
			r.bot.sendErr = tc.err
			rec := r.do(http.MethodPost, "/api/v1/messages", `{"conversationId":"c","text":"x"}`, headerRequestID, "req-7")
			e := wantError(t, rec, tc.status, tc.code, tc.field)
			if tc.message != "" {
				assert.Equal(t, tc.message, e.Message)
			}
			if tc.hidden != "" {
				assert.NotContains(t, rec.Body.String(), tc.hidden, "internal detail reaches the caller")
			}
			if tc.logged != 0 {
				var found bool
				for _, entry := range r.log.AllEntries() {
					if entry.Level == tc.logged && entry.Data["request_id"] == "req-7" && errors.Is(entry.Data[logrus.ErrorKey].(error), tc.err) {
						found = true
					}
				}
				assert.True(t, found, "the failure is logged at %v with the request ID and the error:\n%s", tc.logged, logText(r.log))
			}
		})
	}
}

func TestErrorMappingDetails(t *testing.T) {
	r := newTestRouter(t)
	r.bot.sendErr = &bot.DuplicateError{Key: "pqk-first"}
	rec := r.do(http.MethodPost, "/api/v1/messages", `{"conversationId":"c","text":"x"}`)
	require.Equal(t, http.StatusConflict, rec.Code)
	var dup struct {
		Key string `json:"processQueryKey"`
	}
	decode(t, rec, &dup)
	assert.Equal(t, "pqk-first", dup.Key, "a 409 names the first message")

	r.bot.sendErr = fmt.Errorf("guard: %w", &bot.BurstError{RetryAfter: 42 * time.Second, Limit: 20})
	rec = r.do(http.MethodPost, "/api/v1/messages", `{"conversationId":"c","text":"x"}`)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "42", rec.Header().Get("Retry-After"))

	// A message that went out but could not be tracked names its key.
	r.bot.sendMsg, r.bot.sendErr = store.Message{Key: "pqk-9", ChatID: "c"}, fmt.Errorf("%w: key pqk-9: %w", bot.ErrUntracked, storeDown())
	rec = r.do(http.MethodPost, "/api/v1/messages", `{"conversationId":"c","text":"x"}`)
	e := wantError(t, rec, http.StatusInternalServerError, "untracked", "")
	assert.Contains(t, e.Message, "pqk-9")
	assert.Contains(t, e.Message, "do not send it again")
	assert.NotContains(t, e.Message, redisAddr)
	require.Len(t, logged(r.log, logrus.ErrorLevel, "api send: posted but not tracked"), 1)

	// Recalls, lists and the audit log map errors the same way.
	r.bot.recallErr = storeDown()
	rec = r.do(http.MethodPost, "/api/v1/recall", `{"conversationId":"c","last":1}`)
	wantError(t, rec, http.StatusServiceUnavailable, "store_unavailable", "")
	r.bot.listErr = errors.New("boom")
	rec = r.do(http.MethodGet, "/api/v1/conversations/c/messages", "")
	e = wantError(t, rec, http.StatusInternalServerError, "internal", "")
	assert.NotContains(t, e.Message, "boom")
}

func TestWriteErrorUntrackedWithoutKey(t *testing.T) {
	// An untracked error that reaches writeError without the message (not
	// from a send) still says not to send again.
	r := newTestRouter(t)
	r.bot.recallErr = fmt.Errorf("%w: key k: %w", bot.ErrUntracked, storeDown())
	rec := r.do(http.MethodPost, "/api/v1/recall", `{"conversationId":"c","last":1}`)
	e := wantError(t, rec, http.StatusInternalServerError, "untracked", "")
	assert.Equal(t, untracked("").message, e.Message)
	assert.NotContains(t, e.Message, redisAddr)
}

func TestStoreUnavailable(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{storeDown(), true},
		{fmt.Errorf("redis audit: read: %w", unavailable{&net.DNSError{Err: "no such host", Name: "redis", IsNotFound: true}}), true},
		{fmt.Errorf("redis ledger: list: %w", unavailable{context.DeadlineExceeded}), true},
		{&net.DNSError{Err: "no such host", Name: "dingtalk", IsNotFound: true}, false}, // only the store's own errors
		{errors.New("redis: unexpected reply"), false},
		{fmt.Errorf("x: %w", store.ErrNotFound), false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, storeUnavailable(tc.err), "%v", tc.err)
	}
}
