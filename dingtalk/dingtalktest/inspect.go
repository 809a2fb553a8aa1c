package dingtalktest

import (
	"net/http"
	"slices"
	"time"
)

// Message is a message the fake accepted from a send call.
type Message struct {
	// Key is the processQueryKey the send call returned.
	Key string
	// Kind is the kind of chat the message went to.
	Kind Kind
	// ConversationID is the openConversationId of a group or private message; empty for
	// one-to-one messages.
	ConversationID string
	// UserIDs are the userIds of a one-to-one message as requested, invalid ones
	// included; empty for other kinds.
	UserIDs []string
	// RobotCode, MsgKey, MsgParam and CoolAppCode are the send call's fields: RobotCode is
	// the robot that sent it.
	RobotCode, MsgKey, MsgParam, CoolAppCode string
	// AppKey is the app whose access token sent it; only that app can recall it, ask
	// for its status or update its card.
	AppKey string
	// OutTrackID is, for a card createAndDeliver delivered (MsgKey
	// CardMsgKey, Key its carrierId), the card's outTrackId; empty for robot
	// messages. Card returns the card itself.
	OutTrackID string
	// SentAt is when the fake's clock said the message was sent.
	SentAt time.Time
	// Recalled reports whether a recall call recalled the message.
	Recalled bool
	// RecalledAt is when the fake's clock said it was recalled.
	RecalledAt time.Time
}

// Call is one request the fake received.
type Call struct {
	// Path is the request's URL path.
	Path string
	// Status is the HTTP status answered; 0 when the request ended before its answer
	// (for example, cancelled during SetLatency), or while it is still in flight.
	Status int
	// Code is the error code answered; empty on success.
	Code string
	// Keys are the distinct processQueryKeys a recall call named, the key a successful
	// send call issued, or the key a successful status call asked about.
	Keys []string
	// At is when the fake's clock said the request arrived.
	At time.Time
	// AppKey is the app the call came from: for the token call the app its key and
	// secret name, for connections/open its clientId's, for other calls its access
	// token's; empty when none is known.
	AppKey string
	// BanPage reports whether the fake answered it with its HTML ban page
	// (ServeBanPage).
	BanPage bool
}

// Sent returns copies of every message sent, in send order.
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.sent))
	for i, m := range s.sent {
		out[i] = m.clone()
	}
	return out
}

// Message returns a copy of the message with processQueryKey key.
func (s *Server) Message(key string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[key]
	if !ok {
		return Message{}, false
	}
	return m.clone(), true
}

// Recalled returns the keys recalled successfully, in recall order.
func (s *Server) Recalled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recalled)
}

// RecallAttempts returns how many recall calls named key, whatever they answered
// (faulted, throttled and rejected calls included).
func (s *Server) RecallAttempts(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[key]
}

// Calls returns copies of every request received, the token call included, in arrival
// order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = *c
		out[i].Keys = slices.Clone(c.Keys)
	}
	return out
}

// CallsByApp returns copies of every request from the app appKey (see Call.AppKey), in
// arrival order.
func (s *Server) CallsByApp(appKey string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.AppKey == appKey {
			out = append(out, c)
		}
	}
	return out
}

// CallCount returns the number of requests to path, whatever they answered.
func (s *Server) CallCount(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Path == path {
			n++
		}
	}
	return n
}

// PeakConcurrent returns the highest number of requests to path in flight at once; path
// "" counts every robot path together (the token path excluded).
func (s *Server) PeakConcurrent(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak[path]
}

// TokensIssued returns the number of access tokens issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Path == PathToken && c.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// Reset forgets the calls and counters behind Calls, CallCount, RecallAttempts,
// PeakConcurrent and TokensIssued. Messages, recalls, tokens and injected faults stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	clear(s.attempts)
	clear(s.peak)
	for path, n := range s.inflight {
		s.peak[path] = n
	}
}

// arrive records the start of a request to path from app a (nil: unknown) naming keys.
func (s *Server) arrive(path string, robot bool, keys []string, a *app) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Call{Path: path, Keys: keys, At: s.now()}
	if a != nil {
		c.AppKey = a.key
	}
	s.calls = append(s.calls, c)
	for _, k := range keys {
		s.attempts[k]++
	}
	s.enter(path)
	if robot {
		s.enter("")
	}
	return c
}

// enter counts one more request in flight under name. The caller holds s.mu.
func (s *Server) enter(name string) {
	s.inflight[name]++
	s.peak[name] = max(s.peak[name], s.inflight[name])
}

// depart records the end of a request to path.
func (s *Server) depart(path string, robot bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight[path]--
	if robot {
		s.inflight[""]--
	}
}

// finish records the answer to call; keys, when not nil, replace its keys.
func (s *Server) finish(call *Call, status int, code string, keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call.Status, call.Code = status, code
	if keys != nil {
		call.Keys = keys
	}
}

func (m *Message) clone() Message {
	c := *m
	c.UserIDs = slices.Clone(m.UserIDs)
	return c
}
