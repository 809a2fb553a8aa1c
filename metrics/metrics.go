// Package metrics holds dingrecall's Prometheus metrics: what the callback
// endpoint, the commands, the recall engine, the DingTalk client, the
// ledger and the worker pool are doing. It implements the observer
// interfaces of those packages, so they stay free of Prometheus.
package metrics

import (
	"context"
	"net/http"
	"strconv"
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
	reservations   prometheus.Gauge
}

// New creates the metrics, with Go runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_callbacks_total", Help: "Robot callbacks received, by outcome: ok, bad_signature, bad_request, duplicate, busy.",
	}, []string{"outcome"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_commands_total", Help: "Chat commands run, by command and outcome: ok, refused, invalid, unavailable.",
	}, []string{"command", "outcome"})
	m.keys = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_recall_keys_total", Help: "Messages the bot tried to recall, by result: recalled or failed.",
	}, []string{"result"})
	m.apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_dingtalk_calls_total", Help: "HTTP calls to DingTalk's open API, by API path and HTTP status (0: no answer).",
	}, []string{"api", "status"})
	m.apiLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dingrecall_dingtalk_call_seconds", Help: "Duration of HTTP calls to DingTalk's open API, by API path.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"api"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_dingtalk_retries_total", Help: "DingTalk calls tried again, by API path and error code.",
	}, []string{"api", "code"})
	m.tokenRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dingrecall_token_refreshes_total", Help: "Access token fetches, by result: ok or error.",
	}, []string{"result"})
	m.streamUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dingrecall_stream_connected", Help: "1 while a Stream mode connection to DingTalk is up.",
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
	m.reservations = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dingrecall_ledger_reservations_pending",
		Help: "Sends reserved in the ledger and not yet recorded or dropped (under way, or left over until settled), as of the last settlement pass.",
	})
	for _, c := range []prometheus.Collector{m.callbacks, m.commands, m.keys, m.apiCalls, m.apiLatency, m.retries,
		m.tokenRefreshes, m.streamUp, m.reconnects, m.frames, m.acks, m.authFailures, m.unsettled, m.reservations} {
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

// Recall counts the keys of one recall by result.
func (m *Metrics) Recall(recalled, failed int) {
	m.keys.WithLabelValues("recalled").Add(float64(recalled))
	m.keys.WithLabelValues("failed").Add(float64(failed))
}

// Unsettled counts one reservation settlement reported (bot.Observer), as
// dingrecall_ledger_reservations_unsettled_total.
func (m *Metrics) Unsettled() { m.unsettled.Inc() }

// PendingReservations sets dingrecall_ledger_reservations_pending
// (bot.Observer).
func (m *Metrics) PendingReservations(n int) { m.reservations.Set(float64(n)) }

// APICall counts one HTTP exchange with DingTalk (dingtalk.Observer).
func (m *Metrics) APICall(api string, status int, _ string, took time.Duration) {
	m.apiCalls.WithLabelValues(api, strconv.Itoa(status)).Inc()
	m.apiLatency.WithLabelValues(api).Observe(took.Seconds())
}

// Retry counts one retried DingTalk call (dingtalk.Observer).
func (m *Metrics) Retry(api, code string) { m.retries.WithLabelValues(api, code).Inc() }

// TokenRefresh counts one access token fetch (dingtalk.Observer).
func (m *Metrics) TokenRefresh(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.tokenRefreshes.WithLabelValues(result).Inc()
}

// Connected records whether a Stream mode connection is up.
func (m *Metrics) Connected(up bool) {
	if up {
		m.streamUp.Set(1)
	} else {
		m.streamUp.Set(0)
	}
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
