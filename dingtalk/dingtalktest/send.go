package dingtalktest

import (
	"encoding/json"
	"fmt"
	"slices"
)

// templates maps each msgKey the fake knows to the msgParam fields it requires.
var templates = map[string][]string{
	"sampleText":        {"content"},
	"sampleMarkdown":    {"title", "text"},
	"sampleLink":        nil,
	"sampleImageMsg":    nil,
	"sampleActionCard":  nil,
	"sampleActionCard2": nil,
	"sampleActionCard3": nil,
	"sampleActionCard4": nil,
	"sampleActionCard5": nil,
	"sampleActionCard6": nil,
	"sampleAudio":       nil,
	"sampleFile":        nil,
	"sampleVideo":       nil,
}

// send answers the send call for kind.
func (s *Server) send(kind Kind) handlerFunc {
	return func(a *app, body []byte) (any, []string, *apiError) {
		var req sendRequest
		if err := s.validateSend(a, kind, body, &req); err != nil {
			return nil, nil, err
		}
		key := s.deliver(a, kind, req)
		if kind != KindOTO {
			return sendResponse{ProcessQueryKey: key}, []string{key}, nil
		}
		invalid := []string{}
		for _, id := range req.UserIDs {
			if s.invalidStaff[id] {
				invalid = append(invalid, id)
			}
		}
		return otoSendResponse{
			ProcessQueryKey:           key,
			InvalidStaffIDList:        invalid,
			FlowControlledStaffIDList: []string{},
		}, []string{key}, nil
	}
}

// validateSend decodes a send body of app a into req and checks it for a chat of kind.
func (s *Server) validateSend(a *app, kind Kind, body []byte, req *sendRequest) *apiError {
	if err := decode(body, req); err != nil {
		return err
	}
	if err := checkTarget(a, kind, req.RobotCode, req.OpenConversationID); err != nil {
		return err
	}
	if kind == KindOTO {
		switch {
		case len(req.UserIDs) == 0:
			return invalidParam("userIds is empty")
		case len(req.UserIDs) > MaxUserIDs:
			return invalidParam(fmt.Sprintf("userIds has %d entries, at most %d are allowed", len(req.UserIDs), MaxUserIDs))
		case slices.Contains(req.UserIDs, ""):
			return invalidParam("userIds contains an empty staff ID")
		}
	}
	return checkTemplate(req.MsgKey, req.MsgParam)
}

// checkTarget checks the robotCode and, except one-to-one, the openConversationId of a
// send or recall call of app a: the robotCode must be the app's own.
func checkTarget(a *app, kind Kind, robotCode, conversationID string) *apiError {
	switch {
	case robotCode == "":
		return badRequest(codeMissingRobot, "robotCode is missing")
	case robotCode != a.robotCode:
		return badRequest(codeUnknownRobot, fmt.Sprintf("robot %q does not exist", robotCode))
	case kind != KindOTO && conversationID == "":
		return badRequest(codeMissingConv, "openConversationId is missing")
	}
	return nil
}

// checkTemplate checks msgKey is a known template and msgParam a JSON object, serialised
// into a string, with the fields the template requires.
func checkTemplate(msgKey, msgParam string) *apiError {
	required, ok := templates[msgKey]
	if !ok {
		return badRequest(codeNoTemplate, fmt.Sprintf("template %q does not exist", msgKey))
	}
	if len(msgParam) > MaxMsgParamBytes {
		return invalidParam(fmt.Sprintf("msgParam is %d bytes, at most %d are allowed", len(msgParam), MaxMsgParamBytes))
	}
	var fields map[string]any
	if json.Unmarshal([]byte(msgParam), &fields) != nil || fields == nil {
		return invalidParam("msgParam must be a JSON object serialised into a string")
	}
	for _, name := range required {
		if v, _ := fields[name].(string); v == "" {
			return invalidParam(fmt.Sprintf("msgParam.%s is required for %s", name, msgKey))
		}
	}
	return nil
}

// deliver records a validated message of app a and returns its new processQueryKey.
func (s *Server) deliver(a *app, kind Kind, req sendRequest) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := randomHex(16)
	for s.messages[key] != nil {
		key = randomHex(16)
	}
	m := &Message{
		Key:         key,
		Kind:        kind,
		RobotCode:   req.RobotCode,
		AppKey:      a.key,
		MsgKey:      req.MsgKey,
		MsgParam:    req.MsgParam,
		CoolAppCode: req.CoolAppCode,
		SentAt:      s.now(),
	}
	if kind == KindOTO {
		m.UserIDs = slices.Clone(req.UserIDs)
	} else {
		m.ConversationID = req.OpenConversationID
	}
	s.messages[key] = m
	s.sent = append(s.sent, m)
	return key
}
