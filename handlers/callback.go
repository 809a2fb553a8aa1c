package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
)

// Callback limits.
const (
	// MaxBodyBytes is the largest request body accepted (1 MiB).
	MaxBodyBytes = 1 << 20
	// DedupWindow is how long a callback msgId is remembered.
	DedupWindow = time.Hour
)

// callback is POST /dingtalk/callback: verify the signature before reading
// anything, bound and decode the body, drop a msgId seen before, and queue
// the command; answer 200 at once.
func (h *handler) callback(c *gin.Context) {
	log := h.requestLogger(c)
	if err := dingtalk.VerifySignature(c.Request.Header, h.d.AppSecret, h.d.Now()); err != nil {
		log.WithField("remote", c.ClientIP()).WithError(err).Warn("callback refused: bad signature")
		h.d.Metrics.Callback("bad_signature")
		writeError(c, err)
		return
	}
	body, err := readBody(c)
	if err != nil {
		h.d.Metrics.Callback("bad_request")
		writeError(c, err)
		return
	}
	cb, err := dingtalk.DecodeCallback(body)
	if err != nil {
		log.WithError(err).Warn("callback refused: bad request")
		h.d.Metrics.Callback("bad_request")
		writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	dedup := h.d.Dedup
	first, err := dedup.FirstSeen(ctx, cb.MsgID, DedupWindow)
	if err != nil {
		// The shared store is down: de-duplicate in this process instead, so
		// the command still runs and can tell the person to try again.
		log.WithError(err).Warn("callback: de-duplication store unavailable, de-duplicating locally")
		dedup = h.localDedup
		if first, err = dedup.FirstSeen(ctx, cb.MsgID, DedupWindow); err != nil {
			writeError(c, err)
			return
		}
	}
	if !first {
		log.WithField("msg_id", cb.MsgID).Info("callback: duplicate msgId acknowledged, not run again")
		h.d.Metrics.Callback("duplicate")
		c.JSON(http.StatusOK, gin.H{})
		return
	}
	ev := bot.EventFromCallback(cb)
	if err := h.d.Pool.Submit(func(ctx context.Context) { h.d.Bot.Handle(ctx, ev) }); err != nil {
		// Let DingTalk deliver it again: forget that we saw it.
		if ferr := dedup.Forget(context.WithoutCancel(ctx), cb.MsgID); ferr != nil {
			log.WithError(ferr).Warn("callback: could not forget a refused msgId")
		}
		log.WithFields(logrus.Fields{"msg_id": cb.MsgID, "chat": cb.ConversationID}).WithError(err).Warn("callback refused: busy")
		h.d.Metrics.Callback("busy")
		writeError(c, err)
		return
	}
	h.d.Metrics.Callback("ok")
	c.JSON(http.StatusOK, gin.H{})
}

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
