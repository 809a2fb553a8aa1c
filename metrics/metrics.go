// Package metrics holds dingrecall's Prometheus metrics: what the callback
// endpoint, the commands, the recall engine, the DingTalk client, the
// ledger and the worker pool are doing. It implements the observer
// interfaces of those packages, so they stay free of Prometheus.
//
// dingrecall may serve several DingTalk apps (bots). Bot returns one bot's
// view, which labels the DingTalk call, retry, token, recall and quota
// metrics with bot="<name>"; the Metrics' own observer methods are the view
// of the bot named DefaultBot.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of dingrecall's metrics on a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	callbacks      *prometheus.CounterVec
	commands       *prometheus.CounterVec
	keys           *prometheus.CounterVec
	apiCalls       *prometheus.CounterVec
	apiLatency     *prometheus.HistogramVec
	retries        *prometheus.CounterVec
	tokenRefreshes *prometheus.CounterVec
	streamUp       prometheus.Gauge
	reconnects     *prometheus.CounterVec
	frames         *prometheus.CounterVec
	acks           *prometheus.CounterVec
	authFailures   prometheus.Counter
	unsettled      prometheus.Counter
	reservations   *prometheus.GaugeVec

	quotaRefusals   *prometheus.CounterVec
	quotaResets     *prometheus.GaugeVec
	banBackoffs     *prometheus.CounterVec
	optionalStopped *prometheus.CounterVec
	quotaUsed       *prometheus.GaugeVec
	quotaLimit      *prometheus.GaugeVec
	quotaWarnings   *prometheus.CounterVec

	botsMu    sync.Mutex
	bots      map[string]*BotMetrics
	connected map[string]bool // bot → its Stream mode connection is up
}

// DefaultBot is the name of the bot the Metrics' own observer methods count
// for: the one app of the single-app configuration.
const DefaultBot = "default"

// New creates the metrics, with Go runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg, bots: map[string]*BotMetrics{}, connected: map[string]bool{}}
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_callbacks_total", Help: "Robot callbacks received, by outcome: ok, bad_signature, bad_request, duplicate, busy.",
	}, []string{"outcome"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_commands_total", Help: "Chat commands run, by command and outcome: ok, refused, invalid, unavailable.",
	}, []string{"command", "outcome"})
	m.keys = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_recall_keys_total", Help: "Messages the bot tried to recall, by bot and result: recalled or failed.",
	}, []string{"bot", "result"})
	m.apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_dingtalk_calls_total", Help: "HTTP calls to DingTalk's open API, by bot, API path and HTTP status (0: no answer).",
	}, []string{"bot", "api", "status"})
	m.apiLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dingrecall_dingtalk_call_seconds", Help: "Duration of HTTP calls to DingTalk's open API, by bot and API path.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"bot", "api"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_dingtalk_retries_total", Help: "DingTalk calls tried again, by bot, API path and error code.",
	}, []string{"bot", "api", "code"})
	m.tokenRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_token_refreshes_total", Help: "Access token fetches, by bot and result: ok or error.",
	}, []string{"bot", "result"})
	m.quotaRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_dingtalk_quota_refusals_total",
		Help: "DingTalk answers refusing a call for the organisation's spent monthly API quota (Forbidden.AccessDenied.ApiCountLimitForOrg, errcode 90020), by bot.",
	}, []string{"bot"})
	m.banBackoffs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_dingtalk_ban_backoffs_total",
		Help: "DingTalk answers that were its HTML IP ban page, each holding the bot's calls back for 5 minutes, by bot.",
	}, []string{"bot"})
	m.optionalStopped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_dingtalk_optional_calls_stopped_total",
		Help: "Optional DingTalk calls (reactions, status queries, card updates) not made because the bot's monthly quota is spent, by bot and API path.",
	}, []string{"bot", "api"})
	m.quotaUsed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dingrecall_quota_used_calls", Help: "Metered DingTalk calls the bot made this calendar month, as last counted.",
	}, []string{"bot"})
	m.quotaLimit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dingrecall_quota_limit_calls", Help: "The bot's monthly DingTalk call quota (monthlyQuota); 0 when unknown.",
	}, []string{"bot"})
	m.quotaWarnings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_quota_warnings_total", Help: "Warnings that the bot used 80 % of its monthly DingTalk call quota, by bot.",
	}, []string{"bot"})
	m.streamUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dingrecall_stream_connected", Help: "How many bots have a Stream mode connection to DingTalk up (1 while the one bot's is up).",
	})
	m.reconnects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_stream_reconnects_total", Help: "Stream mode redials, by reason.",
	}, []string{"reason"})
	m.frames = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_stream_frames_total", Help: "Stream mode frames received, by type and topic.",
	}, []string{"type", "topic"})
	m.acks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_stream_acks_total", Help: "Stream mode acknowledgements sent, by code.",
	}, []string{"code"})
	m.authFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dingrecall_stream_auth_failures_total",
		Help: "Stream mode connections/open calls DingTalk refused for the app key or secret (DINGTALK_APP_KEY, DINGTALK_APP_SECRET).",
	})
	m.unsettled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dingrecall_ledger_reservations_unsettled_total",
		Help: "Sends reserved in the ledger whose outcome never reached it (a crash, or DingTalk not answering), reported by settlement: each may be a message in its chat without a key to recall it by.",
	})
	m.reservations = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dingrecall_ledger_reservations_pending",
		Help: "Sends reserved in the ledger and not yet recorded or dropped (under way, or left over until settled), as of the bot's last settlement pass, by bot.",
	}, []string{"bot"})
	m.quotaResets = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dingrecall_dingtalk_quota_resets_at_seconds",
		Help: "When the monthly API quota DingTalk last refused the bot for (errcode 90020) starts again, as a Unix time; absent until a refusal.",
	}, []string{"bot"})
	for _, c := range []prometheus.Collector{m.callbacks, m.commands, m.keys, m.apiCalls, m.apiLatency, m.retries,
		m.tokenRefreshes, m.streamUp, m.reconnects, m.frames, m.acks, m.authFailures, m.unsettled, m.reservations,
		m.quotaRefusals, m.quotaResets, m.banBackoffs, m.optionalStopped, m.quotaUsed, m.quotaLimit, m.quotaWarnings} {
		f(c)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// WatchLedger exports the number of tracked messages, read from size (with
// a short timeout) at every scrape.
func (m *Metrics) WatchLedger(size func(context.Context) (int, error)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dingrecall_ledger_messages", Help: "Messages tracked in the ledger (recallable or pending), -1 when the store does not answer.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := size(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}

// WatchQueue exports the worker queue's depth, read at every scrape.
func (m *Metrics) WatchQueue(depth func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dingrecall_queue_depth", Help: "Commands waiting for a worker.",
	}, func() float64 { return float64(depth()) }))
}

// Callback counts one robot callback by outcome.
func (m *Metrics) Callback(outcome string) { m.callbacks.WithLabelValues(outcome).Inc() }

// Command counts one chat command by name and outcome.
func (m *Metrics) Command(name, outcome string) { m.commands.WithLabelValues(name, outcome).Inc() }

// Recall counts the keys of one recall of the default bot by result.
func (m *Metrics) Recall(recalled, failed int) { m.Bot(DefaultBot).Recall(recalled, failed) }

// Unsettled counts one reservation settlement reported (bot.Observer), as
// dingrecall_ledger_reservations_unsettled_total.
func (m *Metrics) Unsettled() { m.unsettled.Inc() }

// PendingReservations sets dingrecall_ledger_reservations_pending
// (bot.Observer).
func (m *Metrics) PendingReservations(n int) {
	m.reservations.WithLabelValues(DefaultBot).Set(float64(n))
}

// APICall counts one HTTP exchange of the default bot with DingTalk
// (dingtalk.Observer).
func (m *Metrics) APICall(api string, status int, code string, took time.Duration) {
	m.Bot(DefaultBot).APICall(api, status, code, took)
}

// Retry counts one retried DingTalk call of the default bot (dingtalk.Observer).
func (m *Metrics) Retry(api, code string) { m.Bot(DefaultBot).Retry(api, code) }

// TokenRefresh counts one access token fetch of the default bot
// (dingtalk.Observer).
func (m *Metrics) TokenRefresh(err error) { m.Bot(DefaultBot).TokenRefresh(err) }

// QuotaRefused counts one monthly quota refusal of the default bot
// (dingtalk.Observer).
func (m *Metrics) QuotaRefused(api string) { m.Bot(DefaultBot).QuotaRefused(api) }

// Banned counts one ban page answer to the default bot (dingtalk.Observer).
func (m *Metrics) Banned(api string) { m.Bot(DefaultBot).Banned(api) }

// OptionalStopped counts one optional call of the default bot not made
// (dingtalk.Observer).
func (m *Metrics) OptionalStopped(api string) { m.Bot(DefaultBot).OptionalStopped(api) }

// Connected records whether the default bot's Stream mode connection is up
// (stream.Observer).
func (m *Metrics) Connected(up bool) { m.Bot(DefaultBot).Connected(up) }

// connectedBot records whether bot's Stream mode connection is up, and sets
// dingrecall_stream_connected to the number of bots whose connection is.
func (m *Metrics) connectedBot(bot string, up bool) {
	m.botsMu.Lock()
	defer m.botsMu.Unlock()
	if up {
		m.connected[bot] = true
	} else {
		delete(m.connected, bot)
	}
	m.streamUp.Set(float64(len(m.connected)))
}

// Reconnect counts one Stream mode redial.
func (m *Metrics) Reconnect(reason string) { m.reconnects.WithLabelValues(reason).Inc() }

// Frame counts one Stream mode frame.
func (m *Metrics) Frame(typ, topic string) { m.frames.WithLabelValues(typ, topic).Inc() }

// Ack counts one Stream mode acknowledgement.
func (m *Metrics) Ack(code int) { m.acks.WithLabelValues(strconv.Itoa(code)).Inc() }

// StreamAuthFailure counts one Stream mode connections/open call that DingTalk refused
// for the app key or secret (stream.Observer), as dingrecall_stream_auth_failures_total.
func (m *Metrics) StreamAuthFailure() { m.authFailures.Inc() }
