package metrics_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/metrics"
)

// scrape returns the metrics' exposition text.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

func TestBotIsOneViewPerName(t *testing.T) {
	m := metrics.New()
	assert.Same(t, m.Bot("alerts"), m.Bot("alerts"))
	assert.NotSame(t, m.Bot("alerts"), m.Bot("deploy"))
	assert.Equal(t, "deploy", m.Bot("deploy").Name())
}

func TestPerBotMetrics(t *testing.T) {
	const api = "/v1.0/robot/groupMessages/recall"
	tests := []struct {
		name string
		act  func(b *metrics.BotMetrics)
		want []string // lines of the exposition, for bot "alerts"
	}{
		{"api call", func(b *metrics.BotMetrics) { b.APICall(api, 200, "", 30*time.Millisecond) }, []string{
			`dingrecall_dingtalk_calls_total{api="` + api + `",bot="alerts",status="200"} 1`,
			`dingrecall_dingtalk_call_seconds_count{api="` + api + `",bot="alerts"} 1`,
		}},
		{"retry", func(b *metrics.BotMetrics) { b.Retry(api, "system.error") }, []string{
			`dingrecall_dingtalk_retries_total{api="` + api + `",bot="alerts",code="system.error"} 1`,
		}},
		{"token refreshes", func(b *metrics.BotMetrics) { b.TokenRefresh(nil); b.TokenRefresh(errors.New("no")) }, []string{
			`dingrecall_token_refreshes_total{bot="alerts",result="ok"} 1`,
			`dingrecall_token_refreshes_total{bot="alerts",result="error"} 1`,
		}},
		{"recall", func(b *metrics.BotMetrics) { b.Recall(3, 1) }, []string{
			`dingrecall_recall_keys_total{bot="alerts",result="recalled"} 3`,
			`dingrecall_recall_keys_total{bot="alerts",result="failed"} 1`,
		}},
		{"quota refusal", func(b *metrics.BotMetrics) { b.QuotaRefused(api); b.QuotaRefused(api) }, []string{
			`dingrecall_dingtalk_quota_refusals_total{bot="alerts"} 2`,
		}},
		{"ban", func(b *metrics.BotMetrics) { b.Banned(api) }, []string{
			`dingrecall_dingtalk_ban_backoffs_total{bot="alerts"} 1`,
		}},
		{"optional stopped", func(b *metrics.BotMetrics) { b.OptionalStopped("/v1.0/robot/emotion/reply") }, []string{
			`dingrecall_dingtalk_optional_calls_stopped_total{api="/v1.0/robot/emotion/reply",bot="alerts"} 1`,
		}},
		{"quota gauges", func(b *metrics.BotMetrics) { b.QuotaLimit(10000); b.QuotaUsed(8001); b.QuotaUsed(8002) }, []string{
			`dingrecall_quota_limit_calls{bot="alerts"} 10000`,
			`dingrecall_quota_used_calls{bot="alerts"} 8002`,
		}},
		{"quota gauges start at 0", func(*metrics.BotMetrics) {}, []string{
			`dingrecall_quota_limit_calls{bot="alerts"} 0`,
			`dingrecall_quota_used_calls{bot="alerts"} 0`,
		}},
		{"quota warning", func(b *metrics.BotMetrics) { b.QuotaWarned() }, []string{
			`dingrecall_quota_warnings_total{bot="alerts"} 1`,
		}},
		{"unlabelled ones", func(b *metrics.BotMetrics) {
			b.Command("recall", "ok")
			b.Unsettled()
			b.PendingReservations(4)
			b.Reconnect("eof")
			b.Frame("CALLBACK", "/t")
			b.Ack(200)
			b.StreamAuthFailure()
		}, []string{
			`dingrecall_commands_total{command="recall",outcome="ok"} 1`,
			`dingrecall_ledger_reservations_unsettled_total 1`,
			`dingrecall_ledger_reservations_pending{bot="alerts"} 4`,
			`dingrecall_stream_reconnects_total{reason="eof"} 1`,
			`dingrecall_stream_frames_total{topic="/t",type="CALLBACK"} 1`,
			`dingrecall_stream_acks_total{code="200"} 1`,
			`dingrecall_stream_auth_failures_total 1`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			m.Bot("deploy").QuotaUsed(5) // another bot's metrics stay apart
			tt.act(m.Bot("alerts"))
			body := scrape(t, m)
			for _, line := range tt.want {
				assert.Contains(t, body, "\n"+line+"\n")
			}
			assert.NotContains(t, body, `bot="default"`, "nothing counted for the default bot")
		})
	}
}

func TestMetricsOwnMethodsAreTheDefaultBot(t *testing.T) {
	const api = "/v1.0/robot/groupMessages/send"
	m := metrics.New()
	m.APICall(api, 403, "Forbidden.AccessDenied.ApiCountLimitForOrg", time.Millisecond)
	m.Retry(api, "system.error")
	m.TokenRefresh(nil)
	m.Recall(2, 0)
	m.QuotaRefused(api)
	m.Banned(api)
	m.OptionalStopped("/v1.0/card/instances")
	body := scrape(t, m)
	for _, line := range []string{
		`dingrecall_dingtalk_calls_total{api="` + api + `",bot="default",status="403"} 1`,
		`dingrecall_dingtalk_retries_total{api="` + api + `",bot="default",code="system.error"} 1`,
		`dingrecall_token_refreshes_total{bot="default",result="ok"} 1`,
		`dingrecall_recall_keys_total{bot="default",result="recalled"} 2`,
		`dingrecall_dingtalk_quota_refusals_total{bot="default"} 1`,
		`dingrecall_dingtalk_ban_backoffs_total{bot="default"} 1`,
		`dingrecall_dingtalk_optional_calls_stopped_total{api="/v1.0/card/instances",bot="default"} 1`,
	} {
		assert.Contains(t, body, "\n"+line+"\n")
	}
}

func TestStreamConnectedCountsBots(t *testing.T) {
	steps := []struct {
		bot  string
		up   bool
		want string
	}{
		{metrics.DefaultBot, true, "1"},
		{"alerts", true, "2"},
		{"alerts", true, "2"},
		{metrics.DefaultBot, false, "1"},
		{"alerts", false, "0"},
		{"alerts", false, "0"},
	}
	m := metrics.New()
	for i, s := range steps {
		if s.bot == metrics.DefaultBot {
			m.Connected(s.up)
		} else {
			m.Bot(s.bot).Connected(s.up)
		}
		body := scrape(t, m)
		assert.True(t, strings.Contains(body, "\ndingrecall_stream_connected "+s.want+"\n"), "step %d: want %s", i, s.want)
	}
}
