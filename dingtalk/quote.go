package dingtalk

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Quoted messages. When a person quotes (replies to) a message and
// @-mentions the bot, the callback says which message: text.isReplyMsg,
// text.repliedMsg {msgType, msgId, senderId, createdAt, content}, and at the
// top level originalMsgId and, for a quoted card, originalProcessQueryKey.
// DingTalk's reference does not list these fields; they are as published
// integrations read them (soimy/openclaw-channel-dingtalk among them). Every
// one of them is optional here: one that is missing or of an unexpected type
// is left empty, and never makes a callback undecodable.

// RepliedMsg is text.repliedMsg of a callback: the message the person
// quoted.
type RepliedMsg struct {
	// MsgType is the quoted message's type as DingTalk names it (text,
	// markdown, interactiveCard, ...).
	MsgType string `json:"msgType,omitempty"`
	// MsgID is DingTalk's ID of the quoted message.
	MsgID string `json:"msgId,omitempty"`
	// SenderID is who sent the quoted message; it is the callback's
	// chatbotUserId when the bot sent it.
	SenderID string `json:"senderId,omitempty"`
	// CreatedAt is when the quoted message was sent, in epoch milliseconds
	// (0 when DingTalk did not say). A numeric string is read as a number,
	// and createTime is read when createdAt is missing.
	CreatedAt int64 `json:"createdAt,omitempty"`
	// Content is the quoted message's content as DingTalk sent it, such as
	// {"text": "..."}; nil when there was none.
	Content json.RawMessage `json:"content,omitempty"`
}

// UnmarshalJSON reads a repliedMsg object leniently: fields of an unexpected
// type are left empty. It fails only on malformed JSON.
func (r *RepliedMsg) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		var anything any
		if jerr := json.Unmarshal(b, &anything); jerr != nil {
			return jerr // not JSON at all
		}
		*r = RepliedMsg{} // JSON, but not an object: nothing to read
		return nil
	}
	*r = RepliedMsg{
		MsgType:  looseString(fields["msgType"]),
		MsgID:    looseString(fields["msgId"]),
		SenderID: looseString(fields["senderId"]),
	}
	if r.CreatedAt = looseMillis(fields["createdAt"]); r.CreatedAt == 0 {
		r.CreatedAt = looseMillis(fields["createTime"])
	}
	if raw := bytes.TrimSpace(fields["content"]); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		// Kept in the form json.Marshal writes, so that a callback encoded
		// and decoded again holds the same bytes.
		canon, err := json.Marshal(json.RawMessage(raw))
		if err == nil {
			r.Content = canon
		}
	}
	return nil
}

// Texts are the words of the quoted content: the content itself when it is
// a string, else its text, content, title and summary fields and the text
// parts of a rich text, each trimmed, the empty ones left out.
func (r RepliedMsg) Texts() []string {
	if len(r.Content) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(r.Content, &s) == nil {
		return nonEmpty(s)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(r.Content, &fields) != nil {
		return nil
	}
	var out []string
	for _, k := range []string{"text", "content", "title", "summary"} {
		out = append(out, nonEmpty(looseString(fields[k]))...)
	}
	var rich []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(fields["richText"], &rich) == nil {
		var parts []string
		for _, p := range rich {
			parts = append(parts, nonEmpty(p.Text)...)
		}
		out = append(out, nonEmpty(strings.Join(parts, " "))...)
	}
	return out
}

// nonEmpty is s trimmed, as a one-element list, or nothing when blank.
func nonEmpty(s string) []string {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return []string{s}
}

// Quote is what a callback says about the message it quotes.
type Quote struct {
	// MsgID is the quoted message's ID: repliedMsg.msgId, else the
	// callback's originalMsgId.
	MsgID string
	// SenderID is repliedMsg.senderId; empty when DingTalk did not say.
	SenderID string
	// BotID is the callback's chatbotUserId, the bot's own sender ID.
	BotID string
	// MsgType is repliedMsg.msgType.
	MsgType string
	// CreatedAt is when the quoted message was sent; zero when DingTalk did
	// not say.
	CreatedAt time.Time
	// ProcessQueryKey is originalProcessQueryKey: the key of a quoted card
	// (its carrierId); empty for other messages.
	ProcessQueryKey string
	// Texts are the words of the quoted message (RepliedMsg.Texts).
	Texts []string
}

// ByBot reports whether the quoted message is the bot's: true or false when
// the callback names both the quoted message's sender and the bot, and known
// false when it does not name both.
func (q Quote) ByBot() (byBot, known bool) {
	if q.SenderID == "" || q.BotID == "" {
		return false, false
	}
	return q.SenderID == q.BotID, true
}

// Quote returns the message cb quotes, and false when it quotes none. A
// callback quotes a message when text.isReplyMsg is true or it carries
// text.repliedMsg, originalMsgId or originalProcessQueryKey.
func (cb *Callback) Quote() (Quote, bool) {
	r := cb.Text.RepliedMsg
	if !cb.Text.IsReplyMsg && r == nil && cb.OriginalMsgID == "" && cb.OriginalProcessQueryKey == "" {
		return Quote{}, false
	}
	q := Quote{MsgID: cb.OriginalMsgID, BotID: cb.ChatbotUserID, ProcessQueryKey: cb.OriginalProcessQueryKey}
	if r != nil {
		if r.MsgID != "" {
			q.MsgID = r.MsgID
		}
		q.SenderID, q.MsgType, q.Texts = r.SenderID, r.MsgType, r.Texts()
		if r.CreatedAt > 0 {
			q.CreatedAt = time.UnixMilli(r.CreatedAt)
		}
	}
	return q, true
}

// looseString is raw as a string: a JSON string as it is, a number as
// written, anything else "".
func looseString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// looseBool is raw as a bool: true, or the string "true" in any case.
func looseBool(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	return strings.EqualFold(looseString(raw), "true")
}

// looseMillis is raw as positive epoch milliseconds: a whole number, or a
// string holding one; 0 for anything else.
func looseMillis(raw json.RawMessage) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(looseString(raw)), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
