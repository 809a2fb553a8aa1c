package store

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the small helpers every backend shares, so that they
// behave alike without importing one another.

// NewClaimToken returns a random claim holder token, as a backend puts in
// Message.Claim of the messages TakeNewest or Claim claimed.
func NewClaimToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewAuditID returns a random ID, such as AddAudit gives an entry without
// one.
func NewAuditID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ActiveChat is a chat with the time of its newest tracked message, in
// whatever unit its backend keeps times, for ByActivity.
type ActiveChat[T int64 | float64] struct {
	Chat
	// Newest is the time of the chat's newest tracked message.
	Newest T
}

// ByActivity orders chats most recently active first (ties by ID), as
// Ledger.Chats returns them, and returns them without their times. It
// sorts all in place.
func ByActivity[T int64 | float64](all []ActiveChat[T]) []Chat {
	slices.SortFunc(all, func(a, b ActiveChat[T]) int {
		if c := cmp.Compare(b.Newest, a.Newest); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := make([]Chat, len(all))
	for i, a := range all {
		out[i] = a.Chat
	}
	return out
}

// CheckState reports why a States key and ttl (or event window) cannot be
// used, as an error wrapping ErrInvalid that starts with op, or nil when
// they can.
func CheckState(op, key string, ttl time.Duration) error {
	switch {
	case key == "":
		return fmt.Errorf("%s: %w: empty key", op, ErrInvalid)
	case ttl <= 0:
		return fmt.Errorf("%s %q: %w: ttl %v is not positive", op, key, ErrInvalid, ttl)
	}
	return nil
}
