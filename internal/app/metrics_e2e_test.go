package app

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// scrape reads /metrics into metric families.
func (a *testApp) scrape() map[string]*dto.MetricFamily {
	a.t.Helper()
	resp, err := http.Get(a.base + "/metrics")
	require.NoError(a.t, err)
	defer resp.Body.Close()
	require.Equal(a.t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	require.NoError(a.t, err)
	return families
}

// value is the value of the metric name with exactly these labels (counter,
// gauge or histogram count), or 0 when there is none.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
	for _, m := range f.GetMetric() {
		match := len(m.GetLabel()) == len(labels)
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

func TestMetricsMoveForEveryOutcome(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, nil)
	keys := a.send(group, 4, nil)
	fake.FailKey(keys[0], "message is being reviewed")

	// Callbacks: ok (and commands ok / refused / invalid), duplicate, bad signature, bad request.
	fake.FailNextOn(dingtalk.PathGroupRecall, 1, dingtalktest.FaultSystemError) // one retry
	body := a.callbackBody("recall 4", nil)
	a.command(body)
	status, _ := a.do(http.MethodPost, "/dingtalk/callback", body, signed(fake.AppSecret(), time.Now()))
	require.Equal(t, http.StatusOK, status)
	a.command(a.callbackBody("recall 1", func(b map[string]any) { b["senderStaffId"] = "stranger" }))
	a.command(a.callbackBody("recall lots", nil))
	a.do(http.MethodPost, "/dingtalk/callback", body, nil)
	a.do(http.MethodPost, "/dingtalk/callback", "{", signed(fake.AppSecret(), time.Now()))

	m := a.scrape()
	callbacks := func(outcome string) float64 {
		return value(m, "dingrecall_callbacks_total", map[string]string{"outcome": outcome})
	}
	assert.Equal(t, 3.0, callbacks("ok"))
	assert.Equal(t, 1.0, callbacks("duplicate"))
	assert.Equal(t, 1.0, callbacks("bad_signature"))
	assert.Equal(t, 1.0, callbacks("bad_request"))
	assert.Equal(t, 1.0, value(m, "dingrecall_commands_total", map[string]string{"command": "recall", "outcome": "ok"}))
	assert.Equal(t, 1.0, value(m, "dingrecall_commands_total", map[string]string{"command": "recall", "outcome": "refused"}))
	assert.Equal(t, 1.0, value(m, "dingrecall_commands_total", map[string]string{"command": "recall", "outcome": "invalid"}))
	assert.Equal(t, 3.0, value(m, "dingrecall_recall_keys_total", map[string]string{"bot": "default", "result": "recalled"}))
	assert.Equal(t, 1.0, value(m, "dingrecall_recall_keys_total", map[string]string{"bot": "default", "result": "failed"}))
	assert.Equal(t, 1.0, value(m, "dingrecall_dingtalk_calls_total", map[string]string{"bot": "default", "api": dingtalk.PathGroupRecall, "status": "500"}))
	assert.Equal(t, 1.0, value(m, "dingrecall_dingtalk_calls_total", map[string]string{"bot": "default", "api": dingtalk.PathGroupRecall, "status": "200"}))
	assert.Equal(t, 2.0, value(m, "dingrecall_dingtalk_call_seconds", map[string]string{"bot": "default", "api": dingtalk.PathGroupRecall}))
	assert.Equal(t, 1.0, value(m, "dingrecall_dingtalk_retries_total", map[string]string{"bot": "default", "api": dingtalk.PathGroupRecall, "code": dingtalk.CodeSystemError}))
	assert.Equal(t, 1.0, value(m, "dingrecall_token_refreshes_total", map[string]string{"bot": "default", "result": "ok"}))
	// The failed key stays, plus the bot's three replies (recorded just after DingTalk took them).
	require.Eventually(t, func() bool { return value(a.scrape(), "dingrecall_ledger_messages", nil) == 4 }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, m, "dingrecall_queue_depth")
}

func TestMetricsCountBusyCallbacks(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"WORKERS": "1", "QUEUE_SIZE": "1"})
	a.send(group, 3, nil)
	fake.SetLatency(300 * time.Millisecond)
	busy := false
	for range 5 {
		status, _ := a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("recall 1", nil), signed(fake.AppSecret(), time.Now()))
		if status == http.StatusServiceUnavailable {
			busy = true
			break
		}
	}
	require.True(t, busy)
	assert.Equal(t, 1.0, value(a.scrape(), "dingrecall_callbacks_total", map[string]string{"outcome": "busy"}))
	fake.SetLatency(0)
}
