package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// Defaults of the client's options.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 60 * time.Second
	// DefaultPingInterval is how often the client pings the gateway, as DingTalk's own
	// SDKs do.
	DefaultPingInterval = 60 * time.Second
	// DefaultPongTimeout is how long the client waits for the pong (or any frame) after
	// a ping before it drops the connection.
	DefaultPongTimeout = 5 * time.Second
	DefaultUA          = "dingrecall"
)

// Limits of one connection.
const (
	dialTimeout  = 10 * time.Second // the WebSocket handshake
	writeTimeout = 10 * time.Second // one acknowledgement
	// drainTimeout bounds how long a connection that got a disconnect frame is read
	// before the client closes it itself; DingTalk closes it after about ten seconds.
	drainTimeout   = 30 * time.Second
	maxFrameBytes  = 1 << 20
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
	// ReasonOpen: connections/open failed (rejected credentials included).
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
// concurrent use and quick. A nil Observer is allowed. The connections/open calls
// themselves are told to the dingtalk.Client's own dingtalk.Observer.
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
	// StreamAuthFailure is told each time DingTalk refuses connections/open for the
	// app's key or secret (see IsCredentialsRejected).
	StreamAuthFailure()
}

// Timers starts the timers the client waits on: the backoff before a redial, the
// keepalive ping and its pong deadline, the drain limit of a connection the gateway
// asked to leave, and the mark of a connection that stayed up for the longest backoff.
// The default runs on the real clock; tests pass one they advance by hand.
type Timers interface {
	// NewTimer starts a timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is one timer a Timers started.
type Timer interface {
	// C delivers the time once, when the timer fires.
	C() <-chan time.Time
	// Stop stops the timer; it does nothing to a timer that fired already.
	Stop()
}

// Client receives bot callbacks over DingTalk's Stream mode. Build it with New and call
// Run.
type Client struct {
	api          *dingtalk.Client
	handle       Handler
	log          logrus.FieldLogger
	observer     Observer
	minBackoff   time.Duration
	maxBackoff   time.Duration
	pingInterval time.Duration
	pongTimeout  time.Duration
	ua           string
	timers       Timers
	handleCard   CardHandler // nil: the client does not subscribe to card clicks
	cardsOnly    bool        // subscribe to card clicks only (WithCardsOnly)

	seen    *dedup
	running atomic.Bool
	seq     atomic.Int64 // connections opened, for logs

	liveMu sync.Mutex
	live   int // connections up
}

// Option configures a Client.
type Option func(*Client) error

// WithObserver sets an Observer told of connections, reconnects, frames, acks and
// rejected credentials.
func WithObserver(o Observer) Option {
	return func(c *Client) error {
		c.observer = o
		return nil
	}
}

// WithBackoff sets the first and the longest wait before redialing after a failure
// (defaults DefaultMinBackoff and DefaultMaxBackoff). Each failure in a row doubles the
// wait, drawn at random from its upper half; a connection that delivers a frame, or
// stays up for the longest wait, resets it.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(c *Client) error {
		if minWait <= 0 || maxWait < minWait {
			return fmt.Errorf("backoff %v to %v: want 0 < min <= max", minWait, maxWait)
		}
		c.minBackoff, c.maxBackoff = minWait, maxWait
		return nil
	}
}

// WithKeepalive sets how often the client sends a WebSocket ping on each connection,
// and how long it then waits for the pong or any frame before it drops the connection
// (defaults DefaultPingInterval and DefaultPongTimeout). A socket that goes silent is
// noticed within interval + pongTimeout.
func WithKeepalive(interval, pongTimeout time.Duration) Option {
	return func(c *Client) error {
		if interval <= 0 || pongTimeout <= 0 {
			return fmt.Errorf("keepalive %v, pong timeout %v: want positive durations", interval, pongTimeout)
		}
		c.pingInterval, c.pongTimeout = interval, pongTimeout
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

// WithTimers sets what starts the client's timers (default: the real clock). The time
// that ages remembered callbacks (DedupWindow) is the dingtalk.Client's clock.
func WithTimers(t Timers) Option {
	return func(c *Client) error {
		if t == nil {
			return errors.New("timers are nil")
		}
		c.timers = t
		return nil
	}
}

// New builds a client that receives the robot callbacks of api's app and hands each new
// one to handle. connections/open goes through api, so it uses api's app key and
// secret, base URL, HTTP client, QPS limit, timeout, observer and redaction, and fails
// with a *dingtalk.APIError; the WebSocket is dialed with api's HTTP client, and the
// client logs to api's logger and reads api's clock.
func New(api *dingtalk.Client, handle Handler, opts ...Option) (*Client, error) {
	if api == nil {
		return nil, errors.New("stream: dingtalk client is nil")
	}
	if handle == nil {
		return nil, errors.New("stream: handler is nil")
	}
	c := &Client{
		api:          api,
		handle:       handle,
		minBackoff:   DefaultMinBackoff,
		maxBackoff:   DefaultMaxBackoff,
		pingInterval: DefaultPingInterval,
		pongTimeout:  DefaultPongTimeout,
		ua:           DefaultUA,
		timers:       realTimers{},
		seen:         newDedup(DedupWindow, DedupSize),
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("stream: %w", err)
		}
	}
	if c.cardsOnly && c.handleCard == nil {
		return nil, errors.New("stream: WithCardsOnly needs WithCardHandler")
	}
	if c.observer == nil {
		c.observer = nopObserver{}
	}
	c.log = api.Logger().WithField("api", "stream")
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
	var calm Timer // after an immediate redial: fires when the next may go
	defer func() {
		cancel()
		wg.Wait()
		if calm != nil {
			calm.Stop()
		}
	}()

	failures := 0 // failed connections in a row
	for {
		conn, reason, err := c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			wait := c.backoff(failures)
			entry := c.log.WithError(err).WithFields(logrus.Fields{"reason": reason, "failures": failures, "wait": wait.String()})
			if IsCredentialsRejected(err) {
				c.observer.StreamAuthFailure()
				entry.Error("dingtalk stream: DingTalk rejected the app key or secret; check DINGTALK_APP_KEY and DINGTALK_APP_SECRET (retrying)")
			} else {
				entry.Warn("dingtalk stream: connecting failed, retrying")
			}
			if !c.sleep(ctx, wait) {
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
				case <-calm.C():
				case <-ctx.Done():
					return nil
				}
				calm.Stop()
			}
			calm = c.timers.NewTimer(c.minBackoff)
			c.log.WithField("conn", conn.id).Info("dingtalk stream: gateway asked to reconnect, redialing now")
			c.observer.Reconnect(ReasonDisconnect)
			continue
		}
		failures++
		wait := c.backoff(failures)
		reason = conn.endReason()
		c.log.WithFields(logrus.Fields{"conn": conn.id, "reason": reason, "failures": failures, "wait": wait.String()}).Warn("dingtalk stream: connection lost, redialing")
		if !c.sleep(ctx, wait) {
			return nil
		}
		c.observer.Reconnect(reason)
	}
}

// IsCredentialsRejected reports whether err says DingTalk refused the app key or secret:
// a *dingtalk.APIError with code invalidClientIdOrSecret, or with HTTP status 401 or 403
// other than a throttling or quota answer.
func IsCredentialsRejected(err error) bool {
	var apiErr *dingtalk.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.Code {
	case dingtalk.CodeInvalidClient:
		return true
	case dingtalk.CodeQPSLimitAppAndAPI, dingtalk.CodeQPSLimitAPI, dingtalk.CodeOrgQuota:
		return false
	}
	return apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden
}

// watch waits until conn is drained (the gateway sent disconnect) or ended, or ctx ends.
// healthy reports whether conn delivered a frame or stayed up for the longest backoff.
func (c *Client) watch(ctx context.Context, conn *conn) (drained, healthy bool) {
	timer := c.timers.NewTimer(c.maxBackoff)
	defer timer.Stop()
	lived := false
	health := func() bool {
		if !lived {
			select { // the mark may have come with the end
			case <-timer.C():
				lived = true
			default:
			}
		}
		return lived || conn.delivered.Load()
	}
	for {
		select {
		case <-ctx.Done():
			return false, health()
		case <-conn.draining:
			return true, health()
		case <-conn.done:
			return false, health()
		case <-timer.C():
			lived = true
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
func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	t := c.timers.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// realTimers are Timers on the real clock.
type realTimers struct{}

func (realTimers) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop()               { r.t.Stop() }

// timerC is t's channel, or nil (which never delivers) when there is no timer.
func timerC(t Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C()
}

// nopObserver is the Observer of a client built without one.
type nopObserver struct{}

func (nopObserver) Connected(bool)       {}
func (nopObserver) Reconnect(string)     {}
func (nopObserver) Frame(string, string) {}
func (nopObserver) Ack(int)              {}
func (nopObserver) StreamAuthFailure()   {}
