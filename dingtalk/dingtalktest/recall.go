package dingtalktest

import (
	"fmt"
	"time"
)

// Reasons the fake gives in failedResult. DingTalk's own wording differs.
const (
	// ReasonNotFound is given for a key the fake never issued.
	ReasonNotFound = "message not found"
	// ReasonOtherKind is given for a key sent to another kind of chat than the recall
	// call's (for example a group key recalled through otoMessages/batchRecall).
	ReasonOtherKind = "message was not sent to this kind of chat"
	// ReasonOtherConversation is given for a key sent to another openConversationId.
	ReasonOtherConversation = "message does not belong to this conversation"
	// ReasonAlreadyRecalled is given for a message recalled before.
	ReasonAlreadyRecalled = "message already recalled"
	// ReasonTooOld is given for a message sent more than RecallWindow ago by the fake's
	// clock.
	ReasonTooOld = "message is older than 24 hours"
)

// recall answers the recall call for kind.
func (s *Server) recall(kind Kind) handlerFunc {
	return func(a *app, body []byte) (any, []string, *apiError) {
		var req recallRequest
		if err := decode(body, &req); err != nil {
			return nil, nil, err
		}
		if err := checkTarget(a, kind, req.RobotCode, req.OpenConversationID); err != nil {
			return nil, nil, err
		}
		switch n := len(req.ProcessQueryKeys); {
		case n == 0:
			return nil, nil, badRequest(codeMissingKeys, "processQueryKeys is missing")
		case n > MaxKeys:
			return nil, nil, badRequest(codeTooManyKeys, fmt.Sprintf("processQueryKeys has %d entries, at most %d are allowed", n, MaxKeys))
		}

		res := recallResponse{SuccessResult: []string{}, FailedResult: map[string]string{}}
		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.now()
		for _, key := range distinct(req.ProcessQueryKeys) {
			if reason := s.refusal(a, kind, req.OpenConversationID, key, now); reason != "" {
				res.FailedResult[key] = reason
				continue
			}
			m := s.messages[key]
			m.Recalled, m.RecalledAt = true, now
			s.recalled = append(s.recalled, key)
			res.SuccessResult = append(res.SuccessResult, key)
		}
		return res, nil, nil
	}
}

// refusal returns why app a cannot recall key from the chat named by kind and
// conversationID at now, or "" when it can. A key another app sent is unknown to a. The
// caller holds s.mu.
func (s *Server) refusal(a *app, kind Kind, conversationID, key string, now time.Time) string {
	if reason, ok := s.keyFailures[key]; ok {
		return reason
	}
	m, ok := s.messages[key]
	switch {
	case !ok, m.AppKey != a.key:
		return ReasonNotFound
	case m.Kind != kind:
		return ReasonOtherKind
	case kind != KindOTO && m.ConversationID != conversationID:
		return ReasonOtherConversation
	case m.Recalled:
		return ReasonAlreadyRecalled
	case now.Sub(m.SentAt) > RecallWindow:
		return ReasonTooOld
	}
	return ""
}

// FailKey makes every recall of key put it in failedResult with reason, whether or not
// the message exists, until ClearKeyFailure.
func (s *Server) FailKey(key, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyFailures[key] = reason
}

// ClearKeyFailure undoes FailKey for key.
func (s *Server) ClearKeyFailure(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keyFailures, key)
}
