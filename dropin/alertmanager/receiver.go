// Package alertmanager is dingrecall's receiver for Prometheus Alertmanager's
// webhook (payload version 4), POST /alertmanager/<route>: it posts one
// message per notification into the route's group, replaces a group's
// message when Alertmanager notifies about the group again (recall, then
// post), and when alerts resolve recalls their message, posts a resolved
// notice, or both. Retries are told from repeat_interval reminders by time
// (ALERT_RETRY_WINDOW), so a retry never posts twice.
package alertmanager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/store"
)

// Resolved says what happens in the chat when alerts resolve.
type Resolved string

// The resolved modes of a route.
const (
	// ResolvedRecall recalls the group's message; nothing is left behind
	// once every alert resolved.
	ResolvedRecall Resolved = "recall"
	// ResolvedNotify posts a resolved notice and recalls nothing.
	ResolvedNotify Resolved = "notify"
	// ResolvedRecallNotify recalls the group's message and posts a notice
	// (with the route's notice TTL).
	ResolvedRecallNotify Resolved = "recall+notify"
)

// Modes are the resolved modes, as ROUTES_FILE spells them.
var Modes = []Resolved{ResolvedRecall, ResolvedNotify, ResolvedRecallNotify}

// recalls reports whether resolving takes the group's message back.
func (m Resolved) recalls() bool { return m == ResolvedRecall || m == ResolvedRecallNotify }

// notifies reports whether resolving posts a notice.
func (m Resolved) notifies() bool { return m == ResolvedNotify || m == ResolvedRecallNotify }

// Route is one Alertmanager receiver (an entry of ROUTES_FILE's
// alertmanager).
type Route struct {
	// Name is the route's path segment: POST /alertmanager/<Name>.
	Name string
	// ConversationID is the group the messages go to.
	ConversationID string
	// Resolved is what resolving does.
	Resolved Resolved
	// NoticeTTL, when positive, has each resolved notice recalled after it.
	NoticeTTL time.Duration
	// Template renders the messages; nil for the built-in one.
	Template *Template
	// Card posts the firing message as an interactive card with a Recall
	// button (bot.AsCard); resolved notices stay plain messages.
	Card bool
	// Bot names the bot (BOTS_FILE) that posts and recalls; empty for the
	// default.
	Bot string
}

// Bot is what the receiver needs of the bot: its one send path and its
// recall engine.
type Bot interface {
	Send(ctx context.Context, o bot.Outgoing) (store.Message, error)
	Recall(ctx context.Context, sel bot.Selection, by bot.Actor) (bot.Outcome, error)
}

// States keeps the receiver's per-group record (store.States has it), so
// that replicas sharing a store agree on retries.
type States interface {
	PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error)
	SetState(ctx context.Context, key, value string, ttl time.Duration) error
	DeleteState(ctx context.Context, key string) error
}

// ErrBusy means another request about the same group is being handled;
// Alertmanager should retry.
var ErrBusy = errors.New("a notification about this alert group is being handled; retry")

// DefaultRetryWindow is ALERT_RETRY_WINDOW's default.
const DefaultRetryWindow = 5 * time.Minute

// lockTTL bounds how long a crashed handler keeps a group locked.
const lockTTL = 2 * time.Minute

// Config configures a Receiver.
type Config struct {
	// RetryWindow is ALERT_RETRY_WINDOW: the same notification again within
	// it is a retry; after it, a reminder.
	RetryWindow time.Duration
	// Lang picks the built-in template (BOT_LANG).
	Lang string
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// Log is where the receiver logs; nil for nowhere.
	Log logrus.FieldLogger
	// Audit, when set, gets an entry (action send, source alertmanager)
	// for every message posted.
	Audit Auditor
}

// Auditor keeps the audit log; store.Audit is one.
type Auditor interface {
	AddAudit(ctx context.Context, e store.AuditEntry) error
}

// audited writes the audit entry of a message the receiver posted through
// route; a failure is logged, the message being out already.
func (r *Receiver) audited(ctx context.Context, m store.Message, route Route, log logrus.FieldLogger) {
	if r.cfg.Audit == nil || m.Key == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.cfg.Audit.AddAudit(ctx, store.SendEntry(m, store.SourceAlertmanager, "alertmanager "+route.Name, r.cfg.Now())); err != nil {
		log.WithError(err).Error("alertmanager: could not write the audit entry of a post")
	}
}

// Receiver turns notifications into messages.
type Receiver struct {
	bot     Bot
	states  States
	cfg     Config
	builtin *Template
}

// NewReceiver builds a receiver posting through b.
func NewReceiver(b Bot, states States, cfg Config) (*Receiver, error) {
	if cfg.RetryWindow <= 0 {
		cfg.RetryWindow = DefaultRetryWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		cfg.Log = l
	}
	tpl, err := Builtin(cfg.Lang)
	if err != nil {
		return nil, err
	}
	return &Receiver{bot: b, states: states, cfg: cfg, builtin: tpl}, nil
}

// Result is what handling a notification did.
type Result struct {
	// Retry is true when the notification repeated one handled within the
	// retry window: nothing was posted again.
	Retry bool `json:"retry"`
	// Posted is the key of the group's message (on a retry: the one posted
	// before), empty when no alert fires.
	Posted string `json:"processQueryKey,omitempty"`
	// Notice is the key of the resolved notice posted, if any.
	Notice string `json:"noticeKey,omitempty"`
	// Recalled are the keys of the group's earlier messages taken back.
	Recalled []string `json:"recalled"`
	// Failed maps the keys whose recall failed to DingTalk's reason; they
	// stay tracked and are tried again at the group's next notification.
	Failed map[string]store.Failure `json:"failed,omitempty"`
}

// groupState is the receiver's record of one alert group.
type groupState struct {
	// Hash is the last notification's content hash; At when it was handled
	// (Unix milliseconds).
	Hash string `json:"h"`
	At   int64  `json:"at"`
	// Key is the group's live message; Live the fingerprints it shows.
	Key  string   `json:"k,omitempty"`
	Live []string `json:"fp,omitempty"`
	// Pending are the fingerprints of a resolved notice not posted yet.
	Pending []string `json:"np,omitempty"`
}

// Tag is the tag of a group's messages on a route: "am:<route>:<16 hex
// digits of the group key's SHA-256>".
func Tag(route, groupKey string) string { return "am:" + route + ":" + groupID(groupKey) }

// NoticeTag is the tag of a group's resolved notices, which replacing the
// group's message leaves alone.
func NoticeTag(route, groupKey string) string { return Tag(route, groupKey) + ":resolved" }

// Handle acts on one notification for route. An error means Alertmanager
// should retry: nothing that was posted is posted again by the retry.
func (r *Receiver) Handle(ctx context.Context, route Route, p Payload) (Result, error) {
	gid := groupID(p.GroupKey)
	stateKey, lockKey := "am:"+route.Name+":"+gid, "am-lock:"+route.Name+":"+gid
	token := randomToken()
	_, locked, err := r.states.PutStateIfAbsent(ctx, lockKey, token, lockTTL)
	if err != nil {
		return Result{}, fmt.Errorf("alert group record: %w", err)
	}
	if !locked {
		return Result{}, ErrBusy
	}
	defer func() {
		if err := r.states.DeleteState(context.WithoutCancel(ctx), lockKey); err != nil {
			r.cfg.Log.WithError(err).Warn("alertmanager: could not unlock an alert group; it unlocks by itself in 2 minutes")
		}
	}()
	log := r.cfg.Log.WithFields(logrus.Fields{"route": route.Name, "chat": route.ConversationID, "group": gid, "status": p.Status})
	st, err := r.load(ctx, stateKey)
	if err != nil {
		return Result{}, err
	}
	now, hash := r.cfg.Now(), p.hash()
	if st.Hash == hash && now.Sub(time.UnixMilli(st.At)) < r.cfg.RetryWindow {
		res := Result{Retry: true, Posted: st.Key, Recalled: []string{}}
		if len(st.Pending) > 0 {
			key, err := r.notice(ctx, route, p, st.Pending, log)
			if err != nil {
				return res, err
			}
			res.Notice, st.Pending = key, nil
			r.save(ctx, stateKey, st, log)
		}
		log.Info("alertmanager: the same notification within ALERT_RETRY_WINDOW; nothing posted again")
		return res, nil
	}
	firing := p.Alerts.Firing()
	next := groupState{Hash: hash, At: now.UnixMilli()}
	if route.Resolved.notifies() {
		// Announce what the chat was shown as firing; with no record of the
		// group (a new store, an expired record) every resolved alert.
		for _, a := range p.Alerts.Resolved() {
			if st.Hash == "" || slices.Contains(st.Live, a.Fingerprint) {
				next.Pending = append(next.Pending, a.Fingerprint)
			}
		}
	}
	res := Result{Recalled: []string{}}
	if len(firing) > 0 || route.Resolved.recalls() {
		what := "replaced by a new notification"
		if len(firing) == 0 {
			what = "its alerts resolved"
		}
		out, err := r.bot.Recall(ctx, bot.Selection{ChatID: route.ConversationID, Tag: Tag(route.Name, p.GroupKey), Bot: route.Bot},
			bot.Actor{Source: store.SourceAlertmanager, Request: fmt.Sprintf("alertmanager %s: group %s %s", route.Name, gid, what)})
		if err != nil {
			return res, fmt.Errorf("recall the group's message: %w", err)
		}
		res.Recalled = append(res.Recalled, out.Recalled...)
		if len(out.Failed) > 0 {
			res.Failed = out.Failed
			log.WithField("failed", out.Failed).Warn("alertmanager: some of the group's earlier messages were not recalled; they are tried again at its next notification")
		}
	}
	if len(firing) > 0 {
		msg, err := r.template(route).Firing(Data{Payload: p, Route: route.Name})
		if err != nil {
			log.WithError(err).Error("alertmanager: the route's template failed; using the built-in one")
			if msg, err = r.builtin.Firing(Data{Payload: p, Route: route.Name}); err != nil {
				return res, fmt.Errorf("render the alert message: %w", err)
			}
		}
		if route.Card {
			msg = bot.AsCard(msg)
		}
		sent, err := r.bot.Send(ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: route.ConversationID, Message: msg, Tag: Tag(route.Name, p.GroupKey), Bot: route.Bot})
		var dup *bot.DuplicateError
		switch {
		case err == nil:
			r.audited(ctx, sent, route, log)
		case errors.Is(err, bot.ErrUntracked):
			log.WithError(err).Error("alertmanager: posted the alerts but could not track the message")
		case errors.As(err, &dup):
			sent.Key = dup.Key // the very message is in the chat already
		default:
			return res, fmt.Errorf("post the alerts: %w", err)
		}
		next.Key, next.Live, res.Posted = sent.Key, firing.fingerprints(), sent.Key
	}
	// From here a retry must not post the message again, so the record is
	// saved before anything else can fail.
	r.save(ctx, stateKey, next, log)
	if len(next.Pending) > 0 {
		key, err := r.notice(ctx, route, p, next.Pending, log)
		if err != nil {
			return res, err
		}
		res.Notice, next.Pending = key, nil
		r.save(ctx, stateKey, next, log)
	}
	log.WithFields(logrus.Fields{"key": res.Posted, "notice": res.Notice, "recalled": len(res.Recalled), "firing": len(firing)}).Info("alertmanager: notification handled")
	return res, nil
}

// notice posts the resolved notice of the alerts of p whose fingerprints
// are in fps.
func (r *Receiver) notice(ctx context.Context, route Route, p Payload, fps []string, log logrus.FieldLogger) (string, error) {
	d := Data{Payload: p, Route: route.Name}
	d.Alerts = nil
	for _, a := range p.Alerts {
		if slices.Contains(fps, a.Fingerprint) {
			d.Alerts = append(d.Alerts, a)
		}
	}
	msg, err := r.template(route).Resolved(d)
	if err != nil {
		log.WithError(err).Error("alertmanager: the route's template failed; using the built-in one")
		if msg, err = r.builtin.Resolved(d); err != nil {
			return "", fmt.Errorf("render the resolved notice: %w", err)
		}
	}
	sent, err := r.bot.Send(ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: route.ConversationID, Message: msg,
		Tag: NoticeTag(route.Name, p.GroupKey), TTL: route.NoticeTTL, Bot: route.Bot})
	var dup *bot.DuplicateError
	switch {
	case err == nil:
		r.audited(ctx, sent, route, log)
	case errors.Is(err, bot.ErrUntracked):
	case errors.As(err, &dup):
		sent.Key = dup.Key
	default:
		return "", fmt.Errorf("post the resolved notice: %w", err)
	}
	return sent.Key, nil
}

// template is the route's template, or the built-in one.
func (r *Receiver) template(route Route) *Template {
	if route.Template != nil {
		return route.Template
	}
	return r.builtin
}

// stateTTL is how long a group's record is kept after its last
// notification: beyond DingTalk's 24 hours nothing can be recalled anyway.
func (r *Receiver) stateTTL() time.Duration { return 24*time.Hour + r.cfg.RetryWindow }

// load reads a group's record; a group without one has the zero record. An
// unreadable record (from another version) counts as none.
func (r *Receiver) load(ctx context.Context, key string) (groupState, error) {
	raw, _, err := r.states.PutStateIfAbsent(ctx, key, "", r.stateTTL())
	if err != nil {
		return groupState{}, fmt.Errorf("alert group record: %w", err)
	}
	var st groupState
	if raw != "" && json.Unmarshal([]byte(raw), &st) != nil {
		r.cfg.Log.WithField("key", key).Warn("alertmanager: an alert group record could not be read; starting afresh")
		return groupState{}, nil
	}
	return st, nil
}

// save writes a group's record. A failure is logged, not returned: what it
// was about is in the chat already, and the ledger still knows the group's
// message by its tag, so the next notification replaces it all the same.
func (r *Receiver) save(ctx context.Context, key string, st groupState, log logrus.FieldLogger) {
	raw, _ := json.Marshal(st) // strings and ints: cannot fail
	if err := r.states.SetState(context.WithoutCancel(ctx), key, string(raw), r.stateTTL()); err != nil {
		log.WithError(err).Error("alertmanager: could not save an alert group record; a retry may post again")
	}
}

// randomToken names a lock holder.
func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
