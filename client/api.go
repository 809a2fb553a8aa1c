package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidArgument is wrapped by the error a method returns, without
// calling the server, when an argument cannot make a request (an empty
// conversation ID in a path, say). Everything else is left to the server to
// judge, which answers a 400 [*Error] naming the field.
var ErrInvalidArgument = errors.New("dingrecall client: invalid argument")

// ChatType is the kind of chat a message goes to.
type ChatType string

// The kinds of chat.
const (
	// ChatGroup is a group chat, named by its conversation ID (the default).
	ChatGroup ChatType = "group"
	// ChatPrivate is a private chat through a cool app, named by its
	// conversation ID; the server needs DINGTALK_COOL_APP_CODE.
	ChatPrivate ChatType = "private"
	// ChatOTO is a one-to-one chat with a person, named by their staff ID.
	ChatOTO ChatType = "oto"
)

// Message is what [Client.Send] posts. Give ConversationID (a group or
// private chat) or, with ChatType [ChatOTO], UserID; and exactly one form of
// content: Text, Markdown, or MsgKey with MsgParam.
type Message struct {
	// ConversationID is the chat of a group or private message.
	ConversationID string
	// UserID is the staff ID of a one-to-one message.
	UserID string
	// ChatType is the kind of chat; empty means [ChatGroup].
	ChatType ChatType
	// Text is a plain text message.
	Text string
	// Markdown is a markdown message.
	Markdown *Markdown
	// MsgKey and MsgParam are a raw DingTalk message: its msgKey (such as
	// "sampleActionCard") and its msgParam, a JSON object as text.
	MsgKey   string
	MsgParam string
	// Tag is a label to recall the message by later (see [Tag]).
	Tag string
	// TTL, when above 0, makes the server recall the message by itself
	// once it has passed (under 24h, and under the server's LEDGER_TTL).
	TTL time.Duration
	// Bot names the bot that sends it (one of the server's BOTS_FILE bots,
	// or "default"); empty means the client's ([WithBot]), or else the
	// server's default bot. A name the server does not know is a 400 with
	// Field "bot".
	Bot string
}

// Markdown is a markdown message: a title (shown in notifications) and the
// markdown text.
type Markdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// sendBody is the JSON of POST /api/v1/messages.
type sendBody struct {
	ConversationID string    `json:"conversationId,omitempty"`
	ChatType       ChatType  `json:"chatType,omitempty"`
	UserID         string    `json:"userId,omitempty"`
	Text           *string   `json:"text,omitempty"`
	Markdown       *Markdown `json:"markdown,omitempty"`
	MsgKey         string    `json:"msgKey,omitempty"`
	MsgParam       string    `json:"msgParam,omitempty"`
	Tag            string    `json:"tag,omitempty"`
	TTL            string    `json:"ttl,omitempty"`
	Bot            string    `json:"bot,omitempty"`
}

// Sent is the answer to a send: the key dingrecall recorded the message
// under, and when it went out.
type Sent struct {
	// ProcessQueryKey is DingTalk's key of the message, the one to recall
	// it by.
	ProcessQueryKey string `json:"processQueryKey"`
	// ConversationID is the chat (the staff ID for a one-to-one message).
	ConversationID string `json:"conversationId"`
	// SentAt is when it was sent.
	SentAt time.Time `json:"sentAt"`
	// ExpiresAt is when the server recalls it by itself (Message.TTL);
	// zero without a TTL.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Bot is the bot that sent it ("default" for the server's default
	// bot); empty from a server that predates several bots.
	Bot string `json:"bot,omitempty"`
}

// Send posts m through dingrecall, which records its key (POST
// /api/v1/messages). The server refuses a message it just sent to the same
// chat (409, [CodeDuplicate], with the first key in
// [Error.ProcessQueryKey]) and too many to one chat a minute (429,
// [CodeBurst]). When DingTalk refuses the bot's calls for the month or has
// banned the server's address for a while, the error is [ErrQuotaExhausted]
// or [ErrIPBanned] (503).
func (c *Client) Send(ctx context.Context, m Message) (*Sent, error) {
	body := sendBody{
		ConversationID: m.ConversationID, ChatType: m.ChatType, UserID: m.UserID,
		Markdown: m.Markdown, MsgKey: m.MsgKey, MsgParam: m.MsgParam, Tag: m.Tag,
		Bot: c.botOr(m.Bot),
	}
	if m.Text != "" {
		body.Text = &m.Text
	}
	if m.TTL != 0 {
		body.TTL = m.TTL.String()
	}
	var out Sent
	if err := c.do(ctx, http.MethodPost, "/api/v1/messages", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Selection says which messages a recall takes: exactly one of Last, Keys,
// Tag and Since. Last, Keys and Since need ConversationID (or UserID for a
// one-to-one chat); Tag without either means every chat. [Last], [Keys],
// [Tag] and [Since] build the common ones.
type Selection struct {
	// ConversationID is the chat to recall in.
	ConversationID string
	// UserID is the staff ID of a one-to-one chat to recall in, instead of
	// ConversationID.
	UserID string
	// Last takes the newest Last messages, skipping the bot's command
	// replies.
	Last int
	// Keys takes these processQueryKeys.
	Keys []string
	// Tag takes the messages sent with this tag.
	Tag string
	// Since takes what was sent in the last Since (1s to 24h).
	Since time.Duration
	// Bot names the bot whose messages are taken and which recalls them;
	// empty means the client's ([WithBot]), or else the server's default
	// bot. A bot never takes another bot's messages.
	Bot string
}

// Last selects the newest n messages of a chat.
func Last(conversationID string, n int) Selection {
	return Selection{ConversationID: conversationID, Last: n}
}

// Keys selects messages of a chat by their processQueryKeys.
func Keys(conversationID string, keys ...string) Selection {
	return Selection{ConversationID: conversationID, Keys: keys}
}

// Tag selects the messages sent with tag, in every chat.
func Tag(tag string) Selection {
	return Selection{Tag: tag}
}

// Since selects what was sent to a chat in the last d.
func Since(conversationID string, d time.Duration) Selection {
	return Selection{ConversationID: conversationID, Since: d}
}

// recallBody is the JSON of POST /api/v1/recall.
type recallBody struct {
	ConversationID string   `json:"conversationId,omitempty"`
	UserID         string   `json:"userId,omitempty"`
	Last           *int     `json:"last,omitempty"`
	Keys           []string `json:"keys,omitempty"`
	Tag            *string  `json:"tag,omitempty"`
	Since          string   `json:"since,omitempty"`
	DryRun         bool     `json:"dryRun,omitempty"`
	Bot            string   `json:"bot,omitempty"`
}

// body is the JSON of a recall of s.
func (s Selection) body(dryRun bool) recallBody {
	b := recallBody{ConversationID: s.ConversationID, UserID: s.UserID, Keys: s.Keys, DryRun: dryRun, Bot: s.Bot}
	if s.Last != 0 {
		b.Last = &s.Last
	}
	if s.Tag != "" {
		b.Tag = &s.Tag
	}
	if s.Since != 0 {
		b.Since = s.Since.String()
	}
	return b
}

// RecallResult is what a recall did. Every selected key is in exactly one
// of Recalled and Failed; a named key the server does not hold is in Failed
// only.
type RecallResult struct {
	// Selected are the keys the selection took, newest first.
	Selected []string `json:"selected"`
	// Recalled are the keys recalled; empty for a dry run.
	Recalled []string `json:"recalled"`
	// Failed maps each key that was not recalled to the reason, in words.
	Failed map[string]string `json:"failed"`
	// InFlight lists, for Last, those of the newest messages that another
	// request was recalling at that moment: not selected, not failed, on
	// their way out.
	InFlight []string `json:"inFlight"`
	// FailedCodes maps each failed key whose failure has a code (DingTalk's,
	// or the server's own such as "dingrecall.notTracked") to it: decide by
	// these, not by the words.
	FailedCodes map[string]string `json:"failedCodes"`
	// DryRun is true when nothing was recalled on purpose.
	DryRun bool `json:"dryRun"`
	// ResetsOn is set when a key failed for DingTalk's spent monthly API
	// quota (see FailedCodes): the day the quota starts again, as
	// "2006-01-02" (China time).
	ResetsOn string `json:"resetsOn,omitempty"`
}

// Complete reports whether nothing failed.
func (r *RecallResult) Complete() bool { return len(r.Failed) == 0 }

// Recall recalls the messages sel selects (POST /api/v1/recall) and reports
// what it recalled and why the rest failed. A recall takes at most the
// server's RECALL_MAX messages, the newest first; call again for the rest.
func (c *Client) Recall(ctx context.Context, sel Selection) (*RecallResult, error) {
	return c.recall(ctx, sel, false)
}

// DryRun answers which messages [Client.Recall] of sel would take, in
// Selected, and recalls nothing.
func (c *Client) DryRun(ctx context.Context, sel Selection) (*RecallResult, error) {
	return c.recall(ctx, sel, true)
}

// recall is Recall and DryRun.
func (c *Client) recall(ctx context.Context, sel Selection, dryRun bool) (*RecallResult, error) {
	var out RecallResult
	body := sel.body(dryRun)
	body.Bot = c.botOr(body.Bot)
	if err := c.do(ctx, http.MethodPost, "/api/v1/recall", nil, body, &out); err != nil {
		return nil, err
	}
	if out.Failed == nil {
		out.Failed = map[string]string{}
	}
	return &out, nil
}

// TrackedMessage is a message the server holds, one it may recall.
type TrackedMessage struct {
	// ProcessQueryKey is the key to recall it by.
	ProcessQueryKey string `json:"processQueryKey"`
	// ConversationID is its chat (the staff ID for a one-to-one message).
	ConversationID string `json:"conversationId"`
	// ChatType is the kind of chat.
	ChatType ChatType `json:"chatType"`
	// MsgKey and MsgParam are the message as DingTalk took it, such as
	// "sampleText" and {"content":"…"}.
	MsgKey   string `json:"msgKey"`
	MsgParam string `json:"msgParam"`
	// Tag is the tag it was sent with.
	Tag string `json:"tag"`
	// SentAt is when it was sent.
	SentAt time.Time `json:"sentAt"`
	// Reply is true for the bot's replies to chat commands.
	Reply bool `json:"reply"`
	// ExpiresAt is when the server recalls it by itself; zero without a TTL.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Failure is why its last recall failed, if one did, in words;
	// FailureCode is its code, when it has one.
	Failure     string `json:"failure"`
	FailureCode string `json:"failureCode"`
	// Bot is the bot that sent it ("default" for the server's default
	// bot); empty from a server that predates several bots.
	Bot string `json:"bot,omitempty"`
}

// Messages lists what the server holds for a chat, newest first (GET
// /api/v1/conversations/{conversationId}/messages): at most limit, or all
// when limit is 0. For a one-to-one chat give the person's staff ID. With
// [WithBot] it lists that bot's messages only, else every bot's (each names
// its [TrackedMessage.Bot]).
func (c *Client) Messages(ctx context.Context, conversationID string, limit int) ([]TrackedMessage, error) {
	if conversationID == "" {
		return nil, fmt.Errorf("%w: Messages needs a conversation ID", ErrInvalidArgument)
	}
	query := url.Values{}
	if limit != 0 {
		query.Set("limit", strconv.Itoa(limit))
	}
	if c.bot != "" {
		query.Set("bot", c.bot)
	}
	var out struct {
		Messages []TrackedMessage `json:"messages"`
	}
	path := "/api/v1/conversations/" + escapeSegment(conversationID) + "/messages"
	if err := c.do(ctx, http.MethodGet, path, query, nil, &out); err != nil {
		return nil, err
	}
	if out.Messages == nil {
		out.Messages = []TrackedMessage{}
	}
	return out.Messages, nil
}

// escapeSegment escapes s as one path segment. Unlike url.PathEscape it
// escapes "+" too: DingTalk's conversation IDs are base64 and hold "+",
// which the server would read as a space.
func escapeSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
}

// AuditEntry is one recall or restore in the audit log.
type AuditEntry struct {
	// ID identifies the entry.
	ID string `json:"id"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Action is "recall" or "restore".
	Action string `json:"action"`
	// Source is who acted: "command" (a person in a chat), "api", "ttl" (a
	// message's TTL ran out) or "guard" (the burst guard).
	Source string `json:"source"`
	// StaffID and Nick are the person, for source "command".
	StaffID string `json:"staffId"`
	Nick    string `json:"nick"`
	// ConversationID is the chat the request named; empty for a tag
	// across chats.
	ConversationID string `json:"conversationId"`
	// Request is what was asked, such as "last 3" or "tag deploy-42".
	Request string `json:"request"`
	// Ref is, for a restore, the ID of the recall it undid.
	Ref string `json:"ref"`
	// Items are the messages, in the order they were handled.
	Items []AuditItem `json:"items"`
	// Bot is the bot that acted ("default" for the server's default bot);
	// empty from a server that predates several bots.
	Bot string `json:"bot,omitempty"`
}

// AuditItem is one message of an [AuditEntry].
type AuditItem struct {
	// ProcessQueryKey is the message's key.
	ProcessQueryKey string `json:"processQueryKey"`
	// ConversationID is its chat.
	ConversationID string `json:"conversationId"`
	// ChatType is the kind of chat.
	ChatType ChatType `json:"chatType"`
	// MsgKey and MsgParam are its content.
	MsgKey   string `json:"msgKey"`
	MsgParam string `json:"msgParam"`
	// Tag is the tag it was sent with.
	Tag string `json:"tag,omitempty"`
	// SentAt is when it was sent.
	SentAt time.Time `json:"sentAt"`
	// ExpiresAt is when its TTL was due; zero without one.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Result is "recalled", "failed", "too_old", "resent" or "not_sent".
	Result string `json:"result"`
	// Reason says why it failed or was not sent.
	Reason string `json:"reason,omitempty"`
	// NewKey is, for a restore, the key of the message sent again.
	NewKey string `json:"newKey,omitempty"`
}

// Audit reads the audit log, newest first (GET /api/v1/audit): the entries
// concerning conversationID, or every chat when it is empty; at most limit
// (1 to 1000), or the server's default of 50 when limit is 0. With
// [WithBot] it reads that bot's entries only, else every bot's (each names
// its [AuditEntry.Bot]).
func (c *Client) Audit(ctx context.Context, conversationID string, limit int) ([]AuditEntry, error) {
	query := url.Values{}
	if conversationID != "" {
		query.Set("conversationId", conversationID)
	}
	if limit != 0 {
		query.Set("limit", strconv.Itoa(limit))
	}
	if c.bot != "" {
		query.Set("bot", c.bot)
	}
	var out struct {
		Entries []AuditEntry `json:"entries"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/audit", query, nil, &out); err != nil {
		return nil, err
	}
	if out.Entries == nil {
		out.Entries = []AuditEntry{}
	}
	return out.Entries, nil
}
