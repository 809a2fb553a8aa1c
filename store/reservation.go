package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Reservation is a send the bot is about to make, written ahead of the
// call to DingTalk (Ledger.Reserve) so that no message is ever posted
// untracked: once DingTalk answers, the reservation becomes the tracked
// message (Ledger.Commit) or, when the send failed, is dropped
// (Ledger.Drop). A reservation that stays behind (its holder crashed
// between the two steps) is listed by Ledger.Pending for operators and
// settled once (Ledger.SettlePending). Reservations are not messages:
// List, Newest, TakeNewest, ByTag, Due and Chats never show them.
type Reservation struct {
	// ID identifies the reservation (NewReservationID).
	ID string `json:"id"`
	// Kind is the kind of chat the message goes to.
	Kind Kind `json:"kind"`
	// ChatID is the chat it goes to, as in Message.ChatID.
	ChatID string `json:"chatId"`
	// RobotCode is the robot that sends it.
	RobotCode string `json:"robotCode,omitempty"`
	// MsgKey is the message template key.
	MsgKey string `json:"msgKey,omitempty"`
	// MsgParam is the content, kept so that an operator can tell what a
	// leftover was.
	MsgParam string `json:"msgParam,omitempty"`
	// Tag is the message's correlation label, if any.
	Tag string `json:"tag,omitempty"`
	// Reply is true for a command reply of the bot itself.
	Reply bool `json:"reply,omitempty"`
	// TTL is the message's requested automatic recall delay, zero for
	// none; the committed message's ExpiresAt is its SentAt plus TTL.
	TTL time.Duration `json:"ttl,omitempty"`
	// ReservedAt is when the reservation was made; Reserve sets it to the
	// ledger's clock when zero.
	ReservedAt time.Time `json:"reservedAt"`
	// Holder names who reserved (a replica or process), for operators.
	Holder string `json:"holder,omitempty"`
	// Bot names the bot (DingTalk app) that sends it, as a store/scoped
	// view sets it on what it returns; the view derives it from the stored
	// chat ID and does not store it.
	Bot string `json:"bot,omitempty"`
}

// Validate reports why r cannot be reserved, as an error wrapping
// ErrInvalid, or nil when it can. A zero ReservedAt is valid (Reserve
// fills it in).
func (r Reservation) Validate() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: reservation: empty id", ErrInvalid)
	case r.ChatID == "":
		return fmt.Errorf("%w: reservation %q: empty chat id", ErrInvalid, r.ID)
	case !r.Kind.Valid():
		return fmt.Errorf("%w: reservation %q: unknown chat kind %q", ErrInvalid, r.ID, r.Kind)
	case r.TTL < 0:
		return fmt.Errorf("%w: reservation %q: negative ttl %v", ErrInvalid, r.ID, r.TTL)
	case !r.ReservedAt.IsZero() && (r.ReservedAt.Before(minTime) || r.ReservedAt.After(maxTime)):
		return fmt.Errorf("%w: reservation %q: reservation time out of range", ErrInvalid, r.ID)
	}
	return nil
}

// NewReservationID returns a random reservation ID.
func NewReservationID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
