package templates_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// help is sample help data.
var help = templates.HelpData{Max: 100, Text: "dance", Commands: []templates.HelpLine{
	{Usage: "recall [N]", Summary: "recall my last N messages"},
	{Usage: "help", Summary: "this help"},
}}

// cases are the replies rendered in every language, with sample data.
var cases = []struct {
	file string
	name string
	data any
}{
	{"help", templates.Help, help},
	{"help-several-bots", templates.Help, templates.HelpData{Max: 100, Commands: help.Commands, Bots: []string{"alerts", "deploys"}}},
	{"recall-done-all", templates.RecallDone, templates.RecallData{Asked: 3, Found: 3, Recalled: 3}},
	{"recall-done-one", templates.RecallDone, templates.RecallData{Asked: 1, Found: 1, Recalled: 1}},
	{"recall-done-fewer", templates.RecallDone, templates.RecallData{Asked: 5, Found: 2, Recalled: 2}},
	{"recall-done-failures", templates.RecallDone, templates.RecallData{Asked: 3, Found: 3, Recalled: 1, Chat: "ops-alerts", Failures: []templates.Failure{
		{Preview: "deploy v1.2.3 started", Reason: "this bot is disabled in DingTalk"},
		{Preview: "disk full on db-1", Reason: "message already recalled"},
	}}},
	{"recall-nothing", templates.RecallNothing, templates.RecallData{Asked: 3}},
	{"recall-nothing-too-old", templates.RecallNothing, templates.RecallData{Asked: 3, TooOld: 2, MaxAge: "24h"}},
	{"recall-done-too-old", templates.RecallDone, templates.RecallData{Asked: 5, Found: 3, Recalled: 3, TooOld: 2, MaxAge: "24h"}},
	{"recall-done-since", templates.RecallDone, templates.RecallData{Found: 4, Recalled: 4, Window: "10m"}},
	{"recall-done-tag", templates.RecallDone, templates.RecallData{Found: 2, Recalled: 2, Tag: "deploy-42"}},
	{"recall-nothing-since", templates.RecallNothing, templates.RecallData{Window: "30s"}},
	{"recall-done-in-flight", templates.RecallDone, templates.RecallData{Asked: 5, Found: 2, Recalled: 2, InFlight: 3}},
	{"recall-done-in-flight-one", templates.RecallDone, templates.RecallData{Asked: 5, Found: 3, Recalled: 3, InFlight: 1}},
	{"recall-nothing-in-flight", templates.RecallNothing, templates.RecallData{Asked: 5, InFlight: 5}},
	{"preview", templates.Preview, templates.PreviewData{Asked: 3, Count: 2, From: "11-26 10:00:00", To: "11-26 10:05:00", Lines: []string{"disk full on db-1", "deploy v1.2.3"}}},
	{"preview-confirm", templates.Preview, templates.PreviewData{Asked: 30, Count: 2, Chat: "ops-alerts", From: "11-26 10:00:00", To: "11-26 10:05:00", Lines: []string{"a", "b"}, Confirm: true, Within: "2m"}},
	{"preview-since", templates.Preview, templates.PreviewData{Since: "1h", Count: 1, From: "11-26 10:00:00", To: "11-26 10:00:00", Lines: []string{"a"}, Confirm: true, Within: "2m"}},
	{"confirm-nothing", templates.NothingToConfirm, nil},
	{"retry-done", templates.RetryDone, templates.RecallData{Found: 2, Recalled: 1, Failures: []templates.Failure{{Preview: "disk full", Reason: "this bot is disabled in DingTalk"}}}},
	{"retry-nothing", templates.NothingToRetry, templates.RecallData{}},
	{"audit-log", templates.AuditLog, templates.AuditData{Entries: []templates.AuditLine{
		{When: "11-26 10:00:00", Action: "recall", Source: "command", Who: "Wang Fang", Request: "recall 3", Done: 2, Failed: 1},
		{When: "11-26 09:00:00", Action: "restore", Source: "command", Who: "Li Lei", Request: "restore", Done: 2},
		{When: "11-26 08:00:00", Action: "recall", Source: "api", Request: "last 5", Done: 5},
	}}},
	{"audit-empty", templates.AuditEmpty, templates.AuditData{Chat: "ops-alerts"}},
	{"restore-done", templates.RestoreDone, templates.RestoreData{Total: 3, Resent: 2, Failures: []templates.Failure{{Preview: "deploy", Reason: "this bot is disabled in DingTalk"}}}},
	{"restore-nothing", templates.NothingToRestore, templates.RestoreData{}},
	{"restore-too-late", templates.RestoreTooLate, templates.RestoreData{Window: "10m"}},
	{"burst", templates.BurstNotice, templates.BurstData{Limit: 20, RetryAfter: "42s"}},
	{"burst-recalled", templates.BurstNotice, templates.BurstData{Limit: 20, RetryAfter: "1m", Recalled: true}},
	{"missing-tag", templates.MissingTag, nil},
	{"bad-duration", templates.BadDuration, templates.ErrorData{Arg: "soon"}},
	{"recall-nothing-in", templates.RecallNothing, templates.RecallData{Asked: 3, Chat: "ops-alerts"}},
	{"chats", templates.Chats, templates.ChatsData{Chats: []templates.ChatLine{{ID: "cidA==", Title: "ops-alerts", Count: 12}, {ID: "staff-9", Count: 1}}}},
	{"chats-empty", templates.ChatsEmpty, templates.ChatsData{}},
	{"chats-for-bot", templates.Chats, templates.ChatsData{Bot: "deploys", Chats: []templates.ChatLine{{ID: "cidA==", Title: "ops-alerts", Count: 3}}}},
	{"chats-empty-for-bot", templates.ChatsEmpty, templates.ChatsData{Bot: "deploys"}},
	{"refuse-recall", templates.RefuseRecall, templates.ErrorData{Nick: "Guest", Command: "recall", GroupAdmins: true}},
	{"refuse-recall-no-group-admins", templates.RefuseRecall, templates.ErrorData{Nick: "Guest"}},
	{"missing-chat", templates.MissingChat, templates.ErrorData{Command: "recall"}},
	{"missing-chat-restore", templates.MissingChat, templates.ErrorData{Command: "restore"}},
	{"refuse-restore", templates.RefuseRecall, templates.ErrorData{Nick: "Guest", Command: "restore", GroupAdmins: true}},
	{"not-whole", templates.NotWhole, templates.ErrorData{Arg: "1.5", Max: 100}},
	{"missing-duration", templates.MissingDuration, templates.ErrorData{}},
	{"did-you-mean", templates.DidYouMean, templates.ErrorData{Arg: "recal 3", Suggestion: "recall 3"}},
	{"unknown-chat-known", templates.UnknownChat, templates.ErrorData{Chat: "nowhere", Known: []templates.ChatLine{{ID: "cidA==", Title: "ops-alerts"}, {ID: "staff-9"}}}},
	{"unknown-chat-more", templates.UnknownChat, templates.ErrorData{Chat: "nowhere", Known: []templates.ChatLine{{ID: "cidA==", Title: "ops-alerts"}}, More: 4}},
	{"refuse-admin", templates.RefuseAdmin, templates.ErrorData{Nick: "Wang Fang"}},
	{"only-one-to-one", templates.OnlyOneToOne, templates.ErrorData{Command: "recall"}},
	{"only-one-to-one-restore", templates.OnlyOneToOne, templates.ErrorData{Command: "restore"}},
	{"bad-number", templates.BadNumber, templates.ErrorData{Arg: "three", Max: 100}},
	{"out-of-range", templates.OutOfRange, templates.ErrorData{Arg: "100000", Max: 100}},
	{"unknown-chat", templates.UnknownChat, templates.ErrorData{Chat: "nowhere"}},
	{"ambiguous-chat", templates.AmbiguousChat, templates.ErrorData{Chat: "ops", Matches: 2}},
	{"unknown-command", templates.UnknownCommand, help},
	{"not-text", templates.NotText, help},
	{"store-unavailable", templates.StoreDown, nil},
	{"preview-quoted", templates.Preview, templates.PreviewData{Asked: 1, Quoted: true, Count: 1, From: "11-26 10:00:00", To: "11-26 10:00:00", Lines: []string{"ALERT disk 91% on db-3"}}},
	{"preview-quoted-three", templates.Preview, templates.PreviewData{Asked: 3, Quoted: true, Count: 3, From: "11-26 10:00:00", To: "11-26 10:00:02", Lines: []string{"c", "b", "a"}}},
	{"quote-not-mine", templates.QuoteNotMine, templates.QuoteData{Asked: 1}},
	{"quote-untracked", templates.QuoteUntracked, templates.QuoteData{Asked: 1, Window: "3s", Kept: "24h"}},
	{"quote-untracked-unknown", templates.QuoteUntracked, templates.QuoteData{Asked: 1, Unknown: true}},
	{"quote-choose", templates.QuoteChoose, templates.QuoteData{Asked: 1, Window: "3s", Within: "2m", Lines: []templates.QuoteLine{
		{N: 1, When: "11-26 10:00:00", Preview: "ALERT disk 91% on db-3"}, {N: 2, When: "11-26 10:00:01", Preview: "ALERT disk 91% on db-3"},
	}}},
	{"quote-choose-three", templates.QuoteChoose, templates.QuoteData{Asked: 3, Window: "3s", Within: "2m", Lines: []templates.QuoteLine{
		{N: 1, When: "11-26 10:00:00", Preview: "a"}, {N: 2, When: "11-26 10:00:01", Preview: "b"},
	}}},
	{"quote-choose-more", templates.QuoteChoose, templates.QuoteData{Asked: 1, Window: "3s", Within: "2m", More: 5, Lines: []templates.QuoteLine{
		{N: 1, When: "11-26 10:00:00", Preview: "a"}, {N: 2, When: "11-26 10:00:01", Preview: "b"},
	}}},
	{"quote-pick", templates.QuotePick, templates.QuoteData{Count: 2, Arg: "5"}},
	{"quota-warning", templates.QuotaWarning, templates.QuotaData{Bot: "alerts", Used: 8000, Limit: 10000, Percent: 80, ResetsOn: "2026-12-01"}},
}

func TestGolden(t *testing.T) {
	for _, lang := range templates.Languages {
		set, err := templates.Load(lang)
		require.NoError(t, err)
		for _, tc := range cases {
			t.Run(lang+"/"+tc.file, func(t *testing.T) {
				got, err := set.Render(tc.name, tc.data)
				require.NoError(t, err)
				require.NotEmpty(t, got)
				path := filepath.Join("testdata", "golden", lang, tc.file+".txt")
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, []byte(got+"\n"), 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "run go test ./templates -update to create the golden file")
				assert.Equal(t, strings.TrimSuffix(string(want), "\n"), got)
			})
		}
	}
}

func TestEveryLanguageDefinesTheSameReplies(t *testing.T) {
	for _, lang := range templates.Languages {
		_, err := templates.Load(lang, templates.Names...)
		require.NoError(t, err, lang)
	}
}

func TestLoadRejects(t *testing.T) {
	_, err := templates.Load("fr")
	require.ErrorContains(t, err, "unknown language")
	_, err = templates.Load("en", "no-such-template")
	require.ErrorContains(t, err, "lacks no-such-template")
}

func TestExplain(t *testing.T) {
	en, err := templates.Load("en")
	require.NoError(t, err)
	zh, err := templates.Load("zh")
	require.NoError(t, err)
	tests := []struct {
		code, message string
		en, zh        string
	}{
		{"bot.stopped", "robot disabled", "this bot is disabled in DingTalk", "该机器人已在钉钉中被停用"},
		{"bot.stopped", "", "this bot is disabled in DingTalk", "该机器人已在钉钉中被停用"},
		{"system.error", "unknown", "DingTalk had an internal error; try again later", "钉钉内部错误，请稍后再试"},
		{"", "message already recalled", "message already recalled", "message already recalled"},
		{"some.newCode", "what DingTalk said", "some.newCode: what DingTalk said", "some.newCode: what DingTalk said"},
		{"dingrecall.notTracked", "not tracked here", "not tracked here", "not tracked here"},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code+" "+tt.message, func(t *testing.T) {
			assert.Equal(t, tt.en, en.Explain(tt.code, tt.message))
			assert.Equal(t, tt.zh, zh.Explain(tt.code, tt.message))
		})
	}
}

// The quota codes say when the quota starts again when ExplainWith knows
// it, and nothing of it when Explain does not; the ban page is explained
// whatever the data.
func TestExplainWith(t *testing.T) {
	en, err := templates.Load("en")
	require.NoError(t, err)
	zh, err := templates.Load("zh")
	require.NoError(t, err)
	const spent = "the organisation's monthly DingTalk API quota is used up"
	const spentZh = "本组织本月的钉钉接口调用额度已用完"
	data := templates.CodeData{ResetsOn: "2026-12-01"}
	tests := []struct {
		name, code, message string
		data                *templates.CodeData // nil: Explain
		en, zh              string
	}{
		{"quota with the day", "Forbidden.AccessDenied.ApiCountLimitForOrg", "您的企业本月api调用量已超过限制", &data,
			spent + "; it starts again on 2026-12-01", spentZh + "，2026-12-01 起恢复"},
		{"legacy quota with the day", "90020", "api调用量已超过限制", &data,
			spent + "; it starts again on 2026-12-01", spentZh + "，2026-12-01 起恢复"},
		{"quota without data", "Forbidden.AccessDenied.ApiCountLimitForOrg", "x", nil, spent, spentZh},
		{"legacy quota without data", "90020", "x", nil, spent, spentZh},
		{"quota with an empty day", "90020", "x", &templates.CodeData{}, spent, spentZh},
		{"ban page", "ip.banned", "DingTalk answered with an HTML page", &data,
			"DingTalk is refusing calls from this server for a few minutes (its IP ban page); I wait 5 minutes before calling again",
			"钉钉暂时拒绝来自本服务器的调用（IP 封禁页面），我会等待 5 分钟后再调用"},
		{"ban page without data", "ip.banned", "", nil,
			"DingTalk is refusing calls from this server for a few minutes (its IP ban page); I wait 5 minutes before calling again",
			"钉钉暂时拒绝来自本服务器的调用（IP 封禁页面），我会等待 5 分钟后再调用"},
		{"another code ignores the data", "bot.stopped", "robot disabled", &data, "this bot is disabled in DingTalk", "该机器人已在钉钉中被停用"},
		{"an unknown code with data", "some.newCode", "said", &data, "some.newCode: said", "some.newCode: said"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				set  *templates.Set
				want string
			}{{en, tt.en}, {zh, tt.zh}} {
				var got string
				if tt.data == nil {
					got = c.set.Explain(tt.code, tt.message)
				} else {
					got = c.set.ExplainWith(tt.code, tt.message, *tt.data)
				}
				assert.Equal(t, c.want, got, c.set.Lang())
			}
		})
	}
}

func TestRenderUnknownName(t *testing.T) {
	en, err := templates.Load("en")
	require.NoError(t, err)
	_, err = en.Render("nope", nil)
	require.Error(t, err)
}

func TestMissing(t *testing.T) {
	en, err := templates.Load("en")
	require.NoError(t, err)
	assert.Empty(t, en.Missing(templates.Names...))
	assert.Equal(t, []string{"nope", "cmd:nope"}, en.Missing(templates.Help, "nope", "cmd:nope"))
}
