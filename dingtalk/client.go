package dingtalk

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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// DefaultBaseURL is the open API host of DingTalk's recall documents.
const DefaultBaseURL = "https://api.dingtalk.io"

// Defaults of the client's options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultQPS         = 20
	DefaultConcurrency = 10
	// MaxKeysPerCall is DingTalk's limit of processQueryKeys in one recall call.
	MaxKeysPerCall = 20
	// MaxMsgParamBytes is DingTalk's limit on the size of msgParam.
	MaxMsgParamBytes = 15000

	tokenMargin       = 5 * time.Minute
	maxErrorBodyBytes = 64 << 10
	maxBodyBytes      = 1 << 20
	headerToken       = "x-acs-dingtalk-access-token"
	redacted          = "[redacted]"
)

// RetryPolicy says how often and how patiently the client retries a call that
// failed with a retryable error.
type RetryPolicy struct {
	// MaxAttempts counts the first try; 1 turns retries off.
	MaxAttempts int
	// BaseDelay is the first backoff; each further one doubles, up to MaxDelay,
	// and the wait is drawn at random from [delay/2, delay] (jitter).
	BaseDelay time.Duration
	// MaxDelay caps one backoff.
	MaxDelay time.Duration
	// QPSDelay is the least wait after DingTalk's QPS limit answer (DingTalk
	// advises about one second).
	QPSDelay time.Duration
}

// DefaultRetryPolicy is used unless WithRetryPolicy says otherwise.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, BaseDelay: 200 * time.Millisecond, MaxDelay: 3 * time.Second, QPSDelay: time.Second}

// Observer receives what the client does, for metrics. Its methods must be
// safe for concurrent use and quick.
type Observer interface {
	// APICall is told of every HTTP exchange with DingTalk: the API path, the
	// HTTP status (0 when there was no answer), the error code ("" on
	// success) and how long it took.
	APICall(api string, status int, code string, took time.Duration)
	// Retry is told each time a call is about to be tried again.
	Retry(api string, code string)
	// TokenRefresh is told of every access token fetch, with its error.
	TokenRefresh(err error)
	// QuotaRefused is told of every answer refusing api for the
	// organisation's spent monthly quota (IsQuotaExhausted).
	QuotaRefused(api string)
	// Banned is told of every answer to api that was DingTalk's HTML IP ban
	// page; the client then holds every call back for BanBackoff.
	Banned(api string)
	// OptionalStopped is told of every optional call to api (IsOptional)
	// refused locally because the Meter says the monthly quota is spent.
	OptionalStopped(api string)
}

// Client calls DingTalk's open API for one app and robot. It is safe for
// concurrent use. Build it with NewClient.
type Client struct {
	appKey    string
	appSecret string
	robotCode string
	baseURL   string
	http      *http.Client
	timeout   time.Duration
	retry     RetryPolicy
	qps       int
	workers   int
	now       func() time.Time
	log       logrus.FieldLogger
	observer  Observer
	meter     Meter // WithMeter; nil for none

	// ban is the IP ban backoff: the client's own, or one shared by the
	// clients of a process (WithBanGate).
	ban *BanGate

	limitersMu sync.Mutex
	limiters   map[string]*qpsLimiter
	shared     *sharedLimiter // WithLimiter; nil for none

	tokenLock chan struct{} // one token fetch at a time; a channel so waiting honours ctx
	tokenMu   sync.Mutex
	token     string
	refreshAt time.Time
}

// Option configures a Client.
type Option func(*Client) error

// WithBaseURL sets the open API's base URL, such as https://api.dingtalk.com
// for mainland tenants or a test server's URL.
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

// WithRobotCode sets the robotCode used in send and recall calls; the default
// is the app key.
func WithRobotCode(code string) Option {
	return func(c *Client) error {
		if strings.TrimSpace(code) == "" {
			return errors.New("robot code is empty")
		}
		c.robotCode = code
		return nil
	}
}

// WithHTTPClient sets the HTTP client used for every call.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("http client is nil")
		}
		c.http = hc
		return nil
	}
}

// WithTimeout bounds one HTTP exchange (each attempt of a call).
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("timeout %v: want a positive duration", d)
		}
		c.timeout = d
		return nil
	}
}

// WithQPS sets the most calls per second the client makes to each API;
// DingTalk's standard edition allows 20 per second per app and API. The
// limit holds in any one-second window, so a second's worth of calls may go
// out at once after a pause, but never more.
func WithQPS(qps int) Option {
	return func(c *Client) error {
		if qps < 1 {
			return fmt.Errorf("qps %d: want at least 1", qps)
		}
		c.qps = qps
		return nil
	}
}

// WithConcurrency bounds how many recall batches of one call run at once.
func WithConcurrency(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d: want at least 1", n)
		}
		c.workers = n
		return nil
	}
}

// WithRetryPolicy replaces DefaultRetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *Client) error {
		if p.MaxAttempts < 1 || p.BaseDelay < 0 || p.MaxDelay < p.BaseDelay || p.QPSDelay < 0 {
			return fmt.Errorf("retry policy %+v: want MaxAttempts >= 1 and 0 <= BaseDelay <= MaxDelay", p)
		}
		c.retry = p
		return nil
	}
}

// WithClock sets the clock used for token expiry; Now reads it.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error {
		if now == nil {
			return errors.New("clock is nil")
		}
		c.now = now
		return nil
	}
}

// WithLogger sets where the client logs retries and token refreshes; Logger
// returns it.
func WithLogger(l logrus.FieldLogger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("logger is nil")
		}
		c.log = l
		return nil
	}
}

// WithObserver sets an Observer told of every call, retry and token refresh.
func WithObserver(o Observer) Option {
	return func(c *Client) error {
		c.observer = o
		return nil
	}
}

// NewClient builds a client for the app with this key and secret.
func NewClient(appKey, appSecret string, opts ...Option) (*Client, error) {
	if strings.TrimSpace(appKey) == "" || strings.TrimSpace(appSecret) == "" {
		return nil, errors.New("dingtalk: app key and app secret are required")
	}
	c := &Client{
		appKey:    appKey,
		appSecret: appSecret,
		robotCode: appKey,
		baseURL:   DefaultBaseURL,
		http:      &http.Client{},
		timeout:   DefaultTimeout,
		retry:     DefaultRetryPolicy,
		qps:       DefaultQPS,
		workers:   DefaultConcurrency,
		now:       time.Now,
		log:       logrus.StandardLogger(),
		limiters:  make(map[string]*qpsLimiter),
		tokenLock: make(chan struct{}, 1),
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("dingtalk: %w", err)
		}
	}
	if c.ban == nil {
		c.ban = NewBanGate()
	}
	return c, nil
}

// RobotCode is the robotCode the client sends with every call.
func (c *Client) RobotCode() string { return c.robotCode }

// limiter returns the QPS limiter of one API path.
func (c *Client) limiter(api string) *qpsLimiter {
	c.limitersMu.Lock()
	defer c.limitersMu.Unlock()
	l, ok := c.limiters[api]
	if !ok {
		l = newQPSLimiter(c.qps)
		c.limiters[api] = l
	}
	return l
}

// retryMode says which errors a call may retry.
type retryMode int

const (
	// retryAll retries every retryable error: for recalls, which are safe to repeat.
	retryAll retryMode = iota
	// retryThrottled retries only calls DingTalk provably did not act on: QPS
	// refusals and connections that were never made. It is for sends, where a
	// retry after a 5xx or a lost answer could post the same message twice,
	// once without a key to recall it by.
	retryThrottled
	// retryNever makes one attempt: for connections/open, whose caller owns
	// its own backoff.
	retryNever
)

// tokenless reports whether api is called without an access token: the
// token call itself and connections/open, which carry the app's key and
// secret in their body instead.
func tokenless(api string) bool {
	return api == PathAccessToken || api == PathGatewayOpen
}

// call makes one API call with a token (unless the API is tokenless), under
// the API's QPS limit, retrying as mode and the retry policy allow, and
// refreshing the token once if DingTalk says it went bad.
func (c *Client) call(ctx context.Context, api string, in, out any, mode retryMode) error {
	refreshed := false
	for attempt := 1; ; attempt++ {
		if err := c.refuseLocally(api); err != nil {
			return err
		}
		if err := c.wait(ctx, api); err != nil {
			return fmt.Errorf("dingtalk %s: waiting for rate limit: %w", api, err)
		}
		var tok string
		if !tokenless(api) {
			var err error
			if tok, err = c.accessToken(ctx); err != nil {
				return err
			}
		}
		// Asked again: a ban page (or the spent quota) may have come while
		// this call waited for its turn or its token.
		if err := c.refuseLocally(api); err != nil {
			return err
		}
		err := c.do(ctx, api, tok, in, out)
		if err == nil {
			return nil
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			return err
		}
		if apiErr.Code == CodeInvalidAuthentication && !refreshed && tok != "" {
			refreshed = true
			c.dropToken(tok)
			attempt--
			c.log.WithFields(logrus.Fields{"api": api, "code": apiErr.Code}).Info("dingtalk access token rejected, fetching a new one")
			continue
		}
		if mode == retryNever || attempt >= c.retry.MaxAttempts || !apiErr.Retryable() || (mode == retryThrottled && !apiErr.neverArrived()) {
			return err
		}
		wait := c.backoff(attempt, apiErr)
		c.log.WithFields(logrus.Fields{"api": api, "code": apiErr.Code, "attempt": attempt, "wait": wait.String()}).Warn("dingtalk call failed, retrying")
		if c.observer != nil {
			c.observer.Retry(api, apiErr.Code)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("dingtalk %s: giving up after %d attempts: %w (last error: %s)", api, attempt, ctx.Err(), apiErr.Reason())
		case <-t.C:
		}
	}
}

// backoff is the jittered exponential wait before attempt+1.
func (c *Client) backoff(attempt int, err *APIError) time.Duration {
	d := c.retry.BaseDelay << (attempt - 1)
	if d > c.retry.MaxDelay || d <= 0 {
		d = c.retry.MaxDelay
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	if err.isQPSLimit() && d < c.retry.QPSDelay {
		d = c.retry.QPSDelay + rand.N(c.retry.QPSDelay/4+1)
	}
	return d
}

// errorBody is DingTalk's error answer: {code, message, requestid}, or the
// old style's {errcode, errmsg}.
type errorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
	ErrCode   int64  `json:"errcode"`
	ErrMsg    string `json:"errmsg"`
}

// legacy turns an old-style error answer into the new style's code and
// message; it reports false when the body carries no errcode.
func (eb *errorBody) legacy() bool {
	if eb.Code != "" || eb.ErrCode == 0 {
		return false
	}
	eb.Code, eb.Message = strconv.FormatInt(eb.ErrCode, 10), eb.ErrMsg
	return true
}

// do performs one HTTP exchange: POST in as JSON to api (PUT when in is a
// put; when in is url.Values, GET api with in as the query string), with the
// token when tok is not empty, and decode a 2xx answer into out.
func (c *Client) do(ctx context.Context, api, tok string, in, out any) error {
	method := http.MethodPost
	if p, ok := in.(put); ok {
		method, in = http.MethodPut, p.body
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("dingtalk %s: encoding request: %w", api, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target, reader := c.baseURL+api, io.Reader(bytes.NewReader(body))
	if q, ok := in.(url.Values); ok { // a GET call: its arguments are the query string
		method, target, reader = http.MethodGet, target+"?"+q.Encode(), nil
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return fmt.Errorf("dingtalk %s: building request: %w", api, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if tok != "" {
		req.Header.Set(headerToken, tok)
	}
	if c.meter != nil {
		c.meter.Metered(ctx, api)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.observe(api, 0, CodeTransport, start)
		// The transport error names the URL, never a header or the body, so
		// it holds no token or secret.
		return &APIError{API: api, Code: CodeTransport, Message: c.redact(transportMessage(err), tok), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := c.decodeError(api, tok, resp)
		c.observeError(api, resp.StatusCode, apiErr, start)
		return apiErr
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err == nil && len(raw) > maxBodyBytes {
		err = errors.New("answer larger than 1 MiB")
	}
	if err == nil && isHTML(resp, raw) {
		apiErr := c.banned(api, resp.StatusCode, resp.Header.Get("x-acs-request-id"))
		c.observe(api, resp.StatusCode, apiErr.Code, start)
		return apiErr
	}
	if err == nil && bytes.Contains(raw, []byte(`"errcode"`)) {
		// An old-style API answers its errors with 200 and a non-zero errcode.
		var eb errorBody
		if json.Unmarshal(raw, &eb) == nil && eb.legacy() {
			apiErr := &APIError{API: api, Status: resp.StatusCode, Code: eb.Code, Message: c.redact(eb.Message, tok)}
			c.observeError(api, resp.StatusCode, apiErr, start)
			return apiErr
		}
	}
	if err == nil && out != nil {
		err = json.Unmarshal(raw, out)
	}
	if err != nil {
		c.observe(api, resp.StatusCode, CodeBadResponse, start)
		return &APIError{API: api, Status: resp.StatusCode, Code: CodeBadResponse, Message: c.redact(err.Error(), tok)}
	}
	c.observe(api, resp.StatusCode, "", start)
	return nil
}

// decodeError reads an error answer through a size limit. An HTML page is
// DingTalk's IP ban page, which starts the ban backoff, unless its status is
// a 5xx: a proxy's or load balancer's error page, retried as any 5xx.
func (c *Client) decodeError(api, tok string, resp *http.Response) *APIError {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	if isHTML(resp, raw) && resp.StatusCode < http.StatusInternalServerError {
		return c.banned(api, resp.StatusCode, resp.Header.Get("x-acs-request-id"))
	}
	var eb errorBody
	if json.Unmarshal(raw, &eb) != nil || (eb.Code == "" && !eb.legacy()) {
		eb.Message = strings.TrimSpace(string(raw))
		if isHTML(resp, raw) {
			// A proxy's (or a server's) error page: its markup helps
			// nobody in a reply, an API answer or a log line.
			eb.Message = fmt.Sprintf("answered HTTP %d with an HTML page, not DingTalk's JSON (a proxy or load balancer in between, or DINGTALK_API_BASE pointing elsewhere)", resp.StatusCode)
		}
		if len(eb.Message) > 200 {
			eb.Message = eb.Message[:200] + "…"
		}
		if eb.Code == "" {
			eb.Code = fmt.Sprintf("http.%d", resp.StatusCode)
		}
	}
	if eb.RequestID == "" {
		eb.RequestID = resp.Header.Get("x-acs-request-id")
	}
	return &APIError{API: api, Status: resp.StatusCode, Code: eb.Code, Message: c.redact(eb.Message, tok), RequestID: eb.RequestID}
}

// transportMessage is a short description of a transport failure.
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}

// observeError tells the observer of one exchange that failed with apiErr,
// and the observer and the meter of a quota refusal.
func (c *Client) observeError(api string, status int, apiErr *APIError, start time.Time) {
	c.observe(api, status, apiErr.Code, start)
	if !apiErr.isQuotaRefusal() {
		return
	}
	if c.observer != nil {
		c.observer.QuotaRefused(api)
	}
	if c.meter != nil {
		c.meter.Refused()
	}
}

// observe tells the observer of one exchange.
func (c *Client) observe(api string, status int, code string, start time.Time) {
	if c.observer != nil {
		c.observer.APICall(api, status, code, time.Since(start))
	}
}

// redact removes the app secret, the token the call used and the cached
// token from s.
func (c *Client) redact(s, used string) string {
	c.tokenMu.Lock()
	cached := c.token
	c.tokenMu.Unlock()
	for _, secret := range []string{c.appSecret, used, cached} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return s
}
