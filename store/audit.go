package store

import (
	"context"
	"time"
)

// Audit actions and sources.
const (
	// ActionRecall is an entry of recalled messages.
	ActionRecall = "recall"
	// ActionRestore is an entry of re-sent messages.
	ActionRestore = "restore"
	// ActionSend is an entry of a message another tool posted through
	// dingrecall (the custom-robot webhook or the Alertmanager receiver).
	ActionSend = "send"

	// SourceCommand is a person's command in a chat.
	SourceCommand = "command"
	// SourceAPI is a call of the HTTP API.
	SourceAPI = "api"
	// SourceTTL is a message's ttl running out.
	SourceTTL = "ttl"
	// SourceGuard is the duplicate and burst guard.
	SourceGuard = "guard"
	// SourceAlertmanager is the Alertmanager receiver: it posted a
	// notification, a repeated notification replaced a group's message, or
	// its alerts resolved.
	SourceAlertmanager = "alertmanager"
	// SourceWebhook is the custom-robot-compatible webhook: a tool posted.
	SourceWebhook = "webhook"
	// SourceButton is a person tapping a card's button (Recall, or Confirm
	// on a preview card).
	SourceButton = "button"
)

// Results of an audited message.
const (
	// ResultRecalled means the message was recalled.
	ResultRecalled = "recalled"
	// ResultFailed means the recall failed; AuditItem.Reason says why.
	ResultFailed = "failed"
	// ResultTooOld means the message was too old to recall or restore.
	ResultTooOld = "too_old"
	// ResultResent means the message was restored (sent again).
	ResultResent = "resent"
	// ResultNotSent means the message could not be sent again.
	ResultNotSent = "not_sent"
	// ResultSent means the message was posted (ActionSend).
	ResultSent = "sent"
)

// DefaultAuditTTL is how long audit entries are kept (AUDIT_TTL).
const DefaultAuditTTL = 720 * time.Hour

// AuditEntry is one recall or restore as the audit log keeps it: who asked,
// where, and what happened to each message, with its content.
type AuditEntry struct {
	// ID identifies the entry; AddAudit assigns one when empty.
	ID string `json:"id"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Action is ActionRecall, ActionRestore or ActionSend.
	Action string `json:"action"`
	// Source is who acted: SourceCommand (a person in a chat), SourceButton
	// (a person tapping a card's button), SourceAPI, SourceTTL (a message's
	// ttl ran out), SourceGuard, SourceAlertmanager or SourceWebhook.
	Source string `json:"source"`
	// StaffID is the staff ID of the person who asked, for SourceCommand
	// and SourceButton.
	StaffID string `json:"staffId"`
	// Nick is the name of the person who asked, for SourceCommand (a
	// button's click does not carry it).
	Nick string `json:"nick"`
	// ChatID is the chat the request named (empty for a tag across chats).
	ChatID string `json:"conversationId"`
	// Request is what was asked, such as "recall 3" or "tag deploy-42".
	Request string `json:"request"`
	// Ref is, for a restore, the ID of the recall it undid.
	Ref string `json:"ref"`
	// Items are the messages, in the order they were handled.
	Items []AuditItem `json:"items"`
	// Bot names the bot (DingTalk app) that acted. A store/scoped view
	// stores it for every bot but the default one (so that an entry
	// without chats still has an owner) and sets it on what it returns;
	// empty in a stored entry means the default bot.
	Bot string `json:"bot,omitempty"`
}

// AuditItem is one message of an audit entry.
type AuditItem struct {
	// Key is the message's processQueryKey.
	Key string `json:"processQueryKey"`
	// ChatID is the chat the message was sent to.
	ChatID string `json:"conversationId"`
	// Kind is the kind of that chat.
	Kind Kind `json:"chatType"`
	// MsgKey is the message template key.
	MsgKey string `json:"msgKey"`
	// MsgParam is the message's content.
	MsgParam string `json:"msgParam"`
	// Tag is the message's correlation label, if any.
	Tag string `json:"tag,omitempty"`
	// SentAt is when the message was sent.
	SentAt time.Time `json:"sentAt"`
	// ExpiresAt is when a message with a ttl was due for automatic recall.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Result is ResultRecalled, ResultFailed, ResultTooOld, ResultResent
	// or ResultNotSent.
	Result string `json:"result"`
	// Code is the failure's code (store.Failure.Code) when it failed or was
	// not sent; Reason says why, in words.
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// NewKey is, for a restore, the key of the re-sent message.
	NewKey string `json:"newKey,omitempty"`
}

// Chats returns the chats the entry concerns: its ChatID and those of its
// items, without repeats.
func (e AuditEntry) Chats() []string {
	seen := make(map[string]bool)
	var out []string
	for _, id := range append([]string{e.ChatID}, itemChats(e.Items)...) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// itemChats lists the chat of each item.
func itemChats(items []AuditItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ChatID
	}
	return out
}

// Audit is the audit log of recalls and restores.
type Audit interface {
	// AddAudit appends an entry, kept for the audit TTL.
	AddAudit(ctx context.Context, e AuditEntry) error
	// AuditLog returns the entries concerning chatID (every entry when
	// chatID is empty), newest first; at most limit, or all when limit <= 0.
	AuditLog(ctx context.Context, chatID string, limit int) ([]AuditEntry, error)
}

// States holds short-lived values shared by replicas: pending confirmations,
// guard windows and the like. Values expire by the store's clock.
type States interface {
	// PutStateIfAbsent stores value under key for ttl unless key holds a
	// live value. It returns the value key holds after the call and whether
	// this call stored it; of concurrent callers at most one stores.
	PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error)
	// SetState stores value under key for ttl, replacing any value.
	SetState(ctx context.Context, key, value string, ttl time.Duration) error
	// TakeState returns the live value under key and deletes it, atomically:
	// of concurrent callers at most one gets it.
	TakeState(ctx context.Context, key string) (string, bool, error)
	// DeleteState forgets key.
	DeleteState(ctx context.Context, key string) error
	// CompareAndSwapState stores value under key for ttl only if the live
	// value of key is exactly old, where an absent (or expired) key reads
	// as "", and reports whether it did; atomically, so that of
	// concurrent callers with one old value exactly one swaps. It fails
	// with ErrInvalid for an empty key or a ttl that is not positive.
	CompareAndSwapState(ctx context.Context, key, old, value string, ttl time.Duration) (swapped bool, err error)
	// AddEvent records member as an event under key at the store's clock,
	// and returns the events of key within window after it, newest first.
	// Older events are forgotten.
	AddEvent(ctx context.Context, key, member string, window time.Duration) ([]Event, error)
	// Events returns the events of key within window, newest first.
	Events(ctx context.Context, key string, window time.Duration) ([]Event, error)
}

// Event is one recorded event of States: what and when.
type Event struct {
	// Member is what happened, as AddEvent was given it.
	Member string
	// At is when it was recorded, by the store's clock.
	At time.Time
}

// SendEntry is the audit entry of m, posted on behalf of another tool:
// source names the way in (SourceWebhook, SourceAlertmanager) and request
// the route it came through, such as "webhook grafana-prod".
func SendEntry(m Message, source, request string, at time.Time) AuditEntry {
	return AuditEntry{
		ID: NewAuditID(), At: at, Action: ActionSend, Source: source, ChatID: m.ChatID, Request: request, Bot: m.Bot,
		Items: []AuditItem{{Key: m.Key, ChatID: m.ChatID, Kind: m.Kind, MsgKey: m.MsgKey, MsgParam: m.MsgParam,
			Tag: m.Tag, SentAt: m.SentAt, ExpiresAt: m.ExpiresAt, Result: ResultSent}},
	}
}
