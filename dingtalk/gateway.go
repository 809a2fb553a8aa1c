package dingtalk

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// PathGatewayOpen is the Stream mode gateway call that issues a single-use ticket and
// names the WebSocket endpoint to dial with it.
const PathGatewayOpen = "/v1.0/gateway/connections/open"

// Subscription is one topic a Stream mode connection asks the gateway for.
type Subscription struct {
	// Type is the frame type: "EVENT" or "CALLBACK".
	Type string `json:"type"`
	// Topic is the topic, such as "/v1.0/im/bot/messages/get".
	Topic string `json:"topic"`
}

// GatewayTicket is the answer of connections/open: the WebSocket endpoint and the
// single-use ticket to dial it with.
type GatewayTicket struct {
	// Endpoint is the ws or wss URL to dial.
	Endpoint string `json:"endpoint"`
	// Ticket opens exactly one connection; it is a credential and must not be logged.
	Ticket string `json:"ticket"`
}

// gatewayRequest is the body of connections/open.
type gatewayRequest struct {
	ClientID      string         `json:"clientId"`
	ClientSecret  string         `json:"clientSecret"`
	Subscriptions []Subscription `json:"subscriptions"`
	UA            string         `json:"ua"`
	LocalIP       string         `json:"localIp"`
}

// OpenGateway calls connections/open once with the app's key and secret, asking for
// subs and naming the caller ua. It goes through the same transport as every other
// call (base URL, QPS limit, timeout, size limits, observer, redaction) but takes no
// access token and is never retried: the Stream mode client that calls it owns its
// own backoff. A failure is an *APIError; an answer without an endpoint or a ticket,
// or whose endpoint is not a ws or wss URL, has Code CodeBadResponse.
func (c *Client) OpenGateway(ctx context.Context, ua string, subs ...Subscription) (GatewayTicket, error) {
	in := gatewayRequest{ClientID: c.appKey, ClientSecret: c.appSecret, Subscriptions: subs, UA: ua}
	var out GatewayTicket
	if err := c.call(ctx, PathGatewayOpen, in, &out, retryNever); err != nil {
		return GatewayTicket{}, err
	}
	if out.Endpoint == "" || out.Ticket == "" {
		return GatewayTicket{}, &APIError{API: PathGatewayOpen, Status: http.StatusOK, Code: CodeBadResponse, Message: "answer has no endpoint or no ticket"}
	}
	u, err := url.Parse(out.Endpoint)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return GatewayTicket{}, &APIError{API: PathGatewayOpen, Status: http.StatusOK, Code: CodeBadResponse,
			Message: c.Redact(fmt.Sprintf("endpoint %q is not a ws or wss url", out.Endpoint), out.Ticket)}
	}
	return out, nil
}

// HTTPClient is the HTTP client every call goes through (see WithHTTPClient); the
// Stream mode client dials its WebSocket with it.
func (c *Client) HTTPClient() *http.Client { return c.http }

// Logger is the logger the client logs to (see WithLogger).
func (c *Client) Logger() logrus.FieldLogger { return c.log }

// Now reads the client's clock (see WithClock).
func (c *Client) Now() time.Time { return c.now() }

// Redact returns s with the app secret, the cached access token and each non-empty
// value of also (such as a Stream mode ticket, in its plain and its query-escaped
// form) replaced by "[redacted]".
func (c *Client) Redact(s string, also ...string) string {
	s = c.redact(s, "")
	for _, v := range also {
		if v == "" {
			continue
		}
		s = strings.ReplaceAll(s, v, redacted)
		if q := url.QueryEscape(v); q != v {
			s = strings.ReplaceAll(s, q, redacted)
		}
	}
	return s
}
