package bot

import (
	"strings"
	"unicode"
)

// Policy decides who may recall where.
type Policy struct {
	// Admins (RECALL_ADMINS) may recall in any chat, also from a one-to-one
	// chat with "in <chat>", and list the chats.
	Admins map[string]bool
	// Users (RECALL_USERS) may recall in the chat they type in.
	Users map[string]bool
	// GroupAdmins (RECALL_GROUP_ADMINS) lets a group's own admins recall in
	// that group.
	GroupAdmins bool
}

// NewPolicy builds a policy from staff ID lists separated by commas or blanks.
func NewPolicy(admins, users string, groupAdmins bool) Policy {
	return Policy{Admins: idSet(admins), Users: idSet(users), GroupAdmins: groupAdmins}
}

// idSet splits a list separated by commas or blanks into a set.
func idSet(list string) map[string]bool {
	set := make(map[string]bool)
	for _, id := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		set[id] = true
	}
	return set
}

// IsAdmin reports whether staffID is a recall admin. An empty staff ID (an
// external or unlinked account) is nobody.
func (p Policy) IsAdmin(staffID string) bool { return staffID != "" && p.Admins[staffID] }

// MayRecallHere reports whether the sender of ev may recall in the chat ev
// came from.
func (p Policy) MayRecallHere(ev Event) bool {
	if ev.StaffID == "" {
		return false
	}
	return p.Admins[ev.StaffID] || p.Users[ev.StaffID] || (p.GroupAdmins && ev.Group && ev.IsAdmin)
}
