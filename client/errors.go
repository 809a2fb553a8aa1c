package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The codes of the API's errors, as [Error.Code] holds them. A 502 carries
// DingTalk's own code instead (such as "bot.stopped").
const (
	// CodeInvalidRequest (400): a bad field, named in [Error.Field]; "bot"
	// for a bot the server does not have.
	CodeInvalidRequest = "invalid_request"
	// CodeUnauthorized (401): no or a wrong token, or the API is off.
	CodeUnauthorized = "unauthorized"
	// CodeNotFound (404): no such endpoint.
	CodeNotFound = "not_found"
	// CodeTooLarge (413): the request body is over 1 MiB.
	CodeTooLarge = "too_large"
	// CodeDuplicate (409): the same message went to the chat moments ago;
	// [Error.ProcessQueryKey] is the first one's key.
	CodeDuplicate = "duplicate"
	// CodeBurst (429): too many messages to the chat this minute; retry
	// after [Error.RetryAfter].
	CodeBurst = "burst"
	// CodeBusy (503): the server has too much work queued.
	CodeBusy = "busy"
	// CodeStoreUnavailable (503): the ledger is down; nothing was done.
	CodeStoreUnavailable = "store_unavailable"
	// CodeDingTalkUnavailable (504): DingTalk could not be reached in time.
	CodeDingTalkUnavailable = "dingtalk_unavailable"
	// CodeUntracked (500): DingTalk posted the message but the ledger could
	// not record it. Do not send it again.
	CodeUntracked = "untracked"
	// CodeOutcomeUnknown (502): DingTalk did not answer after the send went
	// out, so the message may or may not be in the chat; the server keeps
	// the send reserved and reports it. Do not send it again blindly:
	// check the chat (or Messages) first.
	CodeOutcomeUnknown = "outcome_unknown"
	// CodeQuotaExhausted (503): DingTalk refused the call because the
	// organisation's monthly API quota is used up; nothing was done, and no
	// call of that bot's app succeeds before [Error.ResetsOn]. [Error.Is]
	// matches it to [ErrQuotaExhausted].
	CodeQuotaExhausted = "dingtalk_quota_exhausted"
	// CodeIPBanned (503): DingTalk answered with its IP ban page, so the
	// server calls DingTalk for nothing for 5 minutes; retry after
	// [Error.RetryAfter]. [Error.Is] matches it to [ErrIPBanned].
	CodeIPBanned = "dingtalk_ip_banned"
)

// Errors to decide an [*Error] by with errors.Is, without reading its Code.
var (
	// ErrQuotaExhausted matches an [*Error] with Code [CodeQuotaExhausted]:
	// retrying before its ResetsOn is in vain.
	ErrQuotaExhausted = errors.New("dingrecall API: DingTalk's monthly API quota is used up")
	// ErrIPBanned matches an [*Error] with Code [CodeIPBanned]: retry after
	// its RetryAfter (what is left of the server's 5-minute backoff).
	ErrIPBanned = errors.New("dingrecall API: DingTalk banned the server's address for a while")
)

// quotaZone is the zone DingTalk's months turn in (China time, UTC+8),
// in which [Error.ResetsOn] is.
var quotaZone = time.FixedZone("UTC+8", 8*60*60)

// Error is an error answer of the API: {"error": {"code", "message",
// "field"}} with its HTTP status. An answer that is not in that shape (a
// proxy's error page, say) has an empty Code and the start of the body as
// Message.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the API's error code, one of the Code constants or, for a
	// 502, DingTalk's code.
	Code string
	// Message says what went wrong.
	Message string
	// Field names the request field at fault, for a 400.
	Field string
	// ProcessQueryKey is, for a 409 duplicate, the key of the message sent
	// first.
	ProcessQueryKey string
	// RetryAfter is how long the server asked to wait before trying again
	// (its Retry-After header); 0 when it did not say.
	RetryAfter time.Duration
	// RequestID is the server's X-Request-ID for the call, to find it in
	// the server's log.
	RequestID string
	// ResetsOn is, for [CodeQuotaExhausted], when DingTalk counts the
	// month's calls afresh: 00:00 China time (UTC+8) of the day the server
	// named, the first of the next month. Zero otherwise. RetryAfter is
	// capped at 24 hours; ResetsOn is not.
	ResetsOn time.Time
}

// Error describes the answer: status, code and message.
func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = strings.ToLower(http.StatusText(e.Status))
	}
	return fmt.Sprintf("dingrecall API: %d %s: %s", e.Status, code, e.Message)
}

// Is reports whether target is the sentinel of e's code:
// [ErrQuotaExhausted] for [CodeQuotaExhausted], [ErrIPBanned] for
// [CodeIPBanned].
func (e *Error) Is(target error) bool {
	switch target {
	case ErrQuotaExhausted:
		return e.Code == CodeQuotaExhausted
	case ErrIPBanned:
		return e.Code == CodeIPBanned
	}
	return false
}

// Retryable reports whether the same call may succeed later: a 429 (the
// burst guard), 503 (busy, the store is down, DingTalk's quota is used up or
// it banned the server's address) or 504 (DingTalk did not answer in time).
// Wait [Error.RetryAfter] first when it is set; for [ErrQuotaExhausted],
// until [Error.ResetsOn].
func (e *Error) Retryable() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
		// ResetsOn is the day a spent quota starts again, "2006-01-02".
		ResetsOn string `json:"resetsOn"`
	} `json:"error"`
	ProcessQueryKey string `json:"processQueryKey"`
}

// maxSnippet is how much of an answer that is not the API's error JSON an
// Error's message keeps.
const maxSnippet = 200

// answerError turns a non-2xx answer into an *Error.
func (c *Client) answerError(resp *http.Response, raw []byte) *Error {
	e := &Error{
		Status:     resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now()),
		RequestID:  resp.Header.Get("X-Request-ID"),
	}
	var body errorBody
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Field = body.Error.Code, body.Error.Message, body.Error.Field
		e.ProcessQueryKey = body.ProcessQueryKey
		if day, err := time.ParseInLocation(time.DateOnly, body.Error.ResetsOn, quotaZone); err == nil {
			e.ResetsOn = day
		}
		return e
	}
	e.Message = snippet(raw)
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// snippet is the start of a body as one line of valid text.
func snippet(raw []byte) string {
	s := strings.ToValidUTF8(string(raw), "?")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date
// (then relative to now); 0 when it is absent, malformed or past. It is at
// most maxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int(maxRetryAfter/time.Second))) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil || !at.After(now) {
		return 0
	}
	return min(at.Sub(now), maxRetryAfter)
}

// maxRetryAfter bounds a Retry-After, so a wild one cannot park a caller.
const maxRetryAfter = 24 * time.Hour
