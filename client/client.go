package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout is how long one call may take unless [WithTimeout] says
// otherwise. It is above the server's write deadline with its default
// RECALL_MAX and DINGTALK_QPS, so a slow recall is answered rather than cut
// off; a server set to recall far more at once may need a longer one.
const DefaultTimeout = 2 * time.Minute

// maxAnswer is the most bytes of an answer the client reads; a longer one
// is an error rather than a memory hog.
const maxAnswer = 32 << 20

// userAgent is the User-Agent of every request.
const userAgent = "dingrecall-go-client"

// ErrInvalidOption is wrapped by the error [New] returns when an argument or
// an option is unusable.
var ErrInvalidOption = errors.New("dingrecall client: invalid option")

// ErrBadAnswer is wrapped by the error a method returns when the server
// answered success with a body that is not what the API answers (for
// example a proxy's page, or an answer over 32 MiB).
var ErrBadAnswer = errors.New("dingrecall client: unexpected answer")

// Client calls one dingrecall server's API. Build it with [New]; it is safe
// for concurrent use.
type Client struct {
	base    *url.URL
	token   string
	http    *http.Client
	timeout time.Duration
	now     func() time.Time
	// bot is the bot every call names unless a Message or Selection names
	// another; empty for none.
	bot string
}

// Option changes a setting of [New].
type Option func(*Client) error

// WithHTTPClient makes the client send its requests through hc (for a
// proxy, custom TLS or a test transport) instead of [http.DefaultClient].
// hc must not be nil.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return fmt.Errorf("%w: WithHTTPClient(nil)", ErrInvalidOption)
		}
		c.http = hc
		return nil
	}
}

// WithTimeout bounds every call, from sending the request to reading the
// answer, to d (default [DefaultTimeout]). d must be above 0. A context
// deadline sooner than that still applies.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%v): want a duration above 0", ErrInvalidOption, d)
		}
		c.timeout = d
		return nil
	}
}

// WithBot makes every call name the bot called name (one of the server's
// BOTS_FILE bots, or "default"): a send goes out through it, a recall takes
// only its messages, and [Client.Messages] and [Client.Audit] list only its
// messages and entries. A [Message] or [Selection] that names a bot itself
// wins. Without WithBot a send or recall acts through the server's default
// bot, and a listing or the audit log holds every bot's. name must be
// non-empty and hold no space or control character; whether the server has
// such a bot is for the server to say (a 400 with Field "bot"). For several
// bots, build a client per bot; they may share one [http.Client] through
// [WithHTTPClient].
func WithBot(name string) Option {
	return func(c *Client) error {
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("%w: WithBot(%q): want a bot's name", ErrInvalidOption, name)
		}
		c.bot = name
		return nil
	}
}

// New returns a client of the dingrecall server at baseURL (such as
// "https://dingrecall.example.com", or with a path prefix when a proxy
// serves it under one) that authenticates with token, the server's
// API_TOKEN. baseURL must be an absolute http or https URL without a query
// or fragment; token must be non-empty and a valid header value. Errors wrap
// [ErrInvalidOption].
func New(baseURL, token string, opts ...Option) (*Client, error) {
	base, err := parseBase(baseURL)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(token) == "":
		return nil, fmt.Errorf("%w: the token is empty", ErrInvalidOption)
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return nil, fmt.Errorf("%w: the token holds a space or a control character", ErrInvalidOption)
	}
	c := &Client{base: base, token: token, http: http.DefaultClient, timeout: DefaultTimeout, now: time.Now}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseBase checks a base URL and drops its trailing slash.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case raw == "":
		return nil, fmt.Errorf("%w: the base URL is empty", ErrInvalidOption)
	case err != nil:
		return nil, fmt.Errorf("%w: base URL: %w", ErrInvalidOption, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: base URL %q: want an http:// or https:// URL", ErrInvalidOption, raw)
	case u.Host == "":
		return nil, fmt.Errorf("%w: base URL %q has no host", ErrInvalidOption, raw)
	case u.User != nil:
		return nil, fmt.Errorf("%w: base URL %q: give the token, not a user in the URL", ErrInvalidOption, u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%w: base URL %q: want no query or fragment", ErrInvalidOption, raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// BaseURL is the server's base URL as the client uses it.
func (c *Client) BaseURL() string { return c.base.String() }

// Bot is the bot every call names ([WithBot]); empty when the calls name
// none.
func (c *Client) Bot() string { return c.bot }

// botOr is name, or the client's bot when name is empty.
func (c *Client) botOr(name string) string {
	if name != "" {
		return name
	}
	return c.bot
}

// endpoint is the URL of an API path. escaped is the path below the base,
// already escaped; query may be nil.
func (c *Client) endpoint(escaped string, query url.Values) (string, error) {
	u, err := url.Parse(c.base.String() + escaped)
	if err != nil {
		return "", fmt.Errorf("dingrecall client: %s: %w", escaped, err)
	}
	u.RawQuery = query.Encode()
	return u.String(), nil
}

// do is every call: it sends method to the escaped API path with query and,
// when in is not nil, in as a JSON body; it decodes a 2xx answer into out
// and turns any other answer into an *Error.
func (c *Client) do(ctx context.Context, method, escaped string, query url.Values, in, out any) error {
	target, err := c.endpoint(escaped, query)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("dingrecall client: %s %s: encoding the request: %w", method, escaped, err)
		}
		body = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("dingrecall client: %s %s: %w", method, escaped, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the URL, never the header holding the token.
		return fmt.Errorf("dingrecall client: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("dingrecall client: %s %s: reading the answer: %w", method, escaped, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.answerError(resp, raw)
	}
	if len(raw) > maxAnswer {
		return fmt.Errorf("%w: %s %s: the answer is over %d bytes", ErrBadAnswer, method, escaped, maxAnswer)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: %s %s: status %d: %w", ErrBadAnswer, method, escaped, resp.StatusCode, err)
	}
	return nil
}
