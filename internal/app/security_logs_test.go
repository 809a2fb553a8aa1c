package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// tokenSpy is a reverse proxy in front of the fake DingTalk that notes
// every access token the fake issues and every one the app presents.
type tokenSpy struct {
	*httptest.Server
	mu     sync.Mutex
	tokens map[string]bool
}

// newTokenSpy starts a spy in front of target; it stops when t ends.
func newTokenSpy(t *testing.T, target string) *tokenSpy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	s := &tokenSpy{tokens: map[string]bool{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		var tok struct {
			AccessToken string `json:"accessToken"`
		}
		if json.Unmarshal(raw, &tok) == nil && tok.AccessToken != "" {
			s.note(tok.AccessToken)
		}
		return nil
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.Header.Get("x-acs-dingtalk-access-token"); tok != "" {
			s.note(tok)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *tokenSpy) note(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = true
}

// seen returns the tokens noted.
func (s *tokenSpy) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for tok := range s.tokens {
		out = append(out, tok)
	}
	return out
}

// captureStderr sends what the app logs (its logger writes to os.Stderr,
// others to logrus's standard logger or gin's error writer) to a pipe until
// the returned function is called, which restores them and returns
// everything written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	oldStderr, oldStd, oldGin := os.Stderr, logrus.StandardLogger().Out, gin.DefaultErrorWriter
	os.Stderr, gin.DefaultErrorWriter = w, w
	logrus.SetOutput(w)
	var buf bytes.Buffer
	drained := make(chan struct{})
	go func() {
		_, _ = io.Copy(&buf, r)
		close(drained)
	}()
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			os.Stderr, gin.DefaultErrorWriter = oldStderr, oldGin
			logrus.SetOutput(oldStd)
			w.Close()
			<-drained
			r.Close()
		})
		return buf.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestSecurityNoSecretInLogs runs two apps at debug level, one with the
// right credentials and one with a wrong app secret, through sends,
// recalls, failures, retries, a token DingTalk revoked, forged callbacks
// and API calls with a wrong token, and captures every log line. None may
// hold the app secret, the wrong app secret, the API token, a bearer token
// someone presented, a callback signature, or any access token DingTalk
// issued or the app presented.
func TestSecurityNoSecretInLogs(t *testing.T) {
	logs := captureStderr(t)
	fake := dingtalktest.NewTest(t)
	spy := newTokenSpy(t, fake.URL())
	env := map[string]string{"DINGTALK_API_BASE": spy.URL, "LOG_LEVEL": "debug", "LOG_FORMAT": "json"}
	a := startApp(t, fake, env)
	secrets := map[string]string{"app secret": fake.AppSecret(), "API token": apiToken}

	keys := a.send(group, 6, map[string]any{"tag": "deploy-1"})
	var signatures []string
	sign := func() http.Header {
		h := signed(fake.AppSecret(), time.Now())
		signatures = append(signatures, h.Get(dingtalk.HeaderSign))
		return h
	}
	post := func(body map[string]any) {
		before := len(fake.Sent())
		status, out := a.do(http.MethodPost, "/dingtalk/callback", body, sign())
		require.Equal(t, http.StatusOK, status, "%v", out)
		a.replyAfter(before)
	}
	post(a.callbackBody("recall 1", nil))
	fake.FailNextOn(dingtalk.PathGroupRecall, 1, dingtalktest.FaultSystemError) // a retry
	post(a.callbackBody("recall 1", nil))
	fake.FailKey(keys[0], "bot.stopped")
	status, _ := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "keys": []string{keys[0]}})
	require.Equal(t, http.StatusOK, status)
	fake.InvalidateTokens() // the next call is refused and the token fetched again
	a.send(group, 1, nil)
	fake.FailCallWith(dingtalk.PathGroupSend, 1, http.StatusBadRequest, dingtalk.CodeBotStopped, "robot stopped")
	status, _ = a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "refused"})
	require.Equal(t, http.StatusBadGateway, status)
	post(a.callbackBody("recall 2", func(b map[string]any) { b["senderStaffId"] = "stranger" })) // refused
	a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("recall 1", nil), signed("forged-secret", time.Now()))
	a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("recall 1", nil), signed(fake.AppSecret(), time.Now().Add(-2*time.Hour)))
	const presented = "Bearer presented-token-4f1c9a77e2"
	a.do(http.MethodGet, "/api/v1/conversations/"+group+"/messages", nil, http.Header{"Authorization": {presented}})
	a.do(http.MethodPost, "/api/v1/recall", `{"conversationId":`, http.Header{"Authorization": {"Bearer " + apiToken}})
	status, _ = a.api(http.MethodPost, "/recall", map[string]any{"tag": "deploy-1"})
	require.Equal(t, http.StatusOK, status)

	// An app with a wrong secret: DingTalk refuses its token requests.
	const wrongSecret = "wrong-app-secret-5d0b7c2e"
	b := startApp(t, fake, map[string]string{"DINGTALK_API_BASE": spy.URL, "DINGTALK_APP_SECRET": wrongSecret, "LOG_LEVEL": "debug", "LOG_FORMAT": "text"})
	status, _ = b.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "never sent"})
	assert.Equal(t, http.StatusBadGateway, status)
	b.do(http.MethodPost, "/dingtalk/callback", b.callbackBody("help", nil), signed(wrongSecret, time.Now()))

	require.NoError(t, a.stop())
	require.NoError(t, b.stop())
	out := logs()

	require.Contains(t, out, "dingrecall listening", "the app's log was captured")
	require.Contains(t, out, "http request", "debug lines were captured")
	require.Contains(t, out, "retrying", "the retry was logged")
	secrets["wrong app secret"] = wrongSecret
	secrets["presented bearer token"] = strings.TrimPrefix(presented, "Bearer ")
	tokens := spy.seen()
	require.GreaterOrEqual(t, len(tokens), 2, "the spy saw the access tokens (one before and one after the revocation)")
	for i, tok := range tokens {
		secrets["access token "+string(rune('A'+i))] = tok
	}
	for i, s := range signatures {
		secrets["callback signature "+string(rune('A'+i))] = s
	}
	lines := strings.Split(out, "\n")
	for name, secret := range secrets {
		for _, line := range lines {
			if strings.Contains(line, secret) {
				t.Errorf("the %s appears in a log line: %s", name, line)
			}
		}
	}
	t.Logf("checked %d log lines for %d secrets", len(lines), len(secrets))
	if os.Getenv("DUMP_LOGS") != "" {
		t.Log(out)
	}
}
