package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// dingrecall's own failure codes, kept with the failure (store.Failure.Code)
// so that replies, retries and the audit log decide by code.
const (
	// CodeNotTracked: a key asked for by name that the ledger does not hold
	// for that chat.
	CodeNotTracked = "dingrecall.notTracked"
	// CodeTooOld: a message older than RECALL_MAX_AGE, not sent to DingTalk.
	CodeTooOld = "dingrecall.tooOld"
)

// notTracked is the failure of a key the ledger does not hold.
var notTracked = store.Failure{Code: CodeNotTracked, Message: ReasonNotTracked}

// failureOf is the failure an error stands for: a DingTalk API error's code
// and message, else the error's text.
func failureOf(err error) store.Failure {
	var apiErr *dingtalk.APIError
	if errors.As(err, &apiErr) {
		return store.Failure{Code: apiErr.Code, Message: apiErr.Message}
	}
	return store.Failure{Message: err.Error()}
}

// ReasonTooOld starts the failure reason of a message older than the recall
// age limit (RECALL_MAX_AGE): DingTalk would not recall it, so it is not
// sent there and leaves the ledger.
const ReasonTooOld = "too old"

// tooOldReason is the failure reason of a message older than the recall
// age limit of this recaller.
func (r *recaller) tooOldReason() string {
	return ReasonTooOld + ": sent more than " + span(r.maxAge) + " ago (RECALL_MAX_AGE); DingTalk recalls only within 24 hours"
}

// Selection says which tracked messages a recall takes. Exactly one of Last,
// Keys, Tag and Since is set.
type Selection struct {
	// ChatID limits the selection to one chat; Last, Keys and Since need it.
	ChatID string
	// Last takes the chat's newest Last messages that are not replies.
	Last int
	// Keys takes exactly these keys.
	Keys []string
	// Tag takes the messages with the tag (in ChatID, or in every chat),
	// newest first.
	Tag string
	// Since takes the chat's messages (not replies) sent within this long.
	Since time.Duration
	// Max, when positive, caps how many messages a Tag or Since selection
	// takes, the newest first.
	Max int
}

// Actor is who asked for a recall, for the audit log.
type Actor struct {
	// Source is store.SourceCommand, SourceAPI, SourceTTL or SourceGuard.
	Source string
	// StaffID and Nick are the person, for a command.
	StaffID, Nick string
	// Request is what was asked, such as "recall 3".
	Request string
	// Reason is why, when the person said ("recall 3 wrong env"); a
	// tombstone shows it.
	Reason string
	// Retry marks a retry of recalls that failed before: it is audited only
	// when it recalls something.
	Retry bool
}

// Outcome is what a recall did. Every selected key is in exactly one of
// Recalled, Failed and TooOld (unless it was a dry run, which fills only
// Selected).
type Outcome struct {
	// Selected are the messages the selection chose, newest first.
	Selected []store.Message
	// Recalled lists the keys taken back; they have left the ledger.
	Recalled []string
	// Failed maps each key that was not taken back to why; tracked ones
	// stay in the ledger with it.
	Failed map[string]store.Failure
	// AlreadyGone are the keys of Recalled that DingTalk said had been
	// recalled before this request (by one whose outcome was lost): they
	// left the chat earlier and leave the ledger now.
	AlreadyGone []string
	// TooOld are the selected messages older than the age limit, which were
	// not sent to DingTalk and have left the ledger.
	TooOld []store.Message
	// Tombstoned are the keys of Recalled whose cards were replaced by
	// their tombstone (RECALL_MODE=tombstone) rather than removed.
	Tombstoned []string
	// AuditID is the audit entry of the recall, empty when it was not
	// audited (a retry that recalled nothing, replies only) or writing failed.
	AuditID string
}

// recaller is the recall engine: it selects and claims tracked messages,
// recalls them through DingTalk chat by chat, applies the result to the
// ledger and writes the audit log.
type recaller struct {
	dt     DingTalk
	ledger store.Ledger
	audit  store.Audit
	obs    Observer
	// maxAge is the age past which a message is not sent to DingTalk
	// (RECALL_MAX_AGE).
	maxAge time.Duration
	now    func() time.Time
	log    logrus.FieldLogger
	// cards, when set, turns cards into tombstones in RECALL_MODE=tombstone
	// (tombstone, in card_tombstone.go).
	cards *cardBook
}

// preview returns what recall would select, claiming nothing.
func (r *recaller) preview(ctx context.Context, sel Selection) ([]store.Message, error) {
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
	case sel.Since > 0:
		return r.since(ctx, sel)
	}
	return nil, nil
}

// byTag lists the messages with sel.Tag, in sel.ChatID when set.
func (r *recaller) byTag(ctx context.Context, sel Selection) ([]store.Message, error) {
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

// since lists the chat's messages sent within sel.Since, newest first.
func (r *recaller) since(ctx context.Context, sel Selection) ([]store.Message, error) {
	n := sel.Max
	if n <= 0 {
		n = store.DefaultPerChat
	}
	newest, err := r.ledger.Newest(ctx, sel.ChatID, n)
	if err != nil {
		return nil, err
	}
	cut := r.now().Add(-sel.Since)
	for i, m := range newest {
		if m.SentAt.Before(cut) {
			return newest[:i], nil
		}
	}
	return newest, nil
}

// recall claims the selected messages, recalls them, applies the result
// (recalled keys leave the ledger, failed ones stay with their reason, too
// old ones leave without a call to DingTalk) and writes the audit entry.
// Keys named in sel.Keys that the ledger does not hold are reported as
// failed with ReasonNotTracked. An error means the ledger could not be read
// and nothing was recalled.
func (r *recaller) recall(ctx context.Context, sel Selection, by Actor) (Outcome, error) {
	var claimed []store.Message
	var err error
	switch {
	case sel.Last > 0:
		claimed, err = r.ledger.TakeNewest(ctx, sel.ChatID, sel.Last)
	case len(sel.Keys) > 0:
		claimed, err = r.claimKeys(ctx, sel)
	case sel.Tag != "" || sel.Since > 0:
		var chosen []store.Message
		if chosen, err = r.preview(ctx, sel); err == nil {
			claimed, err = r.ledger.Claim(ctx, keysOf(chosen))
		}
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("select messages: %w", err)
	}
	var missing []string
	for _, k := range sel.Keys {
		if !slices.ContainsFunc(claimed, func(m store.Message) bool { return m.Key == k }) {
			missing = append(missing, k)
		}
	}
	return r.run(ctx, sel.ChatID, claimed, missing, by), nil
}

// recallClaimed recalls messages the caller has claimed, chat by chat,
// applies the result to the ledger and writes the audit entry. Claims are
// always settled.
func (r *recaller) recallClaimed(ctx context.Context, msgs []store.Message, by Actor) Outcome {
	return r.run(ctx, "", msgs, nil, by)
}

// run is recall after the selection: missing are keys asked for by name
// that are not tracked.
func (r *recaller) run(ctx context.Context, chatID string, msgs []store.Message, missing []string, by Actor) Outcome {
	out := Outcome{Selected: msgs, Failed: make(map[string]store.Failure)}
	cut := r.now().Add(-r.maxAge)
	var fresh []store.Message
	for _, m := range msgs {
		if m.SentAt.Before(cut) {
			out.TooOld = append(out.TooOld, m)
		} else {
			fresh = append(fresh, m)
		}
	}
	fresh = r.tombstone(ctx, fresh, by, &out)
	r.recallFresh(ctx, fresh, &out)
	// Settle only what this recall claimed; the missing keys are not ours
	// (another recall may hold them), so they are reported, never failed.
	r.settle(ctx, out)
	for _, k := range missing {
		out.Failed[k] = notTracked
	}
	r.obs.Recall(len(out.Recalled), len(out.Failed)+len(out.TooOld))
	quietRetry := by.Retry && len(out.Recalled) == 0
	if (len(msgs) > 0 || len(missing) > 0) && !onlyReplies(msgs, missing) && !quietRetry {
		if chatID == "" {
			chatID = oneChat(msgs)
		}
		out.AuditID = r.writeAudit(ctx, chatID, out, missing, by)
	}
	return out
}

// onlyReplies reports whether a recall took nothing but the bot's own
// command replies (the REPLY_TTL clean-up), which the audit log leaves out.
func onlyReplies(msgs []store.Message, missing []string) bool {
	if len(missing) > 0 {
		return false
	}
	for _, m := range msgs {
		if !m.Reply {
			return false
		}
	}
	return true
}

// oneChat is the chat all msgs belong to, or "" when they span several.
func oneChat(msgs []store.Message) string {
	if len(msgs) == 0 {
		return ""
	}
	for _, m := range msgs[1:] {
		if m.ChatID != msgs[0].ChatID {
			return ""
		}
	}
	return msgs[0].ChatID
}

// recallFresh recalls msgs chat by chat and records the result in out.
func (r *recaller) recallFresh(ctx context.Context, msgs []store.Message, out *Outcome) {
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
				out.Failed[k] = failureOf(err)
			}
			continue
		}
		out.Recalled = append(out.Recalled, res.Recalled...)
		for k, f := range res.Failed {
			if f.Code == dingtalk.CodeAlreadyRecalled {
				// Recalled before (by a recall whose outcome was lost):
				// it is gone from the chat, so it is recalled, not failed.
				out.Recalled = append(out.Recalled, k)
				out.AlreadyGone = append(out.AlreadyGone, k)
				continue
			}
			out.Failed[k] = store.Failure(f)
		}
	}
}

// writeAudit writes the entry of a recall and returns its ID ("" when
// writing fails, which is logged).
func (r *recaller) writeAudit(ctx context.Context, chatID string, out Outcome, missing []string, by Actor) string {
	e := store.AuditEntry{
		ID: newID(), At: r.now(), Action: store.ActionRecall, Source: by.Source,
		StaffID: by.StaffID, Nick: by.Nick, ChatID: chatID, Request: by.Request,
	}
	gone := make(map[string]bool, len(out.AlreadyGone))
	for _, k := range out.AlreadyGone {
		gone[k] = true
	}
	tomb := make(map[string]bool, len(out.Tombstoned))
	for _, k := range out.Tombstoned {
		tomb[k] = true
	}
	tooOld := make(map[string]bool, len(out.TooOld))
	for _, m := range out.TooOld {
		tooOld[m.Key] = true
	}
	for _, m := range out.Selected {
		it := store.AuditItem{Key: m.Key, ChatID: m.ChatID, Kind: m.Kind, MsgKey: m.MsgKey, MsgParam: m.MsgParam, Tag: m.Tag,
			SentAt: m.SentAt, ExpiresAt: m.ExpiresAt, Result: store.ResultRecalled}
		switch f, failed := out.Failed[m.Key]; {
		case tooOld[m.Key]:
			it.Result, it.Code, it.Reason = store.ResultTooOld, CodeTooOld, r.tooOldReason()
		case failed:
			it.Result, it.Code, it.Reason = store.ResultFailed, f.Code, f.Message
		case gone[m.Key]:
			it.Code, it.Reason = dingtalk.CodeAlreadyRecalled, "DingTalk had recalled it before this request"
		case tomb[m.Key]:
			it.Code, it.Reason = CodeTombstoned, "the card was replaced by its tombstone"
		}
		e.Items = append(e.Items, it)
	}
	for _, k := range missing {
		e.Items = append(e.Items, store.AuditItem{Key: k, ChatID: chatID, Result: store.ResultFailed, Code: CodeNotTracked, Reason: ReasonNotTracked})
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.audit.AddAudit(ctx, e); err != nil {
		r.log.WithError(err).WithField("chat", chatID).Error("could not write the audit entry of a recall")
		return ""
	}
	return e.ID
}

// claimKeys claims sel.Keys and gives back any that belong to another chat.
func (r *recaller) claimKeys(ctx context.Context, sel Selection) ([]store.Message, error) {
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
		if err := r.ledger.Release(ctx, claimed[0].Claim, foreign...); err != nil {
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

// recallChat recalls keys of one chat with the API of its kind.
func (r *recaller) recallChat(ctx context.Context, ck chatKey, keys []string) (*dingtalk.RecallResult, error) {
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
// DingTalk has already acted. Failures are recorded under the recall's own
// claim only.
func (r *recaller) settle(ctx context.Context, out Outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if len(out.Recalled) > 0 {
		if err := r.ledger.Remove(ctx, out.Recalled...); err != nil {
			r.log.WithError(err).WithField("keys", out.Recalled).Error("recalled messages but could not remove them from the ledger")
		}
	}
	if len(out.TooOld) > 0 {
		if err := r.ledger.Remove(ctx, keysOf(out.TooOld)...); err != nil {
			r.log.WithError(err).Error("could not remove too old messages from the ledger")
		}
	}
	if claim := claimOf(out.Selected); len(out.Failed) > 0 && claim != "" {
		if err := r.ledger.Fail(ctx, claim, out.Failed); err != nil {
			r.log.WithError(err).WithField("keys", len(out.Failed)).Error("could not record recall failures in the ledger")
		}
	}
}

// claimOf is the claim the recall holds on msgs (all taken in one call).
func claimOf(msgs []store.Message) string {
	if len(msgs) == 0 {
		return ""
	}
	return msgs[0].Claim
}

// keysOf lists the keys of msgs.
func keysOf(msgs []store.Message) []string {
	keys := make([]string, len(msgs))
	for i, m := range msgs {
		keys[i] = m.Key
	}
	return keys
}

// newID returns a random identifier.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
