package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

const group = "cidGroupOps001=="

func TestRecall22Of25(t *testing.T) {
	a := startApp(t, nil, map[string]string{"RECALL_CONFIRM_OVER": "50"})
	keys := a.send(group, 25, nil)

	reply := a.command(a.callbackBody("recall 22", nil))

	assert.ElementsMatch(t, keys[3:], a.fake.Recalled(), "exactly the 22 newest were recalled")
	for _, n := range recallCallSizes(a.fake, dingtalk.PathGroupRecall) {
		assert.LessOrEqual(t, n, dingtalk.MaxKeysPerCall)
	}
	assert.Equal(t, reverse(keys[:3]), a.listed(group), "the 3 oldest stay listed")
	assert.Equal(t, dingtalktest.KindGroup, reply.Kind)
	assert.Equal(t, group, reply.ConversationID)
	assert.Contains(t, replyText(t, reply), "Recalled 22 messages")
	for _, k := range keys[3:] {
		assert.Equal(t, 1, a.fake.RecallAttempts(k))
	}
}

func TestRecallAloneRecallsOne(t *testing.T) {
	a := startApp(t, nil, nil)
	keys := a.send(group, 3, nil)
	reply := a.command(a.callbackBody("recall", nil))
	assert.Equal(t, []string{keys[2]}, a.fake.Recalled())
	assert.Contains(t, replyText(t, reply), "Recalled 1 message.")
}

func TestRepliesAreNotCounted(t *testing.T) {
	a := startApp(t, nil, nil)
	keys := a.send(group, 3, nil)
	a.command(a.callbackBody("help", nil)) // a reply, newer than every alert
	a.command(a.callbackBody("recall 2", nil))
	assert.ElementsMatch(t, keys[1:], a.fake.Recalled())
}

func TestWhoMayRecall(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(map[string]any)
		env       map[string]string
		allowed   bool
		replyPart string
	}{
		{"recall user", nil, nil, true, "Recalled 1"},
		{"recall admin", func(b map[string]any) { b["senderStaffId"] = "staff-admin" }, nil, true, "Recalled 1"},
		{"group admin", func(b map[string]any) { b["senderStaffId"] = "staff-owner"; b["isAdmin"] = true }, nil, true, "Recalled 1"},
		{"group admin with RECALL_GROUP_ADMINS=false", func(b map[string]any) { b["senderStaffId"] = "staff-owner"; b["isAdmin"] = true },
			map[string]string{"RECALL_GROUP_ADMINS": "false"}, false, "not allowed"},
		{"stranger", func(b map[string]any) { b["senderStaffId"] = "stranger"; b["senderNick"] = "Guest" }, nil, false, "Sorry Guest, you are not allowed"},
		{"no staff id", func(b map[string]any) { delete(b, "senderStaffId"); b["isAdmin"] = true }, nil, false, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startApp(t, nil, tt.env)
			keys := a.send(group, 2, nil)
			reply := a.command(a.callbackBody("recall 1", tt.edit))
			assert.Contains(t, replyText(t, reply), tt.replyPart)
			if tt.allowed {
				assert.Equal(t, []string{keys[1]}, a.fake.Recalled())
			} else {
				assert.Empty(t, a.fake.Recalled())
				assert.Zero(t, a.fake.CallCount(dingtalk.PathGroupRecall), "nothing reached the recall API")
			}
		})
	}
}

func TestAdminRecallsInAnotherChatFromOneToOne(t *testing.T) {
	a := startApp(t, nil, nil)
	keys := a.send(group, 5, nil)
	// The bot learns the title from any callback in the group.
	a.command(a.callbackBody("help", nil))

	oneToOne := func(text, staffID string) map[string]any {
		return a.callbackBody(text, func(b map[string]any) {
			b["conversationId"], b["conversationType"], b["senderStaffId"] = "cidDirectAdmin01==", "1", staffID
			delete(b, "conversationTitle")
			b["text"] = map[string]any{"content": text}
		})
	}

	reply := a.command(oneToOne("recall 2 in "+group, "staff-admin"))
	assert.ElementsMatch(t, keys[3:], a.fake.Recalled())
	assert.Equal(t, dingtalktest.KindOTO, reply.Kind, "the reply reaches the admin one-to-one")
	assert.Equal(t, []string{"staff-admin"}, reply.UserIDs)
	assert.Contains(t, replyText(t, reply), "Recalled 2 messages")

	reply = a.command(oneToOne("recall 1 in OPS-ALERTS", "staff-admin"))
	assert.ElementsMatch(t, keys[2:], a.fake.Recalled())
	assert.Contains(t, replyText(t, reply), "in ops-alerts")

	reply = a.command(oneToOne("recall 1 in ops-alerts", "staff-1001"))
	assert.Contains(t, replyText(t, reply), "only recall admins")
	assert.Len(t, a.fake.Recalled(), 3, "a non-admin recalls nothing elsewhere")

	reply = a.command(oneToOne("recall 1 in no-such-chat", "staff-admin"))
	assert.Contains(t, replyText(t, reply), `I don't know a chat called "no-such-chat"`)

	reply = a.command(oneToOne("chats", "staff-admin"))
	assert.True(t, strings.HasSuffix(replyText(t, reply), "ops-alerts ("+group+"): 2"), "replies are not counted: %q", replyText(t, reply))

	reply = a.command(oneToOne("chats", "staff-1001"))
	assert.Contains(t, replyText(t, reply), "only recall admins")

	reply = a.command(a.callbackBody("recall 1 in ops-alerts", func(b map[string]any) { b["senderStaffId"] = "staff-admin" }))
	assert.Contains(t, replyText(t, reply), "works from a one-to-one chat")
	assert.Len(t, a.fake.Recalled(), 3)
}

func TestOneToOneRecallTakesWhatTheBotSentThatPerson(t *testing.T) {
	a := startApp(t, nil, nil)
	var keys []string
	for i := range 3 {
		status, out := a.api(http.MethodPost, "/messages", map[string]any{"chatType": "oto", "userId": "staff-1001", "text": fmt.Sprint("dm ", i)})
		require.Equal(t, http.StatusCreated, status, "%v", out)
		keys = append(keys, out["processQueryKey"].(string))
	}
	reply := a.command(a.callbackBody("recall 2", func(b map[string]any) {
		b["conversationType"], b["conversationId"] = "1", "cidDirect1001=="
	}))
	assert.ElementsMatch(t, keys[1:], a.fake.Recalled())
	assert.Equal(t, 1, a.fake.CallCount(dingtalk.PathOTORecall))
	assert.Equal(t, dingtalktest.KindOTO, reply.Kind)
}

func TestCallbackRejections(t *testing.T) {
	a := startApp(t, nil, nil)
	a.send(group, 2, nil)
	secret := a.fake.AppSecret()
	body := a.callbackBody("recall 2", nil)
	tests := []struct {
		name   string
		body   any
		header http.Header
		status int
	}{
		{"unsigned", body, nil, http.StatusUnauthorized},
		{"forged", body, signed("not-the-secret", time.Now()), http.StatusUnauthorized},
		{"stale", body, signed(secret, time.Now().Add(-2*time.Hour)), http.StatusUnauthorized},
		{"malformed json", `{"conversationId": "cid`, signed(secret, time.Now()), http.StatusBadRequest},
		{"missing conversationId", `{"msgId":"m-x","text":{"content":"recall"}}`, signed(secret, time.Now()), http.StatusBadRequest},
		{"missing msgId", `{"conversationId":"cid","text":{"content":"recall"}}`, signed(secret, time.Now()), http.StatusBadRequest},
		{"over 1 MiB", `{"conversationId":"` + strings.Repeat("x", 1<<20) + `"}`, signed(secret, time.Now()), http.StatusRequestEntityTooLarge},
		{"forged and malformed: the signature is checked first", `{`, signed("nope", time.Now()), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := a.do(http.MethodPost, "/dingtalk/callback", tt.body, tt.header)
			assert.Equal(t, tt.status, status)
			require.Contains(t, out, "error")
			assert.NotEmpty(t, out["error"].(map[string]any)["code"])
		})
	}
	// Give any (wrongly) queued work a chance to show before asserting nothing ran.
	a.command(a.callbackBody("help", nil))
	assert.Empty(t, a.fake.Recalled())
	assert.Len(t, a.fake.Sent(), 3, "only the help reply was sent")
}

func TestDuplicateMsgIDRunsOnce(t *testing.T) {
	a := startApp(t, nil, nil)
	a.send(group, 3, nil)
	body := a.callbackBody("recall 1", nil)
	a.command(body)
	status, _ := a.do(http.MethodPost, "/dingtalk/callback", body, signed(a.fake.AppSecret(), time.Now()))
	assert.Equal(t, http.StatusOK, status, "a redelivery is acknowledged")
	a.command(a.callbackBody("help", nil))
	assert.Len(t, a.fake.Recalled(), 1, "the redelivered command did not run again")
}

func TestFailedKeyStaysWithItsReason(t *testing.T) {
	a := startApp(t, nil, nil)
	keys := a.send(group, 3, nil)
	a.fake.FailKey(keys[1], "message is being reviewed")
	reply := a.command(a.callbackBody("recall 3", nil))
	text := replyText(t, reply)
	assert.Contains(t, text, "Recalled 2 of 3 messages")
	assert.Contains(t, text, `"alert 1": message is being reviewed`, "DingTalk's words for a key it refused on its own")
	assert.Equal(t, []string{keys[1]}, a.listed(group))
	failure := func(key string) (string, string) {
		_, out := a.api(http.MethodGet, "/conversations/"+group+"/messages", nil)
		for _, m := range out["messages"].([]any) {
			if m := m.(map[string]any); m["processQueryKey"] == key {
				return m["failure"].(string), m["failureCode"].(string)
			}
		}
		return "", ""
	}
	words, code := failure(keys[1])
	assert.Equal(t, "message is being reviewed", words)
	assert.Empty(t, code, "DingTalk gives no code for a key it refused on its own")

	// A call DingTalk refuses as a whole carries a code: the reply explains
	// it and the ledger keeps it as data.
	a.fake.ClearKeyFailure(keys[1])
	a.fake.FailCallWith(dingtalk.PathGroupRecall, 1, http.StatusBadRequest, "bot.stopped", "robot disabled")
	text = replyText(t, a.command(a.callbackBody("recall 1", nil)))
	assert.Contains(t, text, `"alert 1": this bot is disabled in DingTalk`)
	words, code = failure(keys[1])
	assert.Equal(t, "bot.stopped: robot disabled", words)
	assert.Equal(t, "bot.stopped", code)
}

func TestWholeBatchFailureIsExplained(t *testing.T) {
	a := startApp(t, nil, nil)
	a.send(group, 2, nil)
	a.fake.FailCallWith(dingtalk.PathGroupRecall, 1, http.StatusBadRequest, dingtalk.CodeBotStopped, "robot stopped")
	reply := a.command(a.callbackBody("recall 2", nil))
	text := replyText(t, reply)
	assert.Contains(t, text, "Recalled 0 of 2 messages")
	assert.Equal(t, 2, strings.Count(text, "this bot is disabled in DingTalk"))
	assert.Len(t, a.listed(group), 2, "nothing is lost")
}

func TestAPIRecall(t *testing.T) {
	a := startApp(t, nil, nil)
	keys := a.send(group, 4, map[string]any{"tag": "deploy-42"})
	other := a.send("cidOther==", 2, map[string]any{"tag": "deploy-42"})
	untagged := a.send(group, 1, nil)

	t.Run("dry run recalls nothing", func(t *testing.T) {
		status, out := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 2, "dryRun": true})
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, []any{untagged[0], keys[3]}, out["selected"])
		assert.Empty(t, out["recalled"])
		assert.Empty(t, out["failed"])
		assert.Equal(t, true, out["dryRun"])
		assert.Empty(t, a.fake.Recalled())
	})
	t.Run("exact keys", func(t *testing.T) {
		status, out := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "keys": []string{keys[0], "nope", other[0]}})
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, []any{keys[0]}, out["recalled"])
		failed := out["failed"].(map[string]any)
		assert.Contains(t, failed, "nope")
		assert.Contains(t, failed, other[0], "a key of another chat is not taken")
		assert.Equal(t, []string{keys[0]}, a.fake.Recalled())
	})
	t.Run("tag across chats", func(t *testing.T) {
		status, out := a.api(http.MethodPost, "/recall", map[string]any{"tag": "deploy-42"})
		require.Equal(t, http.StatusOK, status)
		assert.ElementsMatch(t, []any{keys[1], keys[2], keys[3], other[0], other[1]}, out["recalled"])
		assert.Equal(t, []string{untagged[0]}, a.listed(group))
	})
	t.Run("last", func(t *testing.T) {
		status, out := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "last": 5})
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, []any{untagged[0]}, out["recalled"])
		assert.Empty(t, a.listed(group))
	})
}

func TestPrivateChatUsesPrivateAPIs(t *testing.T) {
	a := startApp(t, nil, map[string]string{"DINGTALK_COOL_APP_CODE": "COOLAPP"})
	status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": "cidPrivate==", "chatType": "private", "markdown": map[string]string{"title": "Deploy", "text": "**done**"}})
	require.Equal(t, http.StatusCreated, status, "%v", out)
	key := out["processQueryKey"].(string)
	m, ok := a.fake.Message(key)
	require.True(t, ok)
	assert.Equal(t, dingtalktest.KindPrivate, m.Kind)
	assert.Equal(t, "COOLAPP", m.CoolAppCode)

	status, out = a.api(http.MethodPost, "/recall", map[string]any{"conversationId": "cidPrivate==", "last": 1})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{key}, out["recalled"])
	assert.Equal(t, 1, a.fake.CallCount(dingtalk.PathPrivateRecall))
	assert.Zero(t, a.fake.CallCount(dingtalk.PathGroupRecall))
}

func TestBadCommandsGetHelpfulReplies(t *testing.T) {
	a := startApp(t, nil, nil)
	tests := []struct {
		text string
		want string
	}{
		{"recall 100000", "I can recall 1 to 100 messages at a time, not 100000"},
		{"recall 0", "I can recall 1 to 100"},
		{"recall three", `"three" is not a number`},
		{"dance", `I didn't understand "dance"`},
		{"help", "recall [N]"},
		{"recall", "nothing of mine to recall here"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			assert.Contains(t, replyText(t, a.command(a.callbackBody(tt.text, nil))), tt.want)
		})
	}
	t.Run("picture", func(t *testing.T) {
		reply := a.command(a.callbackBody("", func(b map[string]any) {
			delete(b, "text")
			b["msgtype"] = "picture"
			b["content"] = map[string]any{"downloadCode": "x"}
		}))
		assert.Contains(t, replyText(t, reply), "I only read text")
	})
	t.Run("rich text", func(t *testing.T) {
		reply := a.command(a.callbackBody("", func(b map[string]any) {
			delete(b, "text")
			b["msgtype"] = "richText"
			b["content"] = map[string]any{"richText": []any{map[string]any{"text": "help"}, map[string]any{"type": "picture"}}}
		}))
		assert.Contains(t, replyText(t, reply), "recall [N]")
	})
}

func TestChineseReplies(t *testing.T) {
	a := startApp(t, nil, map[string]string{"BOT_LANG": "zh"})
	keys := a.send(group, 3, nil)
	assert.Contains(t, replyText(t, a.command(a.callbackBody("帮助", nil))), "撤回 [N]")
	reply := a.command(a.callbackBody("  撤回  2 ", func(b map[string]any) { b["senderStaffId"] = "staff-owner"; b["isAdmin"] = true }))
	assert.Contains(t, replyText(t, reply), "已撤回 2 条消息")
	assert.ElementsMatch(t, keys[1:], a.fake.Recalled())
}

func TestAPIAuthAndValidation(t *testing.T) {
	a := startApp(t, nil, nil)
	t.Run("no token", func(t *testing.T) {
		status, out := a.do(http.MethodPost, "/api/v1/recall", map[string]any{"conversationId": group, "last": 1}, nil)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "unauthorized", out["error"].(map[string]any)["code"])
	})
	t.Run("the scheme is case-insensitive", func(t *testing.T) {
		status, _ := a.do(http.MethodGet, "/api/v1/conversations/x/messages", nil, http.Header{"Authorization": {"bearer " + apiToken}})
		assert.Equal(t, http.StatusOK, status)
	})
	t.Run("wrong token", func(t *testing.T) {
		status, _ := a.do(http.MethodGet, "/api/v1/conversations/x/messages", nil, http.Header{"Authorization": {"Bearer nope"}})
		assert.Equal(t, http.StatusUnauthorized, status)
	})
	tests := []struct {
		name  string
		path  string
		body  any
		field string
	}{
		{"send: no conversation", "/messages", map[string]any{"text": "x"}, "conversationId"},
		{"send: no content", "/messages", map[string]any{"conversationId": "c"}, "text"},
		{"send: two contents", "/messages", map[string]any{"conversationId": "c", "text": "x", "markdown": map[string]string{"title": "t", "text": "x"}}, "text"},
		{"send: bad chat type", "/messages", map[string]any{"conversationId": "c", "chatType": "channel", "text": "x"}, "chatType"},
		{"send: oto without user", "/messages", map[string]any{"chatType": "oto", "text": "x"}, "userId"},
		{"send: bad ttl", "/messages", map[string]any{"conversationId": "c", "text": "x", "ttl": "soon"}, "ttl"},
		{"send: ttl over a day", "/messages", map[string]any{"conversationId": "c", "text": "x", "ttl": "25h"}, "ttl"},
		{"send: msgParam not json", "/messages", map[string]any{"conversationId": "c", "msgKey": "sampleText", "msgParam": "hello"}, "msgParam"},
		{"send: unknown field", "/messages", map[string]any{"conversationId": "c", "txt": "x"}, "txt"},
		{"send: wrong type", "/messages", map[string]any{"conversationId": 7, "text": "x"}, "conversationId"},
		{"send: not json", "/messages", "{", "body"},
		{"recall: nothing chosen", "/recall", map[string]any{"conversationId": "c"}, "body"},
		{"recall: empty tag", "/recall", map[string]any{"tag": ""}, "tag"},
		{"recall: last as a string", "/recall", map[string]any{"conversationId": "c", "last": "2"}, "last"},
		{"send: user and conversation", "/messages", map[string]any{"conversationId": "c", "userId": "u", "text": "x"}, "userId"},
		{"recall: last too big", "/recall", map[string]any{"conversationId": "c", "last": 101}, "last"},
		{"recall: last zero", "/recall", map[string]any{"conversationId": "c", "last": 0}, "last"},
		{"recall: last without chat", "/recall", map[string]any{"last": 1}, "conversationId"},
		{"recall: two selections", "/recall", map[string]any{"conversationId": "c", "last": 1, "tag": "t"}, "body"},
		{"recall: empty key", "/recall", map[string]any{"conversationId": "c", "keys": []string{"a", ""}}, "keys[1]"},
		{"recall: no keys", "/recall", map[string]any{"conversationId": "c", "keys": []string{}}, "keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := a.api(http.MethodPost, tt.path, tt.body)
			assert.Equal(t, http.StatusBadRequest, status, "%v", out)
			e := out["error"].(map[string]any)
			assert.Equal(t, tt.field, e["field"])
			assert.Contains(t, e["message"], tt.field)
		})
	}
	t.Run("limit must be a number", func(t *testing.T) {
		status, _ := a.api(http.MethodGet, "/conversations/c/messages?limit=x", nil)
		assert.Equal(t, http.StatusBadRequest, status)
	})
	t.Run("dingtalk error is a 502 with its code", func(t *testing.T) {
		a.fake.FailCallWith(dingtalk.PathGroupSend, 1, http.StatusBadRequest, dingtalk.CodeBotStopped, "robot stopped")
		status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": "c", "text": "x"})
		assert.Equal(t, http.StatusBadGateway, status)
		assert.Equal(t, dingtalk.CodeBotStopped, out["error"].(map[string]any)["code"])
	})
}

func TestAPILimits(t *testing.T) {
	a := startApp(t, nil, map[string]string{"RECALL_MAX": "2", "LEDGER_TTL": "1h"})
	t.Run("ttl must fall due while the ledger keeps the message", func(t *testing.T) {
		status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": "c", "text": "x", "ttl": "2h"})
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "ttl", out["error"].(map[string]any)["field"])
	})
	t.Run("private chat without a cool app code", func(t *testing.T) {
		status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": "c", "chatType": "private", "text": "x"})
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, out["error"].(map[string]any)["message"], "DINGTALK_COOL_APP_CODE")
		assert.Empty(t, a.fake.Sent())
	})
	t.Run("a tag recall takes at most RECALL_MAX, newest first", func(t *testing.T) {
		keys := a.send(group, 5, map[string]any{"tag": "storm"})
		status, out := a.api(http.MethodPost, "/recall", map[string]any{"tag": "storm"})
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, []any{keys[4], keys[3]}, out["recalled"])
	})
	t.Run("text over DingTalk's limit names the text field", func(t *testing.T) {
		status, out := a.api(http.MethodPost, "/messages", map[string]any{"conversationId": "c", "text": strings.Repeat("x", 16000)})
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "text", out["error"].(map[string]any)["field"])
	})
}

func TestAPIDisabledWithoutToken(t *testing.T) {
	a := startApp(t, nil, map[string]string{"API_TOKEN": ""})
	status, out := a.do(http.MethodPost, "/api/v1/messages", map[string]any{"conversationId": "c", "text": "x"}, http.Header{"Authorization": {"Bearer "}})
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, out["error"].(map[string]any)["message"], "API_TOKEN")
}

func TestMessagesWithTTLAreRecalledAutomatically(t *testing.T) {
	a := startApp(t, nil, map[string]string{"REPLY_TTL": "2s"})
	keys := a.send(group, 1, map[string]any{"ttl": "2s"})
	kept := a.send(group, 1, nil)
	reply := a.command(a.callbackBody("help", nil))

	withExpiry := func() int {
		_, out := a.api(http.MethodGet, "/conversations/"+group+"/messages", nil)
		n := 0
		for _, m := range out["messages"].([]any) {
			if m.(map[string]any)["expiresAt"] != nil {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return withExpiry() == 2 }, time.Second, 10*time.Millisecond,
		"the ttl message and the reply carry expiresAt")
	assert.Empty(t, a.fake.Recalled(), "nothing is recalled before its time")

	require.Eventually(t, func() bool { return len(a.fake.Recalled()) == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.ElementsMatch(t, []string{keys[0], reply.Key}, a.fake.Recalled())
	// The ledger is settled right after DingTalk answers.
	require.Eventually(t, func() bool { return assert.ObjectsAreEqual(kept, a.listed(group)) }, 5*time.Second, 10*time.Millisecond)
}

func TestBusyAnswers503AndTheRedeliveryRuns(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, map[string]string{"WORKERS": "1", "QUEUE_SIZE": "1"})
	a.send(group, 5, nil)
	fake.SetLatency(300 * time.Millisecond)
	var busy map[string]any
	for range 5 {
		body := a.callbackBody("recall 1", nil)
		status, _ := a.do(http.MethodPost, "/dingtalk/callback", body, signed(fake.AppSecret(), time.Now()))
		if status == http.StatusServiceUnavailable {
			busy = body
			break
		}
		require.Equal(t, http.StatusOK, status)
	}
	require.NotNil(t, busy, "a full queue answers 503")
	fake.SetLatency(0)
	// DingTalk delivers the refused callback again: it must run now.
	require.Eventually(t, func() bool {
		status, _ := a.do(http.MethodPost, "/dingtalk/callback", busy, signed(fake.AppSecret(), time.Now()))
		return status == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return len(fake.Recalled()) == 3 }, 10*time.Second, 10*time.Millisecond)
}

func TestShutdownFinishesAcceptedCommands(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	a := startApp(t, fake, nil)
	a.send(group, 3, nil)
	fake.SetLatency(200 * time.Millisecond)
	status, _ := a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("recall 3", nil), signed(fake.AppSecret(), time.Now()))
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, a.stop())
	assert.Len(t, fake.Recalled(), 3, "the accepted recall finished before run returned")
}

func TestHealth(t *testing.T) {
	a := startApp(t, nil, nil)
	status, _ := a.do(http.MethodGet, "/healthz", nil, nil)
	assert.Equal(t, http.StatusOK, status)
	status, _ = a.do(http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, http.StatusOK, status)
	status, _ = a.do(http.MethodGet, "/nope", nil, nil)
	assert.Equal(t, http.StatusNotFound, status)
}

// TestSandboxStartsWithNothingSet starts the app as "go run ." on a fresh
// clone would: with an empty environment, so on :8080. When something else
// holds 8080 on this machine it falls back to a free port (LISTEN_ADDR only).
func TestSandboxStartsWithNothingSet(t *testing.T) {
	env := map[string]string{}
	addr := "127.0.0.1:8080"
	var ln net.Listener // nil: Run listens on LISTEN_ADDR's default itself
	if probe, err := net.Listen("tcp", ":8080"); err == nil {
		require.NoError(t, probe.Close())
	} else {
		ln = listen(t)
		addr = ln.Addr().String()
		t.Logf("port 8080 is busy here; serving on %s", addr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ln, func(k string) string { return env[k] })
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)
	resp, err := http.Get("http://" + addr + "/sandbox")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(page), "dingrecall", "the chat simulator page is served")
	cancel()
	require.NoError(t, <-done)
}

func TestBadConfigStopsStartup(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"numbers and durations", map[string]string{"RECALL_MAX": "lots", "REPLY_TTL": "1 minute", "LEDGER_PER_CHAT": "0"},
			[]string{`RECALL_MAX is "lots"`, `REPLY_TTL is "1 minute"`, "LEDGER_PER_CHAT is 0"}},
		{"enums", map[string]string{"STORE": "mongo", "BOT_LANG": "fr", "LOG_FORMAT": "xml", "CALLBACK_MODE": "carrier-pigeon", "ACK_STYLE": "loud"},
			[]string{"STORE", "BOT_LANG", "LOG_FORMAT", "CALLBACK_MODE", `ACK_STYLE is "loud": want one of reaction, reply, both`}},
		{"secret missing", map[string]string{"DINGTALK_APP_KEY": "k"}, []string{"DINGTALK_APP_SECRET is required"}},
		{"key missing", map[string]string{"DINGTALK_APP_SECRET": "s"}, []string{"DINGTALK_APP_KEY is required when DINGTALK_APP_SECRET is set"}},
		{"bad base url", map[string]string{"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "s", "DINGTALK_API_BASE": "api.dingtalk.com"}, []string{"DINGTALK_API_BASE"}},
		{"bool", map[string]string{"RECALL_GROUP_ADMINS": "maybe"}, []string{"RECALL_GROUP_ADMINS"}},
		{"bool is exactly true or false", map[string]string{"BURST_AUTO_RECALL": "yes", "RECALL_GROUP_ADMINS": "1"},
			[]string{`BURST_AUTO_RECALL is "yes": want true or false`, `RECALL_GROUP_ADMINS is "1"`}},
		{"staff ID lists", map[string]string{"RECALL_ADMINS": "alice, bob;carol", "RECALL_USERS": "dave 'eve'"},
			[]string{`RECALL_ADMINS holds "bob;carol", which has ';'`, `RECALL_USERS holds "'eve'"`}},
		{"store file in a missing directory", map[string]string{"STORE_FILE": "/nonexistent-dir/ledger.json"}, []string{"STORE_FILE is \"/nonexistent-dir/ledger.json\": directory /nonexistent-dir does not exist"}},
		{"replies outlive the ledger", map[string]string{"REPLY_TTL": "2h", "LEDGER_TTL": "1h"}, []string{"REPLY_TTL is 2h0m0s: want less than LEDGER_TTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), nil, func(k string) string { return tt.env[k] })
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestRestartWithStoreFileRecallsWhatWasSentBefore(t *testing.T) {
	fake := dingtalktest.NewTest(t)
	env := map[string]string{"STORE_FILE": t.TempDir() + "/ledger.json", "STORE_FILE_INTERVAL": "1h"}
	first := startApp(t, fake, env)
	keys := first.send(group, 10, nil)
	status, _ := first.api(http.MethodPost, "/recall", map[string]any{"conversationId": "cidOther==", "keys": []string{"nope"}})
	require.Equal(t, http.StatusOK, status) // an audit entry to carry over
	selfCleaning := first.send("cidNotices==", 1, map[string]any{"ttl": "3s"})
	require.NoError(t, first.stop())
	require.Empty(t, fake.Recalled(), "the ttl message was not due before the restart")

	second := startApp(t, fake, env)
	assert.Equal(t, reverse(keys), second.listed(group), "the new instance knows every key")
	assert.NotEmpty(t, second.auditEntries(""), "and the audit log")
	reply := second.command(second.callbackBody("recall 10", nil))
	assert.Contains(t, replyText(t, reply), "Recalled 10 messages")
	assert.Subset(t, fake.Recalled(), keys)
	require.Eventually(t, func() bool { return len(fake.Recalled()) == 11 }, 10*time.Second, 20*time.Millisecond,
		"the ttl message is recalled after the restart")
	assert.Contains(t, fake.Recalled(), selfCleaning[0])
}
