package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// PathOpen is the gateway call that issues a ticket and names the endpoint to dial.
const PathOpen = "/v1.0/gateway/connections/open"

// Defaults of the client's options.
const (
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = 60 * time.Second
	DefaultIdle        = 90 * time.Second
	DefaultPongTimeout = 5 * time.Second
	DefaultUA          = "dingrecall"
)

// Limits of one connection.
const (
	openTimeout  = 10 * time.Second // connections/open, one attempt
	dialTimeout  = 10 * time.Second // the WebSocket handshake
	writeTimeout = 10 * time.Second // one acknowledgement
	// drainTimeout bounds how long a connection that got a disconnect frame is read
	// before the client closes it itself; DingTalk closes it after about ten seconds.
	drainTimeout   = 30 * time.Second
	maxFrameBytes  = 1 << 20
	maxErrorBytes  = 4 << 10
	redacted       = "[redacted]"
	closeReasonEnd = "client shutting down"
)

// Reasons the Observer is given for a reconnect.
const (
	// ReasonDisconnect: the gateway sent a disconnect frame; the redial is immediate.
	ReasonDisconnect = "disconnect"
	// ReasonClosed: the connection ended (closed by the gateway, dropped, read error).
	ReasonClosed = "closed"
	// ReasonKeepalive: no pong or frame came in time after a WebSocket ping.
	ReasonKeepalive = "keepalive"
	// ReasonOpen: connections/open failed.
	ReasonOpen = "open"
	// ReasonDial: the WebSocket dial failed.
	ReasonDial = "dial"
)

// Handler is given each new robot callback, on the connection's reader goroutine. It
// must be quick: the app only queues the work. A nil error acknowledges the frame with
// 200, an error with 500 (DingTalk may deliver it again, and the client will hand it over
// again). The acknowledgement is sent right after Handler returns, before the queued work
// is done. ctx is Run's context.
type Handler func(ctx context.Context, cb *dingtalk.Callback) error

// Observer is told what the client does, for metrics. Its methods must be safe for
// concurrent use and quick. A nil Observer is allowed.
type Observer interface {
	// Connected is told when the client goes from no connection to one (true) and back
	// (false); it follows Client.Connected.
	Connected(up bool)
	// Reconnect is told of every dial after the first, with the reason for it: one of
	// the Reason constants.
	Reconnect(reason string)
	// Frame is told of every frame received, with its type and topic.
	Frame(typ, topic string)
	// Ack is told of every acknowledgement sent, with its code.
	Ack(code int)
}

// Client receives bot callbacks over DingTalk's Stream mode. Build it with New and call
// Run.
type Client struct {
	appKey, appSecret string
	handle            Handler
	baseURL           string
	http              *http.Client
	ownHTTP           bool
	log               logrus.FieldLogger
	observer          Observer
	minBackoff        time.Duration
	maxBackoff        time.Duration
	idle              time.Duration
	pongTimeout       time.Duration
	ua                string
	now               func() time.Time

	seen    *dedup
	running atomic.Bool
	seq     atomic.Int64 // connections opened, for logs

	liveMu sync.Mutex
	live   int // connections up
}

// Option configures a Client.
type Option func(*Client) error

// WithBaseURL sets the open API's base URL that connections/open is called on (default
// dingtalk.DefaultBaseURL).
func WithBaseURL(raw string) Option {
	return func(c *Client) error {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("base url %q: want an absolute http or https url", raw)
		}
		c.baseURL = strings.TrimRight(u.String(), "/")
		return nil
	}
}

// WithHTTPClient sets the HTTP client for connections/open and the WebSocket dial.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("http client is nil")
		}
		c.http, c.ownHTTP = hc, false
		return nil
	}
}

// WithLogger sets where the client logs connections and failures.
func WithLogger(l logrus.FieldLogger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("logger is nil")
		}
		c.log = l
		return nil
	}
}

// WithObserver sets an Observer told of connections, reconnects, frames and acks.
func WithObserver(o Observer) Option {
	return func(c *Client) error {
		c.observer = o
		return nil
	}
}

// WithBackoff sets the first and the longest wait before redialing after a failure
// (defaults DefaultMinBackoff and DefaultMaxBackoff). Each failure in a row doubles the
// wait, drawn at random from its upper half; a connection that stays up for max resets it.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(c *Client) error {
		if minWait <= 0 || maxWait < minWait {
			return fmt.Errorf("backoff %v to %v: want 0 < min <= max", minWait, maxWait)
		}
		c.minBackoff, c.maxBackoff = minWait, maxWait
		return nil
	}
}

// WithKeepalive sets how long a connection may stay quiet before the client sends a
// WebSocket ping, and how long it then waits for a pong or any frame before it drops the
// connection (defaults DefaultIdle and DefaultPongTimeout).
func WithKeepalive(idle, pongTimeout time.Duration) Option {
	return func(c *Client) error {
		if idle <= 0 || pongTimeout <= 0 {
			return fmt.Errorf("keepalive %v, pong timeout %v: want positive durations", idle, pongTimeout)
		}
		c.idle, c.pongTimeout = idle, pongTimeout
		return nil
	}
}

// WithUA sets the ua field of connections/open, such as "dingrecall/1.4.0".
func WithUA(ua string) Option {
	return func(c *Client) error {
		if strings.TrimSpace(ua) == "" {
			return errors.New("ua is empty")
		}
		c.ua = ua
		return nil
	}
}

// WithClock sets the clock that ages remembered callbacks (DedupWindow). Timers
// (backoff, keepalive) run on the real clock.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error {
		if now == nil {
			return errors.New("clock is nil")
		}
		c.now = now
		return nil
	}
}

// New builds a client for the app with this key and secret that hands each new robot
// callback to handle.
func New(appKey, appSecret string, handle Handler, opts ...Option) (*Client, error) {
	if strings.TrimSpace(appKey) == "" || strings.TrimSpace(appSecret) == "" {
		return nil, errors.New("stream: app key and app secret are required")
	}
	if handle == nil {
		return nil, errors.New("stream: handler is nil")
	}
	c := &Client{
		appKey:      appKey,
		appSecret:   appSecret,
		handle:      handle,
		baseURL:     dingtalk.DefaultBaseURL,
		http:        &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		ownHTTP:     true,
		log:         logrus.StandardLogger(),
		minBackoff:  DefaultMinBackoff,
		maxBackoff:  DefaultMaxBackoff,
		idle:        DefaultIdle,
		pongTimeout: DefaultPongTimeout,
		ua:          DefaultUA,
		now:         time.Now,
		seen:        newDedup(DedupWindow, DedupSize),
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("stream: %w", err)
		}
	}
	if c.observer == nil {
		c.observer = nopObserver{}
	}
	c.log = c.log.WithField("api", "stream")
	return c, nil
}

// ErrRunning is returned by Run when the client is already running.
var ErrRunning = errors.New("stream: client is already running")

// Run connects and stays connected until ctx ends, redialing as needed; it returns nil
// once ctx has ended and every connection and goroutine it started has stopped. It
// returns ErrRunning when called while another Run of the same client is going.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		if c.ownHTTP {
			c.http.CloseIdleConnections()
		}
	}()

	failures := 0             // failed connections in a row
	var calm <-chan time.Time // after an immediate redial: fires when the next may go
	for {
		conn, reason, err := c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			wait := c.backoff(failures)
			c.log.WithError(err).WithFields(logrus.Fields{"reason": reason, "failures": failures, "wait": wait.String()}).Warn("dingtalk stream: connecting failed, retrying")
			if !sleep(ctx, wait) {
				return nil
			}
			c.observer.Reconnect(reason)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn.run(ctx)
		}()

		drained, healthy := c.watch(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
		if healthy {
			failures = 0
		}
		if drained {
			// The gateway asked us to move: redial at once, but never more than once
			// per minimum backoff, so a gateway that says disconnect on every
			// connection cannot make us spin.
			if calm != nil {
				select {
				case <-calm:
				case <-ctx.Done():
					return nil
				}
			}
			calm = time.After(c.minBackoff)
			c.log.WithField("conn", conn.id).Info("dingtalk stream: gateway asked to reconnect, redialing now")
			c.observer.Reconnect(ReasonDisconnect)
			continue
		}
		failures++
		wait := c.backoff(failures)
		reason = conn.endReason()
		c.log.WithFields(logrus.Fields{"conn": conn.id, "reason": reason, "failures": failures, "wait": wait.String()}).Warn("dingtalk stream: connection lost, redialing")
		if !sleep(ctx, wait) {
			return nil
		}
		c.observer.Reconnect(reason)
	}
}

// watch waits until conn is drained (the gateway sent disconnect) or ended, or ctx ends.
// healthy reports whether conn stayed up for the longest backoff.
func (c *Client) watch(ctx context.Context, conn *conn) (drained, healthy bool) {
	timer := time.NewTimer(c.maxBackoff)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, healthy
		case <-conn.draining:
			return true, healthy
		case <-conn.done:
			return false, healthy
		case <-timer.C:
			healthy = true
		}
	}
}

// Connected reports whether a connection to the gateway is up.
func (c *Client) Connected() bool {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	return c.live > 0
}

// setLive counts a connection going up (+1) or down (-1) and tells the observer when
// the client as a whole goes up or down.
func (c *Client) setLive(delta int) {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	before := c.live > 0
	c.live += delta
	if after := c.live > 0; after != before {
		c.observer.Connected(after)
	}
}

// backoff is the jittered wait after failures failed connections in a row: the minimum
// doubled per failure, capped at the maximum, drawn from the upper half.
func (c *Client) backoff(failures int) time.Duration {
	d := c.maxBackoff
	if failures < 32 {
		if b := c.minBackoff << (failures - 1); b > 0 && b < d {
			d = b
		}
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, reporting false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// openRequest is the body of connections/open.
type openRequest struct {
	ClientID      string         `json:"clientId"`
	ClientSecret  string         `json:"clientSecret"`
	Subscriptions []subscription `json:"subscriptions"`
	UA            string         `json:"ua"`
	LocalIP       string         `json:"localIp"`
}

type subscription struct {
	Type  string `json:"type"`
	Topic string `json:"topic"`
}

// openResponse is the answer of connections/open.
type openResponse struct {
	Endpoint string `json:"endpoint"`
	Ticket   string `json:"ticket"`
}

// open calls connections/open for a ticket and the endpoint to dial with it.
func (c *Client) open(ctx context.Context) (*openResponse, error) {
	body, err := json.Marshal(openRequest{
		ClientID:      c.appKey,
		ClientSecret:  c.appSecret,
		Subscriptions: []subscription{{Type: TypeCallback, Topic: TopicBotMessage}},
		UA:            c.ua,
	})
	if err != nil {
		return nil, fmt.Errorf("stream: encoding connections/open: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+PathOpen, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("stream: building connections/open: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// A transport error names the URL, never the body, so it holds no secret.
		return nil, fmt.Errorf("stream: connections/open: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxFrameBytes))
	if err != nil {
		return nil, fmt.Errorf("stream: reading connections/open answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(raw))
		if len(msg) > maxErrorBytes {
			msg = msg[:maxErrorBytes] + "…"
		}
		return nil, fmt.Errorf("stream: connections/open: http %d: %s", resp.StatusCode, c.redact(msg))
	}
	var out openResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("stream: decoding connections/open answer: %w", err)
	}
	if out.Endpoint == "" || out.Ticket == "" {
		return nil, errors.New("stream: connections/open answered without an endpoint or a ticket")
	}
	u, err := url.Parse(out.Endpoint)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("stream: connections/open answered endpoint %q: want a ws or wss url", out.Endpoint)
	}
	return &out, nil
}

// redact removes the app secret from s.
func (c *Client) redact(s string) string {
	return strings.ReplaceAll(s, c.appSecret, redacted)
}

// nopObserver is the Observer of a client built without one.
type nopObserver struct{}

func (nopObserver) Connected(bool)       {}
func (nopObserver) Reconnect(string)     {}
func (nopObserver) Frame(string, string) {}
func (nopObserver) Ack(int)              {}
