package app

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// push sends a callback over the fake's Stream mode gateway and returns the
// bot's reply.
func (a *testApp) push(body map[string]any) dingtalktest.Message {
	a.t.Helper()
	before := len(a.fake.Sent())
	raw, err := json.Marshal(body)
	require.NoError(a.t, err)
	_, err = a.fake.PushCallback("", raw)
	require.NoError(a.t, err)
	return a.replyAfter(before)
}

// waitReady waits until /readyz answers want.
func (a *testApp) waitReady(want int) {
	a.t.Helper()
	require.Eventually(a.t, func() bool {
		status, _ := a.do(http.MethodGet, "/readyz", nil, nil)
		return status == want
	}, 10*time.Second, 20*time.Millisecond, "/readyz never answered %d", want)
}

func TestStreamModeRecall(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"CALLBACK_MODE": "stream"})
	a.waitReady(http.StatusOK)
	keys := a.send(group, 5, nil)

	reply := a.push(a.callbackBody("recall 3", nil))
	assert.Contains(t, replyText(t, reply), "Recalled 3 messages")
	assert.ElementsMatch(t, keys[2:], fake.Recalled())

	t.Run("a redelivered frame runs once", func(t *testing.T) {
		body := a.callbackBody("recall 1", nil)
		a.push(body)
		frames := fake.Frames()
		last := frames[len(frames)-1]
		require.NoError(t, fake.Redeliver(last.MessageID, ""))
		require.Eventually(t, func() bool { return len(fake.AcksFor(last.MessageID)) == 2 }, 5*time.Second, 10*time.Millisecond)
		a.push(a.callbackBody("help", nil)) // settle: anything queued has run
		assert.Len(t, fake.Recalled(), 4)
	})
	t.Run("the HTTP callback answers 404", func(t *testing.T) {
		status, _ := a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("recall 1", nil), signed(fake.AppSecret(), time.Now()))
		assert.Equal(t, http.StatusNotFound, status)
	})
	t.Run("the API, health and metrics still answer", func(t *testing.T) {
		status, _ := a.do(http.MethodGet, "/healthz", nil, nil)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, 1.0, value(a.scrape(), "dingrecall_stream_connected", nil))
		assert.Positive(t, value(a.scrape(), "dingrecall_stream_acks_total", map[string]string{"code": "200"}))
	})
	t.Run("readyz is 503 while no connection is up", func(t *testing.T) {
		fake.RefuseDials(1000)
		for _, c := range fake.Connections() {
			_ = fake.DropConnection(c.ID)
		}
		a.waitReady(http.StatusServiceUnavailable)
		fake.RefuseDials(0)
		a.waitReady(http.StatusOK)
	})
}

func TestBothModes(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"CALLBACK_MODE": "both"})
	a.waitReady(http.StatusOK)
	keys := a.send(group, 2, nil)
	body := a.callbackBody("recall 1", nil)
	a.push(body)
	// The same msgId over HTTP is a duplicate: it runs once across transports.
	status, _ := a.do(http.MethodPost, "/dingtalk/callback", body, signed(fake.AppSecret(), time.Now()))
	assert.Equal(t, http.StatusOK, status)
	a.command(a.callbackBody("recall 1", nil))
	assert.ElementsMatch(t, keys, fake.Recalled())
}

func TestSandboxInStreamMode(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ln, func(k string) string {
			return map[string]string{"LOG_LEVEL": "error", "CALLBACK_MODE": "stream"}[k]
		})
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the sandbox's stream connection comes up")
	cancel()
	require.NoError(t, <-done)
}
