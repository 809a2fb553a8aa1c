package dingtalk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// chat sends into, recalls from and asks about one kind of chat.
type chat struct {
	path   string
	send   func(t *testing.T, c *dingtalk.Client) string
	recall func(c *dingtalk.Client, key string) (*dingtalk.RecallResult, error)
	status func(c *dingtalk.Client, key string, opts ...dingtalk.StatusOption) (dingtalk.Status, error)
}

var chats = map[string]chat{
	"group": {
		path: dingtalk.PathGroupStatus,
		send: func(t *testing.T, c *dingtalk.Client) string { return sendGroup(t, c, "cidG", 1)[0] },
		recall: func(c *dingtalk.Client, key string) (*dingtalk.RecallResult, error) {
			return c.RecallGroup(context.Background(), "cidG", []string{key})
		},
		status: func(c *dingtalk.Client, key string, opts ...dingtalk.StatusOption) (dingtalk.Status, error) {
			return c.StatusGroup(context.Background(), "cidG", key, opts...)
		},
	},
	"private": {
		path: dingtalk.PathPrivateStatus,
		send: func(t *testing.T, c *dingtalk.Client) string {
			key, err := c.SendPrivate(context.Background(), "cidP", dingtalk.Text("p"), dingtalk.WithCoolAppCode("cool"))
			require.NoError(t, err)
			return key
		},
		recall: func(c *dingtalk.Client, key string) (*dingtalk.RecallResult, error) {
			return c.RecallPrivate(context.Background(), "cidP", []string{key})
		},
		status: func(c *dingtalk.Client, key string, opts ...dingtalk.StatusOption) (dingtalk.Status, error) {
			return c.StatusPrivate(context.Background(), "cidP", key, opts...)
		},
	},
	"oto": {
		path: dingtalk.PathOTOStatus,
		send: func(t *testing.T, c *dingtalk.Client) string {
			res, err := c.SendOTO(context.Background(), []string{"staff-1"}, dingtalk.Text("o"))
			require.NoError(t, err)
			return res.ProcessQueryKey
		},
		recall: func(c *dingtalk.Client, key string) (*dingtalk.RecallResult, error) {
			return c.RecallOTO(context.Background(), []string{key})
		},
		status: func(c *dingtalk.Client, key string, opts ...dingtalk.StatusOption) (dingtalk.Status, error) {
			return c.StatusOTO(context.Background(), key, opts...)
		},
	},
}

func TestStatusEachChatKind(t *testing.T) {
	tests := []struct {
		name string
		// before acts on the message with key, sent at the start of the clock, and
		// returns the key to ask about.
		before   func(t *testing.T, ch chat, c *dingtalk.Client, clk *clock, key string) string
		opts     []dingtalk.StatusOption
		want     dingtalk.Status
		wantErr  error // a sentinel, or nil
		wantCode string
	}{
		{name: "processing", want: dingtalk.StatusProcessing},
		{name: "sent", before: func(_ *testing.T, _ chat, _ *dingtalk.Client, clk *clock, key string) string {
			clk.Advance(time.Minute)
			return key
		}, want: dingtalk.StatusSent},
		{name: "recalled", before: func(t *testing.T, ch chat, c *dingtalk.Client, _ *clock, key string) string {
			res, err := ch.recall(c, key)
			require.NoError(t, err)
			require.Equal(t, []string{key}, res.Recalled)
			return key
		}, want: dingtalk.StatusRecalled},
		{name: "recalled then asked again a day later", before: func(t *testing.T, ch chat, c *dingtalk.Client, clk *clock, key string) string {
			_, err := ch.recall(c, key)
			require.NoError(t, err)
			clk.Advance(dingtalktest.RecallWindow)
			return key
		}, want: dingtalk.StatusRecalled},
		{name: "unknown key", before: func(*testing.T, chat, *dingtalk.Client, *clock, string) string { return "never-sent" },
			wantErr: dingtalk.ErrKeyUnknown, wantCode: dingtalk.CodeInvalidKey},
		{name: "expired key", before: func(_ *testing.T, _ chat, _ *dingtalk.Client, clk *clock, key string) string {
			clk.Advance(dingtalktest.RecallWindow + time.Second)
			return key
		}, wantErr: dingtalk.ErrKeyExpired, wantCode: dingtalk.CodeKeyExpired},
		{name: "another robot", opts: []dingtalk.StatusOption{dingtalk.StatusAsRobot("other-robot")},
			wantCode: dingtalk.CodeRobotNotExist},
		{name: "the client's robot when StatusAsRobot is empty", opts: []dingtalk.StatusOption{dingtalk.StatusAsRobot("")},
			want: dingtalk.StatusProcessing},
	}
	for kind, ch := range chats {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				clk := &clock{t: time.Date(2025, 11, 26, 9, 0, 0, 0, time.UTC)}
				fake := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now), dingtalktest.WithTokenTTL(72*time.Hour),
					dingtalktest.WithProcessingTime(time.Minute))
				c := newClient(t, fake, dingtalk.WithClock(clk.Now))
				key := ch.send(t, c)
				if tt.before != nil {
					key = tt.before(t, ch, c, clk, key)
				}
				got, err := ch.status(c, key, tt.opts...)
				if tt.wantCode == "" {
					require.NoError(t, err)
					assert.Equal(t, tt.want, got)
					return
				}
				assert.Equal(t, dingtalk.StatusUnknown, got)
				var apiErr *dingtalk.APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, tt.wantCode, apiErr.Code)
				assert.Equal(t, http.StatusBadRequest, apiErr.Status)
				assert.Equal(t, ch.path, apiErr.API)
				for _, sentinel := range []error{dingtalk.ErrKeyUnknown, dingtalk.ErrKeyExpired} {
					assert.Equal(t, sentinel == tt.wantErr, errors.Is(err, sentinel), "errors.Is(err, %v)", sentinel)
				}
				assert.Equal(t, 1, fake.CallCount(ch.path), "a 400 is not retried")
			})
		}
	}
}

func TestStatusRetriesTransientFailures(t *testing.T) {
	for kind, ch := range chats {
		t.Run(kind, func(t *testing.T) {
			fake := dingtalktest.NewTest(t)
			obs := &countingObserver{}
			c := newClient(t, fake, dingtalk.WithObserver(obs))
			key := ch.send(t, c)
			fake.FailNextOn(ch.path, 1, dingtalktest.FaultSystemError)
			fake.FailNextOn(ch.path, 1, dingtalktest.FaultQPSLimit)
			got, err := ch.status(c, key)
			require.NoError(t, err)
			assert.Equal(t, dingtalk.StatusSent, got)
			assert.Equal(t, 3, fake.CallCount(ch.path))
			assert.Equal(t, 2, obs.retries)
			assert.Equal(t, 5, obs.calls, "token, send, three status attempts")

			fake.FailNextOn(ch.path, fastRetry.MaxAttempts, dingtalktest.FaultSystemError)
			_, err = ch.status(c, key)
			assert.True(t, dingtalk.HasCode(err, dingtalk.CodeSystemError), "%v", err)
			assert.False(t, errors.Is(err, dingtalk.ErrKeyUnknown))
		})
	}
}

func TestStatusRefusesBadInputBeforeCalling(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	c := newClient(t, fake)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() (dingtalk.Status, error)
	}{
		{"group without key", func() (dingtalk.Status, error) { return c.StatusGroup(ctx, "cidG", " ") }},
		{"group without conversation", func() (dingtalk.Status, error) { return c.StatusGroup(ctx, "", "k") }},
		{"private without key", func() (dingtalk.Status, error) { return c.StatusPrivate(ctx, "cidP", "") }},
		{"private without conversation", func() (dingtalk.Status, error) { return c.StatusPrivate(ctx, " ", "k") }},
		{"oto without key", func() (dingtalk.Status, error) { return c.StatusOTO(ctx, "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			require.ErrorIs(t, err, dingtalk.ErrInvalidMessage)
			assert.Equal(t, dingtalk.StatusUnknown, got)
		})
	}
	assert.Empty(t, fake.Calls(), "nothing reached DingTalk, not even a token call")
}

// statusRecorder is a stand-in for DingTalk that records the status calls it gets
// and answers them with sendStatus.
type statusRecorder struct {
	sendStatus string
	mu         sync.Mutex
	requests   []recordedRequest
}

type recordedRequest struct {
	method, path, rawQuery, token, body string
}

func (s *statusRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == dingtalk.PathAccessToken {
		_ = json.NewEncoder(w).Encode(map[string]any{"accessToken": "tok", "expireIn": 7200})
		return
	}
	var body json.RawMessage
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	s.requests = append(s.requests, recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("x-acs-dingtalk-access-token"), string(body)})
	s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"sendStatus": s.sendStatus, "readUserIds": []string{"u1"}, "hasMore": true, "nextToken": "n"})
}

// recorded returns the status calls received so far.
func (s *statusRecorder) recorded() []recordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedRequest(nil), s.requests...)
}

func TestStatusWire(t *testing.T) {
	const key = "a+b/c=&d %"
	tests := []struct {
		name      string
		call      func(c *dingtalk.Client) (dingtalk.Status, error)
		method    string
		path      string
		wantQuery url.Values
		wantBody  string
	}{
		{name: "group", call: func(c *dingtalk.Client) (dingtalk.Status, error) {
			return c.StatusGroup(context.Background(), "cid==", key)
		}, method: http.MethodPost, path: dingtalk.PathGroupStatus,
			wantBody: `{"openConversationId":"cid==","robotCode":"bot","processQueryKey":"a+b/c=&d %","maxResults":20}`},
		{name: "private as another robot", call: func(c *dingtalk.Client) (dingtalk.Status, error) {
			return c.StatusPrivate(context.Background(), "cidP", key, dingtalk.StatusAsRobot("bot2"))
		}, method: http.MethodPost, path: dingtalk.PathPrivateStatus,
			wantBody: `{"openConversationId":"cidP","robotCode":"bot2","processQueryKey":"a+b/c=&d %","maxResults":20}`},
		{name: "oto", call: func(c *dingtalk.Client) (dingtalk.Status, error) {
			return c.StatusOTO(context.Background(), key)
		}, method: http.MethodGet, path: dingtalk.PathOTOStatus,
			wantQuery: url.Values{"robotCode": {"bot"}, "processQueryKey": {key}}},
		{name: "oto as another robot", call: func(c *dingtalk.Client) (dingtalk.Status, error) {
			return c.StatusOTO(context.Background(), key, dingtalk.StatusAsRobot("bot2"))
		}, method: http.MethodGet, path: dingtalk.PathOTOStatus,
			wantQuery: url.Values{"robotCode": {"bot2"}, "processQueryKey": {key}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &statusRecorder{sendStatus: "RECALLED"}
			srv := httptest.NewServer(rec)
			t.Cleanup(srv.Close)
			c, err := dingtalk.NewClient("k", "s", dingtalk.WithBaseURL(srv.URL), dingtalk.WithRobotCode("bot"), dingtalk.WithRetryPolicy(fastRetry))
			require.NoError(t, err)

			got, err := tt.call(c)
			require.NoError(t, err)
			assert.Equal(t, dingtalk.StatusRecalled, got)
			reqs := rec.recorded()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, tt.method, r.method)
			assert.Equal(t, tt.path, r.path)
			assert.Equal(t, "tok", r.token)
			if tt.wantQuery != nil {
				assert.Empty(t, r.body, "a GET has no body")
				assert.NotContains(t, r.rawQuery, key, "the key is escaped in the query string")
				q, err := url.ParseQuery(r.rawQuery)
				require.NoError(t, err)
				assert.Equal(t, tt.wantQuery, q)
				return
			}
			assert.Empty(t, r.rawQuery)
			assert.JSONEq(t, tt.wantBody, r.body)
		})
	}
}

func TestStatusAnswers(t *testing.T) {
	tests := []struct {
		sendStatus string
		want       dingtalk.Status
	}{
		{"SUCCESS", dingtalk.StatusSent},
		{"RECALLED", dingtalk.StatusRecalled},
		{"PROCESSING", dingtalk.StatusProcessing},
		{"", dingtalk.StatusUnknown},
		{"recalled", dingtalk.StatusUnknown},
		{"DELETED", dingtalk.StatusUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.sendStatus, func(t *testing.T) {
			srv := httptest.NewServer(&statusRecorder{sendStatus: tt.sendStatus})
			t.Cleanup(srv.Close)
			c, err := dingtalk.NewClient("k", "s", dingtalk.WithBaseURL(srv.URL), dingtalk.WithRetryPolicy(fastRetry))
			require.NoError(t, err)
			for _, call := range []func() (dingtalk.Status, error){
				func() (dingtalk.Status, error) { return c.StatusGroup(context.Background(), "cid", "k") },
				func() (dingtalk.Status, error) { return c.StatusOTO(context.Background(), "k") },
			} {
				got, err := call()
				assert.Equal(t, tt.want, got)
				if tt.want != dingtalk.StatusUnknown {
					require.NoError(t, err)
					assert.Equal(t, tt.sendStatus, got.String())
					continue
				}
				assert.True(t, dingtalk.HasCode(err, dingtalk.CodeBadResponse), "%v", err)
				assert.False(t, dingtalk.IsRetryable(err))
			}
		})
	}
	assert.Equal(t, "UNKNOWN", dingtalk.StatusUnknown.String())
}

// Ask DingTalk what became of a message whose recall may or may not have gone
// through, and tell an unknown or expired key apart with errors.Is.
func ExampleClient_StatusGroup() {
	fake := dingtalktest.New()
	defer fake.Close()

	client, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	key, err := client.SendGroup(ctx, "cidOpsAlerts==", dingtalk.Text("deploying v1.2.3 to production"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.RecallGroup(ctx, "cidOpsAlerts==", []string{key}); err != nil {
		log.Fatal(err)
	}
	status, err := client.StatusGroup(ctx, "cidOpsAlerts==", key)
	fmt.Println(status, err)
	_, err = client.StatusGroup(ctx, "cidOpsAlerts==", "no-such-key")
	fmt.Println(errors.Is(err, dingtalk.ErrKeyUnknown), errors.Is(err, dingtalk.ErrKeyExpired))
	// Output:
	// RECALLED <nil>
	// true false
}
