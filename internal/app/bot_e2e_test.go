package app

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rough edges a new user tripped on, through the whole app: 在 inside a
// tag, a fraction, "since" without a span, "recall1", a typo, a stranger's
// "restore", and an unknown chat name.
func TestRoughEdgesOfTheCommands(t *testing.T) {
	a := startApp(t, nil, nil)
	tagged := a.send(group, 2, map[string]any{"tag": "现在发布"})
	a.send(group, 2, nil)
	admin := func(b map[string]any) {
		b["conversationId"], b["conversationType"], b["senderStaffId"] = "cidDirectAdmin01==", "1", "staff-admin"
		delete(b, "conversationTitle")
	}
	stranger := func(b map[string]any) { b["senderStaffId"] = "staff-guest" }
	tests := []struct {
		text string
		edit func(map[string]any)
		want string
	}{
		{"recall tag 现在发布", nil, `Recalled 2 messages tagged "现在发布".`},
		{"recall 1.5", nil, `I recall whole messages: "1.5" is not a whole number.`},
		{"recall since", nil, `How far back? Name a time span after "since": say "recall since 10m"`},
		{"recal 2", nil, `I didn't understand "recal 2". Did you mean "recall 2"?`},
		{"recall1", nil, "Recalled 1 message."},
		{"restore", stranger, "you are not allowed to restore recalled messages here"},
		{"recall 2 in ops-alert", admin, "I don't know a chat called \"ops-alert\". The chats I know:\n• ops-alerts (" + group + ")"},
	}
	for _, tt := range tests {
		reply := replyText(t, a.command(a.callbackBody(tt.text, tt.edit)))
		assert.Contains(t, reply, tt.want, tt.text)
	}
	assert.Subset(t, a.fake.Recalled(), tagged)
	assert.Len(t, a.fake.Recalled(), 3)
}

// A reply that lists failures is not recalled after REPLY_TTL with the
// other replies; once "recall retry" recalls everything, it goes REPLY_TTL
// later.
func TestFailureReportsStayUntilResolved(t *testing.T) {
	a, clk := startClocked(t, map[string]string{"REPLY_TTL": "2s"})
	keys := a.send(group, 2, nil)
	a.fake.FailKey(keys[0], "bot.stopped: robot disabled")
	report := a.command(a.callbackBody("recall 2", nil))
	require.Contains(t, replyText(t, report), "Could not recall")
	plain := a.command(a.callbackBody("help", nil))
	// The fake has the reply before the ledger does; its expiry is only set
	// once it is recorded, on the clock as it is then.
	a.waitTracked(group, plain.Key)

	clk.Advance(3 * time.Second)
	require.Eventually(t, func() bool { return a.recalled(plain.Key) }, 10*time.Second, 10*time.Millisecond, "a plain reply goes")
	assert.False(t, a.recalled(report.Key), "the failure report stays")

	a.fake.ClearKeyFailure(keys[0])
	resolved := a.command(a.callbackBody("recall retry", nil))
	require.Contains(t, replyText(t, resolved), "recalled 1")
	a.waitTracked(group, resolved.Key)
	clk.Advance(3 * time.Second)
	require.Eventually(t, func() bool { return a.recalled(report.Key) && a.recalled(resolved.Key) }, 10*time.Second, 10*time.Millisecond,
		"resolved, the report goes with the reply that resolved it")
}

// waitTracked waits until the ledger holds the message with key in conv
// (replies included).
func (a *testApp) waitTracked(conv, key string) {
	a.t.Helper()
	require.Eventually(a.t, func() bool {
		status, out := a.api(http.MethodGet, "/conversations/"+conv+"/messages", nil)
		if status != http.StatusOK {
			return false
		}
		for _, m := range out["messages"].([]any) {
			if m.(map[string]any)["processQueryKey"] == key {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "the ledger never recorded %s", key)
}

// recalled reports whether the fake DingTalk recalled the message with key.
func (a *testApp) recalled(key string) bool {
	m, ok := a.fake.Message(key)
	return ok && m.Recalled
}
