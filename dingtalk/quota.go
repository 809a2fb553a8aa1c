package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// DingTalk meters an organisation's open API calls per calendar month; once
// the month's quota is spent, every metered call answers HTTP 403
// Forbidden.AccessDenied.ApiCountLimitForOrg (old-style APIs: errcode 90020,
// "您的企业本月api调用量已超过限制…") until the next month. An IP address that
// makes too many calls (more than 10,000 in 20 seconds) is refused for 5
// minutes with an HTML page instead of JSON.

// CodeOrgQuotaLegacy is the old-style errcode of the monthly quota refusal,
// as the client gives it in APIError.Code.
const CodeOrgQuotaLegacy = "90020"

// CodeBanPage is the code the client gives an answer that is an HTML page,
// on any status: DingTalk's IP ban page.
const CodeBanPage = "ip.banned"

// BanBackoff is how long the client refuses every call, without calling
// DingTalk, after DingTalk answered with its IP ban page.
const BanBackoff = 5 * time.Minute

// Errors of the quota governor and the ban backoff; decide them with
// errors.Is.
var (
	// ErrOptionalCallStopped: an optional call (see IsOptional) was refused
	// locally, without calling DingTalk, because the Meter says the monthly
	// quota is spent.
	ErrOptionalCallStopped = errors.New("optional DingTalk call stopped: the monthly API quota is spent")
	// ErrBanned: DingTalk answered with its IP ban page, or the client is
	// refusing calls for BanBackoff after it did.
	ErrBanned = errors.New("DingTalk banned this IP address for a while")
)

// Meter counts the HTTP requests a Client sends to DingTalk's open API and
// says when the month's quota is spent. Its methods must be safe for
// concurrent use and quick: they run on every call.
type Meter interface {
	// Metered is told of every HTTP request the client sends: the token
	// fetch and each retry attempt included, calls refused locally not.
	Metered(ctx context.Context, api string)
	// Exhausted reports whether the month's quota is spent, so that optional
	// calls stop.
	Exhausted() bool
	// Refused is told that DingTalk itself refused a call for the
	// organisation's spent monthly quota: the quota is shared with the
	// organisation's other apps, so it may be spent whatever the count.
	Refused()
}

// WithMeter sets the Meter told of every request; when it reports the quota
// spent, optional calls (IsOptional) fail with ErrOptionalCallStopped
// before any HTTP. Sends, recalls, card delivery and tokens always go on.
func WithMeter(m Meter) Option {
	return func(c *Client) error {
		if m == nil {
			return errors.New("meter is nil")
		}
		c.meter = m
		return nil
	}
}

// optionalAPIs are the calls dingrecall can do without: reactions, message
// status queries and card updates. The one list the client decides by.
var optionalAPIs = map[string]bool{
	PathEmotionReply:  true,
	PathEmotionRecall: true,
	PathGroupStatus:   true,
	PathPrivateStatus: true,
	PathOTOStatus:     true,
	PathCardUpdate:    true,
}

// IsOptional reports whether api is a call the client stops when its Meter
// says the monthly quota is spent: the reaction calls, the message status
// queries and the card update. Sends, recalls, card delivery, the token and
// connections/open are never optional.
func IsOptional(api string) bool { return optionalAPIs[api] }

// IsQuotaExhausted reports whether err is DingTalk's refusal for the
// organisation's spent monthly quota (Forbidden.AccessDenied.ApiCountLimitForOrg
// or errcode 90020). It is final until QuotaResetsOn.
func IsQuotaExhausted(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.isQuotaRefusal()
}

// isQuotaRefusal reports whether e is the monthly quota refusal.
func (e *APIError) isQuotaRefusal() bool { return IsQuotaCode(e.Code) }

// IsQuotaCode reports whether code is the monthly quota refusal's, new
// style or old (a recall's per-key failure carries it as its code).
func IsQuotaCode(code string) bool { return code == CodeOrgQuota || code == CodeOrgQuotaLegacy }

// QuotaResetDay is QuotaResetsOn(now) as the day it is: 2006-01-02.
func QuotaResetDay(now time.Time) string { return QuotaResetsOn(now).Format(time.DateOnly) }

// QuotaZone is DingTalk's time zone, in which its calendar months turn:
// Asia/Shanghai, UTC+8 all year.
var QuotaZone = time.FixedZone("Asia/Shanghai", 8*60*60)

// QuotaResetsOn is when DingTalk's monthly quota, spent at now, is counted
// afresh: the first day of the next calendar month, 00:00 in Asia/Shanghai
// (UTC+8), returned in that zone.
func QuotaResetsOn(now time.Time) time.Time {
	t := now.In(QuotaZone)
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, QuotaZone)
}

// isHTML reports whether an answer is an HTML page: its Content-Type says
// text/html, or its body's first non-space byte is '<'.
func isHTML(resp *http.Response, body []byte) bool {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Type"))), "text/html") {
		return true
	}
	trimmed := strings.TrimLeft(string(body), " \t\r\n\f\v")
	return strings.HasPrefix(trimmed, "<")
}

// BanGate is the IP ban backoff. DingTalk bans an address, not an app, so
// the clients of one process (one per bot) share one gate (WithBanGate):
// once any of them meets the ban page, none calls DingTalk until it ends.
// It is safe for concurrent use.
type BanGate struct {
	mu    sync.Mutex
	until time.Time
}

// NewBanGate returns a gate with no ban.
func NewBanGate() *BanGate { return &BanGate{} }

// Until is when the ban backoff ends: the zero time when there was none.
func (g *BanGate) Until() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until
}

// hold extends the backoff to until.
func (g *BanGate) hold(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.until) {
		g.until = until
	}
}

// WithBanGate shares g's IP ban backoff with the other clients given it.
func WithBanGate(g *BanGate) Option {
	return func(c *Client) error {
		if g == nil {
			return errors.New("WithBanGate: nil gate")
		}
		c.ban = g
		return nil
	}
}

// banned records DingTalk's ban page answer to api: the client (and every
// client sharing its gate) refuses calls for BanBackoff from now, and
// returns the error for the answer.
func (c *Client) banned(api string, status int, requestID string) *APIError {
	c.ban.hold(c.now().Add(BanBackoff))
	until := c.ban.Until() // a later ban page of another call may hold longer
	c.log.WithFields(logrus.Fields{"api": api, "status": status, "until": until.Format(time.RFC3339)}).
		Warn("dingtalk answered with an HTML page (its IP ban): holding every call back")
	if c.observer != nil {
		c.observer.Banned(api)
	}
	return &APIError{API: api, Status: status, Code: CodeBanPage, RequestID: requestID,
		Message: "DingTalk answered with an HTML page, its IP ban; calls are held back until " + until.Format(time.RFC3339), Err: ErrBanned, Until: until}
}

// refuseLocally returns the error for a call to api the client does not
// send: one made during a ban backoff, or an optional one while the Meter
// says the quota is spent. It returns nil when the call may go out.
func (c *Client) refuseLocally(api string) error {
	if until := c.ban.Until(); c.now().Before(until) {
		return &APIError{API: api, Code: CodeBanPage, Err: ErrBanned, Until: until,
			Message: "not called: DingTalk's IP ban page holds calls back until " + until.Format(time.RFC3339)}
	}
	if c.meter != nil && IsOptional(api) && c.meter.Exhausted() {
		if c.observer != nil {
			c.observer.OptionalStopped(api)
		}
		return fmt.Errorf("dingtalk %s: %w", api, ErrOptionalCallStopped)
	}
	return nil
}

// BannedUntil is when the client's ban backoff ends: the zero time when
// DingTalk never answered with its ban page.
func (c *Client) BannedUntil() time.Time {
	return c.ban.Until()
}
