package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/dropin/alertmanager"
	"github.com/dingrecall/dingrecall/dropin/webhook"
	"github.com/dingrecall/dingrecall/store"
)

// Tokens and secrets of the test routes files.
const (
	hookToken     = "hook-token-5c1e9a"
	signedToken   = "hook-signed-77b2d0"
	hookSecret    = "SEC4f1d2a3b5c6e7f8091a2b3c4d5e6f7"
	hookChat      = "cidWebhook001=="
	signedChat    = "cidWebhookSigned=="
	alertChat     = "cidAlerts001=="
	alertRouteOps = "ops"
)

// routesFile writes a routes file and returns its path.
func routesFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "routes.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// dropinRoutes are the routes most tests run with.
var dropinRoutes = fmt.Sprintf(`
webhooks:
  - name: plain
    token: %s
    conversationId: %s
    tag: from-webhook
  - name: signed
    token: %s
    conversationId: %s
    secret: %s
    tag: from-signed
    ttl: 1h
alertmanager:
  - name: %s
    conversationId: %s
`, hookToken, hookChat, signedToken, signedChat, hookSecret, alertRouteOps, alertChat)

// robotSend posts body to /robot/send with the query and returns the answer.
func (a *testApp) robotSend(query url.Values, body string) webhook.Answer {
	a.t.Helper()
	resp, err := http.Post(a.base+webhook.Path+"?"+query.Encode(), "application/json", strings.NewReader(body))
	require.NoError(a.t, err)
	defer resp.Body.Close()
	require.Equal(a.t, http.StatusOK, resp.StatusCode)
	var out webhook.Answer
	require.NoError(a.t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// tracked returns the chat's tracked messages (not replies) by key.
func (a *testApp) tracked(conv string) map[string]map[string]any {
	a.t.Helper()
	status, out := a.api(http.MethodGet, "/conversations/"+conv+"/messages", nil)
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	got := map[string]map[string]any{}
	for _, m := range out["messages"].([]any) {
		mm := m.(map[string]any)
		if mm["reply"] != true {
			got[mm["processQueryKey"].(string)] = mm
		}
	}
	return got
}

// recallTag recalls every message with tag through the API and returns the
// recalled keys.
func (a *testApp) recallTag(tag string) []string {
	a.t.Helper()
	status, out := a.api(http.MethodPost, "/recall", map[string]any{"tag": tag})
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	var keys []string
	for _, k := range out["recalled"].([]any) {
		keys = append(keys, k.(string))
	}
	return keys
}

func TestDropinsAnswer404WithoutRoutesFile(t *testing.T) {
	a := startApp(t, nil, nil)
	resp, err := http.Post(a.base+"/robot/send?access_token="+hookToken, "application/json", strings.NewReader(`{"msgtype":"text","text":{"content":"x"}}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	status, _ := a.do(http.MethodPost, "/alertmanager/ops", `{}`, http.Header{"Authorization": {"Bearer " + apiToken}})
	assert.Equal(t, http.StatusNotFound, status)
	assert.Empty(t, a.fake.Sent())
}

func TestRoutesFileMistakesStopStartUp(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	path := routesFile(t, "webhooks:\n  - token: "+hookToken+"\n    ttl: forever\nalertmanager:\n  - name: bad/name\n    conversationId: c\n    resolved: sometimes\n")
	env := map[string]string{
		"DINGTALK_APP_KEY": fake.AppKey(), "DINGTALK_APP_SECRET": fake.AppSecret(), "DINGTALK_API_BASE": fake.URL(),
		"API_TOKEN": apiToken, "LOG_LEVEL": "error", "ROUTES_FILE": path,
	}
	err := Run(context.Background(), listen(t), func(k string) string { return env[k] })
	require.Error(t, err)
	msg := err.Error()
	for _, line := range []string{
		"ROUTES_FILE " + path + ": 4 mistakes:",
		"\n  webhooks[0] (line 2) conversationId: is required",
		"\n  webhooks[0] (line 2) ttl: is \"forever\"",
		"\n  alertmanager[0] \"bad/name\" (line 5) name: is \"bad/name\"",
		"\n  alertmanager[0] \"bad/name\" (line 5) resolved: is \"sometimes\"",
	} {
		assert.Contains(t, msg, line)
	}
	assert.NotContains(t, msg, hookToken)
}

func TestAlertRetryWindowIsChecked(t *testing.T) {
	_, err := loadConfig(func(k string) string { return map[string]string{"ALERT_RETRY_WINDOW": "10ms"}[k] })
	assert.ErrorContains(t, err, "ALERT_RETRY_WINDOW is 10ms: want 1s to 24h0m0s")
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, alertmanager.DefaultRetryWindow, cfg.AlertRetry)
}

// TestWebhookEveryMsgtypeTrackedAndRecalled posts every custom robot msgtype,
// signed and not, and recalls them by their route's tag.
func TestWebhookEveryMsgtypeTrackedAndRecalled(t *testing.T) {
	a := startApp(t, nil, map[string]string{"ROUTES_FILE": routesFile(t, dropinRoutes)})
	bodies := map[string]string{
		dingtalk.MsgKeyText:                 `{"msgtype":"text","text":{"content":"disk 91%"},"at":{"atMobiles":["13800000000"]}}`,
		dingtalk.MsgKeyMarkdown:             `{"msgtype":"markdown","markdown":{"title":"Deploy","text":"**v1** live"}}`,
		webhook.KeyLink:                     `{"msgtype":"link","link":{"title":"Build","text":"ok","messageUrl":"https://ci.example/1","picUrl":""}}`,
		webhook.KeyActionCard:               `{"msgtype":"actionCard","actionCard":{"title":"Go","text":"?","singleTitle":"Open","singleURL":"https://ci.example/2"}}`,
		webhook.KeyActionCard + "3":         buttonsBody(3),
		webhook.KeyActionCardRow:            `{"msgtype":"actionCard","actionCard":{"title":"Go","text":"?","btnOrientation":"1","btns":[{"title":"Y","actionURL":"https://y.example"},{"title":"N","actionURL":"https://n.example"}]}}`,
		dingtalk.MsgKeyMarkdown + " (feed)": `{"msgtype":"feedCard","feedCard":{"links":[{"title":"One","messageURL":"https://e.example/1","picURL":"https://e.example/1.png"}]}}`,
	}
	for _, route := range []struct {
		token, chat, tag string
		sign             bool
	}{{hookToken, hookChat, "from-webhook", false}, {signedToken, signedChat, "from-signed", true}} {
		var keys []string
		for key, body := range bodies {
			q := url.Values{"access_token": {route.token}}
			if route.sign {
				ts, sign := webhook.Sign(hookSecret, time.Now())
				q.Set("timestamp", ts)
				q.Set("sign", sign)
			}
			ans := a.robotSend(q, body)
			require.Equal(t, 0, ans.ErrCode, "%s: %s", key, ans.ErrMsg)
			require.NotEmpty(t, ans.ProcessQueryKey)
			sent, ok := a.fake.Message(ans.ProcessQueryKey)
			require.True(t, ok)
			assert.Equal(t, strings.Fields(key)[0], sent.MsgKey)
			assert.Equal(t, route.chat, sent.ConversationID)
			keys = append(keys, ans.ProcessQueryKey)
		}
		tracked := a.tracked(route.chat)
		require.Len(t, tracked, len(bodies))
		// Every post is in the audit log: action send, source webhook, the route.
		status, out := a.api(http.MethodGet, "/audit?conversationId="+route.chat, nil)
		require.Equal(t, http.StatusOK, status)
		var audited []string
		for _, e := range out["entries"].([]any) {
			e := e.(map[string]any)
			require.Equal(t, store.ActionSend, e["action"])
			require.Equal(t, store.SourceWebhook, e["source"])
			assert.Contains(t, e["request"], "webhook ")
			assert.NotContains(t, e["request"], route.token, "the route's name, never its token")
			for _, it := range e["items"].([]any) {
				audited = append(audited, it.(map[string]any)["processQueryKey"].(string))
			}
		}
		assert.ElementsMatch(t, keys, audited)
		for _, k := range keys {
			assert.Equal(t, route.tag, tracked[k]["tag"])
			if route.sign {
				assert.NotNil(t, tracked[k]["expiresAt"], "the route's ttl")
			}
		}
		assert.ElementsMatch(t, keys, a.recallTag(route.tag))
	}
	assert.Len(t, a.fake.Recalled(), 2*len(bodies))

	// A signed route refuses what DingTalk refuses.
	ts, sign := webhook.Sign(hookSecret, time.Now().Add(-2*time.Hour))
	assert.Equal(t, webhook.Answer{ErrCode: webhook.CodeSecurity, ErrMsg: "invalid timestamp"},
		a.robotSend(url.Values{"access_token": {signedToken}, "timestamp": {ts}, "sign": {sign}}, bodies[dingtalk.MsgKeyText]))
	assert.Equal(t, webhook.CodeTokenNotExist, a.robotSend(url.Values{"access_token": {"nope"}}, bodies[dingtalk.MsgKeyText]).ErrCode)
}

// buttonsBody is an actionCard with n stacked buttons.
func buttonsBody(n int) string {
	var btns []string
	for i := 1; i <= n; i++ {
		btns = append(btns, fmt.Sprintf(`{"title":"B%d","actionURL":"https://e.example/%d"}`, i, i))
	}
	return `{"msgtype":"actionCard","actionCard":{"title":"T","text":"b","btns":[` + strings.Join(btns, ",") + `]}}`
}

func TestWebhookThrottledByTheBurstGuard(t *testing.T) {
	a := startApp(t, nil, map[string]string{"ROUTES_FILE": routesFile(t, dropinRoutes), "BURST_LIMIT": "2"})
	q := url.Values{"access_token": {hookToken}}
	for i := range 2 {
		require.Equal(t, 0, a.robotSend(q, fmt.Sprintf(`{"msgtype":"text","text":{"content":"n%d"}}`, i)).ErrCode)
	}
	ans := a.robotSend(q, `{"msgtype":"text","text":{"content":"n3"}}`)
	assert.Equal(t, webhook.CodeTooFast, ans.ErrCode)
	assert.Contains(t, ans.ErrMsg, "send too fast")
}

// reload asks the app to reload ROUTES_FILE and waits until it did: the
// reloader takes one request at a time, so taking the second means the
// first reload is over.
func reload(ch chan struct{}) {
	ch <- struct{}{}
	ch <- struct{}{}
}

func TestRoutesReloadKeepsTheOldRoutesOnAMistake(t *testing.T) {
	logs := captureStderr(t)
	path := routesFile(t, dropinRoutes)
	ch := make(chan struct{})
	a := startAppAt(t, nil, map[string]string{"ROUTES_FILE": path, "LOG_LEVEL": "info"}, time.Now, WithRoutesReload(ch))
	text := `{"msgtype":"text","text":{"content":"hello"}}`
	require.Equal(t, 0, a.robotSend(url.Values{"access_token": {hookToken}}, text).ErrCode)

	require.NoError(t, os.WriteFile(path, []byte("webhooks:\n  - token: brand-new-token\n"), 0o600))
	reload(ch)
	assert.Equal(t, 0, a.robotSend(url.Values{"access_token": {hookToken}}, `{"msgtype":"text","text":{"content":"still here"}}`).ErrCode, "the old routes stay")
	assert.Equal(t, webhook.CodeTokenNotExist, a.robotSend(url.Values{"access_token": {"brand-new-token"}}, text).ErrCode)

	require.NoError(t, os.WriteFile(path, []byte("webhooks:\n  - name: fresh\n    token: brand-new-token\n    conversationId: cidFresh==\n"), 0o600))
	reload(ch)
	assert.Equal(t, webhook.CodeTokenNotExist, a.robotSend(url.Values{"access_token": {hookToken}}, text).ErrCode)
	ans := a.robotSend(url.Values{"access_token": {"brand-new-token"}}, text)
	require.Equal(t, 0, ans.ErrCode)
	sent, _ := a.fake.Message(ans.ProcessQueryKey)
	assert.Equal(t, "cidFresh==", sent.ConversationID)
	status, _ := a.do(http.MethodPost, "/alertmanager/"+alertRouteOps, `{}`, http.Header{"Authorization": {"Bearer " + apiToken}})
	assert.Equal(t, http.StatusNotFound, status, "the reloaded file has no Alertmanager route")

	require.NoError(t, a.stop())
	out := logs()
	assert.Contains(t, out, "ROUTES_FILE not reloaded: the routes in force stay")
	assert.Contains(t, out, "webhooks[0] (line 2) conversationId: is required")
	assert.Contains(t, out, "ROUTES_FILE reloaded")
	for _, secret := range []string{hookToken, signedToken, hookSecret, "brand-new-token"} {
		assert.NotContains(t, out, secret)
	}
}

func TestSIGHUPReloadsRoutesFile(t *testing.T) {
	path := routesFile(t, dropinRoutes)
	a := startApp(t, nil, map[string]string{"ROUTES_FILE": path})
	require.NoError(t, os.WriteFile(path, []byte("webhooks:\n  - token: after-hup\n    conversationId: cidHup==\n"), 0o600))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool {
		return a.robotSend(url.Values{"access_token": {"after-hup"}}, `{"msgtype":"text","text":{"content":"x"}}`).ErrCode == 0
	}, 10*time.Second, 20*time.Millisecond)
}

// TestRobotClientLibrary drives the published npm client
// dingtalk-robot-sender (which .ci/run installs) against the app: text,
// markdown, link and actionCard, signed and unsigned; every message is
// tracked under its route's tag and recalled by it.
func TestRobotClientLibrary(t *testing.T) {
	node, dir := robotClient(t)
	a := startApp(t, nil, map[string]string{"ROUTES_FILE": routesFile(t, dropinRoutes)})
	for _, route := range []struct {
		token, secret, chat, tag string
	}{{hookToken, "", hookChat, "from-webhook"}, {signedToken, hookSecret, signedChat, "from-signed"}} {
		t.Run(route.tag, func(t *testing.T) {
			results := runRobotClient(t, node, dir, a.base+webhook.Path+"?access_token="+route.token, route.secret)
			want := map[string]string{
				"text": dingtalk.MsgKeyText, "markdown": dingtalk.MsgKeyMarkdown, "link": webhook.KeyLink,
				"actionCard": webhook.KeyActionCard, "actionCard-row": webhook.KeyActionCardRow,
			}
			require.Len(t, results, len(want))
			var keys []string
			for _, r := range results {
				require.Empty(t, r.Error, r.Kind)
				require.Equal(t, http.StatusOK, r.Status, r.Kind)
				require.Equal(t, 0, r.Data.ErrCode, "%s: %s", r.Kind, r.Data.ErrMsg)
				require.Equal(t, "ok", r.Data.ErrMsg)
				sent, ok := a.fake.Message(r.Data.ProcessQueryKey)
				require.True(t, ok, r.Kind)
				assert.Equal(t, want[r.Kind], sent.MsgKey, r.Kind)
				assert.Equal(t, route.chat, sent.ConversationID)
				keys = append(keys, r.Data.ProcessQueryKey)
			}
			tracked := a.tracked(route.chat)
			for _, k := range keys {
				assert.Equal(t, route.tag, tracked[k]["tag"])
			}
			assert.ElementsMatch(t, keys, a.recallTag(route.tag))
			for _, k := range keys {
				m, _ := a.fake.Message(k)
				assert.True(t, m.Recalled, k)
			}
		})
	}
	// Signing with the wrong secret is refused as DingTalk refuses it.
	results := runRobotClient(t, node, dir, a.base+webhook.Path+"?access_token="+signedToken, "SECwrong")
	require.NotEmpty(t, results)
	for _, r := range results {
		assert.Equal(t, webhook.CodeSecurity, r.Data.ErrCode)
		assert.Equal(t, "sign not match", r.Data.ErrMsg)
	}
}

// clientResult is one line the robot client script prints.
type clientResult struct {
	Kind   string         `json:"kind"`
	Status int            `json:"status"`
	Data   webhook.Answer `json:"data"`
	Error  string         `json:"error"`
}

// robotClient finds node and the folder dingtalk-robot-sender is installed
// in (DINGRECALL_ROBOT_CLIENT_DIR), skipping the test without them unless
// DINGRECALL_REQUIRE_ROBOT_CLIENT=1.
func robotClient(t *testing.T) (node, dir string) {
	t.Helper()
	require := os.Getenv("DINGRECALL_REQUIRE_ROBOT_CLIENT") == "1"
	missing := func(why string) {
		if require {
			t.Fatalf("DINGRECALL_REQUIRE_ROBOT_CLIENT=1 but %s", why)
		}
		t.Skip(why + " (.ci/run installs it)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	dir = os.Getenv("DINGRECALL_ROBOT_CLIENT_DIR")
	if dir == "" {
		missing("DINGRECALL_ROBOT_CLIENT_DIR is not set")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "dingtalk-robot-sender", "package.json")); err != nil {
		missing("dingtalk-robot-sender is not installed in " + dir)
	}
	return node, dir
}

// runRobotClient runs testdata/robot-client.js against webhookURL and
// returns what it printed.
func runRobotClient(t *testing.T, node, dir, webhookURL, secret string) []clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script, err := filepath.Abs(filepath.Join("testdata", "robot-client.js"))
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, node, script)
	// A clean environment: no proxy variable may send loopback traffic elsewhere.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NODE_PATH=" + filepath.Join(dir, "node_modules"),
		"NO_PROXY=*", "WEBHOOK_URL=" + webhookURL, "ROBOT_SECRET=" + secret}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "robot client: %s", stderr.String())
	var results []clientResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r clientResult
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		results = append(results, r)
	}
	return results
}

// TestAlertmanagerEndToEnd runs Debian's prometheus-alertmanager on
// loopback with a webhook receiver pointing at the app: an alert fired
// through its API is posted once even though the first delivery failed, a
// repeat_interval reminder replaces it (one current message), and resolving
// the alert recalls it.
func TestAlertmanagerEndToEnd(t *testing.T) {
	bin := alertmanagerBinary(t)
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"ROUTES_FILE": routesFile(t, dropinRoutes), "ALERT_RETRY_WINDOW": "2s", "LOG_LEVEL": "warn"})
	am := startAlertmanager(t, bin, a.base+alertmanager.PathPrefix+alertRouteOps)

	// The first delivery fails at DingTalk: Alertmanager retries, once posted.
	fake.FailNextOn(dingtalktest.PathGroupSend, 1, dingtalktest.FaultSystemError)
	am.postAlert(time.Now().Add(time.Hour))
	var first string
	require.Eventually(t, func() bool {
		live := liveIn(fake, alertChat)
		if len(live) == 1 {
			first = live[0].Key
		}
		return first != ""
	}, 20*time.Second, 50*time.Millisecond, "the alert never reached the chat\n%s", am.logs())
	assert.Equal(t, 2, fake.CallCount(dingtalktest.PathGroupSend), "one failed delivery, one retried")
	assert.Len(t, sentIn(fake, alertChat), 1, "posted once")
	msg, _ := fake.Message(first)
	assert.Equal(t, dingtalk.MsgKeyMarkdown, msg.MsgKey)
	assert.Contains(t, msg.MsgParam, "[FIRING:1] DiskFull")
	tracked := a.tracked(alertChat)
	require.Contains(t, tracked, first)
	assert.Regexp(t, `^am:ops:[0-9a-f]{16}$`, tracked[first]["tag"])

	// repeat_interval: the reminder replaces the message.
	require.Eventually(t, func() bool {
		m, _ := fake.Message(first)
		return m.Recalled && len(liveIn(fake, alertChat)) == 1
	}, 30*time.Second, 50*time.Millisecond, "no reminder replaced the message\n%s", am.logs())
	assert.Len(t, liveIn(fake, alertChat), 1, "one current message")

	// Resolved: the message is recalled and nothing is left.
	am.postAlert(time.Now().Add(-time.Second))
	require.Eventually(t, func() bool {
		return len(liveIn(fake, alertChat)) == 0
	}, 30*time.Second, 50*time.Millisecond, "the resolved alert's message stayed\n%s", am.logs())
	assert.Empty(t, a.tracked(alertChat))
	for _, m := range sentIn(fake, alertChat) {
		assert.True(t, m.Recalled, m.Key)
	}
	status, out := a.api(http.MethodGet, "/audit?conversationId="+alertChat, nil)
	require.Equal(t, http.StatusOK, status)
	entries := out["entries"].([]any)
	require.NotEmpty(t, entries)
	actions := map[string]bool{}
	for _, e := range entries {
		e := e.(map[string]any)
		assert.Equal(t, "alertmanager", e["source"])
		actions[e["action"].(string)] = true
	}
	assert.True(t, actions[store.ActionSend], "the posts are audited")
	assert.True(t, actions[store.ActionRecall], "and so are the recalls")
}

// sentIn returns the messages the fake received for conv.
func sentIn(fake *dingtalktest.Server, conv string) []dingtalktest.Message {
	var out []dingtalktest.Message
	for _, m := range fake.Sent() {
		if m.ConversationID == conv {
			out = append(out, m)
		}
	}
	return out
}

// liveIn returns the messages of conv not recalled.
func liveIn(fake *dingtalktest.Server, conv string) []dingtalktest.Message {
	var out []dingtalktest.Message
	for _, m := range sentIn(fake, conv) {
		if !m.Recalled {
			out = append(out, m)
		}
	}
	return out
}

// alertmanagerBinary finds Debian's prometheus-alertmanager (or an
// alertmanager on PATH), skipping the test without one unless
// DINGRECALL_REQUIRE_ALERTMANAGER=1.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("DINGRECALL_REQUIRE_ALERTMANAGER") == "1" {
		t.Fatal("DINGRECALL_REQUIRE_ALERTMANAGER=1 but prometheus-alertmanager is not installed")
	}
	t.Skip("prometheus-alertmanager is not installed (.ci/run installs it)")
	return ""
}

// amProcess is an Alertmanager started by a test.
type amProcess struct {
	t    *testing.T
	base string
	out  *lockedBuffer
}

// lockedBuffer is a buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// startAlertmanager runs Alertmanager on a free loopback port with one
// webhook receiver posting to target with the API token, short intervals,
// and no clustering; it is stopped by its PID when the test ends.
func startAlertmanager(t *testing.T, bin, target string) *amProcess {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`
route:
  receiver: dingrecall
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 5s
receivers:
  - name: dingrecall
    webhook_configs:
      - url: %s
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, target, apiToken)
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(config), 0o600))
	addr := freeAddr(t)
	out := &lockedBuffer{mu: make(chan struct{}, 1)}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=debug")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir} // no proxy variables
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	p := &amProcess{t: t, base: "http://" + addr, out: out}
	require.Eventually(t, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)
	select {
	case <-exited:
		t.Fatalf("alertmanager exited at start-up:\n%s", out.String())
	default:
	}
	return p
}

// postAlert fires the DiskFull alert through Alertmanager's API, ending at
// endsAt: in the past, it resolves the alert.
func (p *amProcess) postAlert(endsAt time.Time) {
	p.t.Helper()
	body, err := json.Marshal([]map[string]any{{
		"labels":      map[string]string{"alertname": "DiskFull", "instance": "db-3", "severity": "page"},
		"annotations": map[string]string{"summary": "disk 91% on db-3"},
		"startsAt":    time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
		"endsAt":      endsAt.UTC().Format(time.RFC3339Nano),
	}})
	require.NoError(p.t, err)
	resp, err := http.Post(p.base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	require.NoError(p.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(p.t, http.StatusOK, resp.StatusCode, "%s", raw)
}

// logs is what Alertmanager printed, for failure messages.
func (p *amProcess) logs() string { return p.out.String() }

// A route with card: true posts what the tool sent as an interactive card
// (with a Recall button) that is tracked and recalled like any message.
func TestWebhookRouteWithCardPostsACard(t *testing.T) {
	routes := fmt.Sprintf("webhooks:\n  - name: cards\n    token: card-token-1\n    conversationId: cidCards==\n    tag: as-card\n    card: true\n")
	a := startApp(t, nil, map[string]string{"ROUTES_FILE": routesFile(t, routes)})
	ans := a.robotSend(url.Values{"access_token": {"card-token-1"}}, `{"msgtype":"markdown","markdown":{"title":"Deploy","text":"**v2** to prod"}}`)
	require.Equal(t, 0, ans.ErrCode, ans.ErrMsg)
	sent, ok := a.fake.Message(ans.ProcessQueryKey)
	require.True(t, ok)
	assert.NotEmpty(t, sent.OutTrackID, "delivered as a card")
	assert.Contains(t, sent.MsgParam, "v2")
	assert.Equal(t, []string{ans.ProcessQueryKey}, a.recallTag("as-card"))
}
