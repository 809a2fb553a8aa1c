package bot_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
)

// "chats" lists, for recall admins, the chats with messages "recall N"
// could take: the bot's own replies do not count.
func TestChats(t *testing.T) {
	h := newHarness(t)
	assert.Contains(t, h.say(oneToOne(user, "chats")), "only recall admins may do that")
	assert.Equal(t, "chats/refused", h.obs.last())
	assert.Equal(t, "I have no recallable messages in any chat.", h.say(oneToOne(admin, "chats")), "replies are not recallable")

	h.post(ops, 3)
	h.post(deploys, 1)
	require.NoError(t, h.store.SetTitle(h.ctx, ops, store.KindGroup, "ops-alerts"))
	reply := h.say(oneToOne(admin, "会话"))
	assert.Equal(t, "Chats with messages I can recall:\n• "+deploys+": 1\n• ops-alerts ("+ops+"): 3", reply)
	assert.Equal(t, "chats/ok", h.obs.last())
	assert.Contains(t, h.say(oneToOne(admin, "chats please")), `Did you mean "chats"?`)
}
