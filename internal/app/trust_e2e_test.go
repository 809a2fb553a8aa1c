package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// The ledger's promises under an operator's bad day (issue 12): a replica
// killed mid-recall, Redis down, kill -9 with STORE_FILE, a caller that
// hangs up, racing duplicate senders, and a recall longer than its lease.

// withLease runs the app with a claim lease other than store.DefaultLease.
func withLease(d time.Duration) Option {
	return func(o *options) { o.lease = d }
}

// buildBinary builds dingrecall into a temporary directory of t.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dingrecall")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/dingrecall/dingrecall").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// replica is the dingrecall binary running as a child process on a
// loopback port, driven over HTTP as a testApp is.
type replica struct {
	*testApp
	cmd  *exec.Cmd
	out  *lockedBuffer
	once sync.Once
}

// startReplica runs bin with the test defaults of startApp and env, waits
// until it answers /healthz, and kills it by its PID when the test ends.
func startReplica(t *testing.T, bin string, fake *dingtalktest.Server, env map[string]string) *replica {
	t.Helper()
	addr := freeAddr(t)
	vars := map[string]string{
		"DINGTALK_APP_KEY": fake.AppKey(), "DINGTALK_APP_SECRET": fake.AppSecret(), "DINGTALK_API_BASE": fake.URL(),
		"API_TOKEN": apiToken, "RECALL_ADMINS": "staff-admin", "RECALL_USERS": "staff-1001", "REPLY_TTL": "0",
		"BURST_LIMIT": "0", "DUPLICATE_WINDOW": "0", "LOG_LEVEL": "warn", "ACK_STYLE": "reply", "LISTEN_ADDR": addr,
	}
	for k, v := range env {
		vars[k] = v
	}
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	r := &replica{
		testApp: &testApp{t: t, base: "http://" + addr, fake: fake, token: apiToken, now: time.Now},
		cmd:     exec.Command(bin),
		out:     &lockedBuffer{mu: make(chan struct{}, 1)},
	}
	r.cmd.Env, r.cmd.Stdout, r.cmd.Stderr = environ, r.out, r.out
	require.NoError(t, r.cmd.Start())
	t.Cleanup(r.kill)
	ok := assert.Eventually(t, func() bool {
		resp, err := http.Get(r.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	if !ok {
		t.Fatalf("the replica did not start:\n%s", r.out.String())
	}
	return r
}

// kill ends the replica with SIGKILL, by its PID, and waits for it.
func (r *replica) kill() {
	r.once.Do(func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
}

// commandText posts a signed "text" callback to a and returns the text of
// the reply the bot sent for it.
func (a *testApp) commandText(text string) string {
	a.t.Helper()
	return replyText(a.t, a.command(a.callbackBody(text, nil)))
}

// answeredRecalls counts, per key, the recall calls DingTalk answered 200
// (a call cut off by a killed caller changed nothing and has status 0).
func answeredRecalls(fake *dingtalktest.Server) map[string]int {
	n := make(map[string]int)
	for _, c := range fake.Calls() {
		if c.Status == http.StatusOK && (c.Path == dingtalk.PathGroupRecall || c.Path == dingtalk.PathPrivateRecall || c.Path == dingtalk.PathOTORecall) {
			for _, k := range c.Keys {
				n[k]++
			}
		}
	}
	return n
}

// Replica A is killed while it recalls 200 messages (about half already
// recalled at DingTalk). Within 60 s replica B's "recall 5" takes the five
// newest messages still in the chat — at first it says they are in flight —
// and in the end every key is recalled, none twice, and none stays listed.
func TestKillReplicaMidRecall(t *testing.T) {
	rs := startRedis(t)
	fake := dingtalktest.NewTest(t)
	bin := buildBinary(t)
	env := map[string]string{"STORE": "redis", "REDIS_URL": rs.url(), "RECALL_MAX": "200", "RECALL_CONFIRM_OVER": "200"}
	a := startReplica(t, bin, fake, merge(env, map[string]string{"DINGTALK_QPS": "2"})) // 10 recall calls take 5 s
	b := startReplica(t, bin, fake, merge(env, map[string]string{"DINGTALK_QPS": "1000"}))
	keys := b.send(group, 200, nil)
	fake.SetLatency(100 * time.Millisecond)

	go func() { // A's caller: its answer never comes
		raw, _ := json.Marshal(map[string]any{"conversationId": group, "last": 200})
		req, _ := http.NewRequest(http.MethodPost, a.base+"/api/v1/recall", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+apiToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { return len(fake.Recalled()) >= 100 }, 30*time.Second, 5*time.Millisecond)
	a.kill()
	killed := time.Now()
	atKill := len(fake.Recalled())
	require.Less(t, atKill, 200, "killed mid-recall")

	reply := b.commandText("recall 5")
	assert.Contains(t, reply, "of the newest 5 are being recalled by another request right now", "at first B says they are in flight")
	var taken []string
	for time.Since(killed) < 60*time.Second {
		before := fake.Recalled()
		var still []string
		for _, k := range keys {
			if !slices.Contains(before, k) {
				still = append(still, k)
			}
		}
		if reply = b.commandText("recall 5"); strings.Contains(reply, "Recalled 5 messages.") {
			for _, k := range fake.Recalled() {
				if !slices.Contains(before, k) {
					taken = append(taken, k)
				}
			}
			assert.ElementsMatch(t, still[len(still)-5:], taken, "the five newest still in the chat")
			t.Logf("A was killed with %d of 200 recalled at DingTalk; %v later B's \"recall 5\" took the five newest still in the chat", atKill, time.Since(killed).Round(time.Second))
			break
		}
		assert.Contains(t, reply, "are being recalled by another request right now")
		time.Sleep(time.Second) // a person trying again a little later
	}
	require.Len(t, taken, 5, "within 60 s of the crash B took the five newest still in the chat; last reply: %s", reply)

	status, out := b.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 200})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Empty(t, out["failed"])
	assert.ElementsMatch(t, keys, fake.Recalled(), "every key recalled")
	for k, n := range answeredRecalls(fake) {
		assert.Equal(t, 1, n, "key %s recalled at DingTalk once", k)
	}
	assert.Empty(t, b.listed(group), "none stays listed")
}

// merge returns the union of maps, later ones winning.
func merge(ms ...map[string]string) map[string]string {
	out := make(map[string]string)
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// With Redis stopped and every guard off, API sends answer 503
// store_unavailable and nothing reaches DingTalk: nothing is posted that
// could not be tracked.
func TestRedisDownSendsNothing(t *testing.T) {
	rs := startRedis(t)
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{
		"STORE": "redis", "REDIS_URL": rs.url() + "?dial_timeout=200ms&max_retries=0", "DUPLICATE_WINDOW": "0", "BURST_LIMIT": "0",
	})
	rs.stop()
	for i := range 5 {
		status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": fmt.Sprint("alert ", i)})
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.Equal(t, "store_unavailable", errorCode(out))
	}
	assert.Zero(t, fake.CallCount(dingtalk.PathGroupSend), "0 messages reached DingTalk")
}

// kill -9 with STORE_FILE loses nothing acknowledged: 100 sends answered 201
// are all recallable after a restart, and a recall answered 200 leaves no
// ghost after another kill -9: the next "recall 2" takes the two left.
func TestKill9WithStoreFile(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	bin := buildBinary(t)
	env := map[string]string{"STORE_FILE": filepath.Join(t.TempDir(), "ledger.db"), "DINGTALK_QPS": "1000"}
	first := startReplica(t, bin, fake, env)
	older := first.send(group, 2, map[string]any{"tag": "older"})
	acked := first.send(group, 100, nil)
	first.kill()

	second := startReplica(t, bin, fake, env)
	assert.Equal(t, reverse(append(older, acked...)), second.listed(group), "100 of 100 acknowledged sends are tracked")
	status, out := second.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 100})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Len(t, out["recalled"], 100, "and recallable")
	second.kill()

	third := startReplica(t, bin, fake, env)
	assert.Equal(t, reverse(older), third.listed(group), "no ghost of the recall")
	assert.Contains(t, third.commandText("recall 2"), "Recalled 2 messages.")
	assert.ElementsMatch(t, append(older, acked...), fake.Recalled())
}

// A caller that hangs up after DingTalk posted its message leaves it
// tracked and recallable, and its retry is refused as a duplicate rather
// than posted twice.
func TestCallerDisconnectAfterDingTalkPosted(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"DUPLICATE_WINDOW": "30s"})
	fake.SetLatency(500 * time.Millisecond)
	client := &http.Client{Timeout: 100 * time.Millisecond}
	body := map[string]any{"conversationId": group, "text": "deploy started"}
	_, _, err := postJSON(client, a.base+"/api/v1/messages", body, http.Header{"Authorization": {"Bearer " + apiToken}})
	require.Error(t, err, "the caller gave up")
	require.Eventually(t, func() bool { return len(fake.Sent()) == 1 }, 10*time.Second, 5*time.Millisecond, "DingTalk posted it")
	key := fake.Sent()[0].Key
	require.Eventually(t, func() bool { return slices.Equal(a.listed(group), []string{key}) }, 10*time.Second, 10*time.Millisecond, "tracked")

	fake.SetLatency(0)
	status, out := a.api(http.MethodPost, "/messages", body)
	assert.Equal(t, http.StatusConflict, status, "the caller's retry is a duplicate: %v", out)
	assert.Equal(t, key, out["processQueryKey"])
	assert.Len(t, fake.Sent(), 1)
	status, out = a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 1})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{key}, out["recalled"], "recallable")
}

// Three senders of the same content racing through the duplicate guard on
// two replicas, after the first copy was recalled: exactly one posts.
func TestDuplicateGuardRaceOnTwoReplicas(t *testing.T) {
	rs := startRedis(t)
	fake := dingtalktest.NewTest(t)
	env := map[string]string{"STORE": "redis", "REDIS_URL": rs.url(), "DUPLICATE_WINDOW": "1m"}
	a := startApp(t, fake, env)
	b := startApp(t, fake, env)
	header := http.Header{"Authorization": {"Bearer " + apiToken}}
	for round := range 5 {
		text := fmt.Sprint("deploy ", round, " started")
		first := a.send(group, 1, map[string]any{"text": text})
		status, _ := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "keys": first})
		require.Equal(t, http.StatusOK, status)

		statuses := make(chan int, 3)
		start := make(chan struct{})
		for _, app := range []*testApp{a, b, a} {
			go func() {
				<-start
				status, raw, err := postJSON(http.DefaultClient, app.base+"/api/v1/messages", map[string]any{"conversationId": group, "text": text}, header)
				if err != nil {
					status = -1
				}
				if status != http.StatusCreated && status != http.StatusConflict {
					t.Errorf("send: %d %s %v", status, raw, err)
				}
				statuses <- status
			}()
		}
		close(start)
		created := 0
		for range 3 {
			if <-statuses == http.StatusCreated {
				created++
			}
		}
		assert.Equal(t, 1, created, "round %d: one of three posts", round)
		copies := 0
		for _, m := range fake.Sent() {
			if strings.Contains(m.MsgParam, text) {
				copies++
			}
		}
		assert.Equal(t, 2, copies, "round %d: the recalled first and exactly one more", round)
	}
}

// A recall that takes longer than the claim lease (DingTalk slow) renews
// its claims: the other replica sees its messages in flight all along and
// never sends one of them to DingTalk a second time.
func TestRecallLongerThanTheLeaseIsNeverSentTwice(t *testing.T) {
	rs := startRedis(t)
	fake := dingtalktest.NewTest(t)
	env := map[string]string{"STORE": "redis", "REDIS_URL": rs.url()}
	const lease = time.Second
	a := startAppAt(t, fake, env, time.Now, withLease(lease))
	b := startAppAt(t, fake, env, time.Now, withLease(lease))
	keys := a.send(group, 10, nil)
	fake.SetLatency(4 * lease)

	done := make(chan map[string]any, 1)
	go func() {
		status, raw, err := postJSON(http.DefaultClient, a.base+"/api/v1/recall", map[string]any{"conversationId": group, "last": 10},
			http.Header{"Authorization": {"Bearer " + apiToken}})
		var out map[string]any
		if err != nil || status != http.StatusOK || json.Unmarshal(raw, &out) != nil {
			t.Errorf("A's recall: %d %s %v", status, raw, err)
		}
		done <- out
	}()
	require.Eventually(t, func() bool { return fake.CallCount(dingtalk.PathGroupRecall) == 1 }, 10*time.Second, time.Millisecond)
	began := time.Now()
	checks := 0
	var out map[string]any
	for out == nil {
		select {
		case out = <-done:
			continue
		case <-time.After(lease / 4):
		}
		status, other := b.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 10})
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, other["recalled"], "B takes nothing while A works (%v after A began)", time.Since(began))
		require.Len(t, other["inFlight"], 10)
		if time.Since(began) > 2*lease {
			checks++
		}
	}
	assert.Positive(t, checks, "B looked after A's first lease had passed")
	assert.Len(t, out["recalled"], 10)
	for _, k := range keys {
		assert.Equal(t, 1, fake.RecallAttempts(k), "sent to DingTalk once")
	}
}

// A send whose answer DingTalk loses answers 502 outcome_unknown; its
// reservation is counted as pending, and once two leases old settlement
// reports it: the metric, and an audit entry with result unknown.
func TestOutcomeUnknownIsReportedBySettlement(t *testing.T) {
	clk := &testClock{t: time.Now()}
	fake := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now))
	const lease = 200 * time.Millisecond // settlement passes every lease
	a := startAppAt(t, fake, nil, clk.Now, withLease(lease))
	fake.FailCallWith(dingtalk.PathGroupSend, 1, http.StatusInternalServerError, dingtalk.CodeSystemError, "unknown system error")
	status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "deploy v9 started"})
	require.Equal(t, http.StatusBadGateway, status, "%v", out)
	assert.Equal(t, "outcome_unknown", errorCode(out))
	require.Eventually(t, func() bool {
		return value(a.scrape(), "dingrecall_ledger_reservations_pending", map[string]string{"bot": "default"}) == 1
	}, 10*time.Second, 20*time.Millisecond, "pending")
	assert.Zero(t, value(a.scrape(), "dingrecall_ledger_reservations_unsettled_total", nil), "not yet: it may still be under way")

	clk.Advance(3 * lease)
	require.Eventually(t, func() bool {
		return value(a.scrape(), "dingrecall_ledger_reservations_unsettled_total", nil) == 1
	}, 10*time.Second, 20*time.Millisecond, "reported")
	entries := a.auditEntries("?conversationId=" + group)
	require.Len(t, entries, 1)
	assert.Equal(t, "send", entries[0]["action"])
	assert.Equal(t, "settlement", entries[0]["source"])
	item := entries[0]["items"].([]any)[0].(map[string]any)
	assert.Equal(t, "unknown", item["result"])
	assert.Contains(t, item["msgParam"], "deploy v9 started")
	require.Eventually(t, func() bool {
		return value(a.scrape(), "dingrecall_ledger_reservations_pending", map[string]string{"bot": "default"}) == 0
	}, 10*time.Second, 20*time.Millisecond, "dropped once reported")
}
