package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			require.Equal(t, tc.want, retryAfter(tc.header, now))
		})
	}
}

func TestRetryable(t *testing.T) {
	cases := map[int]bool{
		http.StatusBadRequest: false, http.StatusUnauthorized: false, http.StatusConflict: false,
		http.StatusTooManyRequests: true, http.StatusInternalServerError: false, http.StatusBadGateway: false,
		http.StatusServiceUnavailable: true, http.StatusGatewayTimeout: true,
	}
	for status, want := range cases {
		require.Equal(t, want, (&Error{Status: status}).Retryable(), "status %d", status)
	}
}

func TestEndpointKeepsThePathPrefix(t *testing.T) {
	cases := []struct{ base, want string }{
		{"http://h:8080", "http://h:8080/api/v1/conversations/a%2Fb==/messages?limit=2"},
		{"http://h/", "http://h/api/v1/conversations/a%2Fb==/messages?limit=2"},
		{"https://ops.example.com/dingrecall/", "https://ops.example.com/dingrecall/api/v1/conversations/a%2Fb==/messages?limit=2"},
		{"https://ops.example.com/a%20b", "https://ops.example.com/a%20b/api/v1/conversations/a%2Fb==/messages?limit=2"},
	}
	for _, tc := range cases {
		c, err := New(tc.base, "tok")
		require.NoError(t, err)
		got, err := c.endpoint("/api/v1/conversations/a%2Fb==/messages", map[string][]string{"limit": {"2"}})
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

// TestAnswersThatAreNotTheAPIs covers what sits in front of a server: a
// proxy's error page, or a success that is not JSON.
func TestAnswersThatAreNotTheAPIs(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		check   func(t *testing.T, err error)
		wantErr error
	}{
		{
			name: "proxy page", status: http.StatusBadGateway,
			header: map[string]string{"Retry-After": now.Add(time.Minute).Format(http.TimeFormat)},
			body:   "<html>\n<body>  502 Bad Gateway </body></html>",
			check: func(t *testing.T, err error) {
				var e *Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, http.StatusBadGateway, e.Status)
				require.Empty(t, e.Code)
				require.Equal(t, "<html> <body> 502 Bad Gateway </body></html>", e.Message)
				require.Equal(t, time.Minute, e.RetryAfter)
				require.Equal(t, "dingrecall API: 502 bad gateway: <html> <body> 502 Bad Gateway </body></html>", e.Error())
			},
		},
		{
			name: "empty error", status: http.StatusServiceUnavailable,
			check: func(t *testing.T, err error) {
				var e *Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, "Service Unavailable", e.Message)
				require.True(t, e.Retryable())
			},
		},
		{
			name: "long error is cut", status: http.StatusInternalServerError, body: strings.Repeat("é", 500),
			check: func(t *testing.T, err error) {
				var e *Error
				require.ErrorAs(t, err, &e)
				require.LessOrEqual(t, len(e.Message), maxSnippet+len("…"))
				require.True(t, strings.HasSuffix(e.Message, "é…"))
			},
		},
		{name: "success that is not JSON", status: http.StatusOK, body: "<html>login</html>", wantErr: ErrBadAnswer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := New(srv.URL, "tok")
			require.NoError(t, err)
			c.now = func() time.Time { return now }
			_, err = c.Audit(context.Background(), "", 0)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			tc.check(t, err)
		})
	}
}

// The recall result carries inFlight (the newest messages another request
// was taking) and the failure codes as the server sends them.
func TestRecallResultFields(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"selected":["k3"],"recalled":["k3"],"failed":{},"failedCodes":{},"inFlight":["k5","k4"],"dryRun":false}`))
	}))
	defer srv.Close()
	c, err := New(srv.URL, "token")
	require.NoError(t, err)
	res, err := c.Recall(context.Background(), Last("cidA==", 3))
	require.NoError(t, err)
	require.Equal(t, []string{"k5", "k4"}, res.InFlight)
	require.Equal(t, []string{"k3"}, res.Recalled)
}

// The bot goes in the bodies of a send and a recall and in the query of a
// listing and the audit log: the call's own name first, else the client's.
func TestBotOnTheWire(t *testing.T) {
	type request struct {
		path, query string
		body        map[string]any
	}
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := request{path: r.URL.Path, query: r.URL.RawQuery}
		if r.Body != nil && r.Method == http.MethodPost {
			require.NoError(t, json.NewDecoder(r.Body).Decode(&req.body))
		}
		got = append(got, req)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/messages":
			_, _ = w.Write([]byte(`{"processQueryKey":"k1","conversationId":"cidA==","sentAt":"2026-11-26T10:00:00Z","bot":"alerts"}`))
		case "/api/v1/recall":
			_, _ = w.Write([]byte(`{"selected":[],"recalled":[],"failed":{},"failedCodes":{},"inFlight":[],"dryRun":false}`))
		case "/api/v1/audit":
			_, _ = w.Write([]byte(`{"entries":[{"id":"e1","action":"recall","source":"api","items":[],"bot":"alerts"}]}`))
		default:
			_, _ = w.Write([]byte(`{"messages":[{"processQueryKey":"k1","conversationId":"cidA==","bot":"alerts"}]}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	plain, err := New(srv.URL, "tok")
	require.NoError(t, err)
	sent, err := plain.Send(ctx, Message{ConversationID: "cidA==", Text: "hi"})
	require.NoError(t, err)
	require.Equal(t, "alerts", sent.Bot)
	_, err = plain.Send(ctx, Message{ConversationID: "cidA==", Text: "hi", Bot: "deploys"})
	require.NoError(t, err)
	_, err = plain.Recall(ctx, Tag("t"))
	require.NoError(t, err)
	msgs, err := plain.Messages(ctx, "cidA==", 0)
	require.NoError(t, err)
	require.Equal(t, "alerts", msgs[0].Bot)
	entries, err := plain.Audit(ctx, "", 0)
	require.NoError(t, err)
	require.Equal(t, "alerts", entries[0].Bot)

	alerts, err := New(srv.URL, "tok", WithBot("alerts"))
	require.NoError(t, err)
	_, err = alerts.Send(ctx, Message{ConversationID: "cidA==", Text: "hi"})
	require.NoError(t, err)
	_, err = alerts.DryRun(ctx, Selection{Tag: "t", Bot: "deploys"})
	require.NoError(t, err)
	_, err = alerts.Recall(ctx, Last("cidA==", 2))
	require.NoError(t, err)
	_, err = alerts.Messages(ctx, "cidA==", 3)
	require.NoError(t, err)
	_, err = alerts.Audit(ctx, "cidA==", 0)
	require.NoError(t, err)

	bot := func(r request) any { return r.body["bot"] }
	require.Len(t, got, 10)
	require.Nil(t, bot(got[0]), "no bot named: none sent")
	require.Equal(t, "deploys", bot(got[1]))
	require.Nil(t, bot(got[2]))
	require.Empty(t, got[3].query)
	require.Empty(t, got[4].query)
	require.Equal(t, "alerts", bot(got[5]), "the client's bot")
	require.Equal(t, "deploys", bot(got[6]), "the selection's bot wins")
	require.Equal(t, true, got[6].body["dryRun"])
	require.Equal(t, "alerts", bot(got[7]))
	require.Equal(t, "bot=alerts&limit=3", got[8].query)
	require.Equal(t, "bot=alerts&conversationId=cidA%3D%3D", got[9].query)
}

// The errors of DingTalk's refusals match their sentinels with errors.Is,
// through any wrapping, and carry when to try again.
func TestRefusalErrors(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		header   map[string]string
		body     string
		is       []error
		isNot    []error
		resetsOn time.Time
		retry    time.Duration
	}{
		{
			name:   "quota exhausted",
			header: map[string]string{"Retry-After": "432000"},
			body:   `{"error":{"code":"dingtalk_quota_exhausted","message":"DingTalk refused the call: the organisation's monthly API quota is used up (Forbidden.AccessDenied.ApiCountLimitForOrg); it starts again on 2026-12-01","resetsOn":"2026-12-01"}}`,
			is:     []error{ErrQuotaExhausted}, isNot: []error{ErrIPBanned, ErrBadAnswer},
			resetsOn: time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC), retry: 24 * time.Hour,
		},
		{
			name:   "quota exhausted with a reset day that does not parse",
			header: map[string]string{"Retry-After": "60"},
			body:   `{"error":{"code":"dingtalk_quota_exhausted","message":"used up","resetsOn":"December"}}`,
			is:     []error{ErrQuotaExhausted}, isNot: []error{ErrIPBanned},
			retry: time.Minute,
		},
		{
			name:   "IP ban",
			header: map[string]string{"Retry-After": "300"},
			body:   `{"error":{"code":"dingtalk_ip_banned","message":"DingTalk answered with its IP ban page"}}`,
			is:     []error{ErrIPBanned}, isNot: []error{ErrQuotaExhausted},
			retry: 5 * time.Minute,
		},
		{
			name:  "another 503",
			body:  `{"error":{"code":"busy","message":"too much work queued; retry later"}}`,
			isNot: []error{ErrIPBanned, ErrQuotaExhausted},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := New(srv.URL, "tok")
			require.NoError(t, err)
			c.now = func() time.Time { return now }
			_, err = c.Send(context.Background(), Message{ConversationID: "cidA==", Text: "hi"})
			wrapped := fmt.Errorf("deploy step: %w", err)
			for _, target := range tc.is {
				require.ErrorIs(t, wrapped, target)
			}
			for _, target := range tc.isNot {
				require.NotErrorIs(t, wrapped, target)
			}
			var e *Error
			require.ErrorAs(t, wrapped, &e)
			require.True(t, e.Retryable())
			require.Equal(t, tc.retry, e.RetryAfter)
			require.True(t, tc.resetsOn.Equal(e.ResetsOn), "ResetsOn %v, want %v", e.ResetsOn, tc.resetsOn)
		})
	}
}
