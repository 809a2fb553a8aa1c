package dingtalk

import (
	"context"
	"fmt"
	"time"
)

// PathAccessToken is the API that issues access tokens.
const PathAccessToken = "/v1.0/oauth2/accessToken"

// tokenRequest is the body of PathAccessToken.
type tokenRequest struct {
	AppKey    string `json:"appKey"`
	AppSecret string `json:"appSecret"`
}

// tokenResponse is the answer of PathAccessToken.
type tokenResponse struct {
	AccessToken string `json:"accessToken"`
	ExpireIn    int64  `json:"expireIn"`
}

// accessToken returns the cached token until it is within tokenMargin of
// expiring (or half its life, for short-lived tokens), then fetches a new one. Only one fetch runs at a time; other callers
// wait for it (or for their context) and then use its token.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	if tok := c.cachedToken(); tok != "" {
		return tok, nil
	}
	select {
	case c.tokenLock <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("dingtalk: waiting for access token: %w", ctx.Err())
	}
	defer func() { <-c.tokenLock }()
	if tok := c.cachedToken(); tok != "" {
		return tok, nil
	}
	tok, life, err := c.fetchToken(ctx)
	if c.observer != nil {
		c.observer.TokenRefresh(err)
	}
	if err != nil {
		return "", err
	}
	c.tokenMu.Lock()
	c.token, c.refreshAt = tok, c.now().Add(life-min(tokenMargin, life/2))
	c.tokenMu.Unlock()
	return tok, nil
}

// cachedToken returns the cached token if it is not yet due for refresh.
func (c *Client) cachedToken() string {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if c.token != "" && c.now().Before(c.refreshAt) {
		return c.token
	}
	return ""
}

// dropToken forgets tok if it is still the cached token, so the next call
// fetches a new one; a token some other caller already replaced is kept.
func (c *Client) dropToken(tok string) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if c.token == tok {
		c.token, c.refreshAt = "", time.Time{}
	}
}

// fetchToken asks DingTalk for a new token, retrying transient failures, and
// returns it with its lifetime.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	var out tokenResponse
	in := tokenRequest{AppKey: c.appKey, AppSecret: c.appSecret}
	if err := c.call(ctx, PathAccessToken, in, &out, retryAll); err != nil {
		return "", 0, fmt.Errorf("dingtalk: fetching access token: %w", err)
	}
	if out.AccessToken == "" || out.ExpireIn <= 0 {
		return "", 0, &APIError{API: PathAccessToken, Status: 200, Code: CodeBadResponse, Message: "answer has no access token or expiry"}
	}
	return out.AccessToken, time.Duration(out.ExpireIn) * time.Second, nil
}

// CheckCredentials fetches an access token (or uses the cached one), to tell
// early whether DingTalk accepts the app key and secret.
func (c *Client) CheckCredentials(ctx context.Context) error {
	_, err := c.accessToken(ctx)
	return err
}
