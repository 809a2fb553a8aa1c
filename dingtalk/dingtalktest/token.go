package dingtalktest

import (
	"net/http"
	"time"
)

// issueToken answers POST /v1.0/oauth2/accessToken.
func (s *Server) issueToken(body []byte) (any, []string, *apiError) {
	var req tokenRequest
	if err := decode(body, &req); err != nil {
		return nil, nil, err
	}
	if req.AppKey != s.appKey || req.AppSecret != s.appSecret {
		return nil, nil, badRequest(codeBadCredentials, "app key or app secret is wrong")
	}
	token := randomHex(32)
	s.mu.Lock()
	s.tokens[token] = s.now().Add(s.tokenTTL)
	s.mu.Unlock()
	return tokenResponse{AccessToken: token, ExpireIn: int64(s.tokenTTL / time.Second)}, nil, nil
}

// authenticate checks the access token of a robot call.
func (s *Server) authenticate(token string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	expiry, ok := s.tokens[token]
	if ok && s.now().Before(expiry) {
		return nil
	}
	return &apiError{http.StatusUnauthorized, codeBadToken, "access token is missing, invalid or expired"}
}

// InvalidateTokens makes every token issued so far invalid: the next robot call that
// uses one answers 401 InvalidAuthentication.
func (s *Server) InvalidateTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}
