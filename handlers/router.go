// Package handlers is dingrecall's HTTP surface: the DingTalk robot callback,
// the automation API under /api/v1 and the health endpoints. It speaks HTTP
// and nothing else: it verifies and decodes requests, hands typed work to
// the bot, and maps errors to status codes in one place.
package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// Bot is what the handlers need of the bot: it takes callbacks, sends and
// recalls the API's messages, and reads the ledger and the audit log. The
// handlers speak HTTP and hand everything else to it.
type Bot interface {
	// Send sends one API message through the guards and records it, by
	// the bot o.Bot names ("" for the default one).
	Send(ctx context.Context, o bot.Outgoing) (store.Message, error)
	// Preview returns what Recall would take, recalling nothing.
	Preview(ctx context.Context, sel bot.Selection) ([]store.Message, error)
	// Recall recalls the selection on behalf of by.
	Recall(ctx context.Context, sel bot.Selection, by bot.Actor) (bot.Outcome, error)
	// TooOldReason is the failure reason of a message too old to recall.
	TooOldReason() string
	// List returns a chat's tracked messages of the bot called botName
	// (every bot's when empty), newest first; at most limit, or all when
	// limit <= 0.
	List(ctx context.Context, botName, chatID string, limit int) ([]store.Message, error)
	// AuditLog returns the audit entries of the bot called botName (every
	// bot's when empty) concerning chatID (all when empty), newest first;
	// at most limit.
	AuditLog(ctx context.Context, botName, chatID string, limit int) ([]store.AuditEntry, error)
	// Ping reports whether the store behind the bot can serve requests.
	Ping(ctx context.Context) error
}

// Acceptor takes a callback, with the ID of the request that brought it:
// it answers the outcome for the metrics (ok, duplicate or busy) and an
// error when the callback could not be queued. *bot.Bot is one.
type Acceptor interface {
	Accept(ctx context.Context, cb *dingtalk.Callback, requestID string) (string, error)
}

// Callback is one bot's HTTP callback endpoint: POST
// /dingtalk/callback/<Name>, and for the bot named "default" also the
// plain POST /dingtalk/callback.
type Callback struct {
	// Name is the bot's name, the last path segment.
	Name string
	// AppSecret verifies the bot's callback signatures.
	AppSecret string
	// Bot takes the bot's callbacks.
	Bot Acceptor
}

// DefaultCallback is the name of the bot the plain /dingtalk/callback
// path serves.
const DefaultCallback = "default"

// Deps are what the handlers need; New wires them into a router.
type Deps struct {
	// Callbacks are the bots whose callbacks come by HTTP, each verified
	// with its own secret. When nil, AppSecret and Bot (which must then be
	// an Acceptor) make the one callback endpoint of the default bot.
	Callbacks []Callback
	// AppSecret verifies callback signatures when Callbacks is nil.
	AppSecret string
	// APIToken guards /api/v1; empty disables the API (every call 401).
	APIToken string
	// RecallMax is the largest N (or number of keys, or tagged messages) one
	// API call may recall.
	RecallMax int
	// MaxTTL is the longest "ttl" a message may be sent with.
	MaxTTL time.Duration
	// Bot takes the callbacks and serves the API's sends, recalls, lists
	// and audit log, and /readyz's store check.
	Bot Bot
	// Now is the clock for signature windows.
	Now func() time.Time
	// Log receives the request lines (at debug level), refusals and
	// failures; nil logs nowhere.
	Log logrus.FieldLogger
	// DisableCallback answers the callback route with 404 (stream mode)
	// when Callbacks is nil.
	DisableCallback bool
	// Metrics is told of every callback's outcome; nil for none.
	Metrics CallbackObserver
	// MetricsHandler serves GET /metrics; nil for none.
	MetricsHandler http.Handler
	// Ready, when set, is checked by /readyz besides the store (for
	// example: a Stream mode connection is up).
	Ready func() error
}

// CallbackObserver is told the outcome of every callback: ok,
// bad_signature, bad_request, duplicate or busy.
type CallbackObserver interface {
	Callback(outcome string)
}

// nopCallbacks is the CallbackObserver of a router without metrics.
type nopCallbacks struct{}

func (nopCallbacks) Callback(string) {}

// New builds the router.
func New(d Deps) *gin.Engine {
	if d.Metrics == nil {
		d.Metrics = nopCallbacks{}
	}
	if d.Log == nil {
		quiet := logrus.New()
		quiet.SetOutput(io.Discard)
		d.Log = quiet
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &handler{d: d}
	r := gin.New()
	// Conversation IDs are base64: they may hold an escaped "/" and a "+".
	// Path values stay escaped here and are unescaped as paths (pathParam),
	// since gin's own unescaping reads "+" as a space.
	r.UseRawPath = true
	r.UnescapePathValues = false
	r.Use(requestLog(d.Log), h.recovery)
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) { h.writeError(c, errNotFound) })
	r.NoMethod(func(c *gin.Context) { h.writeError(c, errMethod) })

	if d.Callbacks == nil && !d.DisableCallback {
		if a, ok := d.Bot.(Acceptor); ok {
			d.Callbacks = []Callback{{Name: DefaultCallback, AppSecret: d.AppSecret, Bot: a}}
		}
	}
	plain := false
	for _, cb := range d.Callbacks {
		r.POST("/dingtalk/callback/"+cb.Name, h.callback(cb))
		if cb.Name == DefaultCallback {
			r.POST("/dingtalk/callback", h.callback(cb))
			plain = true
		}
	}
	if !plain {
		// Say why, rather than "no such endpoint": the path is right, the
		// bot it serves is not here (or takes its callbacks by Stream).
		r.POST("/dingtalk/callback", func(c *gin.Context) { h.writeError(c, errNoDefaultCallback) })
	}
	api := r.Group("/api/v1", h.authorize)
	api.POST("/messages", h.query(), h.sendMessage)
	api.POST("/recall", h.query(), h.recall)
	api.GET("/conversations/:conversationId/messages", h.query("limit", "bot"), h.listMessages)
	api.GET("/audit", h.query("conversationId", "limit", "bot"), h.auditLog)
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	if d.MetricsHandler != nil {
		r.GET("/metrics", gin.WrapH(d.MetricsHandler))
	}
	return r
}

// handler holds the dependencies of every route.
type handler struct {
	d Deps
}

// headerRequestID carries a request's ID, taken from the caller or made up.
const headerRequestID = "X-Request-ID"

// requestLog gives each request an ID (the caller's X-Request-ID if it is
// sane, else a new one), answers with it, and logs the request at debug
// level with its status and duration; never a header value, a query or a
// body, which may carry secrets.
func requestLog(log logrus.FieldLogger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		id := c.GetHeader(headerRequestID)
		if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < '!' || r > '~' }) {
			id = newRequestID()
		}
		c.Header(headerRequestID, id)
		c.Set(ctxRequestID, id)
		c.Next()
		if !enabled(log, logrus.DebugLevel) {
			return // spare the hot path the fields of a line nobody reads
		}
		log.WithFields(logrus.Fields{
			"request_id": id, "method": c.Request.Method, "path": routeOf(c), "status": c.Writer.Status(),
			"took": time.Since(start).String(), "remote": c.ClientIP(),
		}).Debug("http request")
	}
}

// routeOf is the route a request matched, such as
// "/api/v1/conversations/:conversationId/messages", or "unmatched": never
// the path itself, which may carry IDs.
func routeOf(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return "unmatched"
}

// recovery turns a panic in a handler into a 500 internal: it logs the
// panic and the stack with the request ID (never a header: a callback's
// sign and timestamp could be replayed) and answers with a fixed message.
// A panic with http.ErrAbortHandler is passed on, so net/http drops the
// connection quietly as it promises.
func (h *handler) recovery(c *gin.Context) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(p)
		}
		h.requestLogger(c).WithFields(logrus.Fields{
			"method": c.Request.Method, "path": routeOf(c), "panic": fmt.Sprint(p), "stack": string(debug.Stack()),
		}).Error("panic serving a request")
		if c.Writer.Written() {
			c.Abort() // the answer has begun; it cannot become a 500 now
			return
		}
		writeAPIError(c, errInternal)
	}()
	c.Next()
}

// enabled reports whether log writes lines of level.
func enabled(log logrus.FieldLogger, level logrus.Level) bool {
	if l, ok := log.(interface{ IsLevelEnabled(logrus.Level) bool }); ok {
		return l.IsLevelEnabled(level)
	}
	return true
}

// ctxRequestID is the gin context key of the request ID.
const ctxRequestID = "request_id"

// newRequestID returns 16 random hex digits.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLogger is the log with the request's ID.
func (h *handler) requestLogger(c *gin.Context) logrus.FieldLogger {
	return h.d.Log.WithField("request_id", c.GetString(ctxRequestID))
}
