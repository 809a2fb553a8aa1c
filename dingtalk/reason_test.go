package dingtalk_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

func TestIsAlreadyRecalled(t *testing.T) {
	tests := []struct {
		reason string
		want   bool
	}{
		{dingtalktest.ReasonAlreadyRecalled, true},
		{"Message Already Recalled", true},
		{"the message has been recalled", true},
		{"消息已撤回", true},
		{"该消息已被撤回", true},
		{dingtalktest.ReasonNotFound, false},
		{dingtalktest.ReasonOtherKind, false},
		{dingtalktest.ReasonOtherConversation, false},
		{dingtalktest.ReasonTooOld, false},
		{dingtalk.ReasonNotAnswered, false},
		{"system.error: unknown system error", false},
		{"invalid.processQueryKey: processQueryKey is invalid", false},
		{"recall", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			assert.Equal(t, tt.want, dingtalk.IsAlreadyRecalled(tt.reason))
		})
	}
}

func TestSecondRecallIsTellableByCode(t *testing.T) {
	for kind, ch := range chats {
		t.Run(kind, func(t *testing.T) {
			fake := dingtalktest.NewTest(t)
			c := newClient(t, fake)
			key := ch.send(t, c)
			_, err := ch.recall(c, key)
			require.NoError(t, err)

			res, err := ch.recall(c, key)
			require.NoError(t, err)
			assert.Empty(t, res.Recalled)
			require.Contains(t, res.Failed, key)
			assert.Equal(t, dingtalk.CodeAlreadyRecalled, res.Failed[key].Code, "reason %v", res.Failed[key])
			assert.True(t, dingtalk.IsAlreadyRecalled(res.Failed[key].Message))
			got, err := ch.status(c, key)
			require.NoError(t, err)
			assert.Equal(t, dingtalk.StatusRecalled, got, "the status query confirms it")

			res, err = ch.recall(c, "never-sent")
			require.NoError(t, err)
			assert.NotEqual(t, dingtalk.CodeAlreadyRecalled, res.Failed["never-sent"].Code, "reason %v", res.Failed["never-sent"])
		})
	}
}
