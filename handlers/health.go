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

// readyz is readiness: the store answers.
func (h *handler) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := h.d.Ledger.Ping(ctx); err != nil {
		h.d.Log.WithError(err).Warn("not ready: store unavailable")
		writeError(c, &apiError{status: http.StatusServiceUnavailable, code: "store_unavailable", message: "the message store is unavailable"})
		return
	}
	if h.d.Ready != nil {
		if err := h.d.Ready(); err != nil {
			writeError(c, &apiError{status: http.StatusServiceUnavailable, code: "not_ready", message: err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
