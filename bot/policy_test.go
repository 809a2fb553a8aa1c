package bot_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dingrecall/dingrecall/bot"
)

func TestPolicy(t *testing.T) {
	p := bot.NewPolicy(" boss, ops-lead ,", "dev-1 dev-2", true)
	noGroupAdmins := bot.NewPolicy("boss", "dev-1", false)
	tests := []struct {
		name      string
		policy    bot.Policy
		ev        bot.Event
		wantHere  bool
		wantAdmin bool
	}{
		{"recall admin in a group", p, bot.Event{Group: true, StaffID: "boss"}, true, true},
		{"recall admin one-to-one", p, bot.Event{StaffID: "ops-lead"}, true, true},
		{"recall user in a group", p, bot.Event{Group: true, StaffID: "dev-2"}, true, false},
		{"group admin in a group", p, bot.Event{Group: true, StaffID: "owner", IsAdmin: true}, true, false},
		{"group admin when group admins are off", noGroupAdmins, bot.Event{Group: true, StaffID: "owner", IsAdmin: true}, false, false},
		{"isAdmin means nothing one-to-one", p, bot.Event{StaffID: "owner", IsAdmin: true}, false, false},
		{"stranger", p, bot.Event{Group: true, StaffID: "stranger"}, false, false},
		{"no staff id is nobody, even as group admin", p, bot.Event{Group: true, IsAdmin: true}, false, false},
		{"blank list entries grant nothing", p, bot.Event{Group: true, StaffID: " "}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantHere, tt.policy.MayRecallHere(tt.ev))
			assert.Equal(t, tt.wantAdmin, tt.policy.IsAdmin(tt.ev.StaffID))
		})
	}
}
