package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

func TestAutoRecallRetriesQuietly(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(time.Now())
	fake := dingtalktest.NewTest(t, dingtalktest.WithClock(clock.Now))
	log, _ := test.NewNullLogger()
	client, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()), dingtalk.WithLogger(log))
	require.NoError(t, err)
	ledger, err := memory.New(memory.Options{Now: clock.Now})
	require.NoError(t, err)
	audit, err := memory.NewAudit(memory.AuditOptions{TTL: 48 * time.Hour, Now: clock.Now})
	require.NoError(t, err)
	recaller := bot.NewRecaller(client, ledger, bot.RecallerOptions{Log: log, Audit: audit, Now: clock.Now})
	sender := bot.NewSender(client, ledger, "", clock.Now, log)
	auto := bot.NewAutoRecaller(ledger, recaller, clock.Now, log)

	stuck, err := sender.Send(ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA", Message: dingtalk.Text("stuck"), TTL: time.Minute})
	require.NoError(t, err)
	fake.FailKey(stuck.Key, "message not found")
	clock.Advance(time.Minute)

	assert.Zero(t, auto.RecallDue(ctx))
	for range 5 { // later passes, after each backoff
		clock.Advance(2 * time.Hour / 10)
		auto.RecallDue(ctx)
	}
	entries, err := audit.AuditLog(ctx, "cidA", 0)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the first failure is audited, the failing retries are not")
	assert.Greater(t, fake.RecallAttempts(stuck.Key), 1, "it was retried")

	fake.ClearKeyFailure(stuck.Key)
	clock.Advance(2 * time.Hour)
	assert.Equal(t, 1, auto.RecallDue(ctx))
	entries, err = audit.AuditLog(ctx, "cidA", 0)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "a retry that recalls is audited")
}

func TestRecallOfKeysHeldElsewhereLeavesTheirClaim(t *testing.T) {
	ctx := context.Background()
	fake := dingtalktest.NewTest(t)
	log, _ := test.NewNullLogger()
	client, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()), dingtalk.WithLogger(log))
	require.NoError(t, err)
	ledger, err := memory.New(memory.Options{})
	require.NoError(t, err)
	recaller := bot.NewRecaller(client, ledger, bot.RecallerOptions{Log: log})
	sender := bot.NewSender(client, ledger, "", time.Now, log)
	m, err := sender.Send(ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: "cidA", Message: dingtalk.Text("x")})
	require.NoError(t, err)

	held, err := ledger.Claim(ctx, []string{m.Key}) // another recall is under way
	require.NoError(t, err)
	require.Len(t, held, 1)
	out, err := recaller.Recall(ctx, bot.Selection{ChatID: "cidA", Keys: []string{m.Key}}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.Equal(t, bot.ReasonNotTracked, out.Failed[m.Key])

	again, err := ledger.Claim(ctx, []string{m.Key})
	require.NoError(t, err)
	assert.Empty(t, again, "the other recall still holds its claim")
	got, err := ledger.Get(ctx, m.Key)
	require.NoError(t, err)
	assert.Empty(t, got.Failure, "and no failure was written over it")
	assert.Zero(t, fake.RecallAttempts(m.Key))
}
