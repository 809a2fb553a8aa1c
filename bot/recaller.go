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
	"golang.org/x/sync/errgroup"

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
	// CodeInterrupted: the recall was cut short (the bot shutting down, or
	// the request's time budget spent) before DingTalk answered for the
	// message; it stays tracked, unclaimed, and may be recalled again.
	CodeInterrupted = "dingrecall.interrupted"
)

// ReasonInterrupted is the failure reason of CodeInterrupted.
const ReasonInterrupted = "the recall was cut short before DingTalk answered for this message; it is still tracked and may be recalled again"

// interrupted is the failure of a key whose recall was cut short.
var interrupted = store.Failure{Code: CodeInterrupted, Message: ReasonInterrupted}

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
	// Bot names the bot whose messages are selected, for a Fleet; "" for
	// DefaultBot (or the only bot). A Bot itself ignores it.
	Bot string
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
// Selected); Recalled also holds the keys of Gone.
type Outcome struct {
	// Selected are the messages the selection chose, newest first.
	Selected []store.Message
	// Recalled lists the keys taken back; they have left the ledger.
	Recalled []string
	// Gone are messages whose earlier recall lost its claim (its holder
	// died or stalled mid-recall) and that DingTalk, asked, said were
	// recalled already: they left the ledger without another recall call,
	// their keys are in Recalled and AlreadyGone, and they are not in
	// Selected, so they do not count toward Last.
	Gone []store.Message
	// InFlight are, for a Last selection, those of the chat's newest Last
	// messages that another request held claimed while this one ran (it is
	// recalling them right now), newest first. They are not in Selected.
	InFlight []store.Message
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
	// renewEvery is how often the claims of a recall under way are renewed
	// (a third of the ledger's claim lease).
	renewEvery time.Duration
	now        func() time.Time
	log        logrus.FieldLogger
	// cards, when set, turns cards into tombstones in RECALL_MODE=tombstone
	// (tombstone, in card_tombstone.go).
	cards *cardBook
}

// preview returns what recall would select, claiming nothing.
func (r *recaller) preview(ctx context.Context, sel Selection) ([]store.Message, error) {
	switch {
	case sel.Last > 0:
		free, _, err := r.ledger.NewestWithInFlight(ctx, sel.ChatID, sel.Last)
		return free, err
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
// failed with ReasonNotTracked. Its claims are renewed while it works.
// Messages whose earlier claim lapsed are checked with DingTalk first: those
// already recalled leave the ledger as Gone. An error means the ledger
// could not be read and nothing was recalled.
func (r *recaller) recall(ctx context.Context, sel Selection, by Actor) (Outcome, error) {
	h := r.hold(ctx)
	defer h.stop()
	if sel.Last > 0 {
		taken, inFlight, gone, err := r.takeNewest(ctx, sel.ChatID, sel.Last, h)
		if err != nil {
			return Outcome{}, fmt.Errorf("select messages: %w", err)
		}
		out := r.run(ctx, sel.ChatID, taken, nil, gone, by)
		out.InFlight = inFlight
		return out, nil
	}
	var claimed []store.Message
	var err error
	switch {
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
	h.add(claimed)
	claimed, gone := r.verify(ctx, claimed)
	var missing []string
	for _, k := range sel.Keys {
		if !slices.ContainsFunc(claimed, func(m store.Message) bool { return m.Key == k }) &&
			!slices.ContainsFunc(gone, func(m store.Message) bool { return m.Key == k }) {
			missing = append(missing, k)
		}
	}
	return r.run(ctx, sel.ChatID, claimed, missing, gone, by), nil
}

// maxGone bounds how many messages found already recalled one "recall N"
// looks past (one DingTalk status query each): as many as a chat tracks by
// default (store.DefaultPerChat).
const maxGone = store.DefaultPerChat

// takeNewest claims, among the chat's newest n messages (not replies), the
// free ones, and reports those another request holds as inFlight. Messages
// whose earlier claim lapsed are checked with DingTalk: those it already
// recalled leave the ledger (gone) and do not count toward n, so it looks
// again, past up to maxGone of them, until the newest n are messages still
// in the chat (taken by this call, or in flight).
func (r *recaller) takeNewest(ctx context.Context, chatID string, n int, h *holding) (taken, inFlight, gone []store.Message, err error) {
	mine := make(map[string]bool)
	for round := 0; len(gone) < maxGone; round++ {
		got, held, err := r.ledger.TakeNewestWithInFlight(ctx, chatID, n)
		if err != nil {
			if round > 0 {
				break // keep what the earlier rounds took
			}
			return nil, nil, nil, err
		}
		h.add(got)
		inFlight = inFlight[:0]
		for _, m := range held {
			if !mine[m.Key] { // this call's own claims show as held from the second round on
				inFlight = append(inFlight, m)
			}
		}
		kept, newlyGone := r.verify(ctx, got)
		for _, m := range got {
			mine[m.Key] = true // a gone one left the ledger, or stays claimed by this call
		}
		taken, gone = append(taken, kept...), append(gone, newlyGone...)
		if len(newlyGone) == 0 {
			break
		}
	}
	// New sends may have moved the window meanwhile: keep the newest n.
	slices.SortStableFunc(taken, func(a, b store.Message) int { return b.SentAt.Compare(a.SentAt) })
	if extra := len(taken) + len(inFlight) - n; extra > 0 {
		extra = min(extra, len(taken))
		r.release(ctx, taken[len(taken)-extra:])
		taken = taken[:len(taken)-extra]
	}
	return taken, inFlight, gone, nil
}

// release gives back the claims on msgs, logging a failure (they then lapse
// with their lease).
func (r *recaller) release(ctx context.Context, msgs []store.Message) {
	for claim, keys := range byClaim(msgs) {
		if err := r.ledger.Release(ctx, claim, keys...); err != nil {
			r.log.WithError(err).WithField("keys", len(keys)).Warn("could not release claims; they lapse with their lease")
		}
	}
}

// verifyWorkers bounds the status queries one recall makes at once.
const verifyWorkers = 8

// verify asks DingTalk what became of the claimed messages whose earlier
// claim lapsed (Message.Lapsed): the one that held them may have died after
// recalling them. Those DingTalk reports recalled leave the ledger and come
// back as gone; the others (still in the chat, unknown to DingTalk, too old
// to ask about, or not answered) are kept, to be recalled.
func (r *recaller) verify(ctx context.Context, msgs []store.Message) (kept, gone []store.Message) {
	recalled := make([]bool, len(msgs))
	var g errgroup.Group
	g.SetLimit(verifyWorkers)
	for i, m := range msgs {
		if !m.Lapsed {
			continue
		}
		g.Go(func() error {
			st, err := r.status(ctx, m)
			if err != nil && !errors.Is(err, dingtalk.ErrKeyUnknown) && !errors.Is(err, dingtalk.ErrKeyExpired) {
				r.log.WithError(err).WithField("chat", m.ChatID).Warn("could not ask DingTalk about a message whose claim lapsed; recalling it")
			}
			recalled[i] = err == nil && st == dingtalk.StatusRecalled
			return nil
		})
	}
	_ = g.Wait() // the queries never fail the group: an unanswered one recalls the message
	for i, m := range msgs {
		if recalled[i] {
			gone = append(gone, m)
		} else {
			kept = append(kept, m)
		}
	}
	if len(gone) > 0 {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerWriteTimeout)
		defer cancel()
		if err := r.ledger.Remove(wctx, keysOf(gone)...); err != nil {
			r.log.WithError(err).WithField("keys", len(gone)).Error("could not remove messages DingTalk had recalled already; they come back when their claim lapses")
		}
	}
	return kept, gone
}

// status asks DingTalk what became of m, with the API of its kind and the
// robot that sent it.
func (r *recaller) status(ctx context.Context, m store.Message) (dingtalk.Status, error) {
	robot := dingtalk.StatusAsRobot(m.RobotCode)
	switch m.Kind {
	case store.KindGroup:
		return r.dt.StatusGroup(ctx, m.ChatID, m.Key, robot)
	case store.KindPrivate:
		return r.dt.StatusPrivate(ctx, m.ChatID, m.Key, robot)
	case store.KindOTO:
		return r.dt.StatusOTO(ctx, m.Key, robot)
	}
	return dingtalk.StatusUnknown, fmt.Errorf("unknown chat kind %q", m.Kind)
}

// recallClaimed recalls messages the caller has claimed, chat by chat,
// applies the result to the ledger and writes the audit entry. Claims are
// renewed while it works and always settled; messages whose earlier claim
// lapsed are checked with DingTalk first, as recall does.
func (r *recaller) recallClaimed(ctx context.Context, msgs []store.Message, by Actor) Outcome {
	h := r.hold(ctx)
	defer h.stop()
	h.add(msgs)
	msgs, gone := r.verify(ctx, msgs)
	return r.run(ctx, "", msgs, nil, gone, by)
}

// run is recall after the selection: missing are keys asked for by name
// that are not tracked, gone the messages verify found recalled already.
func (r *recaller) run(ctx context.Context, chatID string, msgs []store.Message, missing []string, gone []store.Message, by Actor) Outcome {
	out := Outcome{Selected: msgs, Gone: gone, Failed: make(map[string]store.Failure)}
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
	for _, m := range gone {
		out.Recalled = append(out.Recalled, m.Key)
		out.AlreadyGone = append(out.AlreadyGone, m.Key)
	}
	for _, k := range missing {
		out.Failed[k] = notTracked
	}
	r.obs.Recall(len(out.Recalled), len(out.Failed)+len(out.TooOld))
	quietRetry := by.Retry && len(out.Recalled) == 0
	all := append(slices.Clip(msgs), gone...)
	if (len(all) > 0 || len(missing) > 0) && !onlyReplies(all, missing) && !quietRetry {
		if chatID == "" {
			chatID = oneChat(all)
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
		if ctx.Err() != nil {
			for _, k := range groups[ck] {
				out.Failed[k] = interrupted // never sent: this recall's time ran out first
			}
			continue
		}
		res, err := r.recallChat(ctx, ck, groups[ck])
		if err != nil {
			for _, k := range groups[ck] {
				out.Failed[k] = failureOf(err)
			}
			continue
		}
		out.Recalled = append(out.Recalled, res.Recalled...)
		cut := ctx.Err() != nil
		for k, f := range res.Failed {
			if cut && (f.Code == "" || f.Code == dingtalk.CodeTransport) {
				// DingTalk gave no answer of its own before this recall's
				// context ended: the failure is ours, not the message's.
				out.Failed[k] = interrupted
				continue
			}
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
	for _, m := range out.Gone {
		e.Items = append(e.Items, store.AuditItem{Key: m.Key, ChatID: m.ChatID, Kind: m.Kind, MsgKey: m.MsgKey, MsgParam: m.MsgParam, Tag: m.Tag,
			SentAt: m.SentAt, ExpiresAt: m.ExpiresAt, Result: store.ResultRecalled, Code: dingtalk.CodeAlreadyRecalled,
			Reason: "DingTalk had recalled it before this request (an earlier recall whose claim lapsed); checked with DingTalk, not counted"})
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
	failed := make(map[string]map[string]store.Failure)
	var cut []store.Message
	for _, m := range out.Selected {
		switch f, ok := out.Failed[m.Key]; {
		case !ok:
		case f.Code == CodeInterrupted:
			cut = append(cut, m)
		case m.Claim != "":
			if failed[m.Claim] == nil {
				failed[m.Claim] = make(map[string]store.Failure)
			}
			failed[m.Claim][m.Key] = f
		}
	}
	for claim, fs := range failed {
		if err := r.ledger.Fail(ctx, claim, fs); err != nil {
			r.log.WithError(err).WithField("keys", len(fs)).Error("could not record recall failures in the ledger")
		}
	}
	// A recall cut short records no failure: its messages are given back.
	r.release(ctx, cut)
}

// byClaim groups the keys of msgs by the claim that holds them.
func byClaim(msgs []store.Message) map[string][]string {
	out := make(map[string][]string)
	for _, m := range msgs {
		if m.Claim != "" {
			out[m.Claim] = append(out[m.Claim], m.Key)
		}
	}
	return out
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
