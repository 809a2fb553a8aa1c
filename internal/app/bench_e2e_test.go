package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// BenchmarkE2ERecall20 measures the whole path of a chat recall: from the
// moment a signed "recall 20" callback is posted to the app (over loopback)
// to the arrival at the fake DingTalk (zero latency) of the last recall
// call it causes. Each iteration first sends 20 messages through the API
// (not timed), then posts the command. It reports the p50 and p99 over the
// iterations; scripts/bench.sh runs 300.
func BenchmarkE2ERecall20(b *testing.B) {
	fake := dingtalktest.New()
	defer fake.Close()
	addr, stop := startBenchApp(b, fake, map[string]string{
		"DINGTALK_QPS": "10000", "BURST_LIMIT": "0", "DUPLICATE_WINDOW": "0", "RECALL_CONFIRM_OVER": "100",
	})
	defer stop()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	bearer := http.Header{"Authorization": {"Bearer " + apiToken}}
	const chat = "cidBenchE2E=="
	var latencies []time.Duration
	seq := 0
	for b.Loop() {
		b.StopTimer()
		for range 20 {
			seq++
			status, raw, err := postJSON(client, addr+"/api/v1/messages", map[string]any{"conversationId": chat, "text": fmt.Sprint("bench alert ", seq)}, bearer)
			if err != nil || status != http.StatusCreated {
				b.Fatalf("send: %d %s %v", status, raw, err)
			}
		}
		fake.Reset()
		body := map[string]any{
			"conversationId": chat, "conversationType": "2", "conversationTitle": "bench", "senderStaffId": "staff-1001",
			"msgId": fmt.Sprint("bench-e2e-", seq), "msgtype": "text", "text": map[string]any{"content": " recall 20"},
		}
		b.StartTimer()
		start := time.Now()
		status, raw, err := postJSON(client, addr+"/dingtalk/callback", body, signed(fake.AppSecret(), start))
		if err != nil || status != http.StatusOK {
			b.Fatalf("callback: %d %s %v", status, raw, err)
		}
		last := waitRecallCalls(b, fake, 20)
		b.StopTimer()
		latencies = append(latencies, last.Sub(start))
		b.StartTimer()
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}

// waitRecallCalls waits until the fake has recalled n keys in the calls
// since its last Reset and returns when the last of those calls arrived.
func waitRecallCalls(b *testing.B, fake *dingtalktest.Server, n int) time.Time {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var last time.Time
		recalled := 0
		for _, c := range fake.Calls() {
			if c.Path == dingtalk.PathGroupRecall && c.Status == http.StatusOK {
				recalled += len(c.Keys)
				if c.At.After(last) {
					last = c.At
				}
			}
		}
		if recalled >= n {
			return last
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d keys recalled", recalled, n)
		}
		time.Sleep(time.Millisecond) // the figure is the fake's arrival time, not this poll's
	}
}

// startBenchApp runs the app (as startApp does, for benchmarks) against
// fake and returns its base URL and a function that stops it.
func startBenchApp(b *testing.B, fake *dingtalktest.Server, env map[string]string) (string, func()) {
	b.Helper()
	ln := listen(b)
	vars := map[string]string{
		"DINGTALK_APP_KEY": fake.AppKey(), "DINGTALK_APP_SECRET": fake.AppSecret(), "DINGTALK_API_BASE": fake.URL(),
		"API_TOKEN": apiToken, "RECALL_USERS": "staff-1001", "REPLY_TTL": "0", "LOG_LEVEL": "error", "ACK_STYLE": "reply",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, ln, func(k string) string { return vars[k] }) }()
	base := "http://" + ln.Addr().String()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			b.Fatalf("app stopped at start-up: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatal("app did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return base, func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
}
