package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// apiError is an error with the status and JSON code it answers with.
type apiError struct {
	status  int
	code    string
	message string
	field   string
	// resetsOn is, for a spent DingTalk quota, the day it starts again.
	resetsOn string
}

// Error is the message.
func (e *apiError) Error() string { return e.message }

// Errors the handlers answer with. Those of the server's own failures
// carry a fixed message: what went wrong inside (a Redis address, a stack)
// goes to the log, with the request ID, and never to the caller.
var (
	errUnauthorized      = &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "missing or wrong bearer token"}
	errAPIDisabled       = &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "the API is disabled: set API_TOKEN"}
	errNotFound          = &apiError{status: http.StatusNotFound, code: "not_found", message: "no such endpoint"}
	errMethod            = &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", message: "method not allowed on this endpoint"}
	errTooLarge          = &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", message: "request body is over 1 MiB"}
	errBusy              = &apiError{status: http.StatusServiceUnavailable, code: "busy", message: "too much work queued; retry later"}
	errStoreUnavailable  = &apiError{status: http.StatusServiceUnavailable, code: "store_unavailable", message: "the message store is unavailable; nothing was done, try again"}
	errNotReady          = &apiError{status: http.StatusServiceUnavailable, code: "store_unavailable", message: "the message store is unavailable"}
	errDingTalkUnreached = &apiError{status: http.StatusGatewayTimeout, code: "dingtalk_unavailable", message: "DingTalk could not be reached in time"}
	errOutcomeUnknown    = &apiError{status: http.StatusBadGateway, code: "outcome_unknown", message: "DingTalk did not answer after the send went out: the message may or may not be in the chat. " +
		"Do not resend blindly; look in the chat first (the send stays reserved in the ledger and is reported once settled)"}
	errNoDefaultCallback = &apiError{status: http.StatusNotFound, code: "not_found",
		message: "no bot takes HTTP callbacks on this path: it is the bot default's, which is not configured or takes its callbacks by Stream mode; each bot's HTTP callbacks go to /dingtalk/callback/<bot>"}
	errInternal = &apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error; the X-Request-ID header identifies it in the server's log"}
)

// badField is a 400 naming the field at fault.
func badField(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", field: field, message: field + ": " + fmt.Sprintf(format, args...)}
}

// untracked is the 500 of a message DingTalk posted but the ledger could
// not record; key is its processQueryKey, "" when unknown.
func untracked(key string) *apiError {
	msg := "DingTalk posted the message but the ledger could not record it: do not send it again"
	if key != "" {
		msg = "DingTalk posted the message (processQueryKey " + key + ") but the ledger could not record it: do not send it again"
	}
	return &apiError{status: http.StatusInternalServerError, code: "untracked", message: msg}
}

// storeUnavailable reports whether err says the store could not be
// reached (store.ErrUnavailable, which every backend wraps around a failed
// call).
func storeUnavailable(err error) bool {
	return errors.Is(err, store.ErrUnavailable)
}

// dingTalkUnreached reports whether err says DingTalk could not be reached
// in time: the client's transport error (no answer came), or a send that
// ran out of time.
func dingTalkUnreached(err error) bool {
	var dt *dingtalk.APIError
	if errors.As(err, &dt) {
		return dt.Code == dingtalk.CodeTransport
	}
	return errors.Is(err, bot.ErrDingTalk) && errors.Is(err, context.DeadlineExceeded)
}

// banWait is how long the IP ban backoff behind err still lasts at now,
// in whole seconds rounded up and at least one: the client's own end of
// the backoff when err carries it, else the whole backoff.
func banWait(err error, now time.Time) time.Duration {
	var dt *dingtalk.APIError
	if !errors.As(err, &dt) || dt.Until.IsZero() {
		return dingtalk.BanBackoff
	}
	secs := (dt.Until.Sub(now) + time.Second - 1) / time.Second
	return max(1, secs) * time.Second
}

// writeError answers err as {"error": {"code", "message"[, "field"]}} with
// the status it maps to. It is the one place errors become status codes.
// An error it does not know is a 500 internal, logged at error level with
// the request ID; so is a store that cannot be reached (503).
func (h *handler) writeError(c *gin.Context, err error) {
	var ae *apiError
	var dt *dingtalk.APIError
	var dup *bot.DuplicateError
	var burst *bot.BurstError
	var botErr *bot.BotError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &botErr):
		ae = &apiError{status: http.StatusBadRequest, code: "invalid_request", field: "bot", message: botErr.Error()}
	case errors.As(err, &dup):
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": gin.H{"code": "duplicate", "message": dup.Error()}, "processQueryKey": dup.Key})
		return
	case errors.As(err, &burst):
		c.Header("Retry-After", strconv.Itoa(int(burst.RetryAfter.Seconds())))
		ae = &apiError{status: http.StatusTooManyRequests, code: "burst", message: burst.Error()}
	case errors.Is(err, dingtalk.ErrMissingSignature), errors.Is(err, dingtalk.ErrStaleTimestamp), errors.Is(err, dingtalk.ErrBadSignature):
		ae = &apiError{status: http.StatusUnauthorized, code: "bad_signature", message: err.Error()}
	case errors.Is(err, dingtalk.ErrInvalidCallback):
		ae = &apiError{status: http.StatusBadRequest, code: "invalid_callback", message: err.Error()}
	case errors.Is(err, bot.ErrBusy), errors.Is(err, bot.ErrClosed):
		ae = errBusy
	case errors.Is(err, dingtalk.ErrInvalidMessage), errors.Is(err, bot.ErrRecipient), errors.Is(err, store.ErrInvalid):
		ae = &apiError{status: http.StatusBadRequest, code: "invalid_request", message: err.Error()}
	case errors.Is(err, bot.ErrNoCoolApp):
		ae = &apiError{status: http.StatusBadRequest, code: "invalid_request", field: "chatType", message: err.Error()}
	case errors.Is(err, bot.ErrOutcomeUnknown):
		// Not retryable blindly either: the message may be posted already.
		h.requestLogger(c).WithError(err).Warn("a send's outcome is unknown")
		ae = errOutcomeUnknown
	case errors.Is(err, bot.ErrUntracked):
		// Not retryable: the message is posted; sending again would post it twice.
		h.requestLogger(c).WithError(err).Error("a message was posted but not tracked")
		ae = untracked("")
	case dingTalkUnreached(err):
		h.requestLogger(c).WithError(err).Warn("DingTalk could not be reached")
		ae = errDingTalkUnreached
	case dingtalk.IsQuotaExhausted(err):
		resets := dingtalk.QuotaResetsOn(h.d.Now())
		c.Header("Retry-After", strconv.Itoa(int(resets.Sub(h.d.Now()).Seconds())))
		ae = &apiError{status: http.StatusServiceUnavailable, code: "dingtalk_quota_exhausted", resetsOn: dingtalk.QuotaResetDay(h.d.Now()),
			message: "DingTalk refused the call: the organisation's monthly API quota is used up (" + dingtalk.CodeOrgQuota + "); it starts again on " + dingtalk.QuotaResetDay(h.d.Now())}
	case errors.Is(err, dingtalk.ErrBanned):
		wait := banWait(err, h.d.Now())
		c.Header("Retry-After", strconv.Itoa(int(wait.Seconds())))
		ae = &apiError{status: http.StatusServiceUnavailable, code: "dingtalk_ip_banned",
			message: fmt.Sprintf("DingTalk answered with its IP ban page: no call goes to DingTalk for %d more seconds (5 minutes in all); try again after that", int(wait.Seconds()))}
	case errors.As(err, &dt):
		ae = &apiError{status: http.StatusBadGateway, code: dt.Code, message: dt.Message}
	case storeUnavailable(err):
		h.requestLogger(c).WithError(err).Error("the message store is unavailable")
		ae = errStoreUnavailable
	default:
		h.requestLogger(c).WithError(err).Error("internal error")
		ae = errInternal
	}
	writeAPIError(c, ae)
}

// writeAPIError answers ae as {"error": {"code", "message"[, "field"]}}.
func writeAPIError(c *gin.Context, ae *apiError) {
	body := gin.H{"code": ae.code, "message": ae.message}
	if ae.field != "" {
		body["field"] = ae.field
	}
	if ae.resetsOn != "" {
		body["resetsOn"] = ae.resetsOn
	}
	c.AbortWithStatusJSON(ae.status, gin.H{"error": body})
}
