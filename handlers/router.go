// Package handlers is dingrecall's HTTP surface: the DingTalk robot callback,
// the automation API under /api/v1 and the health endpoints. It speaks HTTP
// and nothing else: it verifies and decodes requests, hands typed work to
// the bot, and maps errors to status codes in one place.
package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/store"
)

// Deps are what the handlers need; New wires them into a router.
type Deps struct {
	// AppSecret verifies callback signatures.
	AppSecret string
	// APIToken guards /api/v1; empty disables the API (every call 401).
	APIToken string
	// RecallMax is the largest N (or number of keys, or tagged messages) one
	// API call may recall.
	RecallMax int
	// MaxTTL is the longest "ttl" a message may be sent with.
	MaxTTL time.Duration
	// Intake takes callbacks to the bot.
	Intake *bot.Intake
	// Guard sends the API's messages (through the Sender); Recaller and
	// Audit serve the API's recalls and audit log.
	Guard    *bot.Guard
	Recaller *bot.Recaller
	Audit    store.Audit
	Ledger   store.Ledger
	// Now is the clock for signature windows.
	Now func() time.Time
	Log logrus.FieldLogger
	// DisableCallback answers the callback route with 404 (stream mode).
	DisableCallback bool
	// Metrics is told of every callback's outcome; nil for none.
	Metrics CallbackObserver
	// MetricsHandler serves GET /metrics; nil for none.
	MetricsHandler http.Handler
	// Ready, when set, is checked by /readyz besides the ledger (for
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
	r := gin.New()
	r.UseRawPath = true // conversation IDs may hold an escaped "/"
	r.UnescapePathValues = true
	r.Use(gin.Recovery(), requestLog(d.Log))
	if d.Metrics == nil {
		d.Metrics = nopCallbacks{}
	}
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) { writeError(c, errNotFound) })
	r.NoMethod(func(c *gin.Context) { writeError(c, errMethod) })

	h := &handler{d: d}
	if !d.DisableCallback {
		r.POST("/dingtalk/callback", h.callback)
	}
	api := r.Group("/api/v1", h.authorize)
	api.POST("/messages", h.sendMessage)
	api.POST("/recall", h.recall)
	api.GET("/conversations/:conversationId/messages", h.listMessages)
	api.GET("/audit", h.auditLog)
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
// sane, else a new one), answers with it, and logs the request with its
// status and duration; never a header value or a body, which may carry
// secrets.
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
		path := c.FullPath()
		level := logrus.InfoLevel
		switch path {
		case "/healthz", "/readyz", "/metrics", "/sandbox/api/state":
			level = logrus.DebugLevel // polled all the time
		case "":
			path = "unmatched"
		}
		if !enabled(log, level) {
			return // spare the hot path the fields of a line nobody reads
		}
		log.WithFields(logrus.Fields{
			"request_id": id, "method": c.Request.Method, "path": path, "status": c.Writer.Status(),
			"took": time.Since(start).String(), "remote": c.ClientIP(),
		}).Log(level, "http request")
	}
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
