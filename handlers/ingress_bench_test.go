package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// BenchmarkCallbackIngress compares, in one run and on the same payload,
// the real callback route (signature check, bounded read, decode, msgId
// de-duplication, enqueue on the worker pool, request log and metrics)
// with a bare gin handler that only decodes the same JSON. Both are served
// in process through httptest, so the figure is the handlers' own cost, not
// TCP's. Each request carries a new msgId, so every one is de-duplicated
// and queued for real.
//
// The queued job is the bot's real Handle, but the payload is a one-to-one
// message from a sender without a staff ID, for which the bot stops at
// once (there is no chat to reply in): the workers cost next to nothing and
// the comparison stays about the HTTP path. The bot logs at error level
// (its warning for such a message is not written).
//
// scripts/bench.sh divides dingrecall's req/s by bare's (target ≥ 0.80).
func BenchmarkCallbackIngress(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	b.Run("dingrecall", func(b *testing.B) {
		r := newRealRouter(b, logrus.ErrorLevel)
		defer r.close()
		benchIngress(b, r, r.fake.AppSecret())
	})
	b.Run("bare", func(b *testing.B) {
		benchIngress(b, bareCallbackRouter(), "test-app-secret")
	})
}

// bareCallbackRouter is the baseline: gin with one route that reads and
// decodes the callback JSON and answers {}.
func bareCallbackRouter() http.Handler {
	r := gin.New()
	r.POST("/dingtalk/callback", func(c *gin.Context) {
		var cb dingtalk.Callback
		body, err := io.ReadAll(c.Request.Body)
		if err == nil {
			err = json.Unmarshal(body, &cb)
		}
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": gin.H{"code": "invalid_callback", "message": err.Error()}})
			return
		}
		c.JSON(http.StatusOK, gin.H{})
	})
	return r
}

// ingressSeq numbers the msgIds of every benchmark request.
var ingressSeq atomic.Int64

// benchIngress posts signed callbacks to h from parallel goroutines and
// reports requests per second. Any answer but 200 fails the benchmark.
func benchIngress(b *testing.B, h http.Handler, secret string) {
	header := http.Header{}
	dingtalk.SignHeader(header, secret, time.Now())
	header.Set("Content-Type", "application/json")
	head := []byte(`{"conversationId":"cidBenchDirect==","conversationType":"1","senderNick":"bench","isAdmin":false,` +
		`"robotCode":"dingbotcode001","createAt":1764112345678,"msgtype":"text","text":{"content":" recall 3"},"msgId":"bench-`)
	var failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		body := make([]byte, 0, len(head)+32)
		for pb.Next() {
			body = append(append(strconv.AppendInt(append(body[:0], head...), ingressSeq.Add(1), 10), '"'), '}')
			req := httptest.NewRequest(http.MethodPost, "/dingtalk/callback", bytes.NewReader(body))
			req.Header = header.Clone()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d callbacks were not answered 200", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
