package dingtalk

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// DingTalk error codes the client and the bot branch on. The first group is the
// list in DingTalk's recall API documents; the rest are the token, throttling and
// authentication codes of the wider open API.
const (
	CodeInvalidOpenConversationID = "invalid.openConversationId"
	CodeInvalidRobotCode          = "invalidParameter.robotCode"
	CodeKeysOverMax               = "invalidParameter.processQueryKeys.overMax"
	CodeRobotCodeNotAllowed       = "not.allowed.robotCode"
	CodeInvalidParam              = "invalidParameter.param.invalid"
	CodeRobotNotExist             = "invalidParameter.robotCode.notExsit" // sic, as DingTalk spells it
	CodeMissingRobotCode          = "miss.chatbotId"
	CodeMissingKey                = "invalidParameter.processQueryKey.missing"
	CodeInvalidKey                = "invalid.processQueryKey"
	CodeMissingOpenConversationID = "miss.openConversationId"
	CodeBotStopped                = "bot.stopped"
	CodeTemplateNotExist          = "template.not.existed"
	CodeTemplateStopped           = "template.stopped"
	CodeUnauthorized              = "unauthorized"
	CodeResourceNotFound          = "resource.not.found"
	CodeSystemError               = "system.error"

	CodeInvalidClient         = "invalidClientIdOrSecret"
	CodeInvalidAuthentication = "InvalidAuthentication"
	CodeQPSLimitAppAndAPI     = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
	CodeQPSLimitAPI           = "Forbidden.AccessDenied.QpsLimitForApi"
	CodeOrgQuota              = "Forbidden.AccessDenied.ApiCountLimitForOrg"

	// CodeTransport is the code the client gives an error that happened
	// before DingTalk answered (connection refused, timeout, reset).
	CodeTransport = "transport.error"
	// CodeBadResponse is the code the client gives a 2xx answer whose body it
	// could not decode.
	CodeBadResponse = "response.invalid"
)

// SeedCodes lists every error code of DingTalk's recall API documents, so
// that callers can check they explain each of them.
var SeedCodes = []string{
	CodeInvalidOpenConversationID, CodeInvalidRobotCode, CodeKeysOverMax,
	CodeRobotCodeNotAllowed, CodeInvalidParam, CodeRobotNotExist,
	CodeMissingRobotCode, CodeMissingKey, CodeInvalidKey,
	CodeMissingOpenConversationID, CodeBotStopped, CodeTemplateNotExist,
	CodeTemplateStopped, CodeUnauthorized, CodeResourceNotFound, CodeSystemError,
}

// APIError is a failed DingTalk call: an error answer from DingTalk, or a
// transport failure (Status 0, Code CodeTransport). Find it with errors.As.
type APIError struct {
	// API is the path of the call that failed, such as
	// "/v1.0/robot/groupMessages/recall".
	API string
	// Status is the HTTP status, 0 when DingTalk never answered.
	Status int
	// Code is DingTalk's error code.
	Code string
	// Message is DingTalk's message, with any secret removed.
	Message string
	// RequestID is DingTalk's request id, for support tickets.
	RequestID string
	// Err is the underlying transport error, or ErrBanned for DingTalk's
	// IP ban page (CodeBanPage); nil otherwise.
	Err error
	// Until is, for the IP ban (ErrBanned), when the client's backoff
	// ends and calls go to DingTalk again; the zero time otherwise.
	Until time.Time
}

// Error describes the failure without any token or secret.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("dingtalk ")
	b.WriteString(e.API)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": http %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns Err: the transport error, or ErrBanned.
func (e *APIError) Unwrap() error { return e.Err }

// Retryable reports whether the same call may succeed when tried again: a 5xx
// answer, system.error, a per-second QPS limit, or a transport failure. The
// monthly org quota (IsQuotaExhausted), the IP ban page (CodeBanPage) and
// every other 4xx are final.
func (e *APIError) Retryable() bool {
	switch {
	case e.isQuotaRefusal(), e.Code == CodeBanPage:
		return false
	case e.isQPSLimit(), e.Code == CodeSystemError, e.Code == CodeTransport:
		return true
	case e.Status >= http.StatusInternalServerError:
		return true
	}
	return false
}

// neverArrived reports whether DingTalk provably did not act on the call: it
// refused it for its per-second limit, or the connection was never made.
func (e *APIError) neverArrived() bool {
	var op *net.OpError
	return e.isQPSLimit() || (e.Code == CodeTransport && errors.As(e.Err, &op) && op.Op == "dial")
}

// isQPSLimit reports whether DingTalk refused the call for its per-second limit.
func (e *APIError) isQPSLimit() bool {
	return e.Code == CodeQPSLimitAppAndAPI || e.Code == CodeQPSLimitAPI
}

// Reason is the short "code: message" form the client uses as a key's failure
// reason when a whole batch fails.
func (e *APIError) Reason() string {
	switch {
	case e.Code != "" && e.Message != "":
		return e.Code + ": " + e.Message
	case e.Code != "":
		return e.Code
	}
	return e.Message
}

// IsRetryable reports whether err is an *APIError that may succeed when tried again.
func IsRetryable(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Retryable()
}

// HasCode reports whether err is an *APIError with the given DingTalk code.
func HasCode(err error, code string) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == code
}
