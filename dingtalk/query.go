package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Message status API paths.
const (
	PathGroupStatus   = "/v1.0/robot/groupMessages/query"
	PathPrivateStatus = "/v1.0/robot/privateChatMessages/query"
	PathOTOStatus     = "/v1.0/robot/oToMessages/readStatus" // GET, key in the query string
)

// CodeKeyExpired is the code of a status query for a key DingTalk no longer
// answers for (one-to-one: more than 24 hours after sending).
const CodeKeyExpired = "processQueryKey.expireTime"

// statusPageSize is the maxResults of a group or private status query. The
// client reads only sendStatus, so a small page of read receipts is enough;
// DingTalk allows up to 200.
const statusPageSize = 20

// Errors of the status queries, wrapped together with DingTalk's *APIError;
// decide them with errors.Is.
var (
	// ErrKeyUnknown: DingTalk does not know the key in this chat for this
	// robot (invalid.processQueryKey).
	ErrKeyUnknown = errors.New("processQueryKey unknown to DingTalk")
	// ErrKeyExpired: the key is too old for DingTalk to say what became of
	// the message (processQueryKey.expireTime).
	ErrKeyExpired = errors.New("processQueryKey expired")
)

// Status is what DingTalk says became of a sent message.
type Status int

// The statuses DingTalk reports. The zero value is never returned without an
// error.
const (
	StatusUnknown Status = iota
	// StatusSent: the message was delivered and is in the chat (SUCCESS).
	StatusSent
	// StatusRecalled: the message was recalled (RECALLED).
	StatusRecalled
	// StatusProcessing: DingTalk is still delivering it (PROCESSING).
	StatusProcessing
)

// String returns DingTalk's name of s.
func (s Status) String() string {
	switch s {
	case StatusSent:
		return "SUCCESS"
	case StatusRecalled:
		return "RECALLED"
	case StatusProcessing:
		return "PROCESSING"
	}
	return "UNKNOWN"
}

// statusRequest is the body of the group and private status queries; the
// one-to-one query sends RobotCode and ProcessQueryKey in its query string.
type statusRequest struct {
	OpenConversationID string `json:"openConversationId,omitempty"`
	RobotCode          string `json:"robotCode"`
	ProcessQueryKey    string `json:"processQueryKey"`
	MaxResults         int    `json:"maxResults"`
}

// statusResponse is the part of every status answer the client reads; the
// read receipts (readUserIds, messageReadInfoList) are left out.
type statusResponse struct {
	SendStatus string `json:"sendStatus"`
}

// StatusOption adjusts one status query.
type StatusOption func(*statusRequest)

// StatusAsRobot asks with this robotCode instead of the client's: DingTalk
// answers for a message only to the robot that sent it. An empty code keeps
// the client's.
func StatusAsRobot(code string) StatusOption {
	return func(r *statusRequest) {
		if code != "" {
			r.RobotCode = code
		}
	}
}

// StatusGroup asks DingTalk what became of the group message with key, sent
// into conversationID.
func (c *Client) StatusGroup(ctx context.Context, conversationID, key string, opts ...StatusOption) (Status, error) {
	return c.status(ctx, PathGroupStatus, conversationID, key, opts)
}

// StatusPrivate asks DingTalk what became of the private-chat message with
// key, sent into conversationID.
func (c *Client) StatusPrivate(ctx context.Context, conversationID, key string, opts ...StatusOption) (Status, error) {
	return c.status(ctx, PathPrivateStatus, conversationID, key, opts)
}

// StatusOTO asks DingTalk what became of the one-to-one message with key.
// DingTalk answers only within 24 hours of sending.
func (c *Client) StatusOTO(ctx context.Context, key string, opts ...StatusOption) (Status, error) {
	return c.status(ctx, PathOTOStatus, "", key, opts)
}

// status makes one status query, retrying as a recall does (it changes
// nothing at DingTalk), and decodes its answer.
func (c *Client) status(ctx context.Context, api, conversationID, key string, opts []StatusOption) (Status, error) {
	if strings.TrimSpace(key) == "" || (api != PathOTOStatus && strings.TrimSpace(conversationID) == "") {
		return StatusUnknown, fmt.Errorf("%w: status query needs a processQueryKey and, except one-to-one, a conversation id", ErrInvalidMessage)
	}
	req := statusRequest{OpenConversationID: conversationID, RobotCode: c.robotCode, ProcessQueryKey: key, MaxResults: statusPageSize}
	for _, opt := range opts {
		opt(&req)
	}
	var in any = req
	if api == PathOTOStatus {
		in = url.Values{"robotCode": {req.RobotCode}, "processQueryKey": {key}}
	}
	var out statusResponse
	err := c.call(ctx, api, in, &out, retryAll)
	return parseStatus(api, out.SendStatus, err)
}

// parseStatus turns a status answer, or the error that replaced it, into a
// Status or a typed error.
func parseStatus(api, sendStatus string, err error) (Status, error) {
	switch {
	case HasCode(err, CodeInvalidKey):
		return StatusUnknown, fmt.Errorf("%w: %w", ErrKeyUnknown, err)
	case HasCode(err, CodeKeyExpired):
		return StatusUnknown, fmt.Errorf("%w: %w", ErrKeyExpired, err)
	case err != nil:
		return StatusUnknown, err
	}
	for _, s := range []Status{StatusSent, StatusRecalled, StatusProcessing} {
		if sendStatus == s.String() {
			return s, nil
		}
	}
	return StatusUnknown, &APIError{API: api, Status: 200, Code: CodeBadResponse, Message: fmt.Sprintf("unknown sendStatus %q", sendStatus)}
}
