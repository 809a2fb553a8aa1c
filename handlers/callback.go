package handlers

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// MaxBodyBytes is the largest request body accepted (1 MiB).
const MaxBodyBytes = 1 << 20

// callback is POST /dingtalk/callback/<bot> (and the plain path for the
// default bot): verify the signature with that bot's secret before reading
// anything, bound and decode the body, and hand it to the bot's intake
// (which drops a msgId seen before and queues the command); answer 200 at
// once.
func (h *handler) callback(bot Callback) gin.HandlerFunc {
	return func(c *gin.Context) { h.serveCallback(c, bot) }
}

// serveCallback serves one callback of bot.
func (h *handler) serveCallback(c *gin.Context, bot Callback) {
	log := h.requestLogger(c).WithField("bot", bot.Name)
	if err := dingtalk.VerifySignature(c.Request.Header, bot.AppSecret, h.d.Now()); err != nil {
		log.WithField("remote", c.ClientIP()).WithError(err).Warn("callback refused: bad signature")
		h.d.Metrics.Callback("bad_signature")
		h.writeError(c, err)
		return
	}
	body, err := readBody(c)
	if err != nil {
		h.d.Metrics.Callback("bad_request")
		h.writeError(c, err)
		return
	}
	cb, err := dingtalk.DecodeCallback(body)
	if err != nil {
		log.WithError(err).Warn("callback refused: bad request")
		h.d.Metrics.Callback("bad_request")
		h.writeError(c, err)
		return
	}
	outcome, err := bot.Bot.Accept(c.Request.Context(), cb, c.GetString(ctxRequestID))
	h.d.Metrics.Callback(outcome)
	if err != nil {
		h.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", emptyObject)
}

// emptyObject is the body DingTalk expects back: {}.
var emptyObject = []byte("{}")

// readBody reads the request body through MaxBodyBytes.
func readBody(c *gin.Context) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errTooLarge
	case err != nil:
		return nil, badField("body", "could not read the request body")
	}
	return body, nil
}
