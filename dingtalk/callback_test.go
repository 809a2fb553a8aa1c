package dingtalk_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
)

func TestVerifySignature(t *testing.T) {
	const secret = "app-secret"
	now := time.Now()
	signed := func(at time.Time, key string) http.Header {
		h := http.Header{}
		dingtalk.SignHeader(h, key, at)
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		want   error
	}{
		{"accepted", signed(now, secret), nil},
		{"accepted 59 minutes old", signed(now.Add(-59*time.Minute), secret), nil},
		{"accepted slightly ahead", signed(now.Add(30*time.Second), secret), nil},
		{"stale", signed(now.Add(-61*time.Minute), secret), dingtalk.ErrStaleTimestamp},
		{"far future", signed(now.Add(2*time.Hour), secret), dingtalk.ErrStaleTimestamp},
		{"forged", signed(now, "other-secret"), dingtalk.ErrBadSignature},
		{"missing sign", http.Header{"Timestamp": {strconv.FormatInt(now.UnixMilli(), 10)}}, dingtalk.ErrMissingSignature},
		{"missing timestamp", http.Header{"Sign": {"abc"}}, dingtalk.ErrMissingSignature},
		{"no headers", http.Header{}, dingtalk.ErrMissingSignature},
		{"timestamp not a number", http.Header{"Timestamp": {"yesterday"}, "Sign": {"abc"}}, dingtalk.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dingtalk.VerifySignature(tt.header, secret, now)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

func TestSignatureMatchesTheRule(t *testing.T) {
	// Computed independently (Python hmac): base64(HMAC-SHA256("secret", "1700000000000\nsecret")).
	got := dingtalk.Signature("1700000000000", "secret")
	assert.Equal(t, "OuzzJR5+xZ4/EYwqtNt6sMYZQMTa/HEGvc9miJe7XzY=", got)
}

func TestDecodeCallbackSamples(t *testing.T) {
	tests := []struct {
		file      string
		group     bool
		text      string
		staffID   string
		isAdmin   bool
		wantTitle string
	}{
		{"group-text.json", true, " recall 3", "staff-1001", false, "ops-alerts"},
		{"group-text-zh-admin.json", true, "  撤回  2 ", "staff-owner", true, "ops-alerts"},
		{"one-to-one-admin.json", false, "recall 5 in ops-alerts", "staff-admin", false, ""},
		{"group-picture.json", true, "", "staff-1001", false, "ops-alerts"},
		{"group-richtext.json", true, "recall 2", "staff-1001", false, "ops-alerts"},
		{"group-external-no-staffid.json", true, " recall 1", "", false, "ops-alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "callbacks", tt.file))
			require.NoError(t, err)
			cb, err := dingtalk.DecodeCallback(body)
			require.NoError(t, err)
			assert.Equal(t, tt.group, cb.IsGroup())
			assert.Equal(t, tt.text, cb.PlainText())
			assert.Equal(t, tt.staffID, cb.SenderStaffID)
			assert.Equal(t, tt.isAdmin, cb.IsAdmin)
			assert.Equal(t, tt.wantTitle, cb.ConversationTitle)
			assert.NotEmpty(t, cb.MsgID)
		})
	}
}

func TestDecodeCallbackRejects(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not json", `{"conversationId": `},
		{"array", `[]`},
		{"no conversation", `{"msgId":"m1","text":{"content":"recall"}}`},
		{"no msgId", `{"conversationId":"cid","text":{"content":"recall"}}`},
		{"wrong type", `{"conversationId":"cid","msgId":"m","isAdmin":"yes"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dingtalk.DecodeCallback([]byte(tt.body))
			require.ErrorIs(t, err, dingtalk.ErrInvalidCallback)
		})
	}
}
