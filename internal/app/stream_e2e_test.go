package app

import (
	"encoding/json"
	"net/http"
	"strings"
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
	// readyz answers 200 only once the sandbox's stream connection is up.
	a := startSandboxMode(t, map[string]string{"LOG_LEVEL": "error", "CALLBACK_MODE": "stream", "REPLY_TTL": "0"})
	_, st := a.state()
	assert.Equal(t, "stream", st["via"], "the page says how it delivers")
	status, out := a.post("/sandbox/api/say", map[string]any{"chat": "ops-alerts", "user": "ops-lead", "text": "help"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Equal(t, "stream", out["via"])
	assert.EqualValues(t, http.StatusOK, out["callbackStatus"], "the app's ack, not a made-up HTTP answer")
	resp, err := http.Post(a.base+"/dingtalk/callback", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "stream mode has no callback route")
}
