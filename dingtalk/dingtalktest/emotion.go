package dingtalktest

import (
	"net/http"
	"slices"
	"time"
)

// Reactions: POST /v1.0/robot/emotion/reply puts a text reaction on a person's message
// (named by the callback's msgId) and POST /v1.0/robot/emotion/recall takes it off. Both
// take {robotCode, openMsgId, openConversationId, emotionType, emotionName, textEmotion:
// {emotionId, emotionName, text, backgroundId}} and answer {"success": true}.
//
// DingTalk's reference does not describe these calls; the fake follows its generated SDK
// and assumes the rest: emotionType must be 2 (text) and emotionName, textEmotion.text,
// emotionId and backgroundId must be set; any openMsgId is accepted (the fake does not
// know the messages people send); the same reaction put twice on a message is shown once;
// recalling a reaction the robot has not put there answers 400 resource.not.found.
// RefuseEmotion makes the fake refuse a reaction by its text, as DingTalk is reported to
// refuse texts other than "🤔思考中".

// Paths of the reaction calls.
const (
	// PathEmotionReply puts a reaction on a message.
	PathEmotionReply = "/v1.0/robot/emotion/reply"
	// PathEmotionRecall takes a reaction off a message.
	PathEmotionRecall = "/v1.0/robot/emotion/recall"
)

// codeNotFound is the fake's answer to recalling a reaction that is not there.
const codeNotFound = "resource.not.found"

// Reaction is a reaction the robot put on a message.
type Reaction struct {
	// MsgID and ConversationID are the call's openMsgId and openConversationId.
	MsgID, ConversationID string
	// RobotCode is the robot that put it.
	RobotCode string
	// Text is its emotionName (and textEmotion.text); EmotionID and BackgroundID are
	// textEmotion's.
	Text, EmotionID, BackgroundID string
	// At is when the fake's clock said it was put.
	At time.Time
	// Recalled reports whether a recall call took it off, at RecalledAt.
	Recalled   bool
	RecalledAt time.Time
}

// emotionRequest is the body of both reaction calls.
type emotionRequest struct {
	RobotCode          string `json:"robotCode"`
	OpenMsgID          string `json:"openMsgId"`
	OpenConversationID string `json:"openConversationId"`
	EmotionType        int    `json:"emotionType"`
	EmotionName        string `json:"emotionName"`
	TextEmotion        struct {
		EmotionID    string `json:"emotionId"`
		EmotionName  string `json:"emotionName"`
		Text         string `json:"text"`
		BackgroundID string `json:"backgroundId"`
	} `json:"textEmotion"`
}

type emotionResponse struct {
	Success bool `json:"success"`
}

// RefuseEmotion makes every later reaction call putting a reaction with this text (its
// emotionName) answer status with code and message, changing nothing; for example
// RefuseEmotion("✅已完成", 500, "system.error", "unknown error"). An empty code lifts the
// refusal.
func (s *Server) RefuseEmotion(text string, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.refusedEmotions, text)
		return
	}
	s.refusedEmotions[text] = &apiError{status, code, message}
}

// Reactions returns copies of the reactions the robot put on the message msgID, in the
// order it put them, recalled ones included.
func (s *Server) Reactions(msgID string) []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Reaction, len(s.reactions[msgID]))
	for i, r := range s.reactions[msgID] {
		out[i] = *r
	}
	return out
}

// ReactionsShown returns the texts of the reactions on the message msgID that are not
// recalled, in the order they were put.
func (s *Server) ReactionsShown(msgID string) []string {
	var out []string
	for _, r := range s.Reactions(msgID) {
		if !r.Recalled {
			out = append(out, r.Text)
		}
	}
	return out
}

// emotion answers the reaction call; recall takes a reaction off instead of putting it.
func (s *Server) emotion(recall bool) handlerFunc {
	return func(a *app, body []byte) (any, []string, *apiError) {
		var req emotionRequest
		if err := decode(body, &req); err != nil {
			return nil, nil, err
		}
		if err := checkTarget(a, KindGroup, req.RobotCode, req.OpenConversationID); err != nil {
			return nil, nil, err
		}
		te := req.TextEmotion
		switch {
		case req.OpenMsgID == "":
			return nil, nil, invalidParam("openMsgId is missing")
		case req.EmotionType != 2:
			return nil, nil, invalidParam("emotionType must be 2 (a text emotion)")
		case req.EmotionName == "" || te.Text == "" || te.EmotionID == "" || te.BackgroundID == "":
			return nil, nil, invalidParam("emotionName, textEmotion.text, textEmotion.emotionId and textEmotion.backgroundId are required")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		list := s.reactions[req.OpenMsgID]
		// Each robot sees and takes off only its own reactions.
		i := slices.IndexFunc(list, func(r *Reaction) bool {
			return !r.Recalled && r.Text == req.EmotionName && r.RobotCode == a.robotCode
		})
		if recall {
			if i < 0 {
				return nil, nil, &apiError{http.StatusBadRequest, codeNotFound, "no such reaction on the message"}
			}
			list[i].Recalled, list[i].RecalledAt = true, s.now()
			return emotionResponse{Success: true}, nil, nil
		}
		if err := s.refusedEmotions[req.EmotionName]; err != nil {
			return nil, nil, err
		}
		if i < 0 {
			s.reactions[req.OpenMsgID] = append(list, &Reaction{
				MsgID: req.OpenMsgID, ConversationID: req.OpenConversationID, RobotCode: req.RobotCode,
				Text: req.EmotionName, EmotionID: te.EmotionID, BackgroundID: te.BackgroundID, At: s.now(),
			})
		}
		return emotionResponse{Success: true}, nil, nil
	}
}
