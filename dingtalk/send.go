package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Send and recall API paths.
const (
	PathGroupSend     = "/v1.0/robot/groupMessages/send"
	PathPrivateSend   = "/v1.0/robot/privateChatMessages/send"
	PathOTOSend       = "/v1.0/robot/oToMessages/batchSend"
	PathGroupRecall   = "/v1.0/robot/groupMessages/recall"
	PathPrivateRecall = "/v1.0/robot/privateChatMessages/batchRecall"
	PathOTORecall     = "/v1.0/robot/otoMessages/batchRecall"
)

// MaxOTOUsers is the most staff IDs one one-to-one send may name.
const MaxOTOUsers = 20

// Message keys of the two message templates the helpers build.
const (
	MsgKeyText     = "sampleText"
	MsgKeyMarkdown = "sampleMarkdown"
)

// ErrInvalidMessage is returned, wrapped, for a message or recipient the
// client refuses to send before calling DingTalk.
var ErrInvalidMessage = errors.New("invalid message")

// Message is the content of a robot message: a template key and its
// parameters as a JSON object serialised into a string.
type Message struct {
	MsgKey   string
	MsgParam string
}

// Text is a plain text message (sampleText).
func Text(content string) Message {
	return jsonMessage(MsgKeyText, struct {
		Content string `json:"content"`
	}{content})
}

// Markdown is a markdown message (sampleMarkdown) with a title, which
// DingTalk shows in notifications, and a markdown body.
func Markdown(title, text string) Message {
	return jsonMessage(MsgKeyMarkdown, struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	}{title, text})
}

// jsonMessage serialises params, which cannot fail for the string structs above.
func jsonMessage(key string, params any) Message {
	raw, _ := json.Marshal(params)
	return Message{MsgKey: key, MsgParam: string(raw)}
}

// Validate checks what DingTalk would refuse anyway: a missing msgKey, a
// msgParam that is not a JSON object, or one over MaxMsgParamBytes.
func (m Message) Validate() error {
	if strings.TrimSpace(m.MsgKey) == "" {
		return fmt.Errorf("%w: msgKey is empty", ErrInvalidMessage)
	}
	if len(m.MsgParam) > MaxMsgParamBytes {
		return fmt.Errorf("%w: msgParam is %d bytes, DingTalk allows %d", ErrInvalidMessage, len(m.MsgParam), MaxMsgParamBytes)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(m.MsgParam), &obj); err != nil || obj == nil {
		return fmt.Errorf("%w: msgParam is not a JSON object", ErrInvalidMessage)
	}
	return nil
}

// SendOption adjusts one group or private-chat send.
type SendOption func(*sendRequest)

// WithCoolAppCode sends the cool app code with the message; private chats need
// it, groups take it when the bot is installed as a cool app.
func WithCoolAppCode(code string) SendOption {
	return func(r *sendRequest) { r.CoolAppCode = code }
}

// sendRequest is the body of the group and private-chat send APIs.
type sendRequest struct {
	MsgKey             string `json:"msgKey"`
	MsgParam           string `json:"msgParam"`
	OpenConversationID string `json:"openConversationId"`
	RobotCode          string `json:"robotCode"`
	CoolAppCode        string `json:"coolAppCode,omitempty"`
}

// sendResponse is the answer of every send API.
type sendResponse struct {
	ProcessQueryKey           string   `json:"processQueryKey"`
	InvalidStaffIDList        []string `json:"invalidStaffIdList"`
	FlowControlledStaffIDList []string `json:"flowControlledStaffIdList"`
}

// SendGroup posts m into the group chat conversationID and returns the
// message's processQueryKey, which recalling it needs.
func (c *Client) SendGroup(ctx context.Context, conversationID string, m Message, opts ...SendOption) (string, error) {
	return c.sendToConversation(ctx, PathGroupSend, conversationID, m, opts)
}

// SendPrivate posts m into a person-to-person chat in which the bot is
// installed as a cool app (pass WithCoolAppCode), and returns its key.
func (c *Client) SendPrivate(ctx context.Context, conversationID string, m Message, opts ...SendOption) (string, error) {
	return c.sendToConversation(ctx, PathPrivateSend, conversationID, m, opts)
}

// sendToConversation is the shared body of SendGroup and SendPrivate.
func (c *Client) sendToConversation(ctx context.Context, api, conversationID string, m Message, opts []SendOption) (string, error) {
	if strings.TrimSpace(conversationID) == "" {
		return "", fmt.Errorf("%w: conversation id is empty", ErrInvalidMessage)
	}
	if err := m.Validate(); err != nil {
		return "", err
	}
	req := sendRequest{MsgKey: m.MsgKey, MsgParam: m.MsgParam, OpenConversationID: conversationID, RobotCode: c.robotCode}
	for _, opt := range opts {
		opt(&req)
	}
	var out sendResponse
	if err := c.call(ctx, api, req, &out, retryThrottled); err != nil {
		return "", err
	}
	return keyOf(api, out)
}

// keyOf returns the key of a send answer, or an error if there is none.
func keyOf(api string, out sendResponse) (string, error) {
	if out.ProcessQueryKey == "" {
		return "", &APIError{API: api, Status: 200, Code: CodeBadResponse, Message: "answer has no processQueryKey"}
	}
	return out.ProcessQueryKey, nil
}

// OTOResult is the answer of a one-to-one send.
type OTOResult struct {
	// ProcessQueryKey recalls the message for every recipient at once.
	ProcessQueryKey string
	// InvalidStaffIDs are the recipients DingTalk did not know.
	InvalidStaffIDs []string
	// FlowControlledStaffIDs are the recipients DingTalk throttled.
	FlowControlledStaffIDs []string
}

// otoSendRequest is the body of PathOTOSend.
type otoSendRequest struct {
	RobotCode string   `json:"robotCode"`
	UserIDs   []string `json:"userIds"`
	MsgKey    string   `json:"msgKey"`
	MsgParam  string   `json:"msgParam"`
}

// SendOTO sends m to each of userIDs (staff IDs, at most MaxOTOUsers) in
// their one-to-one chat with the bot.
func (c *Client) SendOTO(ctx context.Context, userIDs []string, m Message) (*OTOResult, error) {
	if len(userIDs) == 0 || len(userIDs) > MaxOTOUsers {
		return nil, fmt.Errorf("%w: %d recipients, want 1 to %d", ErrInvalidMessage, len(userIDs), MaxOTOUsers)
	}
	for _, id := range userIDs {
		if strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("%w: empty staff id", ErrInvalidMessage)
		}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	req := otoSendRequest{RobotCode: c.robotCode, UserIDs: userIDs, MsgKey: m.MsgKey, MsgParam: m.MsgParam}
	var out sendResponse
	if err := c.call(ctx, PathOTOSend, req, &out, retryThrottled); err != nil {
		return nil, err
	}
	key, err := keyOf(PathOTOSend, out)
	if err != nil {
		return nil, err
	}
	return &OTOResult{ProcessQueryKey: key, InvalidStaffIDs: out.InvalidStaffIDList, FlowControlledStaffIDs: out.FlowControlledStaffIDList}, nil
}
