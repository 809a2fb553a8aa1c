package dingtalktest

import (
	"fmt"
	"net/url"
	"time"
)

// Paths of the message status calls.
const (
	// PathGroupStatus tells what became of a group message (POST).
	PathGroupStatus = "/v1.0/robot/groupMessages/query"
	// PathPrivateStatus tells what became of a private-chat message (POST).
	PathPrivateStatus = "/v1.0/robot/privateChatMessages/query"
	// PathOTOStatus tells what became of a one-to-one message (GET, with robotCode and
	// processQueryKey in the query string).
	PathOTOStatus = "/v1.0/robot/oToMessages/readStatus"
	// MaxStatusResults is the largest maxResults a group or private status call may ask for.
	MaxStatusResults = 200
)

// The sendStatus values of a status answer.
const (
	// StatusSent is the sendStatus of a delivered message still in its chat.
	StatusSent = "SUCCESS"
	// StatusRecalled is the sendStatus of a recalled message.
	StatusRecalled = "RECALLED"
	// StatusProcessing is the sendStatus of a message DingTalk is still delivering (see
	// WithProcessingTime).
	StatusProcessing = "PROCESSING"
)

// Error codes of the status calls.
const (
	codeInvalidKey = "invalid.processQueryKey"
	codeKeyExpired = "processQueryKey.expireTime"
)

// WithProcessingTime makes a message's status PROCESSING for d after it was sent, by the
// fake's clock, and SUCCESS afterwards (default 0: SUCCESS at once). Recalls are not
// affected.
func WithProcessingTime(d time.Duration) Option {
	return func(s *Server) { s.processing = d }
}

// statusRequest is the body of the group and private status calls.
type statusRequest struct {
	OpenConversationID string `json:"openConversationId"`
	RobotCode          string `json:"robotCode"`
	ProcessQueryKey    string `json:"processQueryKey"`
	MaxResults         int    `json:"maxResults"`
	NextToken          string `json:"nextToken"`
}

type statusResponse struct {
	SendStatus  string   `json:"sendStatus"`
	ReadUserIDs []string `json:"readUserIds"`
	HasMore     bool     `json:"hasMore"`
	NextToken   string   `json:"nextToken"`
}

type readStatusResponse struct {
	SendStatus          string     `json:"sendStatus"`
	MessageReadInfoList []readInfo `json:"messageReadInfoList"`
}

type readInfo struct {
	UserID        string `json:"userId"`
	ReadStatus    string `json:"readStatus"`
	ReadTimestamp int64  `json:"readTimestamp"`
}

// queryStatus answers the group or private status call.
func (s *Server) queryStatus(kind Kind) handlerFunc {
	return func(a *app, body []byte) (any, []string, *apiError) {
		var req statusRequest
		if err := decode(body, &req); err != nil {
			return nil, nil, err
		}
		if err := checkTarget(a, kind, req.RobotCode, req.OpenConversationID); err != nil {
			return nil, nil, err
		}
		if req.MaxResults < 1 || req.MaxResults > MaxStatusResults {
			return nil, nil, invalidParam(fmt.Sprintf("maxResults is %d, want 1 to %d", req.MaxResults, MaxStatusResults))
		}
		status, err := s.sendStatus(a, kind, req.OpenConversationID, req.ProcessQueryKey)
		if err != nil {
			return nil, nil, err
		}
		return statusResponse{SendStatus: status, ReadUserIDs: []string{}}, []string{req.ProcessQueryKey}, nil
	}
}

// readStatus answers the one-to-one status call from its query string.
func (s *Server) readStatus(a *app, q url.Values) (any, []string, *apiError) {
	key := q.Get("processQueryKey")
	if err := checkTarget(a, KindOTO, q.Get("robotCode"), ""); err != nil {
		return nil, nil, err
	}
	status, err := s.sendStatus(a, KindOTO, "", key)
	if err != nil {
		return nil, nil, err
	}
	return readStatusResponse{SendStatus: status, MessageReadInfoList: []readInfo{}}, []string{key}, nil
}

// sendStatus returns the sendStatus of the message with key, sent by app a to the chat
// named by kind and conversationID, or the error DingTalk answers for the key (a key
// another app sent is unknown to a).
func (s *Server) sendStatus(a *app, kind Kind, conversationID, key string) (string, *apiError) {
	if key == "" {
		return "", badRequest(codeMissingKeys, "processQueryKey is missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[key]
	if !ok || m.AppKey != a.key || m.Kind != kind || (kind != KindOTO && m.ConversationID != conversationID) {
		return "", badRequest(codeInvalidKey, "processQueryKey is invalid")
	}
	age := s.now().Sub(m.SentAt)
	switch {
	case age > RecallWindow:
		return "", badRequest(codeKeyExpired, "processQueryKey has expired")
	case m.Recalled:
		return StatusRecalled, nil
	case age < s.processing:
		return StatusProcessing, nil
	}
	return StatusSent, nil
}
