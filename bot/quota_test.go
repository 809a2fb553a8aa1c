package bot_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/store"
)

// withAdmins makes admins the recall admins and names the bot.
func withAdmins(name, admins string) option {
	return func(_ *bot.Deps, c *bot.Config) {
		c.Name = name
		c.Policy = bot.NewPolicy(admins, user, true)
	}
}

// WarnQuota tells each admin, one-to-one, the bot's name, what it used of
// its limit, the percentage and the day the quota starts again (the clock
// is 2026-11-26, so 1 December in Shanghai).
func TestWarnQuota(t *testing.T) {
	tests := []struct {
		name        string
		admins      string
		used, limit int64
		want        []string // parts of every warning
		to          []string // the admins told, in order
	}{
		{"two admins", "staff-b, staff-a", 8000, 10000,
			[]string{"Bot alerts has used 8000 of its 10000 DingTalk API calls this month (80%).", "The quota starts again on 2026-12-01."},
			[]string{"staff-a", "staff-b"}},
		{"one admin, over the limit", "staff-a", 12345, 10000, []string{"used 12345 of its 10000", "(123%)"}, []string{"staff-a"}},
		{"an unknown limit", "staff-a", 10, 0, []string{"used 10 of its 0", "(0%)"}, []string{"staff-a"}},
		{"no admins", "", 8000, 10000, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withAdmins("alerts", tt.admins))
			require.NoError(t, h.bot.WarnQuota(h.ctx, tt.used, tt.limit))
			sent := h.fake.Sent()
			var to []string
			for _, m := range sent {
				assert.Equal(t, dingtalktest.KindOTO, m.Kind, "one-to-one")
				require.Len(t, m.UserIDs, 1, "one admin a message")
				to = append(to, m.UserIDs[0])
				text := content(t, m.MsgParam)
				for _, part := range tt.want {
					assert.Contains(t, text, part)
				}
			}
			assert.Equal(t, tt.to, to)
			warned := false
			for _, e := range h.logs.AllEntries() {
				if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "monthly DingTalk API quota") {
					warned = true
					assert.Equal(t, "2026-12-01", e.Data["resets_on"])
				}
			}
			assert.True(t, warned, "the warning is logged")
			if tt.admins == "" {
				assert.NotEmpty(t, logsWith(h, "no RECALL_ADMINS to tell of the quota"))
			}
		})
	}
}

// A warning that cannot be sent to one admin is logged, and the others
// still get theirs: WarnQuota succeeds, even on a cancelled context.
func TestWarnQuotaSendFails(t *testing.T) {
	h := newHarness(t, withAdmins("alerts", "staff-a staff-b"))
	h.fake.FailNextOn(dingtalktest.PathOTOSend, 1, dingtalktest.FaultOrgQuota)
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	require.NoError(t, h.bot.WarnQuota(ctx, 9000, 10000))
	sent := h.fake.Sent()
	require.Len(t, sent, 1)
	assert.Equal(t, []string{"staff-b"}, sent[0].UserIDs)
	failed := logsWith(h, "could not send the quota warning")
	require.Len(t, failed, 1)
	assert.Equal(t, "staff-a", failed[0].Data["admin"])
}

// WarnQuota fails when no admin got the warning, so that the governor
// tries again.
func TestWarnQuotaNobodyGotIt(t *testing.T) {
	h := newHarness(t, withAdmins("alerts", "staff-a staff-b"))
	h.fake.FailNextOn(dingtalktest.PathOTOSend, 2, dingtalktest.FaultOrgQuota)
	err := h.bot.WarnQuota(h.ctx, 9000, 10000)
	require.Error(t, err)
	assert.True(t, dingtalk.IsQuotaExhausted(err), "%v", err)
	assert.Empty(t, h.fake.Sent())
	require.Len(t, logsWith(h, "could not send the quota warning"), 2)
}

// logsWith is the harness's log entries with message msg.
func logsWith(h *harness, msg string) []logrus.Entry {
	var out []logrus.Entry
	for _, e := range h.logs.AllEntries() {
		if e.Message == msg {
			out = append(out, *e)
		}
	}
	return out
}

// spentMeter is a dingtalk.Meter whose month's quota is spent.
type spentMeter struct{ calls atomic.Int64 }

func (m *spentMeter) Metered(context.Context, string) { m.calls.Add(1) }
func (m *spentMeter) Exhausted() bool                 { return true }
func (m *spentMeter) Refused()                        {}

// In RECALL_MODE tombstone, a card whose update the quota governor stops
// (dingtalk.ErrOptionalCallStopped) is recalled outright, not failed and
// not tombstoned.
func TestTombstoneWhenCardUpdatesStop(t *testing.T) {
	h := newHarnessWith(t, nil, []dingtalk.Option{dingtalk.WithMeter(&spentMeter{})}, withCards(bot.ModeTombstone, ""))
	m := h.card(ops, "deploy to PROD")
	plain := h.post(ops, 1)[0]
	updates := h.fake.CallCount(dingtalktest.PathCardUpdate)

	reply := h.say(inGroup(user, "recall 2 wrong env"))
	assert.Contains(t, reply, "Recalled 2 messages")
	assert.True(t, h.recalled(m.Key), "the card is recalled")
	assert.True(t, h.recalled(plain.Key))
	assert.Equal(t, updates, h.fake.CallCount(dingtalktest.PathCardUpdate), "no card update reaches DingTalk")
	assert.Equal(t, "deploy to PROD", h.fakeCard(m.Key).Data["msgTitle"], "no tombstone")

	entries, err := h.audit.AuditLog(h.ctx, ops, 1)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	var item store.AuditItem
	for _, it := range entries[0].Items {
		if it.Key == m.Key {
			item = it
		}
	}
	assert.Equal(t, store.ResultRecalled, item.Result)
	assert.NotEqual(t, bot.CodeTombstoned, item.Code)

	out, err := h.bot.Recall(h.ctx, bot.Selection{ChatID: ops, Keys: []string{h.card(ops, "again").Key}}, bot.Actor{Source: store.SourceAPI})
	require.NoError(t, err)
	assert.Len(t, out.Recalled, 1)
	assert.Empty(t, out.Tombstoned)
	assert.Empty(t, out.Failed)
}
