package app

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// deliver hands body to the app by transport (http or stream) without
// waiting for a reply.
func (a *testApp) deliver(transport string, body map[string]any) {
	a.t.Helper()
	if transport == "stream" {
		raw, err := json.Marshal(body)
		require.NoError(a.t, err)
		_, err = a.fake.PushCallback("", raw)
		require.NoError(a.t, err)
		return
	}
	status, out := a.do(http.MethodPost, "/dingtalk/callback", body, signed(a.fake.AppSecret(), a.now()))
	require.Equal(a.t, http.StatusOK, status, "%v", out)
}

// reactionsOn waits until the reactions shown on msgID are want and returns
// every reaction put there, recalled ones marked with a leading "-".
func (a *testApp) reactionsOn(msgID string, want ...string) []string {
	a.t.Helper()
	require.Eventually(a.t, func() bool { return assert.ObjectsAreEqual(want, a.fake.ReactionsShown(msgID)) },
		10*time.Second, 5*time.Millisecond, "the reactions on %s become %v (now %v)", msgID, want, a.fake.ReactionsShown(msgID))
	var out []string
	for _, r := range a.fake.Reactions(msgID) {
		if r.Recalled {
			out = append(out, "-"+r.Text)
		} else {
			out = append(out, r.Text)
		}
	}
	return out
}

var (
	reactWorking = dingtalk.EmotionWorking.Text
	reactDone    = dingtalk.EmotionDone.Text
	reactFailed  = dingtalk.EmotionFailed.Text
)

// TestReactionsEndToEnd: with the default ACK_STYLE (reaction) a command
// gets the working reaction, then done or failed; a recall that did what
// was asked sends no reply; a refused reaction is answered with the reply.
// One worker, so that commands run in the order sent.
func TestReactionsEndToEnd(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			env := map[string]string{"ACK_STYLE": "", "WORKERS": "1"} // unset: the default
			for k, v := range tr.env {
				env[k] = v
			}
			a := startFor(t, env)

			t.Run("working, then done, and no reply", func(t *testing.T) {
				keys := a.send(group, 2, nil)
				before := len(a.fake.Sent())
				body := a.callbackBody("recall", nil)
				a.deliver(tr.name, body)
				assert.Equal(t, []string{"-" + reactWorking, reactDone}, a.reactionsOn(body["msgId"].(string), reactDone))
				assert.True(t, a.recalled(keys[1]))
				help := tr.send(a, a.callbackBody("help", nil)) // runs after the recall: one worker
				assert.Equal(t, before, len(a.fake.Sent())-1, "the help reply is the only message sent since")
				assert.Contains(t, replyText(t, help), "I can take back what I posted here")
			})
			t.Run("a quote recall: done, and no reply", func(t *testing.T) {
				const conv = "cidReactQuote=="
				keys := a.send(conv, 2, nil)
				body := a.quoting(a.quoteSample("group-quote-bot-text.json", conv), keys[0])
				repliedMsg(body)["content"] = map[string]any{"text": "alert 0"}
				a.deliver(tr.name, body)
				assert.Equal(t, []string{"-" + reactWorking, reactDone}, a.reactionsOn(body["msgId"].(string), reactDone))
				assert.Equal(t, []string{keys[0]}, a.recalledOf(keys))
			})
			t.Run("working, then failed, and the refusal", func(t *testing.T) {
				body := a.callbackBody("recall", func(b map[string]any) { b["senderStaffId"] = "staff-guest" })
				reply := tr.send(a, body)
				assert.Contains(t, replyText(t, reply), "you are not allowed to recall my messages here")
				assert.Equal(t, []string{"-" + reactWorking, reactFailed}, a.reactionsOn(body["msgId"].(string), reactFailed))
			})
			t.Run("a quote of a person's message: failed, and why", func(t *testing.T) {
				body := a.quoteSample("group-quote-person.json", group)
				reply := tr.send(a, body)
				assert.Contains(t, replyText(t, reply), "is not mine")
				assert.Equal(t, []string{"-" + reactWorking, reactFailed}, a.reactionsOn(body["msgId"].(string), reactFailed))
			})
			t.Run("a refused done reaction: the reply instead", func(t *testing.T) {
				a.send(group, 1, nil)
				a.fake.RefuseEmotion(reactDone, http.StatusInternalServerError, dingtalk.CodeSystemError, "unknown error")
				t.Cleanup(func() { a.fake.RefuseEmotion(reactDone, 0, "", "") })
				body := a.callbackBody("recall", nil)
				assert.Equal(t, "Recalled 1 message.", replyText(t, tr.send(a, body)))
				assert.Equal(t, []string{"-" + reactWorking}, a.reactionsOn(body["msgId"].(string)))
			})
			t.Run("a refused working reaction: the reply, and no more reactions", func(t *testing.T) {
				a.send(group, 1, nil)
				a.fake.RefuseEmotion(reactWorking, http.StatusBadRequest, dingtalk.CodeInvalidParam, "no")
				t.Cleanup(func() { a.fake.RefuseEmotion(reactWorking, 0, "", "") })
				body := a.callbackBody("recall", nil)
				assert.Equal(t, "Recalled 1 message.", replyText(t, tr.send(a, body)))
				assert.Empty(t, a.reactionsOn(body["msgId"].(string)))
			})
		})
	}
}

// TestAckStyleReply: ACK_STYLE=reply answers every command with a reply and
// puts no reaction, as before reactions; both does the two.
func TestAckStyleReply(t *testing.T) {
	for _, tt := range []struct {
		ack       string
		reactions []string
	}{{"reply", nil}, {"both", []string{"-" + reactWorking, reactDone}}} {
		t.Run(tt.ack, func(t *testing.T) {
			a := startApp(t, nil, map[string]string{"ACK_STYLE": tt.ack})
			a.send(group, 2, nil)
			body := a.callbackBody("recall", nil)
			assert.Equal(t, "Recalled 1 message.", replyText(t, a.command(body)))
			if tt.reactions == nil {
				assert.Zero(t, a.fake.CallCount(dingtalktest.PathEmotionReply)+a.fake.CallCount(dingtalktest.PathEmotionRecall))
				return
			}
			assert.Equal(t, tt.reactions, a.reactionsOn(body["msgId"].(string), reactDone))
		})
	}
}
