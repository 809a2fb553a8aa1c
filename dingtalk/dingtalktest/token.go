package dingtalktest

import (
	"encoding/json"
	"net/http"
	"time"
)

// issuedToken is an access token the fake issued: the app it is for and when it expires.
type issuedToken struct {
	app    *app
	expiry time.Time
}

// issueToken answers POST /v1.0/oauth2/accessToken for the app whose key and secret the
// body names (a is that app, or nil when they name none).
func (s *Server) issueToken(a *app, body []byte) (any, []string, *apiError) {
	var req tokenRequest
	if err := decode(body, &req); err != nil {
		return nil, nil, err
	}
	if a == nil {
		return nil, nil, badRequest(codeBadCredentials, "app key or app secret is wrong")
	}
	token := randomHex(32)
	s.mu.Lock()
	s.tokens[token] = issuedToken{app: a, expiry: s.now().Add(s.tokenTTL)}
	s.mu.Unlock()
	return tokenResponse{AccessToken: token, ExpireIn: int64(s.tokenTTL / time.Second)}, nil, nil
}

// authenticate checks the access token of a robot call.
func (s *Server) authenticate(token string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[token]
	if ok && s.now().Before(t.expiry) {
		return nil
	}
	return &apiError{http.StatusUnauthorized, codeBadToken, "access token is missing, invalid or expired"}
}

// credentials returns the app with this key and secret, or nil.
func (s *Server) credentials(key, secret string) *app {
	if a := s.apps[key]; a != nil && a.secret == secret {
		return a
	}
	return nil
}

// appOf returns the app a call to path comes from: for the token call the app its body's
// key and secret name, for other calls the app of its access token (expired or not); nil
// when there is none.
func (s *Server) appOf(path, token string, body []byte) *app {
	if path == PathToken {
		var req tokenRequest
		if json.Unmarshal(body, &req) != nil {
			return nil
		}
		return s.credentials(req.AppKey, req.AppSecret)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[token]; ok {
		return t.app
	}
	return nil
}

// InvalidateTokens makes every token issued so far invalid: the next robot call that
// uses one answers 401 InvalidAuthentication.
func (s *Server) InvalidateTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}
