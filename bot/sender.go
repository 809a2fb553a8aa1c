package bot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
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
	StatusGroup(ctx context.Context, conversationID, key string, opts ...dingtalk.StatusOption) (dingtalk.Status, error)
	StatusPrivate(ctx context.Context, conversationID, key string, opts ...dingtalk.StatusOption) (dingtalk.Status, error)
	StatusOTO(ctx context.Context, key string, opts ...dingtalk.StatusOption) (dingtalk.Status, error)
}

var _ DingTalk = (*dingtalk.Client)(nil)

// ErrUntracked is returned, wrapped, when a message was sent but its key
// could not be recorded; the error names the key.
var ErrUntracked = errors.New("message sent but not tracked")

// ErrRecipient is returned, wrapped, when DingTalk did not deliver a
// one-to-one message: it does not know the staff ID, or throttled it.
var ErrRecipient = errors.New("DingTalk did not deliver to the recipient")

// ErrNoCoolApp is returned, wrapped, for a private-chat message when the
// bot has no cool app code (DINGTALK_COOL_APP_CODE, or coolAppCode in
// BOTS_FILE): DingTalk requires one.
var ErrNoCoolApp = errors.New("private chat messages need the bot's cool app code (DINGTALK_COOL_APP_CODE, or coolAppCode in BOTS_FILE)")

// ErrDingTalk is returned, wrapped together with the cause, when a send did
// not go through DingTalk; the cause is an *dingtalk.APIError or a context
// error.
var ErrDingTalk = errors.New("dingtalk send failed")

// ErrNotReserved is returned, wrapped together with the ledger's error,
// when the ledger could not take a send's reservation: nothing was sent,
// and the send may be tried again. A store that could not be reached also
// matches store.ErrUnavailable.
var ErrNotReserved = errors.New("the ledger could not reserve the send; nothing was sent")

// ErrOutcomeUnknown is returned, wrapped together with ErrDingTalk and the
// cause, when DingTalk may have posted a message without its answer
// arriving (a timeout, a broken connection or a 5xx after the request went
// out). Sending it again could post it twice; its reservation is kept, and
// settlement reports it to operators (RunSettler).
var ErrOutcomeUnknown = errors.New("DingTalk may have posted the message: its outcome is unknown")

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
	// Bot names the bot that sends it, for a Fleet; "" for DefaultBot (or
	// the only bot). A Bot itself ignores it.
	Bot string
}

// sender is the one path every message of the bot goes out by: it writes
// each send ahead in the ledger as a reservation, calls DingTalk, and turns
// the reservation into the tracked message (or drops it when the send
// failed).
type sender struct {
	dt          DingTalk
	ledger      store.Ledger
	coolAppCode string
	// holder names this process in its reservations, for operators.
	holder string
	now    func() time.Time
	log    logrus.FieldLogger
}

// send sends o and records it; coolAppCode, when set, goes with private
// chat and group messages. The send is reserved in the ledger before
// DingTalk is called: a ledger that cannot take the reservation means
// nothing is sent (an error wrapping ErrNotReserved). If DingTalk accepted
// the message but the ledger could not record it, send returns the message
// with an error wrapping ErrUntracked (the reservation stays, for
// settlement to report); if DingTalk's answer was lost, an error wrapping
// ErrOutcomeUnknown (the reservation stays too).
func (s *sender) send(ctx context.Context, o Outgoing) (store.Message, error) {
	if err := s.check(o); err != nil {
		return store.Message{}, err
	}
	r := store.Reservation{
		ID: store.NewReservationID(), Kind: o.Kind, ChatID: o.ChatID, RobotCode: s.dt.RobotCode(),
		MsgKey: o.Message.MsgKey, MsgParam: o.Message.MsgParam, Tag: o.Tag, Reply: o.Reply, TTL: max(o.TTL, 0),
		ReservedAt: s.now(), Holder: s.holder,
	}
	if err := s.ledger.Reserve(ctx, r); err != nil {
		return store.Message{}, fmt.Errorf("send to %s %s: %w: %w", o.Kind, o.ChatID, ErrNotReserved, err)
	}
	key, err := s.post(ctx, o)
	// From here on the ledger is written even if the caller has gone: what
	// DingTalk did must be recorded.
	ledgerCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerWriteTimeout)
	defer cancel()
	if err != nil {
		if outcomeUnknown(err) {
			s.log.WithFields(logrus.Fields{"chat": o.ChatID, "reservation": r.ID}).WithError(err).
				Error("DingTalk may have posted a message without answering: its reservation is kept for settlement")
			return store.Message{}, fmt.Errorf("send to %s %s: %w: %w: %w", o.Kind, o.ChatID, ErrOutcomeUnknown, ErrDingTalk, err)
		}
		if derr := s.ledger.Drop(ledgerCtx, r.ID); derr != nil {
			s.log.WithFields(logrus.Fields{"chat": o.ChatID, "reservation": r.ID}).WithError(derr).
				Warn("a send failed but its reservation could not be dropped: settlement will report it")
		}
		if errors.Is(err, dingtalk.ErrInvalidMessage) || errors.Is(err, ErrRecipient) {
			return store.Message{}, fmt.Errorf("send to %s %s: %w", o.Kind, o.ChatID, err)
		}
		return store.Message{}, fmt.Errorf("send to %s %s: %w: %w", o.Kind, o.ChatID, ErrDingTalk, err)
	}
	now := s.now()
	m := store.Message{
		Key: key, Kind: o.Kind, ChatID: o.ChatID, RobotCode: r.RobotCode,
		MsgKey: o.Message.MsgKey, MsgParam: o.Message.MsgParam, Tag: o.Tag,
		SentAt: now, Reply: o.Reply,
	}
	if o.TTL > 0 {
		m.ExpiresAt = now.Add(o.TTL)
	}
	if err := s.ledger.Commit(ledgerCtx, r.ID, m); err != nil {
		s.log.WithFields(logrus.Fields{"chat": o.ChatID, "key": key, "reservation": r.ID}).WithError(err).Error("sent a message but could not track it")
		return m, fmt.Errorf("%w: key %s: %w", ErrUntracked, key, err)
	}
	return m, nil
}

// ledgerWriteTimeout bounds the ledger writes that follow a call to
// DingTalk, which run even when the caller has gone.
const ledgerWriteTimeout = 10 * time.Second

// check refuses, before anything is reserved, what DingTalk would refuse
// anyway: an unknown chat kind, a missing chat, a bad message, and a
// private chat message without a cool app code.
func (s *sender) check(o Outgoing) error {
	switch {
	case !o.Kind.Valid():
		return fmt.Errorf("send: %w: unknown chat kind %q", dingtalk.ErrInvalidMessage, o.Kind)
	case strings.TrimSpace(o.ChatID) == "":
		return fmt.Errorf("send to %s: %w: no chat id", o.Kind, dingtalk.ErrInvalidMessage)
	case o.Kind == store.KindPrivate && s.coolAppCode == "":
		return fmt.Errorf("send to %s: %w", o.ChatID, ErrNoCoolApp)
	}
	if err := o.Message.Validate(); err != nil {
		return fmt.Errorf("send to %s %s: %w", o.Kind, o.ChatID, err)
	}
	return nil
}

// post calls DingTalk's send API of o's kind and returns the key.
func (s *sender) post(ctx context.Context, o Outgoing) (string, error) {
	var opts []dingtalk.SendOption
	if s.coolAppCode != "" {
		opts = append(opts, dingtalk.WithCoolAppCode(s.coolAppCode))
	}
	switch o.Kind {
	case store.KindGroup:
		return s.dt.SendGroup(ctx, o.ChatID, o.Message, opts...)
	case store.KindPrivate:
		return s.dt.SendPrivate(ctx, o.ChatID, o.Message, opts...)
	}
	res, err := s.dt.SendOTO(ctx, []string{o.ChatID}, o.Message)
	switch {
	case err != nil:
		return "", err
	case slices.Contains(res.InvalidStaffIDs, o.ChatID):
		return "", fmt.Errorf("%w: unknown staff id", ErrRecipient)
	case slices.Contains(res.FlowControlledStaffIDs, o.ChatID):
		return "", fmt.Errorf("%w: throttled by DingTalk, try later", ErrRecipient)
	}
	return res.ProcessQueryKey, nil
}

// sendPaths are DingTalk's send APIs: an error of any other call (the
// access token's) means the send was never made.
var sendPaths = []string{dingtalk.PathGroupSend, dingtalk.PathPrivateSend, dingtalk.PathOTOSend}

// outcomeUnknown reports whether a failed send may nevertheless have been
// posted: the send call went out and no definite answer came back — a
// timeout or broken connection after the request was made, a 5xx or
// system.error, or a 2xx answer without a readable key. A refusal (4xx,
// DingTalk's QPS limit), a connection that was never made, and failures
// before the call (the rate limiter, the access token, the caller's
// context) are definite: nothing was posted.
func outcomeUnknown(err error) bool {
	var apiErr *dingtalk.APIError
	if !errors.As(err, &apiErr) || !slices.Contains(sendPaths, apiErr.API) {
		return false
	}
	switch apiErr.Code {
	case dingtalk.CodeQPSLimitAppAndAPI, dingtalk.CodeQPSLimitAPI:
		return false
	case dingtalk.CodeTransport:
		var op *net.OpError
		return !errors.As(apiErr.Err, &op) || op.Op != "dial"
	case dingtalk.CodeSystemError, dingtalk.CodeBadResponse:
		return true
	}
	return apiErr.Status >= http.StatusInternalServerError
}
