package dingtalk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

var botSub = dingtalk.Subscription{Type: "CALLBACK", Topic: "/v1.0/im/bot/messages/get"}

func TestOpenGatewayOnTheFake(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	obs := &countingObserver{}
	c := newClient(t, fake, dingtalk.WithObserver(obs))
	tk, err := c.OpenGateway(context.Background(), "dingrecall/test", botSub)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tk.Endpoint, "ws://"), tk.Endpoint)
	require.Len(t, fake.Tickets(), 1)
	issued := fake.Tickets()[0]
	assert.Equal(t, issued.Value, tk.Ticket)
	assert.Equal(t, "dingrecall/test", issued.UA)
	assert.Equal(t, []dingtalktest.Subscription{{Type: botSub.Type, Topic: botSub.Topic}}, issued.Subscriptions)
	assert.Equal(t, 1, obs.calls, "told to the observer like every call")
	assert.Zero(t, obs.refresh, "no access token is fetched")
	assert.Zero(t, fake.TokensIssued())
}

func TestOpenGatewayFailures(t *testing.T) {
	tests := []struct {
		name       string
		secret     string
		fault      func(fake *dingtalktest.Server)
		wantStatus int
		wantCode   string
	}{
		{name: "wrong secret", secret: "not-the-secret", wantStatus: 400, wantCode: dingtalk.CodeInvalidClient},
		{name: "401 quoting the secret", fault: func(fake *dingtalktest.Server) {
			fake.FailCallWith(dingtalk.PathGatewayOpen, 1, 401, "Unauthorized", "clientSecret "+fake.AppSecret()+" is wrong")
		}, wantStatus: 401, wantCode: "Unauthorized"},
		{name: "system error is not retried", fault: func(fake *dingtalktest.Server) {
			fake.FailNextOn(dingtalk.PathGatewayOpen, 1, dingtalktest.FaultSystemError)
		}, wantStatus: 500, wantCode: dingtalk.CodeSystemError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := dingtalktest.NewTest(t)
			if tt.fault != nil {
				tt.fault(fake)
			}
			secret := fake.AppSecret()
			if tt.secret != "" {
				secret = tt.secret
			}
			c, err := dingtalk.NewClient(fake.AppKey(), secret, dingtalk.WithBaseURL(fake.URL()), dingtalk.WithRetryPolicy(fastRetry))
			require.NoError(t, err)
			_, err = c.OpenGateway(context.Background(), "ua", botSub)
			var apiErr *dingtalk.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, dingtalk.PathGatewayOpen, apiErr.API)
			assert.Equal(t, tt.wantStatus, apiErr.Status)
			assert.Equal(t, tt.wantCode, apiErr.Code)
			assert.NotContains(t, err.Error(), secret)
			assert.Equal(t, 1, fake.CallCount(dingtalk.PathGatewayOpen), "one attempt: the stream client owns the backoff")
		})
	}
}

func TestOpenGatewayBadAnswers(t *testing.T) {
	tests := []struct {
		name, body string
		wantMsg    string
	}{
		{name: "no ticket", body: `{"endpoint":"wss://gw.example/connect"}`, wantMsg: "no endpoint or no ticket"},
		{name: "no endpoint", body: `{"ticket":"t-1"}`, wantMsg: "no endpoint or no ticket"},
		{name: "http endpoint", body: `{"endpoint":"https://gw.example/connect","ticket":"t-2"}`, wantMsg: "not a ws or wss url"},
		{name: "not json", body: `ticket=t`, wantMsg: "invalid character"},
		{name: "too large", body: `{"endpoint":"` + strings.Repeat("x", 1<<20) + `","ticket":"t"}`, wantMsg: "larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				raw, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(raw, &got)
				assert.Equal(t, dingtalk.PathGatewayOpen, r.URL.Path)
				assert.Empty(t, r.Header.Get("x-acs-dingtalk-access-token"))
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			c, err := dingtalk.NewClient("key-1", "secret-1", dingtalk.WithBaseURL(srv.URL))
			require.NoError(t, err)
			_, err = c.OpenGateway(context.Background(), "ua-1", botSub)
			var apiErr *dingtalk.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, dingtalk.CodeBadResponse, apiErr.Code)
			assert.Contains(t, apiErr.Message, tt.wantMsg)
			assert.Equal(t, "key-1", got["clientId"])
			assert.Equal(t, "secret-1", got["clientSecret"])
			assert.Equal(t, "ua-1", got["ua"])
		})
	}
}

func TestRedact(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	tests := []struct {
		name string
		in   string
		also []string
		want string
	}{
		{name: "secret", in: "secret " + fake.AppSecret() + " leaked", want: "secret [redacted] leaked"},
		{name: "ticket plain and escaped", in: "dial ws://h/connect?ticket=a%2Fb: a/b", also: []string{"a/b"}, want: "dial ws://h/connect?ticket=[redacted]: [redacted]"},
		{name: "empty also", in: "nothing here", also: []string{""}, want: "nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, c.Redact(tt.in, tt.also...))
		})
	}
}

func TestAccessors(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	hc := &http.Client{}
	log, _ := test.NewNullLogger()
	c, err := dingtalk.NewClient("k", "s", dingtalk.WithClock(func() time.Time { return at }), dingtalk.WithHTTPClient(hc), dingtalk.WithLogger(log))
	require.NoError(t, err)
	assert.Equal(t, at, c.Now())
	assert.Same(t, hc, c.HTTPClient())
	assert.Equal(t, log, c.Logger())
}
