package client

import (
	"context"
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
