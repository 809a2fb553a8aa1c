package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// testApp is the whole app started with run() against a fake DingTalk, driven
// only through HTTP.
type testApp struct {
	t      *testing.T
	base   string
	fake   *dingtalktest.Server
	token  string
	cancel context.CancelFunc
	done   chan error
	msgSeq atomic.Int64
	// now is the app's clock.
	now func() time.Time
}

// apiToken is the API_TOKEN of test apps.
const apiToken = "test-api-token-0123456789"

// listen opens a listener on a free loopback port for an app under test.
func listen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	return ln
}

// freeAddr returns a loopback address with a port that was free a moment ago,
// for a process outside the test (redis-server) that must be told a port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startApp runs the app with env on top of test defaults and waits until it
// answers /healthz. It stops the app when the test ends.
func startApp(t *testing.T, fake *dingtalktest.Server, env map[string]string) *testApp {
	t.Helper()
	return startAppAt(t, fake, env, time.Now)
}

// startAppAt is startApp on the clock now, with opts.
func startAppAt(t *testing.T, fake *dingtalktest.Server, env map[string]string, now func() time.Time, opts ...Option) *testApp {
	t.Helper()
	if fake == nil {
		fake = dingtalktest.NewTest(t)
	}
	vars := map[string]string{
		"DINGTALK_APP_KEY":    fake.AppKey(),
		"DINGTALK_APP_SECRET": fake.AppSecret(),
		"DINGTALK_API_BASE":   fake.URL(),
		"API_TOKEN":           apiToken,
		"RECALL_ADMINS":       "staff-admin",
		"RECALL_USERS":        "staff-1001",
		"REPLY_TTL":           "0",
		"BURST_LIMIT":         "0", // tests send many messages at once; the guard tests set both
		"DUPLICATE_WINDOW":    "0",
		"LOG_LEVEL":           "error",
		// Most tests read the bot's reply to every command; the reaction
		// tests set ACK_STYLE themselves.
		"ACK_STYLE": "reply",
	}
	for k, v := range env {
		vars[k] = v
	}
	ln := listen(t)
	a := &testApp{t: t, base: "http://" + ln.Addr().String(), fake: fake, token: vars["API_TOKEN"], done: make(chan error, 1), now: now}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		a.done <- Run(ctx, ln, func(k string) string { return vars[k] }, append([]Option{WithClock(now)}, opts...)...)
	}()
	require.Eventually(t, func() bool {
		select {
		case err := <-a.done:
			a.done <- err
			return true
		default:
		}
		resp, err := http.Get(a.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)
	select {
	case err := <-a.done:
		t.Fatalf("app stopped at start-up: %v", err)
	default:
	}
	t.Cleanup(func() { a.stop() })
	return a
}

// stop shuts the app down and waits for run to return.
func (a *testApp) stop() error {
	a.cancel()
	select {
	case err := <-a.done:
		a.done <- err
		return err
	case <-time.After(30 * time.Second):
		a.t.Fatal("app did not shut down")
		return nil
	}
}

// do sends an HTTP request with an optional JSON body and returns the status
// and the decoded JSON answer.
func (a *testApp) do(method, path string, body any, header http.Header) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(a.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(a.t, json.Unmarshal(raw, &out), "answer: %s", raw)
	}
	return resp.StatusCode, out
}

// api calls /api/v1 with the bearer token.
func (a *testApp) api(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	return a.do(method, "/api/v1"+path, body, http.Header{"Authorization": {"Bearer " + a.token}})
}

// send sends n text messages into a group through the API and returns their
// keys, oldest first.
func (a *testApp) send(conv string, n int, extra map[string]any) []string {
	a.t.Helper()
	keys := make([]string, n)
	for i := range keys {
		body := map[string]any{"conversationId": conv, "text": fmt.Sprintf("alert %d", i)}
		for k, v := range extra {
			body[k] = v
		}
		status, out := a.api(http.MethodPost, "/messages", body)
		require.Equal(a.t, http.StatusCreated, status, "%v", out)
		keys[i] = out["processQueryKey"].(string)
	}
	return keys
}

// callbackBody is a group text callback from a recall user, changed by edit.
func (a *testApp) callbackBody(text string, edit func(map[string]any)) map[string]any {
	body := map[string]any{
		"conversationId": "cidGroupOps001==", "conversationType": "2", "conversationTitle": "ops-alerts",
		"senderStaffId": "staff-1001", "senderNick": "Wang Fang", "isAdmin": false,
		"robotCode": a.fake.RobotCode(), "msgId": fmt.Sprintf("msg-%d", a.msgSeq.Add(1)),
		"createAt": a.now().UnixMilli(), "msgtype": "text", "text": map[string]any{"content": " " + text},
	}
	if edit != nil {
		edit(body)
	}
	return body
}

// signed returns callback headers signed at the given time.
func signed(secret string, at time.Time) http.Header {
	h := http.Header{}
	dingtalk.SignHeader(h, secret, at)
	return h
}

// command posts a signed callback and returns the reply the bot sends for it
// (the next message the fake receives).
func (a *testApp) command(body map[string]any) dingtalktest.Message {
	a.t.Helper()
	before := len(a.fake.Sent())
	status, out := a.do(http.MethodPost, "/dingtalk/callback", body, signed(a.fake.AppSecret(), a.now()))
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	return a.replyAfter(before)
}

// replyAfter waits for the message the fake receives after the first n.
func (a *testApp) replyAfter(n int) dingtalktest.Message {
	a.t.Helper()
	require.Eventually(a.t, func() bool { return len(a.fake.Sent()) > n }, 10*time.Second, 5*time.Millisecond, "the bot never replied")
	return a.fake.Sent()[n]
}

// replyText is the text of a sampleText message.
func replyText(t *testing.T, m dingtalktest.Message) string {
	t.Helper()
	var p struct{ Content string }
	require.NoError(t, json.Unmarshal([]byte(m.MsgParam), &p))
	return p.Content
}

// listed returns the keys of the chat's tracked messages that are not replies.
func (a *testApp) listed(conv string) []string {
	a.t.Helper()
	status, out := a.api(http.MethodGet, "/conversations/"+conv+"/messages", nil)
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	var keys []string
	for _, m := range out["messages"].([]any) {
		mm := m.(map[string]any)
		if mm["reply"] != true {
			keys = append(keys, mm["processQueryKey"].(string))
		}
	}
	return keys
}

// recallCallSizes lists the number of keys in each recall call on path.
func recallCallSizes(fake *dingtalktest.Server, path string) []int {
	var sizes []int
	for _, c := range fake.Calls() {
		if c.Path == path {
			sizes = append(sizes, len(c.Keys))
		}
	}
	return sizes
}

// reverse returns keys newest first.
func reverse(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[len(keys)-1-i] = k
	}
	return out
}
