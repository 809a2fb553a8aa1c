package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/client"
)

func TestContent(t *testing.T) {
	cases := []struct{ msgKey, msgParam, want string }{
		{"sampleText", `{"content":"deploy started"}`, `"deploy started"`},
		{"sampleMarkdown", `{"title":"Release","text":"**v1**"}`, `"Release"`},
		{"sampleText", `{"content":"line 1\n\tline 2"}`, `"line 1 line 2"`},
		{"sampleText", `{"content":"` + strings.Repeat("部署", 40) + `"}`, `"` + strings.Repeat("部署", 24) + `部…"`},
		{"sampleActionCard", `{"btns":[]}`, `"sampleActionCard"`},
		{"sampleText", `not json`, `"sampleText"`},
		{"", "", ""},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, content(tc.msgKey, tc.msgParam), "%s %s", tc.msgKey, tc.msgParam)
	}
}

func TestWho(t *testing.T) {
	cases := []struct {
		entry client.AuditEntry
		want  string
	}{
		{client.AuditEntry{Source: "api"}, "api"},
		{client.AuditEntry{Source: "ttl"}, "ttl"},
		{client.AuditEntry{Source: "command", StaffID: "0420", Nick: "Wang Fang"}, "Wang Fang (0420)"},
		{client.AuditEntry{Source: "command", StaffID: "0420"}, "0420"},
		{client.AuditEntry{Source: "command"}, "command"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, who(tc.entry))
	}
}

func TestStatusCode(t *testing.T) {
	cases := map[int]int{
		400: ExitUsage, 401: ExitUsage, 404: ExitUsage, 413: ExitUsage,
		409: ExitFailed, 429: ExitFailed,
		500: ExitUnavailable, 502: ExitUnavailable, 503: ExitUnavailable, 504: ExitUnavailable,
	}
	for status, want := range cases {
		require.Equal(t, want, statusCode(status), "status %d", status)
	}
}

func TestDescribe(t *testing.T) {
	cases := []struct {
		err  *client.Error
		want string
	}{
		{&client.Error{Status: 400, Code: "invalid_request", Message: "text: is empty"}, "dingrecall API: 400 invalid_request: text: is empty"},
		{&client.Error{Status: 503, Code: "busy", Message: "retry later", RequestID: "r1"}, "dingrecall API: 503 busy: retry later (retry later; request r1)"},
		{&client.Error{Status: 429, Code: "burst", Message: "slow down", RetryAfter: 1500 * time.Millisecond}, "dingrecall API: 429 burst: slow down (retry after 2s)"},
		{&client.Error{Status: 409, Code: "duplicate", Message: "sent already", ProcessQueryKey: "k1"}, "dingrecall API: 409 duplicate: sent already (the first message's key: k1)"},
	}
	for _, tc := range cases {
		err := describe(tc.err)
		require.Equal(t, tc.want, err.Error())
		var e *client.Error
		require.ErrorAs(t, err, &e)
	}
}

func TestPrintMessagesNotes(t *testing.T) {
	var b strings.Builder
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	require.NoError(t, printMessages(&b, "cid==", []client.TrackedMessage{
		{ProcessQueryKey: "k2", SentAt: at, Reply: true, MsgKey: "sampleText", MsgParam: `{"content":"3 recalled"}`},
		{ProcessQueryKey: "k1", SentAt: at, Tag: "t", Failure: "bot.stopped", ExpiresAt: at.Add(time.Hour), MsgKey: "sampleText", MsgParam: `{"content":"hi"}`},
	}))
	require.Equal(t, "KEY  SENT                  TAG  CONTENT       NOTE\n"+
		"k2   2026-11-26T10:00:00Z  -    \"3 recalled\"  command reply\n"+
		"k1   2026-11-26T10:00:00Z  t    \"hi\"          auto-recall at 2026-11-26T11:00:00Z; last recall failed: bot.stopped\n", b.String())
}

// brokenWriter fails every write.
type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteErrorsExit1(t *testing.T) {
	for name, err := range map[string]error{
		"json":     printJSON(brokenWriter{}, []int{1}),
		"recall":   printRecall(brokenWriter{}, &client.RecallResult{}),
		"messages": printMessages(brokenWriter{}, "c", nil),
		"audit":    printAudit(brokenWriter{}, nil),
	} {
		var ee *exitError
		require.ErrorAs(t, err, &ee, name)
		require.Equal(t, ExitFailed, ee.code, name)
		require.ErrorContains(t, err, "broken pipe", name)
	}
}
