// Package webhook is dingrecall's drop-in for DingTalk's custom robot
// webhook: POST /robot/send?access_token=…[&timestamp=…&sign=…] with the
// bodies and answers of https://oapi.dingtalk.com/robot/send, so that a
// tool which posts to a custom robot only changes its host. Each message is
// mapped onto the app robot's message templates (Map) and posted through the
// bot's one send path, so it is tracked, tagged and recallable; the answer
// carries its processQueryKey besides DingTalk's errcode and errmsg.
package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// Path is the endpoint's path, the same as DingTalk's.
const Path = "/robot/send"

// maxBody is the largest request body read.
const maxBody = 1 << 20

// The errcodes the endpoint answers with. Where DingTalk's custom robots
// have a code for the case it is theirs (the README lists the sources).
const (
	// CodeOK is success.
	CodeOK = 0
	// CodeBusy is DingTalk's "system busy" code: the message could not be
	// posted now (DingTalk or the message store failed); try again.
	CodeBusy = -1
	// CodeTokenNotExist answers an access_token no route has.
	CodeTokenNotExist = 300001
	// CodeSecurity answers a bad sign or timestamp on a signed route.
	CodeSecurity = 310000
	// CodeMissingJSON answers a missing, empty or unparsable body.
	CodeMissingJSON = 40035
	// CodeUnsupportedType answers a missing or unknown msgtype.
	CodeUnsupportedType = 34004
	// CodeTooLong answers a message over the app robot's size limit.
	CodeTooLong = 34016
	// CodeMissingTitle answers a msgtype whose title is missing.
	CodeMissingTitle = 400402
	// CodeMissingParam answers any other missing or malformed field.
	CodeMissingParam = 400403
	// CodeTooFast answers a send the burst guard refused (BURST_LIMIT a
	// minute per chat).
	CodeTooFast = 130101
)

// Secret is a token or signing secret; it prints, and marshals, redacted.
type Secret string

// String redacts the secret.
func (Secret) String() string { return "[redacted]" }

// GoString redacts the secret.
func (Secret) GoString() string { return `"[redacted]"` }

// MarshalText redacts the secret, for JSON and text encoders.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Route is one custom-robot-compatible sender (an entry of ROUTES_FILE's
// webhooks).
type Route struct {
	// Name names the route in logs; the token never appears there.
	Name string
	// Token is the access_token the tool sends.
	Token Secret
	// ConversationID is the group the bot posts to.
	ConversationID string
	// Secret, when set, makes DingTalk's signing mandatory (timestamp and
	// sign query parameters).
	Secret Secret
	// Tag, when set, tags every message.
	Tag string
	// TTL, when positive, has every message recalled after it.
	TTL time.Duration
	// Card posts every message as an interactive card with a Recall button
	// (bot.AsCard) instead of the mapped message.
	Card bool
	// Bot names the bot (BOTS_FILE) that posts; empty for the default.
	Bot string
}

// Routes finds the route of an access_token.
type Routes interface {
	Webhook(token string) (Route, bool)
}

// Sender is the bot's one send path, with its guards (*bot.Bot has it).
type Sender interface {
	Send(ctx context.Context, o bot.Outgoing) (store.Message, error)
}

// Deps are what the endpoint needs.
type Deps struct {
	Routes Routes
	Sender Sender
	// Audit, when set, gets an entry (action send, source webhook) for
	// every message posted.
	Audit Auditor
	// Now is the clock signatures are checked against.
	Now func() time.Time
	Log logrus.FieldLogger
}

// Auditor keeps the audit log; store.Audit is one.
type Auditor interface {
	AddAudit(ctx context.Context, e store.AuditEntry) error
}

// auditTimeout bounds writing one audit entry.
const auditTimeout = 5 * time.Second

// Answer is the endpoint's JSON answer: DingTalk's errcode and errmsg, the
// posted message's key, and what the app robot could not carry.
type Answer struct {
	ErrCode         int      `json:"errcode"`
	ErrMsg          string   `json:"errmsg"`
	ProcessQueryKey string   `json:"processQueryKey,omitempty"`
	Dropped         []string `json:"dropped,omitempty"`
}

// Register adds POST Path to r.
func Register(r gin.IRoutes, d Deps) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		d.Log = l
	}
	h := &handler{d: d}
	r.POST(Path, h.send)
}

// handler serves Path.
type handler struct {
	d Deps
}

// send answers POST Path. Like DingTalk it answers HTTP 200 whatever the
// errcode.
func (h *handler) send(c *gin.Context) {
	q := c.Request.URL.Query()
	route, ok := h.d.Routes.Webhook(q.Get("access_token"))
	if !ok {
		h.d.Log.WithField("api", "robot/send").Warn("webhook: unknown access_token")
		c.JSON(http.StatusOK, Answer{ErrCode: CodeTokenNotExist, ErrMsg: "token is not exist"})
		return
	}
	log := h.d.Log.WithFields(logrus.Fields{"route": route.Name, "chat": route.ConversationID})
	if route.Secret != "" {
		if err := Verify(string(route.Secret), q.Get("timestamp"), q.Get("sign"), h.d.Now()); err != nil {
			log.WithError(err).Warn("webhook: refused a request")
			c.JSON(http.StatusOK, Answer{ErrCode: CodeSecurity, ErrMsg: err.Error()})
			return
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = &TooLongError{Bytes: int(tooBig.Limit) + 1}
		} else {
			err = ErrMissingBody
		}
		h.refuse(c, log, err)
		return
	}
	m, err := Map(raw)
	if err != nil {
		h.refuse(c, log, err)
		return
	}
	log = log.WithFields(logrus.Fields{"msgtype": m.MsgType, "msg_key": m.Message.MsgKey})
	out := m.Message
	if route.Card {
		out = bot.AsCard(out)
	}
	sent, err := h.d.Sender.Send(c.Request.Context(), bot.Outgoing{
		Kind: store.KindGroup, ChatID: route.ConversationID, Message: out, Tag: route.Tag, TTL: route.TTL, Bot: route.Bot,
	})
	var dup *bot.DuplicateError
	switch {
	case err == nil:
	case errors.As(err, &dup):
		// The same content reached this chat moments ago: it is there, so
		// the tool has nothing to retry.
		log.WithField("key", dup.Key).Info("webhook: duplicate of a message just posted; not posted again")
		c.JSON(http.StatusOK, Answer{ErrCode: CodeOK, ErrMsg: "ok", ProcessQueryKey: dup.Key, Dropped: m.Dropped})
		return
	case errors.Is(err, bot.ErrUntracked):
		// Posted, so not to be retried, but it cannot be recalled.
		log.WithError(err).Error("webhook: posted a message that is not tracked")
	default:
		h.refuse(c, log, err)
		return
	}
	log.WithField("key", sent.Key).Info("webhook: posted")
	if h.d.Audit != nil && sent.Key != "" {
		// The message is posted: the audit is written even if the caller
		// has gone, and a failure to write it is logged, not answered.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), auditTimeout)
		defer cancel()
		if err := h.d.Audit.AddAudit(ctx, store.SendEntry(sent, store.SourceWebhook, "webhook "+route.Name, h.d.Now())); err != nil {
			log.WithError(err).Error("webhook: could not write the audit entry of a post")
		}
	}
	c.JSON(http.StatusOK, Answer{ErrCode: CodeOK, ErrMsg: "ok", ProcessQueryKey: sent.Key, Dropped: m.Dropped})
}

// refuse answers err with its errcode and logs it.
func (h *handler) refuse(c *gin.Context, log logrus.FieldLogger, err error) {
	a := answerOf(err)
	level := logrus.InfoLevel
	if a.ErrCode == CodeBusy {
		level = logrus.WarnLevel
	}
	log.WithError(err).WithField("errcode", a.ErrCode).Log(level, "webhook: message not posted")
	c.JSON(http.StatusOK, a)
}

// answerOf maps an error to its errcode and errmsg; it is the one place
// errors become codes.
func answerOf(err error) Answer {
	var unsupported *UnsupportedError
	var field *FieldError
	var tooLong *TooLongError
	var burst *bot.BurstError
	switch {
	case errors.Is(err, ErrMissingBody):
		return Answer{ErrCode: CodeMissingJSON, ErrMsg: "缺少参数 json: the body must be one JSON object"}
	case errors.As(err, &unsupported):
		return Answer{ErrCode: CodeUnsupportedType, ErrMsg: err.Error()}
	case errors.As(err, &field):
		if strings.HasSuffix(field.Field, ".title") {
			return Answer{ErrCode: CodeMissingTitle, ErrMsg: err.Error()}
		}
		return Answer{ErrCode: CodeMissingParam, ErrMsg: err.Error()}
	case errors.As(err, &tooLong):
		return Answer{ErrCode: CodeTooLong, ErrMsg: err.Error()}
	case errors.As(err, &burst):
		return Answer{ErrCode: CodeTooFast, ErrMsg: "send too fast: " + burst.Error()}
	case errors.Is(err, dingtalk.ErrInvalidMessage):
		return Answer{ErrCode: CodeMissingParam, ErrMsg: err.Error()}
	}
	return Answer{ErrCode: CodeBusy, ErrMsg: "system busy, try again: " + err.Error()}
}
