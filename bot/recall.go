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

// ReasonNotTracked is the failure reason of a key asked for by name that the
// ledger does not hold for that chat (never sent through dingrecall, sent to
// another chat, expired, already recalled, or being recalled right now).
const ReasonNotTracked = "not tracked in this chat: unknown, in another chat, expired, already recalled or being recalled"

// Selection says which tracked messages a recall takes. Exactly one of Last,
// Keys and Tag is set.
type Selection struct {
	// ChatID limits the selection to one chat; Last and Keys need it.
	ChatID string
	// Last takes the chat's newest Last messages that are not replies.
	Last int
	// Keys takes exactly these keys.
	Keys []string
	// Tag takes the messages with the tag (in ChatID, or in every chat),
	// newest first.
	Tag string
	// Max, when positive, caps how many messages a Tag selection takes.
	Max int
}

// Outcome is what a recall did. Every selected key is in exactly one of
// Recalled and Failed (unless it was a dry run, which fills only Selected).
type Outcome struct {
	// Selected are the messages the selection chose, newest first.
	Selected []store.Message
	// Recalled lists the keys taken back; they have left the ledger.
	Recalled []string
	// Failed maps each key that was not taken back to its reason; tracked
	// ones stay in the ledger with it.
	Failed map[string]string
}

// Recaller is the recall engine: it selects and claims tracked messages,
// recalls them through DingTalk chat by chat, and applies the result to the
// ledger.
type Recaller struct {
	dt     DingTalk
	ledger store.Ledger
	log    logrus.FieldLogger
	obs    Observer
}

// NewRecaller builds the recall engine; obs (nil for none) is told of every
// recall's result.
func NewRecaller(dt DingTalk, ledger store.Ledger, log logrus.FieldLogger, obs Observer) *Recaller {
	if obs == nil {
		obs = nopObserver{}
	}
	return &Recaller{dt: dt, ledger: ledger, log: log, obs: obs}
}

// Preview returns what Recall would select, claiming nothing.
func (r *Recaller) Preview(ctx context.Context, sel Selection) ([]store.Message, error) {
	switch {
	case sel.Last > 0:
		return r.ledger.Newest(ctx, sel.ChatID, sel.Last)
	case len(sel.Keys) > 0:
		var out []store.Message
		for _, k := range sel.Keys {
			m, err := r.ledger.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) || (err == nil && sel.ChatID != "" && m.ChatID != sel.ChatID) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	case sel.Tag != "":
		return r.byTag(ctx, sel)
	}
	return nil, nil
}

// byTag lists the messages with sel.Tag, in sel.ChatID when set.
func (r *Recaller) byTag(ctx context.Context, sel Selection) ([]store.Message, error) {
	all, err := r.ledger.ByTag(ctx, sel.Tag)
	if err != nil {
		return nil, err
	}
	var out []store.Message
	for _, m := range all {
		if sel.ChatID == "" || m.ChatID == sel.ChatID {
			out = append(out, m)
		}
		if sel.Max > 0 && len(out) == sel.Max {
			break
		}
	}
	return out, nil
}

// Recall claims the selected messages, recalls them and applies the result:
// recalled keys leave the ledger, failed ones stay with their reason. Keys
// named in sel.Keys that the ledger does not hold are reported as failed
// with ReasonNotTracked. An error means the ledger could not be read and
// nothing was recalled.
func (r *Recaller) Recall(ctx context.Context, sel Selection) (Outcome, error) {
	var claimed []store.Message
	var err error
	switch {
	case sel.Last > 0:
		claimed, err = r.ledger.TakeNewest(ctx, sel.ChatID, sel.Last)
	case len(sel.Keys) > 0:
		claimed, err = r.claimKeys(ctx, sel)
	case sel.Tag != "":
		var tagged []store.Message
		if tagged, err = r.byTag(ctx, sel); err == nil {
			claimed, err = r.ledger.Claim(ctx, keysOf(tagged))
		}
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("select messages: %w", err)
	}
	out := r.RecallClaimed(ctx, claimed)
	for _, k := range sel.Keys {
		if _, ok := out.Failed[k]; !ok && !slices.Contains(out.Recalled, k) {
			out.Failed[k] = ReasonNotTracked
		}
	}
	return out, nil
}

// claimKeys claims sel.Keys and gives back any that belong to another chat.
func (r *Recaller) claimKeys(ctx context.Context, sel Selection) ([]store.Message, error) {
	claimed, err := r.ledger.Claim(ctx, sel.Keys)
	if err != nil || sel.ChatID == "" {
		return claimed, err
	}
	var mine []store.Message
	var foreign []string
	for _, m := range claimed {
		if m.ChatID == sel.ChatID {
			mine = append(mine, m)
		} else {
			foreign = append(foreign, m.Key)
		}
	}
	if len(foreign) > 0 {
		if err := r.ledger.Release(ctx, foreign...); err != nil {
			r.log.WithError(err).WithField("keys", foreign).Warn("could not release claims; they lapse with their lease")
		}
	}
	return mine, nil
}

// chatKey groups messages that one recall API call can take together: same
// chat, same robot (DingTalk recalls only with the robotCode a message was
// sent with).
type chatKey struct {
	kind   store.Kind
	chatID string
	robot  string
}

// RecallClaimed recalls messages the caller has claimed, chat by chat, and
// applies the result to the ledger. Claims are always settled: recalled keys
// are removed, the others failed with a reason.
func (r *Recaller) RecallClaimed(ctx context.Context, msgs []store.Message) Outcome {
	out := Outcome{Selected: msgs, Failed: make(map[string]string)}
	if len(msgs) == 0 {
		return out
	}
	var order []chatKey
	groups := make(map[chatKey][]string)
	for _, m := range msgs {
		ck := chatKey{m.Kind, m.ChatID, m.RobotCode}
		if _, ok := groups[ck]; !ok {
			order = append(order, ck)
		}
		groups[ck] = append(groups[ck], m.Key)
	}
	for _, ck := range order {
		res, err := r.recallChat(ctx, ck, groups[ck])
		if err != nil {
			for _, k := range groups[ck] {
				out.Failed[k] = err.Error()
			}
			continue
		}
		out.Recalled = append(out.Recalled, res.Recalled...)
		for k, reason := range res.Failed {
			out.Failed[k] = reason
		}
	}
	r.settle(ctx, out)
	r.obs.Recall(len(out.Recalled), len(out.Failed))
	return out
}

// recallChat recalls keys of one chat with the API of its kind.
func (r *Recaller) recallChat(ctx context.Context, ck chatKey, keys []string) (*dingtalk.RecallResult, error) {
	robot := dingtalk.AsRobot(ck.robot)
	switch ck.kind {
	case store.KindGroup:
		return r.dt.RecallGroup(ctx, ck.chatID, keys, robot)
	case store.KindPrivate:
		return r.dt.RecallPrivate(ctx, ck.chatID, keys, robot)
	case store.KindOTO:
		return r.dt.RecallOTO(ctx, keys, robot)
	}
	return nil, fmt.Errorf("unknown chat kind %q", ck.kind)
}

// settle writes a recall's result to the ledger, even if ctx has ended:
// DingTalk has already acted.
func (r *Recaller) settle(ctx context.Context, out Outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if len(out.Recalled) > 0 {
		if err := r.ledger.Remove(ctx, out.Recalled...); err != nil {
			r.log.WithError(err).WithField("keys", out.Recalled).Error("recalled messages but could not remove them from the ledger")
		}
	}
	if len(out.Failed) > 0 {
		if err := r.ledger.Fail(ctx, out.Failed); err != nil {
			r.log.WithError(err).WithField("keys", len(out.Failed)).Error("could not record recall failures in the ledger")
		}
	}
}

// keysOf lists the keys of msgs.
func keysOf(msgs []store.Message) []string {
	keys := make([]string, len(msgs))
	for i, m := range msgs {
		keys[i] = m.Key
	}
	return keys
}
