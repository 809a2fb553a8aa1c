// Package store holds what every message store shares: the Ledger of
// messages the bot sent and may still recall, the Deduper of callback
// message IDs, the Audit log and the short-lived States, their types,
// their sentinel errors and a few backend-neutral helpers. The backends are
// packages of their own: store/memory (in process), store/bolt (one node,
// durable in a local database: STORE_FILE) and store/redis (shared by
// replicas). store/file keeps the JSON format of earlier STORE_FILEs,
// which store/bolt migrates.
//
// Every implementation must pass the conformance suite in package
// store/storetest. Time decisions (TTL expiry, claim leases) are taken from
// an injected clock so the suite is deterministic; backing stores use their
// own expiry only to reclaim space, a grace period after the ledger already
// treats an entry as gone.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kind is the kind of chat a message was sent to.
type Kind string

// The chat kinds the bot sends to.
const (
	// KindGroup is a group chat (groupMessages/send).
	KindGroup Kind = "group"
	// KindPrivate is a private chat between people that the bot is in
	// (privateChatMessages/send).
	KindPrivate Kind = "private"
	// KindOTO is the one-to-one chat of the bot with one person
	// (oToMessages/batchSend); its chat ID is the person's staff ID.
	KindOTO Kind = "oto"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindGroup, KindPrivate, KindOTO:
		return true
	}
	return false
}

// Defaults of a ledger's limits (LEDGER_TTL, LEDGER_PER_CHAT and the claim
// lease).
const (
	// DefaultTTL is how long a sent message stays recallable.
	DefaultTTL = 24 * time.Hour
	// DefaultPerChat is the most messages tracked per chat.
	DefaultPerChat = 1000
	// DefaultLease is how long a claim holds before it lapses on its own,
	// unless its holder renews it (Ledger.Renew): short, so that the claims
	// of a holder that died free its messages soon.
	DefaultLease = 30 * time.Second
)

// Message is one tracked message.
type Message struct {
	// Key is DingTalk's processQueryKey of the sent message.
	Key string
	// Kind is the kind of chat it was sent to.
	Kind Kind
	// ChatID is the openConversationId, or the user's staff ID for KindOTO.
	ChatID string
	// RobotCode is the robot that sent it.
	RobotCode string
	// MsgKey is the message template key, e.g. sampleText.
	MsgKey string
	// MsgParam is the content (a JSON string), kept for audit and restore.
	MsgParam string
	// Tag is an optional correlation label for recall by tag.
	Tag string
	// SentAt is when the message was sent.
	SentAt time.Time
	// Reply is true for a command reply of the bot itself.
	Reply bool
	// ExpiresAt is zero unless the message has a TTL: the time it is due for
	// automatic recall.
	ExpiresAt time.Time
	// Failure is why the last recall of the message failed; zero if none.
	Failure Failure
	// Bot names the bot (DingTalk app) that sent the message, as a
	// store/scoped view sets it on what it returns; backends neither keep
	// nor read it (a view derives it from the stored chat ID).
	Bot string `json:"bot,omitempty"`
	// Claim identifies the claim TakeNewest or Claim just took on the
	// message; Fail and Release take it back. It is empty otherwise and is
	// never stored.
	Claim string `json:"-"`
	// Lapsed is set by the ledger, on a message it returns, when a claim
	// on it lapsed without Remove, Fail or Release: its holder may have
	// died mid-recall, so the message may already be recalled, and should
	// be checked with DingTalk before it is recalled again. It stays set
	// (also while a new claim holds the message) until Remove, Fail,
	// Release or Record. Callers need not set it: Record ignores it.
	Lapsed bool `json:"-"`
}

// minTime and maxTime bound the times a ledger accepts: those representable
// as Unix nanoseconds.
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// Validate reports why m cannot be recorded, as an error wrapping ErrInvalid,
// or nil when it can.
func (m Message) Validate() error {
	switch {
	case m.Key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case m.ChatID == "":
		return fmt.Errorf("%w: message %q: empty chat id", ErrInvalid, m.Key)
	case !m.Kind.Valid():
		return fmt.Errorf("%w: message %q: unknown chat kind %q", ErrInvalid, m.Key, m.Kind)
	case m.SentAt.IsZero():
		return fmt.Errorf("%w: message %q: zero sent time", ErrInvalid, m.Key)
	case m.SentAt.Before(minTime) || m.SentAt.After(maxTime):
		return fmt.Errorf("%w: message %q: sent time out of range", ErrInvalid, m.Key)
	case !m.ExpiresAt.IsZero() && (m.ExpiresAt.Before(minTime) || m.ExpiresAt.After(maxTime)):
		return fmt.Errorf("%w: message %q: expiry time out of range", ErrInvalid, m.Key)
	}
	return nil
}

// Failure is why a message was not recalled (or not re-sent): DingTalk's
// error code when it gave one (or one of dingrecall's own codes, such as
// "dingrecall.notTracked"), and the message that goes with it. Replies and
// retries decide by Code; Message is for people.
type Failure struct {
	// Code is the machine-readable reason; empty when DingTalk gave only
	// words.
	Code string `json:"code,omitempty"`
	// Message says what happened, in DingTalk's (or dingrecall's) words.
	Message string `json:"message,omitempty"`
}

// IsZero reports whether f records no failure.
func (f Failure) IsZero() bool { return f.Code == "" && f.Message == "" }

// String is "code: message", or whichever of the two is set.
func (f Failure) String() string {
	switch {
	case f.Code != "" && f.Message != "":
		return f.Code + ": " + f.Message
	case f.Code != "":
		return f.Code
	}
	return f.Message
}

// UnmarshalJSON reads a failure object, or a plain string as written by
// versions that kept only the words (its Message).
func (f *Failure) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*f = Failure{}
		return json.Unmarshal(b, &f.Message)
	}
	type plain Failure
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*f = Failure(p)
	return nil
}

// Chat summarises one chat with tracked messages.
type Chat struct {
	// ID is the chat ID as in Message.ChatID.
	ID string
	// Kind is the kind of the chat.
	Kind Kind
	// Title is the chat's title if known, else empty.
	Title string
	// Count is the number of tracked messages, replies included.
	Count int
	// Bot names the bot whose chat this is, as a store/scoped view sets it
	// on what it returns; backends leave it empty.
	Bot string `json:"bot,omitempty"`
}

// Sentinel errors of the store; implementations wrap them, callers test them
// with errors.Is.
var (
	// ErrNotFound means the message or chat is not (or no longer) tracked.
	ErrNotFound = errors.New("store: not found")
	// ErrAmbiguous means several chats share the title looked for.
	ErrAmbiguous = errors.New("store: ambiguous chat title")
	// ErrInvalid means an argument cannot be stored, such as a message
	// without key.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrUnavailable means the store could not be reached or could not
	// serve the call (a shared store that is down or slow); the same call
	// may succeed later. The memory store never fails so; store/redis
	// marks every failed call to Redis with it.
	ErrUnavailable = errors.New("store: unavailable")
)

// Ledger is the record of the messages the bot sent and may still recall.
//
// A message is tracked from Record until it is removed, dropped as the
// oldest of a full chat, or its SentAt is TTL old. Recalling goes in two
// steps so that replicas never recall one message twice: a recaller claims
// messages (TakeNewest or Claim) and then removes those it recalled (Remove)
// and marks those it could not (Fail), or gives them back (Release). A
// claimed message is invisible to Newest, TakeNewest, Claim, ByTag and Due
// until then, or until its claim lease lapses; a holder that works longer
// than a lease renews it (Renew). A message whose claim lapsed is flagged
// Lapsed when it is next returned, so that its state is checked before it
// is recalled again. Sends are written ahead as reservations (Reserve,
// then Commit or Drop). All methods are safe for concurrent use.
type Ledger interface {
	// Record tracks m. It fails with ErrInvalid unless m.Validate passes.
	// Recording a key already tracked replaces that message (and drops its
	// claim and failure).
	Record(ctx context.Context, m Message) error
	// Get returns the tracked message with the key, or an error wrapping
	// ErrNotFound when it is not tracked or has expired.
	Get(ctx context.Context, key string) (Message, error)
	// List returns the tracked messages of a chat, replies and claimed ones
	// included, newest first; at most limit of them, or all when limit <= 0.
	List(ctx context.Context, chatID string, limit int) ([]Message, error)
	// Newest returns the newest n messages of a chat that are neither
	// replies nor claimed, newest first, without claiming them (for dry runs
	// and previews).
	Newest(ctx context.Context, chatID string, n int) ([]Message, error)
	// TakeNewest atomically selects what Newest would return and claims it.
	TakeNewest(ctx context.Context, chatID string, n int) ([]Message, error)
	// Claim atomically claims those of the keys that are tracked and
	// unclaimed, and returns them in the order given; the others are left
	// out.
	Claim(ctx context.Context, keys []string) ([]Message, error)
	// Remove forgets the keys (they were recalled); keys not tracked are
	// ignored.
	Remove(ctx context.Context, keys ...string) error
	// Fail sets the failure of each key and releases its claim; the
	// message stays tracked and may be recalled again. Keys not tracked are
	// ignored, and so are keys whose claim is no longer claim (Message.Claim
	// as TakeNewest or Claim returned it): a holder whose lease lapsed must
	// not free a newer holder's claim. An empty claim acts on any.
	Fail(ctx context.Context, claim string, failures map[string]Failure) error
	// Release releases the claims on the keys that claim holds (any, when
	// empty) and changes nothing else.
	Release(ctx context.Context, claim string, keys ...string) error
	// ByTag returns the unclaimed messages that are not replies and carry
	// the tag, across all chats, newest first. An empty tag matches nothing.
	ByTag(ctx context.Context, tag string) ([]Message, error)
	// Due returns the unclaimed messages with a non-zero ExpiresAt at or
	// before now, the earliest due first; at most limit, or all when
	// limit <= 0. It claims nothing: the auto-recall worker claims them.
	Due(ctx context.Context, now time.Time, limit int) ([]Message, error)
	// SetTitle remembers the title of a chat (learnt from callbacks); an
	// empty title forgets it.
	SetTitle(ctx context.Context, chatID string, kind Kind, title string) error
	// Chats returns the chats with at least one tracked message, the most
	// recently active (newest tracked message) first.
	Chats(ctx context.Context) ([]Chat, error)
	// FindChat returns the known chat (with tracked messages or a title)
	// whose ID is idOrTitle, else the one whose title equals it ignoring
	// case. It fails with ErrNotFound when there is none and ErrAmbiguous
	// when several chats share the title.
	FindChat(ctx context.Context, idOrTitle string) (Chat, error)
	// Ping reports whether the ledger can serve requests (readiness).
	Ping(ctx context.Context) error

	// TakeNewestWithInFlight is what `recall N` asks: among the newest n
	// messages of a chat that are not replies, claimed or not, it
	// atomically claims those that are free (unclaimed, or whose claim
	// lapsed: those come back with Lapsed set) and returns them as taken,
	// and returns those another live claim holds as inFlight (another
	// request is taking them right now), each newest first. Together they
	// are at most n; inFlight messages carry no Claim.
	TakeNewestWithInFlight(ctx context.Context, chatID string, n int) (taken, inFlight []Message, err error)
	// NewestWithInFlight returns what TakeNewestWithInFlight would, without
	// claiming anything (for dry runs and previews).
	NewestWithInFlight(ctx context.Context, chatID string, n int) (free, inFlight []Message, err error)
	// Renew extends, to a full lease from now, the claims on the keys that
	// claim (Message.Claim) still holds with a lease that has not lapsed;
	// other keys are ignored. A holder renews while it works, so that a
	// long recall never outlives its lease. It fails with ErrInvalid for an
	// empty claim.
	Renew(ctx context.Context, claim string, keys ...string) error

	// Reserve writes r ahead of its send; see Reservation. It fails with
	// ErrInvalid unless r.Validate passes; a zero r.ReservedAt is set to
	// the ledger's clock. Reserving an ID again replaces the reservation.
	// A reservation is kept until Commit or Drop, or until it is TTL old
	// (the message it stands for would have expired by then).
	Reserve(ctx context.Context, r Reservation) error
	// Commit atomically drops the reservation and records m, as Record
	// does. m is recorded even when the reservation is gone (dropped by a
	// settler, or expired): the send happened. It fails with ErrInvalid,
	// and changes nothing, unless m.Validate passes and id is not empty.
	Commit(ctx context.Context, id string, m Message) error
	// Drop forgets the reservation (its send failed, or a settler is done
	// with it); an unknown id is ignored.
	Drop(ctx context.Context, id string) error
	// Pending returns the reservations made before olderThan that no
	// settler holds, oldest first; at most limit, or all when limit <= 0.
	// Those are sends in flight or, when old enough, leftovers of a holder
	// that crashed between Reserve and Commit or Drop.
	Pending(ctx context.Context, olderThan time.Time, limit int) ([]Reservation, error)
	// SettlePending takes the reservation for settlement: of concurrent
	// callers, on any replica, exactly one gets it with ok true. It stays
	// stored but hidden from Pending for one claim lease, in which the
	// settler ends it with Commit or Drop; a settler that dies leaves it
	// to reappear in Pending. ok is false when the reservation is unknown
	// or another settler holds it.
	SettlePending(ctx context.Context, id string) (r Reservation, ok bool, err error)
}

// Deduper remembers IDs (callback msgIds) for a while.
type Deduper interface {
	// FirstSeen reports whether id was not seen within ttl before, and
	// records it. Of concurrent callers with one id exactly one gets true.
	FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error)
	// Forget drops id, so that its next FirstSeen is true again (for a
	// callback the app accepted but could not queue). Unknown ids are fine.
	Forget(ctx context.Context, id string) error
}
