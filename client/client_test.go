package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/client"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/internal/apptest"
)

// newClient is a client of s with opts.
func newClient(t *testing.T, s *server, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, s.Token, opts...)
	require.NoError(t, err)
	return c
}

// apiError asserts err is an *client.Error and returns it.
func apiError(t *testing.T, err error) *client.Error {
	t.Helper()
	var e *client.Error
	require.ErrorAs(t, err, &e)
	return e
}

func TestNewValidatesOptions(t *testing.T) {
	cases := []struct {
		name  string
		base  string
		token string
		opts  []client.Option
		ok    bool
	}{
		{"plain", "http://127.0.0.1:8080", "tok", nil, true},
		{"https with a path prefix", "https://ops.example.com/dingrecall/", "tok", nil, true},
		{"options", "http://h", "tok", []client.Option{client.WithTimeout(time.Second), client.WithHTTPClient(&http.Client{})}, true},
		{"empty URL", "", "tok", nil, false},
		{"no scheme", "localhost:8080", "tok", nil, false},
		{"ftp", "ftp://h", "tok", nil, false},
		{"no host", "http://", "tok", nil, false},
		{"user in URL", "http://me:pw@h", "tok", nil, false},
		{"query", "http://h/?a=1", "tok", nil, false},
		{"fragment", "http://h/#x", "tok", nil, false},
		{"unparsable", "http://h:port/", "tok", nil, false},
		{"empty token", "http://h", "", nil, false},
		{"blank token", "http://h", "  ", nil, false},
		{"token with a newline", "http://h", "tok\nX-Evil: 1", nil, false},
		{"nil HTTP client", "http://h", "tok", []client.Option{client.WithHTTPClient(nil)}, false},
		{"zero timeout", "http://h", "tok", []client.Option{client.WithTimeout(0)}, false},
		{"negative timeout", "http://h", "tok", []client.Option{client.WithTimeout(-time.Second)}, false},
		{"bot", "http://h", "tok", []client.Option{client.WithBot("alerts")}, true},
		{"empty bot", "http://h", "tok", []client.Option{client.WithBot("")}, false},
		{"bot with a space", "http://h", "tok", []client.Option{client.WithBot("al erts")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.base, tc.token, tc.opts...)
			if tc.ok {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorIs(t, err, client.ErrInvalidOption)
			require.Nil(t, c)
			require.NotContains(t, err.Error(), "pw", "the error must not show a password")
		})
	}
}

func TestSendAndList(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	ctx := context.Background()

	text, err := c.Send(ctx, client.Message{ConversationID: "cidOps==", Text: "deploy v1.2.3 started", Tag: "deploy-7"})
	require.NoError(t, err)
	require.NotEmpty(t, text.ProcessQueryKey)
	require.Equal(t, "cidOps==", text.ConversationID)
	require.WithinDuration(t, time.Now(), text.SentAt, time.Minute)
	require.True(t, text.ExpiresAt.IsZero())

	md, err := c.Send(ctx, client.Message{ConversationID: "cidOps==", Markdown: &client.Markdown{Title: "deploy", Text: "**v1.2.3** is out"}, TTL: 10 * time.Minute})
	require.NoError(t, err)
	require.WithinDuration(t, md.SentAt.Add(10*time.Minute), md.ExpiresAt, time.Second)

	raw, err := c.Send(ctx, client.Message{ConversationID: "cidOps==", MsgKey: "sampleText", MsgParam: `{"content":"raw form"}`})
	require.NoError(t, err)

	oto, err := c.Send(ctx, client.Message{ChatType: client.ChatOTO, UserID: "staff-9", Text: "just you"})
	require.NoError(t, err)
	require.Equal(t, "staff-9", oto.ConversationID)

	msgs, err := c.Messages(ctx, "cidOps==", 0)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	require.Equal(t, []string{raw.ProcessQueryKey, md.ProcessQueryKey, text.ProcessQueryKey},
		[]string{msgs[0].ProcessQueryKey, msgs[1].ProcessQueryKey, msgs[2].ProcessQueryKey}, "newest first")
	require.Equal(t, "deploy-7", msgs[2].Tag)
	require.Equal(t, client.ChatGroup, msgs[2].ChatType)
	require.Equal(t, "sampleText", msgs[2].MsgKey)
	require.JSONEq(t, `{"content":"deploy v1.2.3 started"}`, msgs[2].MsgParam)
	require.True(t, msgs[2].ExpiresAt.IsZero())
	require.Equal(t, md.ExpiresAt, msgs[1].ExpiresAt)
	require.Equal(t, text.SentAt, msgs[2].SentAt)

	limited, err := c.Messages(ctx, "cidOps==", 1)
	require.NoError(t, err)
	require.Len(t, limited, 1)

	mine, err := c.Messages(ctx, "staff-9", 0)
	require.NoError(t, err)
	require.Len(t, mine, 1)
	require.Equal(t, client.ChatOTO, mine[0].ChatType)

	none, err := c.Messages(ctx, "cidNobody==", 0)
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)

	_, err = c.Messages(ctx, "", 0)
	require.ErrorIs(t, err, client.ErrInvalidArgument)
}

func TestConversationIDIsEscapedInThePath(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	ctx := context.Background()
	const odd = "cid/with/slash+and?query#=="
	sent, err := c.Send(ctx, client.Message{ConversationID: odd, Text: "odd chat"})
	require.NoError(t, err)
	msgs, err := c.Messages(ctx, odd, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, sent.ProcessQueryKey, msgs[0].ProcessQueryKey)
	require.Equal(t, odd, msgs[0].ConversationID)
}

func TestRecall(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	ctx := context.Background()
	send := func(conv, text, tag string) string {
		t.Helper()
		sent, err := c.Send(ctx, client.Message{ConversationID: conv, Text: text, Tag: tag})
		require.NoError(t, err)
		return sent.ProcessQueryKey
	}
	a1, a2, a3 := send("cidA==", "a1", "deploy-1"), send("cidA==", "a2", ""), send("cidA==", "a3", "")
	b1 := send("cidB==", "b1", "deploy-1")

	t.Run("dry run of a tag across chats recalls nothing", func(t *testing.T) {
		res, err := c.DryRun(ctx, client.Tag("deploy-1"))
		require.NoError(t, err)
		require.True(t, res.DryRun)
		require.ElementsMatch(t, []string{a1, b1}, res.Selected)
		require.Empty(t, res.Recalled)
		require.True(t, res.Complete())
		require.Empty(t, s.Fake.Recalled())
	})
	t.Run("tag in one chat", func(t *testing.T) {
		res, err := c.DryRun(ctx, client.Selection{Tag: "deploy-1", ConversationID: "cidB=="})
		require.NoError(t, err)
		require.Equal(t, []string{b1}, res.Selected)
	})
	t.Run("last", func(t *testing.T) {
		res, err := c.Recall(ctx, client.Last("cidA==", 1))
		require.NoError(t, err)
		require.False(t, res.DryRun)
		require.Equal(t, []string{a3}, res.Selected)
		require.Equal(t, []string{a3}, res.Recalled)
		require.True(t, res.Complete())
	})
	t.Run("keys, one unknown and one refused by DingTalk", func(t *testing.T) {
		s.Fake.FailKey(a2, "the message is too old to recall")
		res, err := c.Recall(ctx, client.Keys("cidA==", a2, "no-such-key"))
		require.NoError(t, err)
		require.False(t, res.Complete())
		require.Empty(t, res.Recalled)
		require.Contains(t, res.Failed, "no-such-key")
		require.Contains(t, res.Failed[a2], "too old")
		require.Equal(t, "dingrecall.notTracked", res.FailedCodes["no-such-key"], "codes come as data")
		require.NotContains(t, res.FailedCodes, a2, "DingTalk gave only words for it")
		s.Fake.ClearKeyFailure(a2)
	})
	t.Run("since", func(t *testing.T) {
		res, err := c.Recall(ctx, client.Since("cidA==", time.Hour))
		require.NoError(t, err)
		require.Equal(t, []string{a2, a1}, res.Selected)
		require.ElementsMatch(t, []string{a1, a2}, res.Recalled)
	})
	t.Run("tag", func(t *testing.T) {
		res, err := c.Recall(ctx, client.Tag("deploy-1"))
		require.NoError(t, err)
		require.Equal(t, []string{b1}, res.Recalled)
		sorted := append([]string(nil), s.Fake.Recalled()...)
		sort.Strings(sorted)
		want := []string{a1, a2, a3, b1}
		sort.Strings(want)
		require.Equal(t, want, sorted)
	})
	t.Run("nothing selected", func(t *testing.T) {
		res, err := c.Recall(ctx, client.Tag("deploy-1"))
		require.NoError(t, err)
		require.Empty(t, res.Selected)
		require.NotNil(t, res.Failed)
		require.True(t, res.Complete())
	})
	t.Run("bad selections answer the server's 400", func(t *testing.T) {
		cases := []struct {
			name  string
			sel   client.Selection
			field string
		}{
			{"none", client.Selection{ConversationID: "cidA=="}, "body"},
			{"two", client.Selection{ConversationID: "cidA==", Last: 1, Tag: "x"}, "body"},
			{"last without a chat", client.Selection{Last: 1}, "conversationId"},
			{"last too large", client.Last("cidA==", 100000), "last"},
			{"negative last", client.Last("cidA==", -1), "last"},
			{"since too long", client.Since("cidA==", 48*time.Hour), "since"},
			{"chat and user", client.Selection{ConversationID: "cidA==", UserID: "u", Last: 1}, "userId"},
			{"empty key", client.Keys("cidA==", "k", " "), "keys[1]"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.Recall(ctx, tc.sel)
				e := apiError(t, err)
				require.Equal(t, http.StatusBadRequest, e.Status)
				require.Equal(t, client.CodeInvalidRequest, e.Code)
				require.Equal(t, tc.field, e.Field)
				require.False(t, e.Retryable())
				require.NotEmpty(t, e.RequestID)
			})
		}
	})
}

func TestAudit(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	ctx := context.Background()
	sent, err := c.Send(ctx, client.Message{ConversationID: "cidAudit==", Text: "audited", Tag: "rel-3"})
	require.NoError(t, err)
	_, err = c.Send(ctx, client.Message{ConversationID: "cidOther==", Text: "elsewhere"})
	require.NoError(t, err)
	_, err = c.Recall(ctx, client.Last("cidOther==", 1))
	require.NoError(t, err)
	_, err = c.Recall(ctx, client.Tag("rel-3"))
	require.NoError(t, err)

	all, err := c.Audit(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "tag rel-3", all[0].Request, "newest first")

	entries, err := c.Audit(ctx, "cidAudit==", 10)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	e := entries[0]
	require.Equal(t, "recall", e.Action)
	require.Equal(t, "api", e.Source)
	require.NotEmpty(t, e.ID)
	require.WithinDuration(t, time.Now(), e.At, time.Minute)
	require.Len(t, e.Items, 1)
	require.Equal(t, sent.ProcessQueryKey, e.Items[0].ProcessQueryKey)
	require.Equal(t, "recalled", e.Items[0].Result)
	require.Equal(t, "rel-3", e.Items[0].Tag)
	require.Equal(t, client.ChatGroup, e.Items[0].ChatType)

	one, err := c.Audit(ctx, "", 1)
	require.NoError(t, err)
	require.Len(t, one, 1)

	_, err = c.Audit(ctx, "", 5000)
	require.Equal(t, "limit", apiError(t, err).Field)

	empty, err := c.Audit(ctx, "cidNever==", 0)
	require.NoError(t, err)
	require.NotNil(t, empty)
	require.Empty(t, empty)
}

func TestErrors(t *testing.T) {
	s := newServer(t, map[string]string{"DUPLICATE_WINDOW": "1m", "BURST_LIMIT": "2"})
	c := newClient(t, s)
	ctx := context.Background()

	t.Run("wrong token", func(t *testing.T) {
		bad, err := client.New(s.URL, "not-the-token")
		require.NoError(t, err)
		_, err = bad.Messages(ctx, "cidX==", 0)
		e := apiError(t, err)
		require.Equal(t, http.StatusUnauthorized, e.Status)
		require.Equal(t, client.CodeUnauthorized, e.Code)
		require.False(t, e.Retryable())
		require.NotContains(t, err.Error(), "not-the-token")
	})
	t.Run("bad field", func(t *testing.T) {
		_, err := c.Send(ctx, client.Message{Text: "no chat"})
		e := apiError(t, err)
		require.Equal(t, http.StatusBadRequest, e.Status)
		require.Equal(t, "conversationId", e.Field)
		require.Contains(t, e.Error(), "400 invalid_request: conversationId: is required")
	})
	t.Run("duplicate names the first key", func(t *testing.T) {
		first, err := c.Send(ctx, client.Message{ConversationID: "cidDup==", Text: "same"})
		require.NoError(t, err)
		_, err = c.Send(ctx, client.Message{ConversationID: "cidDup==", Text: "same"})
		e := apiError(t, err)
		require.Equal(t, http.StatusConflict, e.Status)
		require.Equal(t, client.CodeDuplicate, e.Code)
		require.Equal(t, first.ProcessQueryKey, e.ProcessQueryKey)
		require.False(t, e.Retryable())
	})
	t.Run("burst is retryable after Retry-After", func(t *testing.T) {
		for i := range 2 {
			_, err := c.Send(ctx, client.Message{ConversationID: "cidBurst==", Text: "burst " + string(rune('a'+i))})
			require.NoError(t, err)
		}
		_, err := c.Send(ctx, client.Message{ConversationID: "cidBurst==", Text: "one too many"})
		e := apiError(t, err)
		require.Equal(t, http.StatusTooManyRequests, e.Status)
		require.Equal(t, client.CodeBurst, e.Code)
		require.True(t, e.Retryable())
		require.Greater(t, e.RetryAfter, time.Duration(0))
		require.LessOrEqual(t, e.RetryAfter, time.Minute)
	})
	t.Run("DingTalk refusal is a 502 with DingTalk's code", func(t *testing.T) {
		s.Fake.FailCallWith(dingtalktest.PathGroupSend, 1, http.StatusBadRequest, "bot.stopped", "this bot is disabled")
		_, err := c.Send(ctx, client.Message{ConversationID: "cidStopped==", Text: "refused"})
		e := apiError(t, err)
		require.Equal(t, http.StatusBadGateway, e.Status)
		require.Equal(t, "bot.stopped", e.Code)
		require.Equal(t, "this bot is disabled", e.Message)
		require.False(t, e.Retryable())
	})
}

func TestTimeoutAndCancel(t *testing.T) {
	s := newServer(t, nil)
	s.Fake.SetLatency(10 * time.Second)
	ctx := context.Background()

	short := newClient(t, s, client.WithTimeout(100*time.Millisecond))
	_, err := short.Send(ctx, client.Message{ConversationID: "cidSlow==", Text: "slow"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var e *client.Error
	require.False(t, errors.As(err, &e), "no answer is not an API error")

	c := newClient(t, s)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Send(cancelled, client.Message{ConversationID: "cidSlow==", Text: "slow"})
	require.ErrorIs(t, err, context.Canceled)
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := client.New("http://"+addr, "tok")
	require.NoError(t, err)
	_, err = c.Recall(context.Background(), client.Tag("x"))
	require.Error(t, err)
	var e *client.Error
	require.False(t, errors.As(err, &e))
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)
}

// newBotsServer runs the app with the bots named names beside the default
// one (a BOTS_FILE), on a fake DingTalk that knows each bot's app.
func newBotsServer(t *testing.T, env map[string]string, names ...string) *server {
	t.Helper()
	path, opts := apptest.BotsFile(t, names...)
	vars := map[string]string{"BOTS_FILE": path}
	for k, v := range env {
		vars[k] = v
	}
	return apptest.New(t, testToken, vars, opts...)
}

func TestSeveralBots(t *testing.T) {
	s := newBotsServer(t, nil, "alerts", "deploys")
	c := newClient(t, s)
	alerts := newClient(t, s, client.WithBot("alerts"))
	require.Equal(t, "alerts", alerts.Bot())
	require.Empty(t, c.Bot())
	ctx := context.Background()
	send := func(c *client.Client, m client.Message) *client.Sent {
		t.Helper()
		sent, err := c.Send(ctx, m)
		require.NoError(t, err)
		return sent
	}

	byDefault := send(c, client.Message{ConversationID: "cidShared==", Text: "from the default bot", Tag: "rel-1"})
	require.Equal(t, "default", byDefault.Bot)
	byAlerts := send(alerts, client.Message{ConversationID: "cidShared==", Text: "from alerts", Tag: "rel-1"})
	require.Equal(t, "alerts", byAlerts.Bot)
	byDeploys := send(alerts, client.Message{ConversationID: "cidShared==", Text: "from deploys", Tag: "rel-1", Bot: "deploys"})
	require.Equal(t, "deploys", byDeploys.Bot, "the message's bot beats the client's")
	for key, robot := range map[string]string{byAlerts.ProcessQueryKey: "robot-alerts", byDeploys.ProcessQueryKey: "robot-deploys"} {
		m, ok := s.Fake.Message(key)
		require.True(t, ok)
		require.Equal(t, robot, m.RobotCode, "sent through its own app")
	}

	t.Run("a listing without a bot holds every bot's, each named", func(t *testing.T) {
		msgs, err := c.Messages(ctx, "cidShared==", 0)
		require.NoError(t, err)
		bots := map[string]string{}
		for _, m := range msgs {
			bots[m.ProcessQueryKey] = m.Bot
		}
		require.Equal(t, map[string]string{
			byDefault.ProcessQueryKey: "default", byAlerts.ProcessQueryKey: "alerts", byDeploys.ProcessQueryKey: "deploys",
		}, bots)
	})
	t.Run("a client's bot filters the listing", func(t *testing.T) {
		msgs, err := alerts.Messages(ctx, "cidShared==", 0)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, byAlerts.ProcessQueryKey, msgs[0].ProcessQueryKey)
		require.Equal(t, "alerts", msgs[0].Bot)
	})
	t.Run("a recall takes only its bot's messages", func(t *testing.T) {
		res, err := alerts.DryRun(ctx, client.Tag("rel-1"))
		require.NoError(t, err)
		require.Equal(t, []string{byAlerts.ProcessQueryKey}, res.Selected)

		res, err = c.Recall(ctx, client.Selection{Tag: "rel-1", Bot: "deploys"})
		require.NoError(t, err)
		require.Equal(t, []string{byDeploys.ProcessQueryKey}, res.Recalled)
		res, err = c.Recall(ctx, client.Tag("rel-1"))
		require.NoError(t, err)
		require.Equal(t, []string{byDefault.ProcessQueryKey}, res.Recalled, "no bot named: the default bot")
		require.ElementsMatch(t, []string{byDeploys.ProcessQueryKey, byDefault.ProcessQueryKey}, s.Fake.Recalled())
	})
	t.Run("the audit log names the bot and filters by it", func(t *testing.T) {
		all, err := c.Audit(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, []string{"default", "deploys"}, []string{all[0].Bot, all[1].Bot}, "newest first")

		deploys := newClient(t, s, client.WithBot("deploys"))
		mine, err := deploys.Audit(ctx, "cidShared==", 0)
		require.NoError(t, err)
		require.Len(t, mine, 1)
		require.Equal(t, "deploys", mine[0].Bot)
		require.Equal(t, byDeploys.ProcessQueryKey, mine[0].Items[0].ProcessQueryKey)

		none, err := alerts.Audit(ctx, "", 0)
		require.NoError(t, err)
		require.Empty(t, none)
	})
	t.Run("an unknown bot is a 400 naming the field", func(t *testing.T) {
		nobody := newClient(t, s, client.WithBot("nobody"))
		_, err := nobody.Send(ctx, client.Message{ConversationID: "cidShared==", Text: "lost"})
		e := apiError(t, err)
		require.Equal(t, http.StatusBadRequest, e.Status)
		require.Equal(t, client.CodeInvalidRequest, e.Code)
		require.Equal(t, "bot", e.Field)
		_, err = c.Recall(ctx, client.Selection{Tag: "rel-1", Bot: "nobody"})
		require.Equal(t, "bot", apiError(t, err).Field)
		_, err = nobody.Messages(ctx, "cidShared==", 0)
		require.Equal(t, "bot", apiError(t, err).Field)
		_, err = nobody.Audit(ctx, "", 0)
		require.Equal(t, "bot", apiError(t, err).Field)
	})
}

func TestDingTalkRefusals(t *testing.T) {
	s := newBotsServer(t, nil, "alerts")
	c := newClient(t, s)
	alerts := newClient(t, s, client.WithBot("alerts"))
	ctx := context.Background()
	// Each bot has its token before DingTalk starts refusing.
	for _, cl := range []*client.Client{c, alerts} {
		_, err := cl.Send(ctx, client.Message{ConversationID: "cidQ==", Text: "warm-up " + cl.Bot()})
		require.NoError(t, err)
	}

	t.Run("a spent monthly quota", func(t *testing.T) {
		s.Fake.SetOrgQuota(apptest.BotAppKey("alerts"), 0)
		defer s.Fake.SetOrgQuota(apptest.BotAppKey("alerts"), -1)
		before := time.Now()
		_, err := alerts.Send(ctx, client.Message{ConversationID: "cidQ==", Text: "over quota"})
		after := time.Now()
		require.ErrorIs(t, err, client.ErrQuotaExhausted)
		require.NotErrorIs(t, err, client.ErrIPBanned)
		e := apiError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, e.Status)
		require.Equal(t, client.CodeQuotaExhausted, e.Code)
		require.True(t, e.Retryable())
		resets := []time.Time{dingtalk.QuotaResetsOn(before), dingtalk.QuotaResetsOn(after)}
		require.True(t, e.ResetsOn.Equal(resets[0]) || e.ResetsOn.Equal(resets[1]), "ResetsOn %v, want %v", e.ResetsOn, resets)
		require.Equal(t, 1, e.ResetsOn.Day())
		require.Greater(t, e.RetryAfter, time.Duration(0))

		// A recall's refusal is per key: the result names the code and
		// the day.
		res, err := alerts.Recall(ctx, client.Selection{ConversationID: "cidQ==", Last: 1})
		require.NoError(t, err)
		require.Len(t, res.Failed, 1)
		for _, code := range res.FailedCodes {
			require.Equal(t, dingtalk.CodeOrgQuota, code)
		}
		require.Contains(t, []string{dingtalk.QuotaResetDay(before), dingtalk.QuotaResetDay(after)}, res.ResetsOn)

		_, err = c.Send(ctx, client.Message{ConversationID: "cidQ==", Text: "the default app still has quota"})
		require.NoError(t, err)
	})
	t.Run("the IP ban page", func(t *testing.T) {
		s.Fake.ServeBanPage(1)
		_, err := alerts.Send(ctx, client.Message{ConversationID: "cidQ==", Text: "banned"})
		require.ErrorIs(t, err, client.ErrIPBanned)
		require.NotErrorIs(t, err, client.ErrQuotaExhausted)
		e := apiError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, e.Status)
		require.Equal(t, client.CodeIPBanned, e.Code)
		require.Equal(t, 5*time.Minute, e.RetryAfter)
		require.True(t, e.ResetsOn.IsZero())
		require.True(t, strings.Contains(e.Message, "5 minutes"), e.Message)
	})
}
