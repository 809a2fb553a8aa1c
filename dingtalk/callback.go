package dingtalk

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Callback signature headers and the window a timestamp is accepted in.
const (
	HeaderTimestamp = "timestamp"
	HeaderSign      = "sign"
	SignatureWindow = time.Hour
)

// Conversation types of a callback.
const (
	ConversationOneToOne = "1"
	ConversationGroup    = "2"
)

// Sentinel errors of VerifySignature; each is returned wrapped.
var (
	ErrMissingSignature = errors.New("missing timestamp or sign header")
	ErrStaleTimestamp   = errors.New("timestamp outside the accepted window")
	ErrBadSignature     = errors.New("signature does not match")
)

// ErrInvalidCallback is returned, wrapped, by DecodeCallback for a body that
// is not a usable callback.
var ErrInvalidCallback = errors.New("invalid callback")

// Callback is the body DingTalk posts when someone @-mentions the bot in a
// group or writes to it one-to-one.
type Callback struct {
	ConversationID            string          `json:"conversationId"`
	ConversationType          string          `json:"conversationType"`
	ConversationTitle         string          `json:"conversationTitle"`
	SenderStaffID             string          `json:"senderStaffId"`
	SenderID                  string          `json:"senderId"`
	SenderNick                string          `json:"senderNick"`
	IsAdmin                   bool            `json:"isAdmin"`
	RobotCode                 string          `json:"robotCode"`
	ChatbotUserID             string          `json:"chatbotUserId"`
	MsgID                     string          `json:"msgId"`
	CreateAt                  int64           `json:"createAt"`
	MsgType                   string          `json:"msgtype"`
	Text                      CallbackText    `json:"text"`
	Content                   json.RawMessage `json:"content,omitempty"`
	AtUsers                   []AtUser        `json:"atUsers,omitempty"`
	IsInAtList                bool            `json:"isInAtList"`
	SessionWebhook            string          `json:"sessionWebhook"`
	SessionWebhookExpiredTime int64           `json:"sessionWebhookExpiredTime"`
	// OriginalMsgID is the ID of the message the person quoted, if any
	// (see Quote).
	OriginalMsgID string `json:"originalMsgId,omitempty"`
	// OriginalProcessQueryKey is the key of the card the person quoted, if
	// any (see Quote).
	OriginalProcessQueryKey string `json:"originalProcessQueryKey,omitempty"`
}

// UnmarshalJSON decodes a callback: its fields strictly (a field of the
// wrong type fails), except the quote fields originalMsgId and
// originalProcessQueryKey, which are left empty when they are not strings
// (or numbers).
func (cb *Callback) UnmarshalJSON(b []byte) error {
	type plain Callback // without this method
	var in struct {
		*plain
		OriginalMsgID           json.RawMessage `json:"originalMsgId"`
		OriginalProcessQueryKey json.RawMessage `json:"originalProcessQueryKey"`
	}
	in.plain = (*plain)(cb)
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	cb.OriginalMsgID, cb.OriginalProcessQueryKey = looseString(in.OriginalMsgID), looseString(in.OriginalProcessQueryKey)
	return nil
}

// CallbackText is the text part of a text callback: what was typed and, when
// the person quoted a message, the quote (see Quote).
type CallbackText struct {
	Content string `json:"content"`
	// IsReplyMsg is true when the person quoted a message.
	IsReplyMsg bool `json:"isReplyMsg,omitempty"`
	// RepliedMsg is the quoted message, nil when there is none.
	RepliedMsg *RepliedMsg `json:"repliedMsg,omitempty"`
}

// UnmarshalJSON decodes the text part: content strictly, the quote fields
// leniently (isReplyMsg may be a bool or "true"; a repliedMsg that is not an
// object is left out). JSON null leaves t as it is.
func (t *CallbackText) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var in struct {
		Content    string          `json:"content"`
		IsReplyMsg json.RawMessage `json:"isReplyMsg"`
		RepliedMsg json.RawMessage `json:"repliedMsg"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*t = CallbackText{Content: in.Content, IsReplyMsg: looseBool(in.IsReplyMsg)}
	if raw := bytes.TrimSpace(in.RepliedMsg); len(raw) > 0 && raw[0] == '{' {
		var r RepliedMsg
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		t.RepliedMsg = &r
	}
	return nil
}

// AtUser is one person @-mentioned in a callback.
type AtUser struct {
	DingtalkID string `json:"dingtalkId"`
	StaffID    string `json:"staffId,omitempty"`
}

// IsGroup reports whether the callback came from a group chat.
func (cb *Callback) IsGroup() bool { return cb.ConversationType == ConversationGroup }

// PlainText is what the sender typed: text.content of a text message, the
// text parts of a rich text message joined by spaces, and "" for anything
// else (pictures, files).
func (cb *Callback) PlainText() string {
	switch cb.MsgType {
	case "text", "":
		return cb.Text.Content
	case "richText":
		var rt struct {
			RichText []struct {
				Text string `json:"text"`
			} `json:"richText"`
		}
		if json.Unmarshal(cb.Content, &rt) != nil {
			return ""
		}
		parts := make([]string, 0, len(rt.RichText))
		for _, p := range rt.RichText {
			if p.Text != "" {
				parts = append(parts, p.Text)
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// DecodeCallback parses a callback body and checks the fields the bot cannot
// do without: conversationId and msgId.
func DecodeCallback(body []byte) (*Callback, error) {
	var cb Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCallback, err)
	}
	if missing := blank("conversationId", cb.ConversationID, "msgId", cb.MsgID); missing != "" {
		return nil, fmt.Errorf("%w: missing %s", ErrInvalidCallback, missing)
	}
	return &cb, nil
}

// blank names, joined by ", ", the fields whose values are blank; fields
// come as name, value pairs. It is "" when every field has a value.
func blank(nameValues ...string) string {
	var names []string
	for i := 0; i+1 < len(nameValues); i += 2 {
		if strings.TrimSpace(nameValues[i+1]) == "" {
			names = append(names, nameValues[i])
		}
	}
	return strings.Join(names, ", ")
}

// Signature is the sign header value for a timestamp (epoch milliseconds, as
// a string): base64 of HMAC-SHA256 keyed by the app secret over
// timestamp + "\n" + appSecret.
func Signature(timestamp, appSecret string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(timestamp + "\n" + appSecret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignHeader sets the timestamp and sign headers DingTalk would send at now,
// for tests and the sandbox.
func SignHeader(h http.Header, appSecret string, now time.Time) {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSign, Signature(ts, appSecret))
}

// VerifySignature checks the timestamp and sign headers of a callback: both
// present, the timestamp within SignatureWindow of now, and the signature
// equal (in constant time) to the one appSecret gives. It returns a wrapped
// ErrMissingSignature, ErrStaleTimestamp or ErrBadSignature.
func VerifySignature(header http.Header, appSecret string, now time.Time) error {
	ts, sign := header.Get(HeaderTimestamp), header.Get(HeaderSign)
	if ts == "" || sign == "" {
		return fmt.Errorf("callback signature: %w", ErrMissingSignature)
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("callback signature: timestamp is not epoch milliseconds: %w", ErrBadSignature)
	}
	if d := now.Sub(time.UnixMilli(ms)); d > SignatureWindow || d < -SignatureWindow {
		return fmt.Errorf("callback signature: %w", ErrStaleTimestamp)
	}
	want := Signature(ts, appSecret)
	if subtle.ConstantTimeCompare([]byte(sign), []byte(want)) != 1 {
		return fmt.Errorf("callback signature: %w", ErrBadSignature)
	}
	return nil
}
