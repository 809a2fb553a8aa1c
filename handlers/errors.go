package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

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
}

// Error is the message.
func (e *apiError) Error() string { return e.message }

// Errors the handlers answer with.
var (
	errUnauthorized = &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "missing or wrong bearer token"}
	errAPIDisabled  = &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "the API is disabled: set API_TOKEN"}
	errNotFound     = &apiError{status: http.StatusNotFound, code: "not_found", message: "no such endpoint"}
	errMethod       = &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", message: "method not allowed on this endpoint"}
	errTooLarge     = &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", message: "request body is over 1 MiB"}
	errBusy         = &apiError{status: http.StatusServiceUnavailable, code: "busy", message: "too much work queued; retry later"}
)

// badField is a 400 naming the field at fault.
func badField(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", field: field, message: field + ": " + fmt.Sprintf(format, args...)}
}

// writeError answers err as {"error": {"code", "message"}} with the status
// it maps to. It is the one place errors become status codes.
func writeError(c *gin.Context, err error) {
	var ae *apiError
	var dt *dingtalk.APIError
	var dup *bot.DuplicateError
	var burst *bot.BurstError
	switch {
	case errors.As(err, &ae):
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
	case errors.As(err, &dt):
		ae = &apiError{status: http.StatusBadGateway, code: dt.Code, message: dt.Message}
	case errors.Is(err, bot.ErrDingTalk):
		ae = &apiError{status: http.StatusGatewayTimeout, code: "dingtalk_unavailable", message: err.Error()}
	case errors.Is(err, bot.ErrUntracked):
		// Not retryable: the message is posted; sending again would post it twice.
		ae = &apiError{status: http.StatusInternalServerError, code: "untracked", message: err.Error() + " (the message was posted: do not send it again)"}
	default:
		ae = &apiError{status: http.StatusServiceUnavailable, code: "store_unavailable", message: "the message store is unavailable, try again: " + err.Error()}
	}
	body := gin.H{"code": ae.code, "message": ae.message}
	if ae.field != "" {
		body["field"] = ae.field
	}
	c.AbortWithStatusJSON(ae.status, gin.H{"error": body})
}
