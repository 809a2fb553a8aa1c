package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz is liveness: the process answers.
func (h *handler) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz is readiness: the store answers (within 2 seconds) and Deps.Ready,
// when set, reports nothing wrong. Any failure to ping the store counts,
// and its detail goes to the log only.
func (h *handler) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := h.d.Bot.Ping(ctx); err != nil {
		h.requestLogger(c).WithError(err).Warn("not ready: store unavailable")
		h.writeError(c, errNotReady)
		return
	}
	if h.d.Ready != nil {
		if err := h.d.Ready(); err != nil {
			h.writeError(c, &apiError{status: http.StatusServiceUnavailable, code: "not_ready", message: err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
