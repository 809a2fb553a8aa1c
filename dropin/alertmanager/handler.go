package alertmanager

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// PathPrefix is where the routes are served: POST PathPrefix + <name>.
const PathPrefix = "/alertmanager/"

// maxBody is the largest payload read; Alertmanager's max_alerts keeps
// payloads well below it.
const maxBody = 4 << 20

// Routes finds a route by name.
type Routes interface {
	Receiver(name string) (Route, bool)
}

// Deps are what the endpoint needs.
type Deps struct {
	Routes   Routes
	Receiver *Receiver
	// APIToken is the bearer token Alertmanager must send
	// (http_config.authorization); empty refuses every request.
	APIToken string
	Log      logrus.FieldLogger
}

// Register adds POST PathPrefix + ":name" to r.
func Register(r gin.IRoutes, d Deps) {
	if d.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		d.Log = l
	}
	h := &handler{d: d}
	r.POST(PathPrefix+":name", h.notify)
}

// handler serves the routes.
type handler struct {
	d Deps
}

// notify answers one notification.
func (h *handler) notify(c *gin.Context) {
	if h.d.APIToken == "" {
		fail(c, http.StatusUnauthorized, "unauthorized", "", "the Alertmanager receiver needs API_TOKEN: set it, and the same token in Alertmanager's http_config.authorization")
		return
	}
	scheme, got, _ := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(h.d.APIToken)) != 1 {
		fail(c, http.StatusUnauthorized, "unauthorized", "", "missing or wrong bearer token")
		return
	}
	name := c.Param("name")
	route, ok := h.d.Routes.Receiver(name)
	if !ok {
		fail(c, http.StatusNotFound, "not_found", "", fmt.Sprintf("no Alertmanager route %q in ROUTES_FILE", name))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(c, http.StatusRequestEntityTooLarge, "too_large", "body", fmt.Sprintf("the payload is over %d bytes: lower max_alerts", maxBody))
			return
		}
		fail(c, http.StatusBadRequest, "invalid_request", "body", "could not be read: "+err.Error())
		return
	}
	p, err := DecodePayload(raw)
	var pe *PayloadError
	if errors.As(err, &pe) {
		h.d.Log.WithFields(logrus.Fields{"route": route.Name, "field": pe.Field}).WithError(err).Warn("alertmanager: refused a payload")
		fail(c, http.StatusBadRequest, "invalid_request", pe.Field, pe.Error())
		return
	}
	res, err := h.d.Receiver.Handle(c.Request.Context(), route, p)
	if err != nil {
		h.d.Log.WithFields(logrus.Fields{"route": route.Name}).WithError(err).Warn("alertmanager: notification not handled; Alertmanager will retry")
		failWith(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// fail answers {"error": {"code", "message", "field"}}, as /api/v1 does.
func fail(c *gin.Context, status int, code, field, message string) {
	body := gin.H{"code": code, "message": message}
	if field != "" {
		body["field"] = field
	}
	c.AbortWithStatusJSON(status, gin.H{"error": body})
}

// failWith maps a handling error to its status: every one of them is worth
// a retry, so each is a 5xx, which Alertmanager retries.
func failWith(c *gin.Context, err error) {
	var burst *bot.BurstError
	switch {
	case errors.Is(err, ErrBusy):
		c.Header("Retry-After", "1")
		fail(c, http.StatusServiceUnavailable, "busy", "", err.Error())
	case errors.As(err, &burst):
		c.Header("Retry-After", strconv.Itoa(int(max(burst.RetryAfter, time.Second).Seconds())))
		fail(c, http.StatusServiceUnavailable, "burst", "", burst.Error())
	case errors.Is(err, bot.ErrDingTalk), errors.Is(err, dingtalk.ErrInvalidMessage):
		fail(c, http.StatusBadGateway, "dingtalk_failed", "", err.Error())
	case errors.Is(err, store.ErrInvalid):
		fail(c, http.StatusInternalServerError, "internal", "", err.Error())
	case errors.Is(err, store.ErrUnavailable):
		fail(c, http.StatusServiceUnavailable, "store_unavailable", "", "the message store is unavailable, try again: "+err.Error())
	default:
		fail(c, http.StatusServiceUnavailable, "unavailable", "", "the notification could not be handled, try again: "+err.Error())
	}
}
