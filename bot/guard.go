package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// BurstWindow is the window the burst guard counts messages in.
const BurstWindow = time.Minute

// DuplicateError is returned when the duplicate guard refused a send: the
// same content went to the same chat within the window.
type DuplicateError struct {
	// Key is the processQueryKey of the first message ("" while that send is
	// still under way).
	Key string
}

// Error says what was refused.
func (e *DuplicateError) Error() string {
	return fmt.Sprintf("the same message went to this chat moments ago (key %q)", e.Key)
}

// BurstError is returned when the burst guard refused a send.
type BurstError struct {
	// RetryAfter is how long until the chat takes messages again.
	RetryAfter time.Duration
	// Limit is BURST_LIMIT.
	Limit int
}

// Error says what was refused.
func (e *BurstError) Error() string {
	return fmt.Sprintf("more than %d messages to this chat in one minute; retry in %v", e.Limit, e.RetryAfter)
}

// guard stands between API sends and the sender, against bot mistakes: the
// same message sent twice within DuplicateWindow, and a runaway bot sending
// a chat more than BurstLimit messages a minute. Its notice in the chat is
// recalled after ReplyTTL.
type guard struct {
	cfg      Config
	sender   *sender
	ledger   store.Ledger
	states   store.States
	recaller *recaller
	tpl      *templates.Set
	now      func() time.Time
	log      logrus.FieldLogger
}

// send sends o through the sender unless a guard refuses it with a
// *DuplicateError or a *BurstError.
func (g *guard) send(ctx context.Context, o Outgoing) (store.Message, error) {
	if err := g.checkBurst(ctx, o); err != nil {
		return store.Message{}, err
	}
	dupKey := ""
	if g.cfg.DuplicateWindow > 0 {
		sum := sha256.Sum256([]byte(string(o.Kind) + "\x00" + o.ChatID + "\x00" + o.Message.MsgKey + "\x00" + o.Message.MsgParam))
		dupKey = "dup:" + hex.EncodeToString(sum[:])
		if err := g.takeDuplicateSlot(ctx, dupKey); err != nil {
			return store.Message{}, err
		}
	}
	m, err := g.sender.send(ctx, o)
	if dupKey != "" && !errors.Is(err, ErrOutcomeUnknown) {
		// A send whose outcome is unknown keeps its slot: the message may
		// be out, and a retry within the window must not post it twice.
		g.settleDuplicate(ctx, dupKey, m.Key)
	}
	if err == nil || errors.Is(err, ErrUntracked) {
		g.afterSend(ctx, o, m.Key)
	}
	return m, err
}

// sendingSlot is the value of a duplicate slot while its send is under way
// (or its outcome is unknown): not empty, since CompareAndSwapState reads an
// absent slot as "".
const sendingSlot = "\x00sending"

// takeDuplicateSlot takes dupKey for this send, atomically among
// replicas, or fails with a *DuplicateError naming the first message. A
// first message that was recalled (or expired) meanwhile frees the slot:
// sending its content again is no duplicate, and of several senders doing
// so at once exactly one wins, by one compare-and-swap from that message's
// key.
func (g *guard) takeDuplicateSlot(ctx context.Context, dupKey string) error {
	first, stored, err := g.states.PutStateIfAbsent(ctx, dupKey, sendingSlot, g.cfg.DuplicateWindow)
	if err != nil {
		return fmt.Errorf("duplicate guard: %w", err)
	}
	if stored {
		return nil
	}
	if first == sendingSlot || first == "" {
		return &DuplicateError{} // its send is still under way, or its outcome unknown
	}
	if g.gone(ctx, first) {
		swapped, err := g.states.CompareAndSwapState(ctx, dupKey, first, sendingSlot, g.cfg.DuplicateWindow)
		if err != nil {
			return fmt.Errorf("duplicate guard: %w", err)
		}
		if swapped {
			return nil
		}
	}
	return &DuplicateError{Key: first}
}

// gone reports whether the first message of a duplicate was recalled (or
// expired) meanwhile: then sending the content again is no duplicate.
func (g *guard) gone(ctx context.Context, key string) bool {
	_, err := g.ledger.Get(ctx, key)
	return errors.Is(err, store.ErrNotFound)
}

// settleDuplicate records the key of the first message under dupKey (unless
// the slot is no longer this send's: it outlived the window), or forgets
// dupKey when the send failed, so that a retry may go through.
func (g *guard) settleDuplicate(ctx context.Context, dupKey, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerWriteTimeout)
	defer cancel()
	var err error
	if key == "" {
		err = g.states.DeleteState(ctx, dupKey)
	} else {
		_, err = g.states.CompareAndSwapState(ctx, dupKey, sendingSlot, key, g.cfg.DuplicateWindow)
	}
	if err != nil {
		g.log.WithError(err).Warn("duplicate guard: could not record a send")
	}
}

// burstKey names the send events of o's chat.
func burstKey(o Outgoing) string { return "sends:" + string(o.Kind) + ":" + o.ChatID }

// checkBurst refuses a send to a chat that took BurstLimit API sends in the
// last minute — counted as sends, so messages recalled or expired since
// still count — and posts one notice there when it starts refusing.
func (g *guard) checkBurst(ctx context.Context, o Outgoing) error {
	if g.cfg.BurstLimit <= 0 {
		return nil
	}
	recent, err := g.states.Events(ctx, burstKey(o), BurstWindow)
	if err != nil {
		return fmt.Errorf("burst guard: %w", err)
	}
	if len(recent) < g.cfg.BurstLimit {
		return nil
	}
	// Sending resumes when the oldest of the newest BurstLimit sends ages out.
	wait := recent[g.cfg.BurstLimit-1].At.Add(BurstWindow).Sub(g.now())
	wait = max(time.Second, wait.Round(time.Second))
	g.notice(ctx, o, wait, 0)
	return &BurstError{RetryAfter: wait, Limit: g.cfg.BurstLimit}
}

// afterSend counts the send, and enforces the limit after the fact: sends
// racing each other (or on other replicas) can all pass the check; with
// BurstAutoRecall the messages beyond the limit are recalled, the newest
// first.
func (g *guard) afterSend(ctx context.Context, o Outgoing, key string) {
	if g.cfg.BurstLimit <= 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	recent, err := g.states.AddEvent(ctx, burstKey(o), key, BurstWindow)
	if err != nil {
		g.log.WithError(err).Warn("burst guard: could not count a send")
		return
	}
	if !g.cfg.BurstAutoRecall || len(recent) <= g.cfg.BurstLimit {
		return
	}
	excess := make([]string, 0, len(recent)-g.cfg.BurstLimit)
	for _, e := range recent[:len(recent)-g.cfg.BurstLimit] {
		excess = append(excess, e.Member)
	}
	// Claim what is still tracked and free: excess messages that a racing
	// send's guard (or a person) already recalls are theirs, not failures.
	claimed, err := g.ledger.Claim(ctx, excess)
	if err != nil {
		g.log.WithError(err).Warn("burst guard: could not claim messages beyond the limit")
		return
	}
	if len(claimed) == 0 {
		return
	}
	out := g.recaller.recallClaimed(ctx, claimed,
		Actor{Source: store.SourceGuard, Request: fmt.Sprintf("burst guard: more than %d messages in a minute", g.cfg.BurstLimit)})
	if len(out.Recalled) > 0 {
		g.log.WithFields(logrus.Fields{"chat": o.ChatID, "recalled": len(out.Recalled)}).Warn("burst guard recalled messages beyond the limit")
		g.notice(ctx, o, BurstWindow, len(out.Recalled))
	}
}

// notice posts the guard's notice in the chat, once per minute.
func (g *guard) notice(ctx context.Context, o Outgoing, wait time.Duration, recalled int) {
	ctx = context.WithoutCancel(ctx)
	_, first, err := g.states.PutStateIfAbsent(ctx, "burst:"+string(o.Kind)+":"+o.ChatID, "1", BurstWindow)
	if err != nil || !first {
		return
	}
	text, err := g.tpl.Render(templates.BurstNotice, templates.BurstData{Limit: g.cfg.BurstLimit, RetryAfter: spanIn(g.tpl.Lang(), wait), Recalled: recalled > 0})
	if err != nil {
		g.log.WithError(err).Error("burst guard: could not render the notice")
		return
	}
	g.log.WithField("chat", o.ChatID).Warn("burst guard: pausing API sends to a chat")
	if _, err := g.sender.send(ctx, Outgoing{Kind: o.Kind, ChatID: o.ChatID, Message: dingtalk.Text(text), TTL: g.cfg.ReplyTTL, Reply: true}); err != nil {
		g.log.WithError(err).Warn("burst guard: could not post the notice")
	}
}
