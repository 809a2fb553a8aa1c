package dingtalk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// BenchmarkRecall200 recalls 200 keys (10 calls) against a fake that takes 50 ms
// per call and allows 20 calls a second. The floor is one round trip (all 10
// calls fit one second's budget and run at once), sequential batches take ten.
// It reports the time per recall as a ratio to both.
func BenchmarkRecall200(b *testing.B) { benchmarkRecall(b, 200) }

// BenchmarkRecall1000 recalls 1,000 keys (50 calls) under the same fake. At 20
// calls in any second the fake admits 20 at 0 s, 20 at 1 s and 10 at 2 s, so
// the floor is 2 s + one round trip = 2.05 s; sequential calls take 2.5 s.
func BenchmarkRecall1000(b *testing.B) { benchmarkRecall(b, 1000) }

func benchmarkRecall(b *testing.B, n int) {
	const latency = 50 * time.Millisecond
	const ceiling = dingtalk.DefaultQPS
	calls := (n + dingtalk.MaxKeysPerCall - 1) / dingtalk.MaxKeysPerCall
	floor := latency + time.Duration((calls-1)/ceiling)*time.Second
	sequential := time.Duration(calls) * latency
	quiet, _ := test.NewNullLogger()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		fake := dingtalktest.New()
		seeder, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()), dingtalk.WithQPS(1000000))
		if err != nil {
			b.Fatal(err)
		}
		keys := make([]string, n)
		for i := range keys {
			if keys[i], err = seeder.SendGroup(context.Background(), "cidBench", dingtalk.Text(fmt.Sprint(i))); err != nil {
				b.Fatal(err)
			}
		}
		fake.SetLatency(latency)
		fake.SetQPSLimit(ceiling)
		c, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()), dingtalk.WithLogger(quiet))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := c.RecallGroup(context.Background(), "cidBench", keys)
		total += time.Since(start)
		b.StopTimer()
		if err != nil || len(res.Recalled) != n {
			b.Fatalf("recalled %d of %d (%v), failures: %v", len(res.Recalled), n, err, firstReason(res))
		}
		fake.Close()
		b.StartTimer()
	}
	per := total / time.Duration(b.N)
	b.ReportMetric(float64(per.Milliseconds()), "ms/recall")
	b.ReportMetric(float64(per)/float64(floor), "x_floor")
	b.ReportMetric(float64(per)/float64(sequential), "x_sequential")
}

// firstReason is one failure reason of res, for a benchmark's error line.
func firstReason(res *dingtalk.RecallResult) string {
	if res == nil {
		return ""
	}
	for k, r := range res.Failed {
		return k + ": " + r.String()
	}
	return ""
}
