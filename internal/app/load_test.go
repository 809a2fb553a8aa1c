package app

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// TestLoadThousandCallbacksNoLeak fires 1,000 signed callbacks at once on
// loopback (each "help" from a chat of its own) at an app with 4 workers,
// a queue of 64 and a fake DingTalk that takes 20 ms per call. Every
// callback is answered 200 or 503 (busy), never a hang or another status;
// the refused ones are delivered again, as DingTalk would, until taken;
// a few taken ones are delivered again too. After shutdown every chat has
// exactly one reply (each taken callback ran once, duplicates and refusals
// did not), and goleak finds no goroutine left behind by the app, the fake
// or the client.
func TestLoadThousandCallbacksNoLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	fake := dingtalktest.New()
	defer fake.Close()
	fake.SetLatency(20 * time.Millisecond)
	ln := listen(t)
	addr := ln.Addr().String()
	env := map[string]string{
		"DINGTALK_APP_KEY": fake.AppKey(), "DINGTALK_APP_SECRET": fake.AppSecret(), "DINGTALK_API_BASE": fake.URL(),
		"API_TOKEN": apiToken, "RECALL_USERS": "staff-1001", "REPLY_TTL": "0",
		"WORKERS": "4", "QUEUE_SIZE": "64", "DINGTALK_QPS": "1000", "LOG_LEVEL": "error",
		"BURST_LIMIT": "0", "DUPLICATE_WINDOW": "0", "ACK_STYLE": "reply",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, ln, func(k string) string { return env[k] }) }()

	transport := &http.Transport{MaxIdleConnsPerHost: 1000, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)

	const n = 1000
	body := func(i int) map[string]any {
		return map[string]any{
			"conversationId": fmt.Sprintf("cidLoad%04d==", i), "conversationType": "2", "conversationTitle": fmt.Sprintf("load %d", i),
			"senderStaffId": "staff-1001", "senderNick": "Load", "msgId": fmt.Sprintf("load-msg-%d", i),
			"msgtype": "text", "text": map[string]any{"content": " help"},
		}
	}
	header := signed(fake.AppSecret(), time.Now())
	post := func(i int) (int, error) {
		status, _, err := postJSON(client, base+"/dingtalk/callback", body(i), header)
		return status, err
	}

	statuses := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i], errs[i] = post(i)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	taken, busy := 0, 0
	var refused []int
	for i := range n {
		require.NoError(t, errs[i], "callback %d", i)
		switch statuses[i] {
		case http.StatusOK:
			taken++
		case http.StatusServiceUnavailable:
			busy++
			refused = append(refused, i)
		default:
			t.Fatalf("callback %d answered %d: want 200 or 503", i, statuses[i])
		}
	}
	t.Logf("1,000 concurrent callbacks answered in %v: %d taken, %d busy", took.Round(time.Millisecond), taken, busy)

	// DingTalk delivers the refused ones again, after a pause, until they
	// are taken.
	var redeliveryErr error
	require.Eventually(t, func() bool {
		var again []int
		for _, i := range refused {
			status, err := post(i)
			switch {
			case err != nil:
				redeliveryErr = err
				return true
			case status == http.StatusServiceUnavailable:
				again = append(again, i)
			case status != http.StatusOK:
				redeliveryErr = fmt.Errorf("redelivered callback %d answered %d", i, status)
				return true
			}
		}
		refused = again
		return len(refused) == 0
	}, 40*time.Second, 50*time.Millisecond, "callbacks still refused")
	require.NoError(t, redeliveryErr)
	// Duplicates of taken callbacks are acknowledged and not run again.
	for i := range 20 {
		status, err := post(i)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
	}

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(40 * time.Second):
		t.Fatal("the app did not shut down")
	}
	replies := map[string]int{}
	for _, m := range fake.Sent() {
		replies[m.ConversationID]++
	}
	for i := range n {
		assert.Equal(t, 1, replies[fmt.Sprintf("cidLoad%04d==", i)], "chat %d: one reply per taken callback", i)
	}
	assert.Len(t, replies, n, "no other chat got a message")

	client.CloseIdleConnections()
	fake.Close()
	// The memory ledger's go-cache janitors stop when their caches are
	// collected.
	runtime.GC()
	runtime.GC()
	goleak.VerifyNone(t, before)
}
