package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// DingTalk is what the bot needs of the DingTalk client: sends, recalls and
// the acknowledgement reactions; *dingtalk.Client has it.
type DingTalk interface {
	Reactor
	RobotCode() string
	SendGroup(ctx context.Context, conversationID string, m dingtalk.Message, opts ...dingtalk.SendOption) (string, error)
	SendPrivate(ctx context.Context, conversationID string, m dingtalk.Message, opts ...dingtalk.SendOption) (string, error)
	SendOTO(ctx context.Context, userIDs []string, m dingtalk.Message) (*dingtalk.OTOResult, error)
	RecallGroup(ctx context.Context, conversationID string, keys []string, opts ...dingtalk.RecallOption) (*dingtalk.RecallResult, error)
	RecallPrivate(ctx context.Context, conversationID string, keys []string, opts ...dingtalk.RecallOption) (*dingtalk.RecallResult, error)
	RecallOTO(ctx context.Context, keys []string, opts ...dingtalk.RecallOption) (*dingtalk.RecallResult, error)
}

var _ DingTalk = (*dingtalk.Client)(nil)

// ErrUntracked is returned, wrapped, when a message was sent but its key
// could not be recorded; the error names the key.
var ErrUntracked = errors.New("message sent but not tracked")

// ErrRecipient is returned, wrapped, when DingTalk did not deliver a
// one-to-one message: it does not know the staff ID, or throttled it.
var ErrRecipient = errors.New("DingTalk did not deliver to the recipient")

// ErrNoCoolApp is returned, wrapped, for a private-chat message when no cool
// app code (DINGTALK_COOL_APP_CODE) is configured: DingTalk requires one.
var ErrNoCoolApp = errors.New("private chat messages need DINGTALK_COOL_APP_CODE")

// ErrDingTalk is returned, wrapped together with the cause, when a send did
// not go through DingTalk; the cause is an *dingtalk.APIError or a context
// error.
var ErrDingTalk = errors.New("dingtalk send failed")

// Outgoing is one message to send.
type Outgoing struct {
	Kind    store.Kind
	ChatID  string // conversation ID, or staff ID for store.KindOTO
	Message dingtalk.Message
	Tag     string
	// TTL, when positive, has the message recalled automatically after it.
	TTL time.Duration
	// Reply marks the bot's own command replies, which recall N skips.
	Reply bool
}

// sender is the one path every message of the bot goes out by: it calls
// DingTalk and records the key in the ledger.
type sender struct {
	dt          DingTalk
	ledger      store.Ledger
	coolAppCode string
	now         func() time.Time
	log         logrus.FieldLogger
}

// send sends o and records it; coolAppCode, when set, goes with private
// chat and group messages. If DingTalk accepted the message but the ledger
// failed, it returns the message with an error wrapping ErrUntracked.
func (s *sender) send(ctx context.Context, o Outgoing) (store.Message, error) {
	var opts []dingtalk.SendOption
	if s.coolAppCode != "" {
		opts = append(opts, dingtalk.WithCoolAppCode(s.coolAppCode))
	}
	var key string
	var err error
	switch o.Kind {
	case store.KindGroup:
		key, err = s.dt.SendGroup(ctx, o.ChatID, o.Message, opts...)
	case store.KindPrivate:
		if s.coolAppCode == "" {
			return store.Message{}, fmt.Errorf("send to %s: %w", o.ChatID, ErrNoCoolApp)
		}
		key, err = s.dt.SendPrivate(ctx, o.ChatID, o.Message, opts...)
	case store.KindOTO:
		var res *dingtalk.OTOResult
		if res, err = s.dt.SendOTO(ctx, []string{o.ChatID}, o.Message); err == nil {
			switch {
			case slices.Contains(res.InvalidStaffIDs, o.ChatID):
				return store.Message{}, fmt.Errorf("send to %s: %w: unknown staff id", o.ChatID, ErrRecipient)
			case slices.Contains(res.FlowControlledStaffIDs, o.ChatID):
				return store.Message{}, fmt.Errorf("send to %s: %w: throttled by DingTalk, try later", o.ChatID, ErrRecipient)
			}
			key = res.ProcessQueryKey
		}
	default:
		return store.Message{}, fmt.Errorf("send: %w: unknown chat kind %q", dingtalk.ErrInvalidMessage, o.Kind)
	}
	if errors.Is(err, dingtalk.ErrInvalidMessage) {
		return store.Message{}, fmt.Errorf("send to %s %s: %w", o.Kind, o.ChatID, err)
	}
	if err != nil {
		return store.Message{}, fmt.Errorf("send to %s %s: %w: %w", o.Kind, o.ChatID, ErrDingTalk, err)
	}
	now := s.now()
	m := store.Message{
		Key: key, Kind: o.Kind, ChatID: o.ChatID, RobotCode: s.dt.RobotCode(),
		MsgKey: o.Message.MsgKey, MsgParam: o.Message.MsgParam, Tag: o.Tag,
		SentAt: now, Reply: o.Reply,
	}
	if o.TTL > 0 {
		m.ExpiresAt = now.Add(o.TTL)
	}
	// Record even if the caller has gone: the message is out there now.
	if err := s.ledger.Record(context.WithoutCancel(ctx), m); err != nil {
		s.log.WithFields(logrus.Fields{"chat": o.ChatID, "key": key}).WithError(err).Error("sent a message but could not track it")
		return m, fmt.Errorf("%w: key %s: %w", ErrUntracked, key, err)
	}
	return m, nil
}
