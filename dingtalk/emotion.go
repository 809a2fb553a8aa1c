package dingtalk

import (
	"context"
	"fmt"
	"strings"
)

// Reactions. The robot puts a text reaction (an "emotion") on a person's
// message with POST /v1.0/robot/emotion/reply and takes it off with
// POST /v1.0/robot/emotion/recall; both take {robotCode, openMsgId (the
// callback's msgId), openConversationId, emotionType, emotionName,
// textEmotion: {emotionId, emotionName, text, backgroundId}} and answer
// {"success": true}. DingTalk's reference does not describe these calls:
// the request and answer are those of its generated SDK (robot_1_0
// RobotReplyEmotionRequest and RobotRecallEmotionRequest), and the values of
// EmotionWorking are those published integrations run against DingTalk
// (soimy/openclaw-channel-dingtalk, DingTalk-Real-AI/dingtalk-openclaw-connector).

// Reaction API paths.
const (
	PathEmotionReply  = "/v1.0/robot/emotion/reply"
	PathEmotionRecall = "/v1.0/robot/emotion/recall"
)

// EmotionTypeText is the emotionType of a text reaction, the only type the
// client sends.
const EmotionTypeText = 2

// CodeEmotionNotApplied is the code the client gives a 2xx answer to a
// reaction call that says {"success": false}.
const CodeEmotionNotApplied = "dingrecall.emotionNotApplied"

// Emotion is a text reaction: the words DingTalk shows on the message and
// the emotion and background it draws them with.
type Emotion struct {
	// Text is what the reaction shows; it is also its emotionName.
	Text string
	// ID is textEmotion.emotionId.
	ID string
	// Background is textEmotion.backgroundId.
	Background string
}

// The reactions dingrecall puts on a command. EmotionWorking is exactly what
// published integrations send (emotionId 2659900, background im_bg_1,
// "🤔思考中"); EmotionDone and EmotionFailed use the same emotion and
// background with dingrecall's own words, which DingTalk may refuse: one
// integration reports a 500 system.error for a text other than "🤔思考中",
// another a done reaction that worked. The bot replies in words when a
// reaction is refused.
var (
	EmotionWorking = Emotion{Text: "🤔思考中", ID: "2659900", Background: "im_bg_1"}
	EmotionDone    = Emotion{Text: "✅已完成", ID: "2659900", Background: "im_bg_1"}
	EmotionFailed  = Emotion{Text: "❌未完成", ID: "2659900", Background: "im_bg_1"}
)

// textEmotion is the textEmotion object of a reaction call.
type textEmotion struct {
	EmotionID    string `json:"emotionId"`
	EmotionName  string `json:"emotionName"`
	Text         string `json:"text"`
	BackgroundID string `json:"backgroundId"`
}

// emotionRequest is the body of both reaction calls.
type emotionRequest struct {
	RobotCode          string      `json:"robotCode"`
	OpenMsgID          string      `json:"openMsgId"`
	OpenConversationID string      `json:"openConversationId"`
	EmotionType        int         `json:"emotionType"`
	EmotionName        string      `json:"emotionName"`
	TextEmotion        textEmotion `json:"textEmotion"`
}

// emotionResponse is the answer of both reaction calls.
type emotionResponse struct {
	Success bool `json:"success"`
}

// ReplyEmotion puts the reaction e on the message msgID (a callback's msgId)
// in the chat conversationID (the callback's conversationId). It fails with
// an error wrapping ErrInvalidMessage for an empty argument, else with an
// *APIError: DingTalk's error answer, a transport failure, or code
// CodeEmotionNotApplied when DingTalk answered success false. Only calls
// DingTalk refused for its QPS limit, or that never reached it, are tried
// again: a reaction is not worth waiting for.
func (c *Client) ReplyEmotion(ctx context.Context, conversationID, msgID string, e Emotion) error {
	return c.emotion(ctx, PathEmotionReply, conversationID, msgID, e)
}

// RecallEmotion takes the reaction e off the message msgID in the chat
// conversationID; it fails as ReplyEmotion does.
func (c *Client) RecallEmotion(ctx context.Context, conversationID, msgID string, e Emotion) error {
	return c.emotion(ctx, PathEmotionRecall, conversationID, msgID, e)
}

// emotion makes one reaction call.
func (c *Client) emotion(ctx context.Context, api, conversationID, msgID string, e Emotion) error {
	switch {
	case strings.TrimSpace(conversationID) == "":
		return fmt.Errorf("%w: reaction: conversation id is empty", ErrInvalidMessage)
	case strings.TrimSpace(msgID) == "":
		return fmt.Errorf("%w: reaction: message id is empty", ErrInvalidMessage)
	case strings.TrimSpace(e.Text) == "" || e.ID == "" || e.Background == "":
		return fmt.Errorf("%w: reaction: the emotion needs a text, an id and a background", ErrInvalidMessage)
	}
	req := emotionRequest{
		RobotCode: c.robotCode, OpenMsgID: msgID, OpenConversationID: conversationID,
		EmotionType: EmotionTypeText, EmotionName: e.Text,
		TextEmotion: textEmotion{EmotionID: e.ID, EmotionName: e.Text, Text: e.Text, BackgroundID: e.Background},
	}
	var out emotionResponse
	if err := c.call(ctx, api, req, &out, retryThrottled); err != nil {
		return err
	}
	if !out.Success {
		return &APIError{API: api, Status: 200, Code: CodeEmotionNotApplied, Message: "DingTalk answered success: false"}
	}
	return nil
}
