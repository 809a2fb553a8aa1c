package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sandbox's cards have working buttons: the page's click goes to the fake
// DingTalk, which pushes it to the app over its Stream gateway (a connection
// for card clicks only, callbacks being HTTP here).
func TestSandboxCardButtons(t *testing.T) {
	a := startSandboxMode(t, map[string]string{"LOG_LEVEL": "error", "REPLY_TTL": "0"})
	status, out := a.post("/sandbox/api/bot", map[string]any{"chat": "ops-alerts", "text": "deploy to PROD", "card": true})
	require.Equal(t, http.StatusOK, status, "%v", out)
	key := out["keys"].([]any)[0].(string)
	click := func(user string) map[string]any {
		var out map[string]any
		require.Eventually(t, func() bool {
			var status int
			status, out = a.post("/sandbox/api/click", map[string]any{"chat": "ops-alerts", "key": key, "user": user, "action": "recall"})
			return status == http.StatusOK // 409 until the app's Stream connection is up
		}, 10*time.Second, 20*time.Millisecond)
		return out
	}
	recalled := func() bool {
		chats, _ := a.state()
		for _, m := range chats["ops-alerts"] {
			if m.From == "bot" && m.Text == "deploy to PROD" {
				return m.Recalled
			}
		}
		t.Fatal("the card is not on the page")
		return false
	}

	assert.EqualValues(t, http.StatusOK, click("stranger")["callbackStatus"])
	require.Eventually(t, func() bool {
		chats, _ := a.state()
		for _, msgs := range chats {
			for _, m := range msgs {
				if m.From == "bot" && strings.HasPrefix(m.Text, "Your tap on Recall in ops-alerts did nothing") {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the stranger is told in a one-to-one chat")
	assert.False(t, recalled())

	assert.EqualValues(t, http.StatusOK, click("oncall")["callbackStatus"])
	require.Eventually(t, recalled, 10*time.Second, 20*time.Millisecond)
}
