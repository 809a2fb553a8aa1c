package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// postJSON posts body (JSON-encoded unless it is a string or []byte) with
// header and returns the status and the raw answer. Unlike testApp.do it is
// safe to call from any goroutine: it returns errors rather than failing
// the test.
func postJSON(client *http.Client, url string, body any, header http.Header) (int, []byte, error) {
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return 0, nil, err
		}
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// recalledCount reads "Recalled X messages" or "Recalled X of Y messages"
// from an English recall reply.
var recalledCount = regexp.MustCompile(`Recalled (\d+)(?: of (\d+))? messages?`)

// soakChat is one chat of the soak test and what happened to it.
type soakChat struct {
	id       string
	viaAPI   bool     // recalls through POST /api/v1/recall, else a signed callback
	keys     []string // sent, oldest first
	asked    int      // N of each "recall N"
	selected map[string]bool
}

// TestFaultSoak has DingTalk fail half of all recall calls, at random, with
// 500 system.error or 403 QPS refusals, while 50 chats recall their last N
// at once, half by signed callback ("recall N" typed by a recall user) and
// half through the API, twice over. Then every key the bot sent is either
// recalled at the fake exactly once and gone from the ledger, or still in
// the ledger, with a failure reason when a recall selected it; no key is
// lost, none recalled twice, and each reply's and each API answer's count
// is what the fake saw.
func TestFaultSoak(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{
		"WORKERS": "64", "RECALL_CONFIRM_OVER": "100000", "DINGTALK_QPS": "100",
		"BURST_LIMIT": "0", "DUPLICATE_WINDOW": "0",
	})
	client := &http.Client{Timeout: 45 * time.Second}
	defer client.CloseIdleConnections()

	const chats = 50
	all := make([]*soakChat, chats)
	for i := range all {
		c := &soakChat{id: fmt.Sprintf("cidSoak%02d==", i), viaAPI: i%2 == 1, selected: map[string]bool{}}
		n := 5 + i%26 // 5 to 30 messages: one or two recall calls each
		c.keys = a.send(c.id, n, nil)
		c.asked = n - i%4 // some chats keep their oldest messages
		all[i] = c
	}
	fake.SetRecallFailRate(0.5, 20260101)

	var recalledBefore []string
	for round := 1; round <= 2; round++ {
		sentBefore := len(fake.Sent())
		tracked := map[string][]string{} // chat → keys still tracked, newest first
		for _, c := range all {
			tracked[c.id] = a.listed(c.id)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			answers = map[string]map[string]any{}
			errs    []string
		)
		for _, c := range all {
			// recall N takes the newest N tracked: the fake must see exactly these.
			for _, k := range tracked[c.id][:min(c.asked, len(tracked[c.id]))] {
				c.selected[k] = true
			}
			if !c.viaAPI {
				body := a.callbackBody(fmt.Sprintf("recall %d", c.asked), func(b map[string]any) {
					b["conversationId"], b["conversationTitle"] = c.id, "soak "+c.id
				})
				status, out := a.do(http.MethodPost, "/dingtalk/callback", body, signed(fake.AppSecret(), time.Now()))
				require.Equal(t, http.StatusOK, status, "%v", out)
				continue
			}
			wg.Go(func() {
				status, raw, err := postJSON(client, a.base+"/api/v1/recall", map[string]any{"conversationId": c.id, "last": c.asked},
					http.Header{"Authorization": {"Bearer " + apiToken}})
				var out map[string]any
				if err == nil && status == http.StatusOK {
					err = json.Unmarshal(raw, &out)
				} else if err == nil {
					err = fmt.Errorf("status %d: %s", status, raw)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, c.id+": "+err.Error())
				}
				answers[c.id] = out
			})
		}
		wg.Wait()
		require.Empty(t, errs)
		// Every callback chat gets its reply.
		replies := map[string]string{}
		require.Eventually(t, func() bool {
			for _, m := range fake.Sent()[sentBefore:] {
				if m.ConversationID != "" && strings.HasPrefix(m.ConversationID, "cidSoak") {
					replies[m.ConversationID] = replyText(t, m)
				}
			}
			return len(replies) == chats/2
		}, 45*time.Second, 20*time.Millisecond, "round %d: %d of %d replies", round, len(replies), chats/2)

		recalled := fake.Recalled()
		newly := map[string]bool{}
		for _, k := range recalled[len(recalledBefore):] {
			newly[k] = true
		}
		recalledBefore = recalled
		for _, c := range all {
			var mine []string
			for _, k := range c.keys {
				if newly[k] {
					mine = append(mine, k)
				}
			}
			want := min(c.asked, len(tracked[c.id]))
			if c.viaAPI {
				out := answers[c.id]
				assert.Len(t, out["selected"], want, "round %d %s", round, c.id)
				assert.ElementsMatch(t, mine, out["recalled"], "round %d %s: the API's recalled list is what the fake recalled", round, c.id)
				assert.Len(t, out["failed"], want-len(mine), "round %d %s", round, c.id)
				for k, reason := range out["failed"].(map[string]any) {
					assert.NotEmpty(t, reason, "round %d %s: key %s failed without a reason", round, c.id, k)
				}
				continue
			}
			text := replies[c.id]
			if want == 0 {
				assert.Contains(t, text, "nothing of mine to recall", "round %d %s", round, c.id)
				continue
			}
			m := recalledCount.FindStringSubmatch(text)
			if !assert.NotNil(t, m, "round %d %s: reply %q", round, c.id, text) {
				continue
			}
			got, _ := strconv.Atoi(m[1])
			assert.Equal(t, len(mine), got, "round %d %s: the reply's count is what the fake recalled: %q", round, c.id, text)
			found := got
			if m[2] != "" {
				found, _ = strconv.Atoi(m[2])
			}
			assert.Equal(t, want, found, "round %d %s: %q", round, c.id, text)
			assert.Equal(t, want-got, strings.Count(text, "\n• "), "round %d %s: one line per failure: %q", round, c.id, text)
		}
		t.Logf("round %d: %d keys recalled (%d in all)", round, len(newly), len(recalled))
	}

	// The end state: every key recalled once and gone, or tracked (with a
	// reason when a recall chose it). Nothing else was recalled.
	counts := map[string]int{}
	for _, k := range fake.Recalled() {
		counts[k]++
	}
	total, recalledKeys := 0, 0
	for _, c := range all {
		status, out := a.api(http.MethodGet, "/conversations/"+c.id+"/messages", nil)
		require.Equal(t, http.StatusOK, status)
		failure := map[string]string{}
		for _, m := range out["messages"].([]any) {
			mm := m.(map[string]any)
			if mm["reply"] != true {
				failure[mm["processQueryKey"].(string)] = mm["failure"].(string)
			}
		}
		for _, k := range c.keys {
			total++
			reason, tracked := failure[k]
			switch {
			case counts[k] > 1:
				t.Errorf("%s: key %s recalled %d times", c.id, k, counts[k])
			case counts[k] == 1:
				recalledKeys++
				assert.False(t, tracked, "%s: key %s was recalled but is still tracked", c.id, k)
				assert.True(t, c.selected[k], "%s: key %s was recalled but no recall chose it", c.id, k)
				assert.GreaterOrEqual(t, fake.RecallAttempts(k), 1)
			case !tracked:
				t.Errorf("%s: key %s is lost: neither recalled nor tracked", c.id, k)
			case c.selected[k]:
				assert.NotEmpty(t, reason, "%s: key %s failed without a reason in the ledger", c.id, k)
			default:
				assert.Empty(t, reason, "%s: key %s was never chosen but has a failure", c.id, k)
				assert.Zero(t, fake.RecallAttempts(k), "%s: key %s was never chosen but reached DingTalk", c.id, k)
			}
		}
	}
	for k := range counts {
		assert.True(t, slices.ContainsFunc(all, func(c *soakChat) bool { return slices.Contains(c.keys, k) }), "recalled a key the test did not send: %s", k)
	}
	t.Logf("%d keys sent, %d recalled once, %d still tracked", total, recalledKeys, total-recalledKeys)
	assert.Positive(t, recalledKeys)
	assert.Less(t, recalledKeys, total, "with half the calls failing some keys must be left")
}
