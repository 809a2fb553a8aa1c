package bot_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/store"
)

// Every kind of chat goes by its own API; what DingTalk refuses comes back
// as the sender's typed errors, and nothing is tracked then.
func TestSend(t *testing.T) {
	tests := []struct {
		name    string
		cool    string
		o       bot.Outgoing
		fault   string // a DingTalk error code the send path answers
		wantErr error
		path    string
	}{
		{"group", "", bot.Outgoing{Kind: store.KindGroup, ChatID: ops}, "", nil, dingtalk.PathGroupSend},
		{"group with a cool app", "COOL", bot.Outgoing{Kind: store.KindGroup, ChatID: ops}, "", nil, dingtalk.PathGroupSend},
		{"private", "COOL", bot.Outgoing{Kind: store.KindPrivate, ChatID: "cidPrivate=="}, "", nil, dingtalk.PathPrivateSend},
		{"private without a cool app", "", bot.Outgoing{Kind: store.KindPrivate, ChatID: "cidPrivate=="}, "", bot.ErrNoCoolApp, ""},
		{"one-to-one", "", bot.Outgoing{Kind: store.KindOTO, ChatID: user}, "", nil, dingtalk.PathOTOSend},
		{"unknown staff", "", bot.Outgoing{Kind: store.KindOTO, ChatID: "staff-nobody"}, "", bot.ErrRecipient, dingtalk.PathOTOSend},
		{"unknown kind", "", bot.Outgoing{Kind: "channel", ChatID: ops}, "", dingtalk.ErrInvalidMessage, ""},
		{"no chat", "", bot.Outgoing{Kind: store.KindGroup}, "", dingtalk.ErrInvalidMessage, ""},
		{"refused by DingTalk", "", bot.Outgoing{Kind: store.KindGroup, ChatID: ops}, "bot.stopped", bot.ErrDingTalk, dingtalk.PathGroupSend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessOn(t, []dingtalktest.Option{dingtalktest.WithInvalidStaffIDs("staff-nobody")},
				func(_ *bot.Deps, c *bot.Config) { c.CoolAppCode = tt.cool })
			if tt.fault != "" {
				h.fake.FailCallWith(tt.path, 1, 400, tt.fault, "refused")
			}
			tt.o.Message, tt.o.Tag = dingtalk.Text("hello"), "t1"
			m, err := h.bot.Send(h.ctx, tt.o)
			if tt.path != "" {
				assert.Equal(t, 1, h.fake.CallCount(tt.path))
			}
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Empty(t, m.Key)
				msgs, err := h.bot.List(h.ctx, tt.o.ChatID, 0)
				require.NoError(t, err)
				assert.Empty(t, msgs, "nothing tracked")
				return
			}
			require.NoError(t, err)
			sent, ok := h.fake.Message(m.Key)
			require.True(t, ok)
			assert.Equal(t, tt.cool, sent.CoolAppCode)
			got, err := h.store.Get(h.ctx, m.Key)
			require.NoError(t, err)
			assert.Equal(t, m, got)
			assert.Equal(t, "t1", got.Tag)
			assert.Equal(t, h.fake.RobotCode(), got.RobotCode)
		})
	}
}

// A message DingTalk took but the ledger could not record (the store went
// down after the reservation) comes back with its key and ErrUntracked; its
// reservation stays, for settlement to report.
func TestSendUntracked(t *testing.T) {
	spy := &spyLedger{}
	h := newHarness(t, withSpy(spy))
	spy.commitDown.Store(true)
	m, err := h.bot.Send(h.ctx, bot.Outgoing{Kind: store.KindGroup, ChatID: ops, Message: dingtalk.Text("x")})
	require.ErrorIs(t, err, bot.ErrUntracked)
	assert.NotEmpty(t, m.Key)
	assert.Contains(t, err.Error(), m.Key)
	_, ok := h.fake.Message(m.Key)
	assert.True(t, ok, "DingTalk has it")
	assert.Len(t, h.pending(), 1, "the reservation stays")
}
