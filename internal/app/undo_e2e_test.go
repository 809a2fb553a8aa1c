package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// testClock is a settable clock shared by the app and the fake DingTalk.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// startClocked starts the app and a fake DingTalk on one test clock.
func startClocked(t *testing.T, env map[string]string) (*testApp, *testClock) {
	t.Helper()
	clk := &testClock{t: time.Now()}
	fake := dingtalktest.NewTest(t, dingtalktest.WithClock(clk.Now))
	return startAppAt(t, fake, env, clk.Now), clk
}

// contents are the texts of the fake's messages with these keys.
func contents(t *testing.T, fake *dingtalktest.Server, keys []string) []string {
	t.Helper()
	var out []string
	for _, k := range keys {
		m, ok := fake.Message(k)
		require.True(t, ok, k)
		out = append(out, replyText(t, m))
	}
	return out
}

func TestRecallConfirm(t *testing.T) {
	a, clk := startClocked(t, nil) // RECALL_CONFIRM_OVER defaults to 20
	keys := a.send(group, 25, nil)

	t.Run("a large recall waits for confirm", func(t *testing.T) {
		reply := replyText(t, a.command(a.callbackBody("recall 22", nil)))
		assert.Contains(t, reply, `"recall 22" would take 22 messages`)
		assert.Contains(t, reply, "alert 24")
		assert.Contains(t, reply, `say "recall confirm" within 2m`)
		assert.Empty(t, a.fake.Recalled(), "nothing is recalled before the confirm")
	})
	t.Run("another person cannot confirm it", func(t *testing.T) {
		reply := replyText(t, a.command(a.callbackBody("recall confirm", func(b map[string]any) { b["senderStaffId"] = "staff-admin" })))
		assert.Contains(t, reply, "no recall waiting")
		assert.Empty(t, a.fake.Recalled())
	})
	t.Run("the same person confirms exactly what was previewed", func(t *testing.T) {
		late := a.send(group, 1, map[string]any{"text": "sent after the preview"})
		reply := replyText(t, a.command(a.callbackBody("撤回 确认", nil)))
		assert.Contains(t, reply, "Recalled 22 messages")
		assert.ElementsMatch(t, keys[3:], a.fake.Recalled())
		assert.NotContains(t, a.fake.Recalled(), late[0], "a message the preview did not show is not taken")
	})
	t.Run("a confirm is used once", func(t *testing.T) {
		assert.Contains(t, replyText(t, a.command(a.callbackBody("recall confirm", nil))), "no recall waiting")
	})
	t.Run("anything else cancels it", func(t *testing.T) {
		more := a.send(group, 25, nil)
		assert.Contains(t, replyText(t, a.command(a.callbackBody("recall 21", nil))), "recall confirm")
		a.command(a.callbackBody("help", nil))
		assert.Contains(t, replyText(t, a.command(a.callbackBody("recall confirm", nil))), "no recall waiting")
		assert.NotContains(t, a.fake.Recalled(), more[24])
	})
	t.Run("it expires after two minutes", func(t *testing.T) {
		assert.Contains(t, replyText(t, a.command(a.callbackBody("recall 21", nil))), "recall confirm")
		clk.Advance(2*time.Minute + time.Second)
		assert.Contains(t, replyText(t, a.command(a.callbackBody("recall confirm", nil))), "no recall waiting")
	})
	t.Run("since and tag ask too when they take many", func(t *testing.T) {
		a.send("cidTagged==", 21, map[string]any{"tag": "storm"})
		reply := replyText(t, a.command(a.callbackBody("recall tag storm", func(b map[string]any) { b["conversationId"] = "cidTagged==" })))
		assert.Contains(t, reply, `"recall tag storm" would take 21 messages`)
		assert.Contains(t, reply, "recall confirm")
	})
	t.Run("a recall at or under the threshold goes at once", func(t *testing.T) {
		before := len(a.fake.Recalled())
		assert.Contains(t, replyText(t, a.command(a.callbackBody("recall 20", nil))), "Recalled 20 messages")
		assert.Len(t, a.fake.Recalled(), before+20)
	})
}

func TestRecallPreview(t *testing.T) {
	a := startApp(t, nil, nil)
	a.send(group, 3, nil)
	reply := replyText(t, a.command(a.callbackBody("撤回 预览 2", nil)))
	assert.Contains(t, reply, `"recall 2" would take 2 messages`)
	assert.Contains(t, reply, "• alert 2\n• alert 1")
	assert.Contains(t, reply, "Nothing was recalled")
	assert.Empty(t, a.fake.Recalled())
	reply = replyText(t, a.command(a.callbackBody("recall preview 1", func(b map[string]any) { b["senderStaffId"] = "stranger" })))
	assert.Contains(t, reply, "not allowed", "a preview needs the same right as a recall")
}

func TestRecallSinceAndTag(t *testing.T) {
	a, clk := startClocked(t, nil)
	old := a.send(group, 3, nil)
	clk.Advance(20 * time.Minute)
	recent := a.send(group, 2, map[string]any{"tag": "deploy-42"})

	reply := replyText(t, a.command(a.callbackBody("recall since 10m", nil)))
	assert.Contains(t, reply, "Recalled 2 messages sent in the last 10m")
	assert.ElementsMatch(t, recent, a.fake.Recalled())

	more := a.send(group, 1, map[string]any{"tag": "deploy-43"})
	clk.Advance(time.Minute)
	reply = replyText(t, a.command(a.callbackBody("撤回 5分钟", nil)))
	assert.Contains(t, reply, "Recalled 1 message")
	assert.Contains(t, a.fake.Recalled(), more[0])
	assert.NotContains(t, a.fake.Recalled(), old[0], "older than the window")

	tagged := a.send(group, 2, map[string]any{"tag": "rollback"})
	reply = replyText(t, a.command(a.callbackBody("recall tag rollback", nil)))
	assert.Contains(t, reply, `Recalled 2 messages tagged "rollback"`)
	assert.Subset(t, a.fake.Recalled(), tagged)

	status, out := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "since": "2h"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.ElementsMatch(t, []any{old[0], old[1], old[2]}, out["recalled"])
	status, _ = a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "since": "2d"})
	assert.Equal(t, http.StatusBadRequest, status)
}

func TestTooOldMessagesNeverReachDingTalk(t *testing.T) {
	a, clk := startClocked(t, map[string]string{"LEDGER_TTL": "48h"})
	old := a.send(group, 2, nil)
	clk.Advance(25 * time.Hour)
	fresh := a.send(group, 1, nil)

	reply := replyText(t, a.command(a.callbackBody("recall 3", nil)))
	assert.Contains(t, reply, "2 messages were too old to recall")
	assert.Contains(t, reply, "Recalled 1 message")
	assert.Equal(t, fresh, a.fake.Recalled())
	for _, k := range old {
		assert.Zero(t, a.fake.RecallAttempts(k), "a too old message is not sent to DingTalk")
	}
	assert.Empty(t, a.listed(group), "too old messages leave the ledger")

	more := a.send(group, 1, nil)
	clk.Advance(25 * time.Hour)
	status, out := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 1})
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, out["failed"].(map[string]any)[more[0]], "too old")
}

func TestRecallRetry(t *testing.T) {
	a := startApp(t, nil, nil)
	keys := a.send(group, 3, nil)
	a.fake.FailKey(keys[1], "bot.stopped")
	a.command(a.callbackBody("recall 3", nil))
	require.ElementsMatch(t, []string{keys[0], keys[2]}, a.fake.Recalled())

	assert.Contains(t, replyText(t, a.command(a.callbackBody("撤回 重试", nil))), "Still failing")
	a.fake.ClearKeyFailure(keys[1])
	reply := replyText(t, a.command(a.callbackBody("recall retry", nil)))
	assert.Contains(t, reply, "Tried again 1 message that failed: recalled 1")
	assert.NotContains(t, reply, "Still failing")
	assert.ElementsMatch(t, keys, a.fake.Recalled())
	assert.Contains(t, replyText(t, a.command(a.callbackBody("recall retry", nil))), "Nothing failed")
}

func TestRestore(t *testing.T) {
	a, clk := startClocked(t, nil)
	keys := a.send(group, 3, map[string]any{"tag": "deploy"})
	a.command(a.callbackBody("recall 2", nil))
	sentBefore := len(a.fake.Sent())

	status, _ := a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("恢复", nil), signed(a.fake.AppSecret(), a.now()))
	require.Equal(t, http.StatusOK, status)
	reply := a.replyAfter(sentBefore + 2) // the two re-sent messages come first, then the reply
	assert.Contains(t, replyText(t, reply), "Sent back 2 of 2 messages")
	resent := a.fake.Sent()[sentBefore : sentBefore+2]
	assert.Equal(t, contents(t, a.fake, keys[1:]), []string{replyText(t, resent[0]), replyText(t, resent[1])}, "the same content, in the original order")
	assert.NotEqual(t, keys[1], resent[0].Key, "with new keys")
	assert.Equal(t, group, resent[0].ConversationID)
	listed := a.listed(group)
	assert.Contains(t, listed, resent[0].Key, "re-sent messages are tracked")
	assert.Contains(t, listed, resent[1].Key)

	assert.Contains(t, replyText(t, a.command(a.callbackBody("restore", nil))), "no recall to restore", "a recall is restored once")

	a.command(a.callbackBody("recall 1", nil))
	clk.Advance(11 * time.Minute)
	assert.Contains(t, replyText(t, a.command(a.callbackBody("restore", nil))), "more than 10m old")
}

// auditEntries reads GET /api/v1/audit.
func (a *testApp) auditEntries(query string) []map[string]any {
	a.t.Helper()
	status, out := a.api(http.MethodGet, "/audit"+query, nil)
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	var entries []map[string]any
	raw, _ := json.Marshal(out["entries"])
	require.NoError(a.t, json.Unmarshal(raw, &entries))
	return entries
}

func TestAuditLog(t *testing.T) {
	a := startApp(t, nil, map[string]string{"BURST_LIMIT": "2", "BURST_AUTO_RECALL": "true"})
	keys := a.send(group, 2, nil)
	a.command(a.callbackBody("recall 1", func(b map[string]any) { b["senderNick"] = "Wang Fang" }))
	a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "keys": []string{keys[0]}})

	entries := a.auditEntries("?conversationId=" + group)
	require.Len(t, entries, 2)
	api, cmd := entries[0], entries[1]
	assert.Equal(t, "api", api["source"])
	assert.Equal(t, "recall", api["action"])
	assert.Equal(t, "command", cmd["source"])
	assert.Equal(t, "staff-1001", cmd["staffId"])
	assert.Equal(t, "Wang Fang", cmd["nick"])
	assert.Equal(t, "recall 1", cmd["request"])
	item := cmd["items"].([]any)[0].(map[string]any)
	assert.Equal(t, keys[1], item["processQueryKey"])
	assert.Equal(t, "recalled", item["result"])
	assert.JSONEq(t, `{"content":"alert 1"}`, item["msgParam"].(string), "the content is kept")

	// A guard recall: sends racing past the burst limit are recalled.
	a.fake.SetLatency(100 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			a.api(http.MethodPost, "/messages", map[string]any{"conversationId": "cidBurst==", "text": fmt.Sprint("spam ", i)})
		})
	}
	wg.Wait()
	a.fake.SetLatency(0)
	guard := a.auditEntries("?conversationId=cidBurst==")
	require.NotEmpty(t, guard)
	assert.Equal(t, "guard", guard[0]["source"])

	reply := replyText(t, a.command(a.callbackBody("recall log", func(b map[string]any) { b["senderStaffId"] = "staff-admin" })))
	assert.Contains(t, reply, `recall by Wang Fang ("recall 1"): 1 done`)
	assert.Contains(t, reply, "recall by api")
	reply = replyText(t, a.command(a.callbackBody("撤回 记录", nil)))
	assert.Contains(t, reply, "only recall admins")

	status, _ := a.api(http.MethodGet, "/audit?limit=0", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Len(t, a.auditEntries("?limit=1"), 1)
}

func TestDuplicateGuard(t *testing.T) {
	a, clk := startClocked(t, map[string]string{"DUPLICATE_WINDOW": "30s"})
	body := map[string]any{"conversationId": group, "text": "disk full on db-1"}
	status, first := a.api(http.MethodPost, "/messages", body)
	require.Equal(t, http.StatusCreated, status)
	status, out := a.api(http.MethodPost, "/messages", body)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, first["processQueryKey"], out["processQueryKey"], "409 names the first message")
	assert.Equal(t, "duplicate", out["error"].(map[string]any)["code"])
	assert.Len(t, a.fake.Sent(), 1)

	status, _ = a.api(http.MethodPost, "/messages", map[string]any{"conversationId": "cidOther==", "text": "disk full on db-1"})
	assert.Equal(t, http.StatusCreated, status, "another chat is another message")
	clk.Advance(31 * time.Second)
	status, _ = a.api(http.MethodPost, "/messages", body)
	assert.Equal(t, http.StatusCreated, status, "after the window it goes again")

	again := map[string]any{"conversationId": group, "text": "deploy v1.2.3 started"}
	status, _ = a.api(http.MethodPost, "/messages", again)
	require.Equal(t, http.StatusCreated, status)
	status, _ = a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 1})
	require.Equal(t, http.StatusOK, status)
	status, _ = a.api(http.MethodPost, "/messages", again)
	assert.Equal(t, http.StatusCreated, status, "once the first was recalled, sending it again is no duplicate")
}

func TestBurstGuard(t *testing.T) {
	a := startApp(t, nil, map[string]string{"BURST_LIMIT": "3", "REPLY_TTL": "0"})
	for i := range 3 {
		status, _ := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": fmt.Sprint("ok ", i)})
		require.Equal(t, http.StatusCreated, status)
	}
	req, err := http.NewRequest(http.MethodPost, a.base+"/api/v1/messages", jsonBody(t, map[string]any{"conversationId": group, "text": "one too many"}))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.InDelta(t, 60, retry, 5)

	status, _ := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "and another"})
	assert.Equal(t, http.StatusTooManyRequests, status)
	var notices int
	for _, m := range a.fake.Sent() {
		if m.ConversationID == group && m.MsgKey == dingtalk.MsgKeyText && containsText(replyText(t, m), "pausing") {
			notices++
		}
	}
	assert.Equal(t, 1, notices, "the chat gets one notice")
	status, _ = a.api(http.MethodPost, "/messages", map[string]any{"conversationId": "cidQuiet==", "text": "elsewhere"})
	assert.Equal(t, http.StatusCreated, status, "other chats are not paused")
}

func TestBurstGuardCountsSendsNotTrackedMessages(t *testing.T) {
	a := startApp(t, nil, map[string]string{"BURST_LIMIT": "3"})
	for round := range 3 {
		status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": fmt.Sprint("spam ", round)})
		require.Equal(t, http.StatusCreated, status, "%v", out)
		// The runaway cleans up after itself: the ledger forgets the message.
		status, _ = a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 1})
		require.Equal(t, http.StatusOK, status)
	}
	status, _ := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "spam 3"})
	assert.Equal(t, http.StatusTooManyRequests, status, "recalled sends still count")
}

// jsonBody encodes v for a request body.
func jsonBody(t *testing.T, v any) *strings.Reader {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return strings.NewReader(string(raw))
}

// containsText reports whether s holds part.
func containsText(s, part string) bool { return strings.Contains(s, part) }

func TestRestoreRunsOnceWhenAskedTwiceAtOnce(t *testing.T) {
	a := startApp(t, nil, map[string]string{"WORKERS": "4"})
	a.send(group, 3, nil)
	a.command(a.callbackBody("recall 3", nil))
	before := len(a.fake.Sent())
	a.fake.SetLatency(100 * time.Millisecond)
	for range 2 {
		status, _ := a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("restore", nil), signed(a.fake.AppSecret(), time.Now()))
		require.Equal(t, http.StatusOK, status)
	}
	// Two replies and three re-sent messages, not six.
	require.Eventually(t, func() bool { return len(a.fake.Sent()) >= before+5 }, 10*time.Second, 10*time.Millisecond)
	a.fake.SetLatency(0)
	a.command(a.callbackBody("help", nil))
	resent := 0
	for _, m := range a.fake.Sent()[before:] {
		if text := replyText(t, m); strings.HasPrefix(text, "alert ") {
			resent++
		}
	}
	assert.Equal(t, 3, resent)
}

func TestRestoreIsPerChat(t *testing.T) {
	a := startApp(t, nil, nil)
	x := a.send(group, 1, map[string]any{"tag": "deploy"})
	y := a.send("cidOther==", 1, map[string]any{"tag": "deploy"})
	status, _ := a.api(http.MethodPost, "/recall", map[string]any{"tag": "deploy"})
	require.Equal(t, http.StatusOK, status)
	require.ElementsMatch(t, []string{x[0], y[0]}, a.fake.Recalled())

	before := len(a.fake.Sent())
	status, _ = a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("restore", nil), signed(a.fake.AppSecret(), time.Now()))
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, replyText(t, a.replyAfter(before+1)), "Sent back 1 of 1 message")
	other := a.callbackBody("restore", func(b map[string]any) { b["conversationId"] = "cidOther==" })
	before = len(a.fake.Sent())
	status, _ = a.do(http.MethodPost, "/dingtalk/callback", other, signed(a.fake.AppSecret(), time.Now()))
	require.Equal(t, http.StatusOK, status)
	reply := a.replyAfter(before + 1) // the re-sent message, then the reply
	assert.Contains(t, replyText(t, reply), "Sent back 1 of 1 message", "the other chat restores its own message too")
}

func TestDuplicateGuardAfterRecallLetsOneThrough(t *testing.T) {
	a := startApp(t, nil, map[string]string{"DUPLICATE_WINDOW": "30s"})
	body := map[string]any{"conversationId": group, "text": "rollback started"}
	status, _ := a.api(http.MethodPost, "/messages", body)
	require.Equal(t, http.StatusCreated, status)
	status, _ = a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 1})
	require.Equal(t, http.StatusOK, status)

	var mu sync.Mutex
	created := 0
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			status, _ := a.api(http.MethodPost, "/messages", body)
			mu.Lock()
			defer mu.Unlock()
			if status == http.StatusCreated {
				created++
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, created, "of three identical re-sends at once, one goes")
}
