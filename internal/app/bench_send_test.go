package app

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// benchSendEnv is the app's settings in the send benchmarks: no guard, no
// rate limit that a benchmark could reach.
var benchSendEnv = map[string]string{"DINGTALK_QPS": "10000", "BURST_LIMIT": "0", "DUPLICATE_WINDOW": "0"}

// BenchmarkAPISend measures one API send — POST /api/v1/messages over
// loopback, from the request to its 201 — on each store, against the fake
// DingTalk at zero latency: the reservation written ahead, the send and the
// commit. It reports the p50 and p99 over the iterations; scripts/bench.sh
// runs 2,000. The Redis case starts its own redis-server (skipped without
// one).
func BenchmarkAPISend(b *testing.B) {
	for _, st := range []struct {
		name string
		env  func(b *testing.B) map[string]string
	}{
		{"memory", func(*testing.B) map[string]string { return nil }},
		{"file", func(b *testing.B) map[string]string {
			return map[string]string{"STORE_FILE": filepath.Join(b.TempDir(), "ledger.db")}
		}},
		{"redis", func(b *testing.B) map[string]string {
			return map[string]string{"STORE": "redis", "REDIS_URL": startBenchRedis(b)}
		}},
	} {
		b.Run(st.name, func(b *testing.B) {
			fake := dingtalktest.New()
			defer fake.Close()
			base, stop := startBenchApp(b, fake, merge(benchSendEnv, st.env(b)))
			defer stop()
			client := &http.Client{Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			bearer := http.Header{"Authorization": {"Bearer " + apiToken}}
			var latencies []time.Duration
			seq := 0
			for b.Loop() {
				seq++
				start := time.Now()
				status, raw, err := postJSON(client, base+"/api/v1/messages", map[string]any{"conversationId": "cidBenchSend==", "text": fmt.Sprint("bench ", seq)}, bearer)
				latencies = append(latencies, time.Since(start))
				if err != nil || status != http.StatusCreated {
					b.Fatalf("send: %d %s %v", status, raw, err)
				}
			}
			slices.Sort(latencies)
			pct := func(p float64) float64 {
				return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50_ms")
			b.ReportMetric(pct(0.99), "p99_ms")
		})
	}
}

// BenchmarkAPISendFileVsMemory measures API sends per second on the
// memory store and on the file store (STORE_FILE: every send's reservation
// and commit reach the disk before its 201), side by side in one run: two
// apps on one fake at zero latency, each iteration a round of benchRound
// sends from parallel callers to each app in turn (alternating which goes
// first), with 16 and with 64 callers. It reports both rates and
// file_x_memory, their ratio.
func BenchmarkAPISendFileVsMemory(b *testing.B) {
	for _, senders := range []int{16, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			fake := dingtalktest.New()
			defer fake.Close()
			mem, stopMem := startBenchApp(b, fake, benchSendEnv)
			defer stopMem()
			file, stopFile := startBenchApp(b, fake, merge(benchSendEnv, map[string]string{"STORE_FILE": filepath.Join(b.TempDir(), "ledger.db")}))
			defer stopFile()
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
			defer client.CloseIdleConnections()
			var took [2]time.Duration
			sends := 0
			round := 0
			for b.Loop() {
				round++
				order := []int{0, 1}
				if round%2 == 0 {
					order = []int{1, 0}
				}
				for _, i := range order {
					took[i] += sendRound(b, client, []string{mem, file}[i], senders, round)
				}
				sends += benchRound
			}
			memRate := float64(sends) / took[0].Seconds()
			fileRate := float64(sends) / took[1].Seconds()
			b.ReportMetric(memRate, "memory_sends/s")
			b.ReportMetric(fileRate, "file_sends/s")
			b.ReportMetric(fileRate/memRate, "file_x_memory")
		})
	}
}

// benchRound is how many sends one round of BenchmarkAPISendFileVsMemory
// makes to each app.
const benchRound = 960

// sendRound posts benchRound messages to base from senders callers at once,
// each to its own chat, and returns how long they took together.
func sendRound(b *testing.B, client *http.Client, base string, senders, round int) time.Duration {
	bearer := http.Header{"Authorization": {"Bearer " + apiToken}}
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	start := time.Now()
	for s := range senders {
		wg.Go(func() {
			for i := range benchRound / senders {
				body := map[string]any{"conversationId": fmt.Sprintf("cidBench%02d==", s), "text": fmt.Sprint("bench ", round, ".", s, ".", i)}
				status, raw, err := postJSON(client, base+"/api/v1/messages", body, bearer)
				if err != nil || status != http.StatusCreated {
					errs <- fmt.Errorf("send: %d %s %v", status, raw, err)
					return
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return d
}

// startBenchRedis starts a throwaway redis-server on a loopback port for a
// benchmark, stops it by its PID when the benchmark ends, and returns its
// URL; without the binary the benchmark is skipped.
func startBenchRedis(b *testing.B) string {
	b.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		b.Skip("redis-server not installed")
	}
	ln := listen(b)
	_, port, _ := strings.Cut(ln.Addr().String(), ":")
	_ = ln.Close()
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", b.TempDir())
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			b.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://127.0.0.1:" + port + "/0"
}
