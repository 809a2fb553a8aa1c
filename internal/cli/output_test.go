package cli

import (
	"errors"
	"fmt"
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
	resetsOn := time.Date(2026, 12, 1, 0, 0, 0, 0, time.FixedZone("UTC+8", 8*60*60))
	cases := []struct {
		err  *client.Error
		want string
	}{
		{&client.Error{Status: 400, Code: "invalid_request", Message: "text: is empty"}, "dingrecall API: 400 invalid_request: text: is empty"},
		{&client.Error{Status: 503, Code: "busy", Message: "retry later", RequestID: "r1"}, "dingrecall API: 503 busy: retry later (retry later; request r1)"},
		{&client.Error{Status: 429, Code: "burst", Message: "slow down", RetryAfter: 1500 * time.Millisecond}, "dingrecall API: 429 burst: slow down (retry after 2s)"},
		{&client.Error{Status: 409, Code: "duplicate", Message: "sent already", ProcessQueryKey: "k1"}, "dingrecall API: 409 duplicate: sent already (the first message's key: k1)"},
		{&client.Error{Status: 503, Code: client.CodeIPBanned, Message: "banned", RetryAfter: 5 * time.Minute}, "dingrecall API: 503 dingtalk_ip_banned: banned (retry after 5m0s)"},
		{
			&client.Error{Status: 503, Code: client.CodeQuotaExhausted, Message: "used up; it starts again on 2026-12-01", RetryAfter: 24 * time.Hour, ResetsOn: resetsOn, RequestID: "r2"},
			"dingrecall API: 503 dingtalk_quota_exhausted: used up; it starts again on 2026-12-01 (request r2)",
		},
		{
			&client.Error{Status: 503, Code: client.CodeQuotaExhausted, Message: "used up", RetryAfter: 24 * time.Hour, ResetsOn: resetsOn},
			"dingrecall API: 503 dingtalk_quota_exhausted: used up (DingTalk counts afresh on 2026-12-01)",
		},
		{&client.Error{Status: 503, Code: client.CodeQuotaExhausted, Message: "used up"}, "dingrecall API: 503 dingtalk_quota_exhausted: used up"},
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

func TestCallError(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
	}{
		{"quota exhausted", &client.Error{Status: 503, Code: client.CodeQuotaExhausted, Message: "used up"}, ExitQuota},
		{"quota exhausted, wrapped", fmt.Errorf("send: %w", &client.Error{Status: 503, Code: client.CodeQuotaExhausted}), ExitQuota},
		{"IP ban", &client.Error{Status: 503, Code: client.CodeIPBanned, RetryAfter: 5 * time.Minute}, ExitUnavailable},
		{"busy", &client.Error{Status: 503, Code: client.CodeBusy}, ExitUnavailable},
		{"unknown bot", &client.Error{Status: 400, Code: client.CodeInvalidRequest, Field: "bot"}, ExitUsage},
		{"burst", &client.Error{Status: 429, Code: client.CodeBurst}, ExitFailed},
		{"bad argument", fmt.Errorf("%w: empty", client.ErrInvalidArgument), ExitUsage},
		{"not reached", errors.New("dial tcp: connection refused"), ExitUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ee *exitError
			require.ErrorAs(t, callError(tc.err), &ee)
			require.Equal(t, tc.code, ee.code)
			want := tc.err // an API error is kept, without what wrapped it
			var apiErr *client.Error
			if errors.As(tc.err, &apiErr) {
				want = apiErr
			}
			require.ErrorIs(t, ee, want)
		})
	}
}

func TestPrintMessagesBots(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		msgs []client.TrackedMessage
		want string
	}{
		{
			name: "only the default bot: no BOT column",
			msgs: []client.TrackedMessage{{ProcessQueryKey: "k1", SentAt: at, Bot: "default", MsgKey: "sampleText", MsgParam: `{"content":"hi"}`}},
			want: "KEY  SENT                  TAG  CONTENT  NOTE\n" +
				"k1   2026-11-26T10:00:00Z  -    \"hi\"     \n",
		},
		{
			name: "several bots",
			msgs: []client.TrackedMessage{
				{ProcessQueryKey: "k2", SentAt: at, Bot: "alerts", MsgKey: "sampleText", MsgParam: `{"content":"disk full"}`},
				{ProcessQueryKey: "k1", SentAt: at, Bot: "default", Tag: "t", MsgKey: "sampleText", MsgParam: `{"content":"hi"}`, Reply: true},
			},
			want: "KEY  BOT      SENT                  TAG  CONTENT      NOTE\n" +
				"k2   alerts   2026-11-26T10:00:00Z  -    \"disk full\"  \n" +
				"k1   default  2026-11-26T10:00:00Z  t    \"hi\"         command reply\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, printMessages(&b, "cid==", tc.msgs))
			require.Equal(t, tc.want, b.String())
		})
	}
}

func TestPrintAuditBots(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var b strings.Builder
	require.NoError(t, printAudit(&b, []client.AuditEntry{
		{At: at, Action: "recall", Source: "api", ConversationID: "cid==", Request: "last 1", Bot: "alerts",
			Items: []client.AuditItem{{ProcessQueryKey: "k2", Result: "recalled", MsgKey: "sampleText", MsgParam: `{"content":"disk full"}`}}},
		{At: at, Action: "recall", Source: "api", Request: "tag t", Bot: "deploys"},
		{At: at, Action: "recall", Source: "ttl", ConversationID: "cid==", Request: "ttl", Bot: "default"},
		{At: at, Action: "recall", Source: "ttl", ConversationID: "cid==", Request: "ttl"},
	}))
	require.Equal(t, "2026-11-26T10:00:00Z recall by api in cid== for alerts: last 1\n"+
		"  recalled k2 \"disk full\"\n"+
		"2026-11-26T10:00:00Z recall by api for deploys: tag t\n"+
		"2026-11-26T10:00:00Z recall by ttl in cid==: ttl\n"+
		"2026-11-26T10:00:00Z recall by ttl in cid==: ttl\n", b.String())
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

// A recall DingTalk refused for the spent monthly quota says when the
// quota starts again, after the counts.
func TestPrintRecallQuota(t *testing.T) {
	var b strings.Builder
	res := &client.RecallResult{
		Selected: []string{"k2", "k1"}, Recalled: []string{"k2"},
		Failed:      map[string]string{"k1": "monthly API quota used up"},
		FailedCodes: map[string]string{"k1": "Forbidden.AccessDenied.ApiCountLimitForOrg"},
		ResetsOn:    "2026-12-01",
	}
	require.NoError(t, printRecall(&b, res))
	require.Equal(t, "recalled k2\nfailed k1: monthly API quota used up\n2 selected, 1 recalled, 1 failed\n"+
		"DingTalk's monthly API quota is used up; it starts again on 2026-12-01\n", b.String())
}
