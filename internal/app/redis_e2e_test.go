package app

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// redisServer is a throwaway redis-server this test starts, stops and
// starts again on the same port and data directory (append-only file, so a
// restart keeps the data).
type redisServer struct {
	t    *testing.T
	port string
	dir  string
	cmd  *exec.Cmd
}

// startRedis starts a redis-server on a free loopback port. Without the
// binary the test is skipped, unless DINGRECALL_REQUIRE_REDIS=1 (CI).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("DINGRECALL_REQUIRE_REDIS") == "1" {
			t.Fatal("DINGRECALL_REQUIRE_REDIS=1 but redis-server is not installed")
		}
		t.Skip("redis-server not installed: skipping the Redis end-to-end tests (see README)")
	}
	_, port, _ := strings.Cut(freeAddr(t), ":")
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// url is the server's REDIS_URL.
func (r *redisServer) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

// start runs the server and waits until it answers.
func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", r.port, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir)
	require.NoError(r.t, r.cmd.Start())
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + r.port})
	defer client.Close()
	require.Eventually(r.t, func() bool { return client.Ping(context.Background()).Err() == nil }, 10*time.Second, 20*time.Millisecond)
}

// stop kills the server (its append-only file keeps what it had).
func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func TestTwoInstancesShareOneRedis(t *testing.T) {
	rs := startRedis(t)
	fake := dingtalktest.NewTest(t)
	env := map[string]string{"STORE": "redis", "REDIS_URL": rs.url(), "RECALL_CONFIRM_OVER": "50"}
	a := startApp(t, fake, env)
	b := startApp(t, fake, env)

	keys := a.send(group, 30, nil)
	reply := b.command(b.callbackBody("recall 30", nil))

	assert.Contains(t, replyText(t, reply), "Recalled 30 messages")
	assert.ElementsMatch(t, keys, fake.Recalled())
	for _, k := range keys {
		assert.Equal(t, 1, fake.RecallAttempts(k), "each key reached DingTalk exactly once")
	}
	assert.Empty(t, a.listed(group))
}

func TestConcurrentRecallsOnTwoInstancesNeverOverlap(t *testing.T) {
	rs := startRedis(t)
	fake := dingtalktest.NewTest(t)
	env := map[string]string{"STORE": "redis", "REDIS_URL": rs.url()}
	a := startApp(t, fake, env)
	b := startApp(t, fake, env)
	keys := a.send(group, 40, nil)

	results := make(chan map[string]any, 2)
	for _, app := range []*testApp{a, b} {
		go func() {
			_, out := app.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 25})
			results <- out
		}()
	}
	// Each takes the newest 25 still in the chat, those the other is
	// recalling at that moment counting among them (inFlight): the newest
	// 25 go once, and older ones only if one ran after the other was done.
	var recalled []string
	for range 2 {
		out := <-results
		for _, k := range out["recalled"].([]any) {
			recalled = append(recalled, k.(string))
		}
		assert.LessOrEqual(t, len(out["recalled"].([]any))+len(out["inFlight"].([]any)), 25, "%v", out)
	}
	assert.Subset(t, recalled, keys[15:], "the newest 25 are recalled")
	assert.ElementsMatch(t, recalled, fake.Recalled(), "each once")
	for _, k := range keys {
		assert.LessOrEqual(t, fake.RecallAttempts(k), 1)
	}
}

func TestRestartWithRedisRecallsWhatWasSentBefore(t *testing.T) {
	rs := startRedis(t)
	fake := dingtalktest.NewTest(t)
	env := map[string]string{"STORE": "redis", "REDIS_URL": rs.url()}
	first := startApp(t, fake, env)
	keys := first.send(group, 10, nil)
	selfCleaning := first.send("cidNotices==", 1, map[string]any{"ttl": "3s"})
	require.NoError(t, first.stop())

	second := startApp(t, fake, env)
	reply := second.command(second.callbackBody("recall 10", nil))
	assert.Contains(t, replyText(t, reply), "Recalled 10 messages")
	assert.Subset(t, fake.Recalled(), keys)
	require.Eventually(t, func() bool { return len(fake.Recalled()) == 11 }, 10*time.Second, 20*time.Millisecond,
		"the ttl message is recalled by the new instance")
	assert.Contains(t, fake.Recalled(), selfCleaning[0])
}

func TestRedisOutage(t *testing.T) {
	rs := startRedis(t)
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"STORE": "redis", "REDIS_URL": rs.url() + "?dial_timeout=200ms&max_retries=0"})
	keys := a.send(group, 3, nil)

	rs.stop()
	require.Eventually(t, func() bool {
		status, _ := a.do(http.MethodGet, "/readyz", nil, nil)
		return status == http.StatusServiceUnavailable
	}, 10*time.Second, 50*time.Millisecond, "/readyz turns 503")
	sent := len(fake.Sent())
	status, out := a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("recall 2", nil), signed(fake.AppSecret(), a.now()))
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Eventually(t, func() bool {
		return value(a.scrape(), "dingrecall_commands_total", map[string]string{"command": "recall", "outcome": "unavailable"}) == 1
	}, 10*time.Second, 20*time.Millisecond, "the command ran")
	assert.Len(t, fake.Sent(), sent, "its reply could not be tracked, so it is not posted")
	assert.Empty(t, fake.Recalled(), "nothing is recalled blindly")
	status, out = a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 1})
	assert.Equal(t, http.StatusServiceUnavailable, status, "%v", out)

	rs.start()
	// go-redis keeps a failed dial's error for up to a second after Redis
	// is back (its pool retries dialing in the background), so a call on a
	// new connection may still fail once /readyz, on a pooled one, passed.
	require.Eventually(t, func() bool {
		status, _ := a.do(http.MethodGet, "/readyz", nil, nil)
		listed, _ := a.api(http.MethodGet, "/conversations/"+group+"/messages", nil)
		return status == http.StatusOK && listed == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "the app reconnects by itself")
	assert.Equal(t, reverse(keys), a.listed(group), "nothing was lost")
	reply := a.command(a.callbackBody("recall 2", nil))
	assert.Contains(t, replyText(t, reply), "Recalled 2 messages")
	assert.ElementsMatch(t, keys[1:], fake.Recalled())
}

func TestStoreRedisNeedsURL(t *testing.T) {
	err := Run(context.Background(), nil, func(k string) string { return map[string]string{"STORE": "redis"}[k] })
	require.ErrorContains(t, err, "REDIS_URL is required when STORE=redis")
}
