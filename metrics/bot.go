package metrics

import (
	"strconv"
	"time"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
)

// BotMetrics is one bot's view of the Metrics: it labels the DingTalk call,
// retry, token, recall and quota metrics with bot="<name>". It implements
// dingtalk.Observer, bot.Observer and stream.Observer; the command, ledger
// and Stream frame metrics it counts carry no bot label. Get it with
// Metrics.Bot. It is safe for concurrent use.
type BotMetrics struct {
	m    *Metrics
	name string
}

// The observer interfaces a BotMetrics implements.
var (
	_ dingtalk.Observer = (*BotMetrics)(nil)
	_ bot.Observer      = (*BotMetrics)(nil)
	_ stream.Observer   = (*BotMetrics)(nil)
	_ dingtalk.Observer = (*Metrics)(nil)
	_ bot.Observer      = (*Metrics)(nil)
	_ stream.Observer   = (*Metrics)(nil)
)

// Bot returns the view of the bot named name; the same name always gives
// the same view. Its quota gauges read 0 until QuotaUsed and QuotaLimit set
// them.
func (m *Metrics) Bot(name string) *BotMetrics {
	m.botsMu.Lock()
	defer m.botsMu.Unlock()
	b, ok := m.bots[name]
	if !ok {
		b = &BotMetrics{m: m, name: name}
		m.bots[name] = b
		m.quotaUsed.WithLabelValues(name)
		m.quotaLimit.WithLabelValues(name)
	}
	return b
}

// Name is the bot's name, the value of its bot label.
func (b *BotMetrics) Name() string { return b.name }

// APICall counts one HTTP exchange with DingTalk (dingtalk.Observer), as
// dingrecall_dingtalk_calls_total and dingrecall_dingtalk_call_seconds.
func (b *BotMetrics) APICall(api string, status int, _ string, took time.Duration) {
	b.m.apiCalls.WithLabelValues(b.name, api, strconv.Itoa(status)).Inc()
	b.m.apiLatency.WithLabelValues(b.name, api).Observe(took.Seconds())
}

// Retry counts one retried DingTalk call (dingtalk.Observer), as
// dingrecall_dingtalk_retries_total.
func (b *BotMetrics) Retry(api, code string) { b.m.retries.WithLabelValues(b.name, api, code).Inc() }

// TokenRefresh counts one access token fetch (dingtalk.Observer), as
// dingrecall_token_refreshes_total.
func (b *BotMetrics) TokenRefresh(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	b.m.tokenRefreshes.WithLabelValues(b.name, result).Inc()
}

// QuotaRefused counts one answer refusing a call for the spent monthly quota
// (dingtalk.Observer), as dingrecall_dingtalk_quota_refusals_total.
func (b *BotMetrics) QuotaRefused(string) {
	b.m.quotaRefusals.WithLabelValues(b.name).Inc()
	b.m.quotaResets.WithLabelValues(b.name).Set(float64(dingtalk.QuotaResetsOn(time.Now()).Unix()))
}

// Banned counts one HTML ban page answer (dingtalk.Observer), as
// dingrecall_dingtalk_ban_backoffs_total.
func (b *BotMetrics) Banned(string) { b.m.banBackoffs.WithLabelValues(b.name).Inc() }

// OptionalStopped counts one optional call not made for the spent quota
// (dingtalk.Observer), as dingrecall_dingtalk_optional_calls_stopped_total.
func (b *BotMetrics) OptionalStopped(api string) {
	b.m.optionalStopped.WithLabelValues(b.name, api).Inc()
}

// QuotaUsed sets dingrecall_quota_used_calls: the metered calls the bot made
// this calendar month.
func (b *BotMetrics) QuotaUsed(n int64) { b.m.quotaUsed.WithLabelValues(b.name).Set(float64(n)) }

// QuotaLimit sets dingrecall_quota_limit_calls: the bot's monthly quota, 0
// when unknown.
func (b *BotMetrics) QuotaLimit(n int64) { b.m.quotaLimit.WithLabelValues(b.name).Set(float64(n)) }

// QuotaWarned counts one warning that the bot used 80 % of its monthly
// quota, as dingrecall_quota_warnings_total.
func (b *BotMetrics) QuotaWarned() { b.m.quotaWarnings.WithLabelValues(b.name).Inc() }

// Command counts one chat command (bot.Observer), as
// dingrecall_commands_total, without a bot label.
func (b *BotMetrics) Command(name, outcome string) { b.m.Command(name, outcome) }

// Recall counts the keys of one recall by result (bot.Observer), as
// dingrecall_recall_keys_total.
func (b *BotMetrics) Recall(recalled, failed int) {
	b.m.keys.WithLabelValues(b.name, "recalled").Add(float64(recalled))
	b.m.keys.WithLabelValues(b.name, "failed").Add(float64(failed))
}

// Unsettled counts one reservation settlement reported (bot.Observer),
// without a bot label.
func (b *BotMetrics) Unsettled() { b.m.Unsettled() }

// PendingReservations sets dingrecall_ledger_reservations_pending
// (bot.Observer) for the bot: each bot's settlement counts its own.
func (b *BotMetrics) PendingReservations(n int) {
	b.m.reservations.WithLabelValues(b.name).Set(float64(n))
}

// Connected records whether the bot's Stream mode connection is up
// (stream.Observer); dingrecall_stream_connected counts the bots whose
// connection is.
func (b *BotMetrics) Connected(up bool) { b.m.connectedBot(b.name, up) }

// Reconnect counts one Stream mode redial (stream.Observer).
func (b *BotMetrics) Reconnect(reason string) { b.m.Reconnect(reason) }

// Frame counts one Stream mode frame (stream.Observer).
func (b *BotMetrics) Frame(typ, topic string) { b.m.Frame(typ, topic) }

// Ack counts one Stream mode acknowledgement (stream.Observer).
func (b *BotMetrics) Ack(code int) { b.m.Ack(code) }

// StreamAuthFailure counts one connections/open refused for the app's key or
// secret (stream.Observer).
func (b *BotMetrics) StreamAuthFailure() { b.m.StreamAuthFailure() }
