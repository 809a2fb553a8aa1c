package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// TestSecurityCallbackSignatures: forged, stale, future, malformed and
// mismatched signatures are refused with 401 before anything runs, and a
// replayed callback (the same body and headers again) runs once.
func TestSecurityCallbackSignatures(t *testing.T) {
	a := startApp(t, nil, nil)
	a.send(group, 3, nil)
	secret := a.fake.AppSecret()
	now := time.Now()
	tsHeader := func(ts, sign string) http.Header {
		return http.Header{dingtalk.HeaderTimestamp: {ts}, dingtalk.HeaderSign: {sign}}
	}
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	seconds := strconv.FormatInt(now.Unix(), 10)
	otherTS := strconv.FormatInt(now.Add(-time.Minute).UnixMilli(), 10)
	// A timestamp whose signature holds '+' or '/', where URL base64 differs.
	urlTS := ms
	for i := int64(1); !strings.ContainsAny(dingtalk.Signature(urlTS, secret), "+/"); i++ {
		urlTS = strconv.FormatInt(now.UnixMilli()-i, 10)
	}
	tests := []struct {
		name   string
		header http.Header
	}{
		{"unsigned", nil},
		{"forged: another secret", signed("not-the-secret", now)},
		{"forged: the secret's empty cousin", signed("", now)},
		{"stale: 61 minutes old", signed(secret, now.Add(-61*time.Minute))},
		{"future: 61 minutes ahead", signed(secret, now.Add(61*time.Minute))},
		{"timestamp in seconds, correctly signed", tsHeader(seconds, dingtalk.Signature(seconds, secret))},
		{"signature of another timestamp", tsHeader(ms, dingtalk.Signature(otherTS, secret))},
		{"signature without its padding", tsHeader(ms, strings.TrimRight(dingtalk.Signature(ms, secret), "="))},
		{"signature in URL base64", tsHeader(urlTS, base64.URLEncoding.EncodeToString(mustDecodeStd(t, dingtalk.Signature(urlTS, secret))))},
		{"signature as the secret itself", tsHeader(ms, secret)},
		{"empty sign", tsHeader(ms, "")},
		{"timestamp not a number", tsHeader("now", dingtalk.Signature("now", secret))},
		{"timestamp with blanks", tsHeader(" "+ms, dingtalk.Signature(" "+ms, secret))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := a.do(http.MethodPost, "/dingtalk/callback", a.callbackBody("recall 3", nil), tt.header)
			assert.Equal(t, http.StatusUnauthorized, status, "%v", out)
			assert.Equal(t, "bad_signature", errorCode(out))
		})
	}
	t.Run("replayed", func(t *testing.T) {
		body := a.callbackBody("recall 1", nil)
		header := signed(secret, time.Now())
		a.command(body) // first delivery runs
		for range 3 {
			status, _ := a.do(http.MethodPost, "/dingtalk/callback", body, header)
			assert.Equal(t, http.StatusOK, status, "a replay is acknowledged")
		}
		a.command(a.callbackBody("help", nil)) // anything queued before has run
		assert.Len(t, a.fake.Recalled(), 1, "the replays did not run again")
	})
	assert.Len(t, a.fake.Recalled(), 1, "no refused callback recalled anything")
}

// errorCode is error.code of a JSON error answer, "" when there is none.
func errorCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// mustDecodeStd decodes standard base64.
func mustDecodeStd(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestSecurityOversizedAndDeepBodies: bodies over 1 MiB get 413 whether or
// not they announce their length; deeply nested and huge JSON gets a 400,
// never a crash or a 5xx; the app keeps serving.
func TestSecurityOversizedAndDeepBodies(t *testing.T) {
	a := startApp(t, nil, nil)
	secret := a.fake.AppSecret()
	bearer := http.Header{"Authorization": {"Bearer " + apiToken}}
	deep := strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000)
	manyKeys := make([]string, 100_000)
	for i := range manyKeys {
		manyKeys[i] = strconv.Itoa(i)
	}
	var bigObject strings.Builder
	bigObject.WriteString(`{"conversationId":"c","msgKey":"sampleText","msgParam":{"content":"x"`)
	for i := range 40_000 {
		fmt.Fprintf(&bigObject, `,"k%d":%d`, i, i)
	}
	bigObject.WriteString("}}")

	tests := []struct {
		name   string
		path   string
		body   string
		header http.Header
		status int
		code   string
	}{
		{"callback over 1 MiB", "/dingtalk/callback", `{"conversationId":"` + strings.Repeat("x", 1<<20) + `","msgId":"m"}`, signed(secret, time.Now()), http.StatusRequestEntityTooLarge, "too_large"},
		{"send over 1 MiB", "/api/v1/messages", `{"conversationId":"c","text":"` + strings.Repeat("x", 1<<20) + `"}`, bearer, http.StatusRequestEntityTooLarge, "too_large"},
		{"recall over 1 MiB", "/api/v1/recall", `{"conversationId":"c","keys":["` + strings.Repeat("k", 1<<20) + `"]}`, bearer, http.StatusRequestEntityTooLarge, "too_large"},
		{"send just under 1 MiB is judged on its content", "/api/v1/messages", `{"conversationId":"c","text":"` + strings.Repeat("x", 1<<20-50) + `"}`, bearer, http.StatusBadRequest, "invalid_request"},
		{"callback nested 200,000 deep", "/dingtalk/callback", `{"conversationId":"c","msgId":"deep","content":` + deep + `}`, signed(secret, time.Now()), http.StatusBadRequest, "invalid_callback"},
		{"callback text nested deep", "/dingtalk/callback", `{"conversationId":"c","msgId":"deep2","text":` + deep + `}`, signed(secret, time.Now()), http.StatusBadRequest, "invalid_callback"},
		{"send msgParam nested 200,000 deep", "/api/v1/messages", `{"conversationId":"c","msgKey":"sampleText","msgParam":` + deep + `}`, bearer, http.StatusBadRequest, "invalid_request"},
		{"recall with a deep value", "/api/v1/recall", `{"conversationId":"c","keys":` + deep + `}`, bearer, http.StatusBadRequest, "invalid_request"},
		{"send msgParam with 40,000 members", "/api/v1/messages", bigObject.String(), bearer, http.StatusBadRequest, "invalid_request"},
		{"recall with 100,000 keys", "/api/v1/recall", string(mustJSON(t, map[string]any{"conversationId": "c", "keys": manyKeys})), bearer, http.StatusBadRequest, "invalid_request"},
		{"send as an array of 100,000 numbers", "/api/v1/messages", "[" + strings.Repeat("1,", 100_000) + "1]", bearer, http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := a.do(http.MethodPost, tt.path, tt.body, tt.header)
			assert.Equal(t, tt.status, status, "%v", out)
			assert.Equal(t, tt.code, errorCode(out))
		})
	}
	for _, path := range []string{"/dingtalk/callback", "/api/v1/messages"} {
		t.Run("chunked over 1 MiB to "+path, func(t *testing.T) {
			pr, pw := io.Pipe() // a body of unknown length goes out chunked
			go func() {
				_, _ = pw.Write([]byte(`{"conversationId":"c","msgId":"chunked","text":{"content":"`))
				chunk := bytes.Repeat([]byte("x"), 64<<10)
				for range 20 { // 1.25 MiB, no Content-Length
					if _, err := pw.Write(chunk); err != nil {
						return
					}
				}
				_, _ = pw.Write([]byte(`"}}`))
				pw.Close()
			}()
			req, err := http.NewRequest(http.MethodPost, a.base+path, pr)
			require.NoError(t, err)
			req.Header = signed(secret, time.Now())
			req.Header.Set("Authorization", "Bearer "+apiToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		})
	}
	status, _ := a.do(http.MethodGet, "/healthz", nil, nil)
	assert.Equal(t, http.StatusOK, status, "the app still serves")
	assert.Empty(t, a.fake.Sent(), "nothing oversized or malformed was sent")
}

// mustJSON encodes v.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

// TestSecurityUnicodeAndControlCharactersInCommands: commands with NUL and
// other control characters, bidi overrides, zero-width characters, escape
// sequences and invalid UTF-8 each get a reply in valid UTF-8 and recall
// nothing, unless they plainly say "recall N" (with Unicode blanks or
// full-width forms, which the parser accepts by design).
func TestSecurityUnicodeAndControlCharactersInCommands(t *testing.T) {
	a := startApp(t, nil, nil)
	keys := a.send(group, 10, nil)
	tests := []struct {
		text    string
		recalls int
	}{
		{"recall\x003", 0},
		{"recall 3\x00", 0},
		{"\x00recall 3", 0},
		{"recall \u202e3", 0},
		{"recall\u200b 3", 0},
		{"re\u200bcall 3", 0},
		{"\x1b[31mrecall 3\x1b[0m", 0},
		{"recall 1\n\nrecall 2", 0},
		{"recall 1 in \u202eevil", 0}, // "in" works from a one-to-one chat only
		{"recall ３\u0301", 0},
		{"recall -0", 0},
		{"recall 1e1", 0},
		{"recall\u00a02", 2}, // no-break space is a blank
		{"ＲＥＣＡＬＬ　１", 1},      // full-width letters and space
		{"recall\u20281", 1}, // line separator is a blank
	}
	recalled := 0
	for _, tt := range tests {
		t.Run(strconv.QuoteToASCII(tt.text), func(t *testing.T) {
			reply := replyText(t, a.command(a.callbackBody(tt.text, nil)))
			assert.True(t, utf8.ValidString(reply), "reply is valid UTF-8: %q", reply)
			assert.NotEmpty(t, strings.TrimSpace(reply))
			recalled += tt.recalls
			assert.Len(t, a.fake.Recalled(), recalled, "reply: %q", reply)
		})
	}
	t.Run("invalid UTF-8", func(t *testing.T) {
		raw := []byte(`{"conversationId":"` + group + `","conversationType":"2","senderStaffId":"staff-1001","msgId":"bad-utf8",` +
			`"msgtype":"text","text":{"content":"recall ` + "\xff\xfe 2 \xc3" + `"}}`)
		before := len(a.fake.Sent())
		status, out := a.do(http.MethodPost, "/dingtalk/callback", raw, signed(a.fake.AppSecret(), time.Now()))
		require.Equal(t, http.StatusOK, status, "%v", out)
		reply := replyText(t, a.replyAfter(before))
		assert.True(t, utf8.ValidString(reply), "%q", reply)
		assert.Len(t, a.fake.Recalled(), recalled)
	})
	assert.Subset(t, keys, a.fake.Recalled())
}

// TestSecurityRecallInAChatTheBotNeverSaw: a recall admin naming a chat the
// bot has no messages in and no title for, by ID, by title or by a pattern,
// gets "I don't know a chat called …" and nothing reaches DingTalk's recall
// APIs; a chat whose title only a different chat's message carried is not
// confused with it.
func TestSecurityRecallInAChatTheBotNeverSaw(t *testing.T) {
	for _, st := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"memory", func(*testing.T) map[string]string { return nil }},
		{"redis", func(t *testing.T) map[string]string {
			return map[string]string{"STORE": "redis", "REDIS_URL": startRedis(t).url()}
		}},
	} {
		t.Run(st.name, func(t *testing.T) {
			a := startApp(t, nil, st.env(t))
			a.send(group, 3, nil)
			a.command(a.callbackBody("help", nil)) // the bot learns "ops-alerts"
			admin := func(text string) string {
				return replyText(t, a.command(a.callbackBody(text, func(b map[string]any) {
					b["conversationId"], b["conversationType"], b["senderStaffId"] = "cidDirectAdmin01==", "1", "staff-admin"
					delete(b, "conversationTitle")
				})))
			}
			for _, chat := range []string{"cidNeverSeen==", "secret-room", "*", "ops-*", "%", "cidGroupOps001", "{ops-alerts}", "\x00", "ops\u200b-alerts"} {
				reply := admin("recall 1 in " + chat)
				want := strings.TrimSpace(chat)
				assert.Contains(t, reply, "I don't know a chat called", "%q: %q", chat, reply)
				assert.NotContains(t, reply, "Recalled", "%q", want)
			}
			assert.Zero(t, a.fake.CallCount(dingtalk.PathGroupRecall)+a.fake.CallCount(dingtalk.PathOTORecall)+a.fake.CallCount(dingtalk.PathPrivateRecall),
				"nothing reached DingTalk's recall APIs")
			assert.Contains(t, admin("recall 1 in ops-alerts"), "Recalled 1 message", "the chat it did see still works")
		})
	}
}

// TestSecurityAPITokens: every API route refuses a missing, wrong, partial,
// mis-schemed or query-string token with 401 and does nothing.
func TestSecurityAPITokens(t *testing.T) {
	a := startApp(t, nil, nil)
	keys := a.send(group, 2, nil)
	sentBefore := len(a.fake.Sent())
	routes := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/api/v1/messages", map[string]any{"conversationId": group, "text": "forged"}},
		{http.MethodPost, "/api/v1/recall", map[string]any{"conversationId": group, "last": 2}},
		{http.MethodGet, "/api/v1/conversations/" + group + "/messages", nil},
		{http.MethodGet, "/api/v1/audit", nil},
	}
	auths := []struct {
		name  string
		value []string
		query string
	}{
		{"no header", nil, ""},
		{"wrong token", []string{"Bearer wrong-token"}, ""},
		{"token with a suffix", []string{"Bearer " + apiToken + "x"}, ""},
		{"token without its last character", []string{"Bearer " + apiToken[:len(apiToken)-1]}, ""},
		{"token prefix", []string{"Bearer " + apiToken[:8]}, ""},
		{"empty bearer", []string{"Bearer "}, ""},
		{"no scheme", []string{apiToken}, ""},
		{"no blank after the scheme", []string{"Bearer" + apiToken}, ""},
		{"basic scheme", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(apiToken))}, ""},
		{"token scheme", []string{"Token " + apiToken}, ""},
		{"upper-cased token", []string{"Bearer " + strings.ToUpper(apiToken)}, ""},
		{"in the query string", nil, "?access_token=" + apiToken + "&token=" + apiToken},
		{"wrong first header, right second", []string{"Bearer wrong", "Bearer " + apiToken}, ""},
	}
	for _, r := range routes {
		for _, auth := range auths {
			t.Run(r.method+" "+r.path+": "+auth.name, func(t *testing.T) {
				header := http.Header{}
				if auth.value != nil {
					header["Authorization"] = auth.value
				}
				status, out := a.do(r.method, r.path+auth.query, r.body, header)
				assert.Equal(t, http.StatusUnauthorized, status, "%v", out)
				assert.Equal(t, "unauthorized", errorCode(out))
				assert.NotContains(t, fmt.Sprint(out), apiToken, "the answer does not echo the token")
			})
		}
	}
	assert.Len(t, a.fake.Sent(), sentBefore, "nothing was sent")
	assert.Empty(t, a.fake.Recalled(), "nothing was recalled")
	assert.Equal(t, reverse(keys), a.listed(group))
}

// TestSecurityLongCommandStillGetsAReply: the bot echoes what was typed
// into some replies; a long message — 5,000 Chinese characters, which
// DingTalk lets a person send, or "recall" followed by a 20,000-digit
// number — must still get a reply within DingTalk's 15,000-byte msgParam
// limit. (Found by these tests: the echo used to push the reply over the
// limit, so the client refused it and the person got no answer at all.)
func TestSecurityLongCommandStillGetsAReply(t *testing.T) {
	a := startApp(t, nil, nil)
	for _, text := range []string{
		strings.Repeat("部署", 2500),
		"recall " + strings.Repeat("9", 20000),
		"recall 1 in " + strings.Repeat("运维群", 2000),
	} {
		reply := a.command(a.callbackBody(text, nil))
		assert.LessOrEqual(t, len(reply.MsgParam), dingtalk.MaxMsgParamBytes)
		assert.True(t, utf8.ValidString(replyText(t, reply)), "a cut echo does not split a character")
	}
	assert.Empty(t, a.fake.Recalled())
}
