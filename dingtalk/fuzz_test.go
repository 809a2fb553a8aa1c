package dingtalk_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
)

// FuzzDecodeCallback checks the callback decoder on any body: it never
// panics; it fails only with ErrInvalidCallback and then returns nothing; a
// decoded callback has a non-blank conversationId and msgId, and encoding it
// and decoding it again gives the same callback.
func FuzzDecodeCallback(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join("testdata", "callbacks", "*.json"))
	for _, path := range samples {
		if raw, err := os.ReadFile(path); err == nil {
			f.Add(raw)
		}
	}
	for _, s := range []string{
		`{"conversationId":"c","msgId":"m"}`, `{"conversationId":" ","msgId":"m"}`, `{"conversationId":"c"}`,
		`{"CONVERSATIONID":"c","MSGID":"m","content":null}`, `{"conversationId":"c","msgId":"m","msgtype":"richText","content":{"richText":[{"text":"a"},{"text":""}]}}`,
		`{"conversationId":"c","msgId":"m","msgtype":"richText","content":"x"}`, `null`, `[]`, `"s"`, `{`, ``,
		`{"conversationId":"c","msgId":"m","createAt":1e400}`, `{"conversationId":"\u0000","msgId":"\ud800"}`,
		`{"conversationId":"c","msgId":"m","atUsers":[{"dingtalkId":1}]}`, `{"conversationId":"c","msgId":"m","isAdmin":"true"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := dingtalk.DecodeCallback(body)
		if err != nil {
			if cb != nil {
				t.Fatalf("DecodeCallback failed (%v) but returned %+v", err, cb)
			}
			if !errors.Is(err, dingtalk.ErrInvalidCallback) {
				t.Fatalf("DecodeCallback error %v does not wrap ErrInvalidCallback", err)
			}
			return
		}
		if strings.TrimSpace(cb.ConversationID) == "" || strings.TrimSpace(cb.MsgID) == "" {
			t.Fatalf("decoded a callback without conversationId or msgId: %q %q", cb.ConversationID, cb.MsgID)
		}
		text := cb.PlainText()
		ev := bot.EventFromCallback(cb)
		if ev.ConversationID != cb.ConversationID || ev.MsgID != cb.MsgID || ev.Group != cb.IsGroup() || ev.Text != text {
			t.Fatalf("event %+v does not match callback %+v", ev, cb)
		}
		raw, err := json.Marshal(cb)
		if err != nil {
			t.Fatalf("a decoded callback does not encode: %v", err)
		}
		again, err := dingtalk.DecodeCallback(raw)
		if err != nil {
			t.Fatalf("a decoded callback, encoded again, does not decode: %v\n%s", err, raw)
		}
		if !sameJSON(cb.Content, again.Content) {
			t.Fatalf("content changed in a round trip: %s vs %s", cb.Content, again.Content)
		}
		if again.PlainText() != text {
			t.Fatalf("plain text changed in a round trip: %q vs %q", text, again.PlainText())
		}
		a, b := *cb, *again
		a.Content, b.Content = nil, nil
		if len(a.AtUsers) == 0 { // "atUsers": [] is omitted when encoded
			a.AtUsers = nil
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("callback changed in a round trip:\n%+v\n%+v", a, b)
		}
	})
}

// sameJSON reports whether two raw JSON values (either possibly empty) mean
// the same.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// FuzzVerifySignature checks the signature check against an independent
// statement of the rule: it accepts exactly when both headers are present,
// the timestamp is epoch milliseconds within an hour of now (computed here
// with big integers, so no overflow), and sign is exactly
// base64(HMAC-SHA256(secret, timestamp+"\n"+secret)); otherwise it fails
// with the documented sentinel. A correctly signed header always passes
// and the same header under another secret never does.
func FuzzVerifySignature(f *testing.F) {
	const now = int64(1_780_000_000_000)
	f.Add("secret", "1780000000000", "", now)
	f.Add("secret", "1780000000000", dingtalk.Signature("1780000000000", "secret"), now)
	f.Add("secret", "1779996400000", dingtalk.Signature("1779996400000", "secret"), now)
	f.Add("secret", "1779996399999", dingtalk.Signature("1779996399999", "secret"), now)
	f.Add("secret", "+1780000000000", dingtalk.Signature("+1780000000000", "secret"), now)
	f.Add("secret", "01780000000000", dingtalk.Signature("01780000000000", "secret"), now)
	f.Add("", "1780000000000", dingtalk.Signature("1780000000000", ""), now)
	f.Add("secret", "9223372036854775807", "x", int64(-9223372036854775808))
	f.Add("secret", "-9223372036854775808", "x", int64(9223372036854775807))
	f.Add("secret", "yesterday", "abc", now)
	f.Add("s\x00", " 1780000000000", "=", now)
	f.Fuzz(func(t *testing.T, secret, ts, sign string, nowMs int64) {
		at := time.UnixMilli(nowMs)
		h := http.Header{}
		if ts != "" {
			h.Set(dingtalk.HeaderTimestamp, ts)
		}
		if sign != "" {
			h.Set(dingtalk.HeaderSign, sign)
		}
		err := dingtalk.VerifySignature(h, secret, at)

		ms, parseErr := strconv.ParseInt(ts, 10, 64)
		var want error
		switch {
		case ts == "" || sign == "":
			want = dingtalk.ErrMissingSignature
		case parseErr != nil:
			want = dingtalk.ErrBadSignature
		case !withinAnHour(ms, nowMs):
			want = dingtalk.ErrStaleTimestamp
		case sign != dingtalk.Signature(ts, secret):
			want = dingtalk.ErrBadSignature
		}
		switch {
		case want == nil && err != nil:
			t.Fatalf("VerifySignature(ts=%q, sign=%q, now=%d) = %v, want success", ts, sign, nowMs, err)
		case want != nil && !errors.Is(err, want):
			t.Fatalf("VerifySignature(ts=%q, sign=%q, now=%d) = %v, want %v", ts, sign, nowMs, err, want)
		}
		// The error never depends on the secret (so it cannot reveal it):
		// under another secret a failing check fails with the same words.
		if other := dingtalk.VerifySignature(h, secret+"-other", at); err != nil && other != nil && err.Error() != other.Error() {
			t.Fatalf("the error depends on the secret: %v vs %v", err, other)
		}

		// The right signature for this timestamp passes whenever the
		// timestamp does, and only under its own secret.
		if ts == "" || parseErr != nil || !withinAnHour(ms, nowMs) {
			return
		}
		good := http.Header{}
		good.Set(dingtalk.HeaderTimestamp, ts)
		good.Set(dingtalk.HeaderSign, dingtalk.Signature(ts, secret))
		if err := dingtalk.VerifySignature(good, secret, at); err != nil {
			t.Fatalf("the right signature for %q was refused: %v", ts, err)
		}
		if err := dingtalk.VerifySignature(good, secret+"x", at); !errors.Is(err, dingtalk.ErrBadSignature) {
			t.Fatalf("a signature under another secret was not refused: %v", err)
		}
	})
}

// withinAnHour reports whether |now - ts| <= 1h, all in milliseconds,
// without overflow.
func withinAnHour(tsMs, nowMs int64) bool {
	d := new(big.Int).Sub(big.NewInt(nowMs), big.NewInt(tsMs))
	return d.CmpAbs(big.NewInt(time.Hour.Milliseconds())) <= 0
}
