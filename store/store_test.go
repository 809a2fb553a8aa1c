package store_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
)

func TestMessageValidate(t *testing.T) {
	sent := time.Date(2025, time.March, 1, 9, 0, 0, 0, time.UTC)
	ok := store.Message{Key: "k", Kind: store.KindGroup, ChatID: "cid", SentAt: sent}
	tests := []struct {
		name string
		edit func(m *store.Message)
		want string // in the error, "" when valid
	}{
		{"valid", func(*store.Message) {}, ""},
		{"valid with expiry", func(m *store.Message) { m.ExpiresAt = sent.Add(time.Hour) }, ""},
		{"empty key", func(m *store.Message) { m.Key = "" }, "empty key"},
		{"empty chat", func(m *store.Message) { m.ChatID = "" }, "empty chat id"},
		{"unknown kind", func(m *store.Message) { m.Kind = "channel" }, `unknown chat kind "channel"`},
		{"zero sent time", func(m *store.Message) { m.SentAt = time.Time{} }, "zero sent time"},
		{"sent before 1678", func(m *store.Message) { m.SentAt = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }, "sent time out of range"},
		{"sent after 2262", func(m *store.Message) { m.SentAt = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, "sent time out of range"},
		{"expiry after 2262", func(m *store.Message) { m.ExpiresAt = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, "expiry time out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := m.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, store.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestKindValid(t *testing.T) {
	for _, k := range []store.Kind{store.KindGroup, store.KindPrivate, store.KindOTO} {
		assert.True(t, k.Valid(), k)
	}
	for _, k := range []store.Kind{"", "Group", "channel"} {
		assert.False(t, k.Valid(), k)
	}
}

func TestAuditEntryChats(t *testing.T) {
	tests := []struct {
		name  string
		entry store.AuditEntry
		want  []string
	}{
		{"none", store.AuditEntry{}, nil},
		{"request chat only", store.AuditEntry{ChatID: "a"}, []string{"a"}},
		{"items without repeats, request chat first", store.AuditEntry{ChatID: "b", Items: []store.AuditItem{{ChatID: "a"}, {ChatID: "b"}, {ChatID: "a"}, {ChatID: ""}}}, []string{"b", "a"}},
		{"tag across chats", store.AuditEntry{Items: []store.AuditItem{{ChatID: "c"}, {ChatID: "a"}}}, []string{"c", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.entry.Chats())
		})
	}
}

func TestByActivity(t *testing.T) {
	chat := func(id string) store.Chat { return store.Chat{ID: id, Kind: store.KindGroup, Count: 1} }
	got := store.ByActivity([]store.ActiveChat[int64]{
		{Chat: chat("old"), Newest: 1},
		{Chat: chat("tie-b"), Newest: 5},
		{Chat: chat("new"), Newest: 9},
		{Chat: chat("tie-a"), Newest: 5},
	})
	ids := make([]string, len(got))
	for i, c := range got {
		ids[i] = c.ID
	}
	assert.Equal(t, []string{"new", "tie-a", "tie-b", "old"}, ids, "most recent first, ties by ID")
	assert.Empty(t, store.ByActivity[float64](nil))
}

func TestCheckState(t *testing.T) {
	tests := []struct {
		key  string
		ttl  time.Duration
		want string // in the error, "" when usable
	}{
		{"k", time.Second, ""},
		{"", time.Second, "put: store: invalid argument: empty key"},
		{"k", 0, `put "k": store: invalid argument: ttl 0s is not positive`},
		{"k", -time.Second, "ttl -1s is not positive"},
	}
	for _, tt := range tests {
		err := store.CheckState("put", tt.key, tt.ttl)
		if tt.want == "" {
			assert.NoError(t, err)
			continue
		}
		assert.ErrorIs(t, err, store.ErrInvalid)
		assert.ErrorContains(t, err, tt.want)
	}
}

func TestRandomIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, id := store.NewClaimToken(), store.NewAuditID()
		assert.Len(t, tok, 24)
		assert.Len(t, id, 16)
		assert.Empty(t, strings.Trim(tok+id, "0123456789abcdef"), "hex")
		assert.False(t, seen[tok] || seen[id], "unique")
		seen[tok], seen[id] = true, true
	}
}

func TestFailureJSON(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want store.Failure
	}{
		{"object", `{"code":"bot.stopped","message":"robot stopped"}`, store.Failure{Code: "bot.stopped", Message: "robot stopped"}},
		{"words only, as older files keep it", `"message not found"`, store.Failure{Message: "message not found"}},
		{"none", `""`, store.Failure{}},
		{"empty object", `{}`, store.Failure{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f store.Failure
			require.NoError(t, json.Unmarshal([]byte(tc.in), &f))
			assert.Equal(t, tc.want, f)
		})
	}
	var f store.Failure
	assert.Error(t, json.Unmarshal([]byte(`42`), &f))
	b, err := json.Marshal(store.Failure{Code: "c", Message: "m"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"code":"c","message":"m"}`, string(b))
}

func TestFailureString(t *testing.T) {
	assert.Equal(t, "c: m", store.Failure{Code: "c", Message: "m"}.String())
	assert.Equal(t, "c", store.Failure{Code: "c"}.String())
	assert.Equal(t, "m", store.Failure{Message: "m"}.String())
	assert.True(t, store.Failure{}.IsZero())
	assert.False(t, store.Failure{Code: "c"}.IsZero())
}

func TestReservationValidate(t *testing.T) {
	ok := store.Reservation{ID: "r1", Kind: store.KindGroup, ChatID: "cid"}
	tests := []struct {
		name string
		mod  func(*store.Reservation)
		want string // in the error, "" when valid
	}{
		{"minimal", func(*store.Reservation) {}, ""},
		{"with everything", func(r *store.Reservation) { r.TTL, r.ReservedAt, r.Holder = time.Minute, time.Now(), "replica-a" }, ""},
		{"empty id", func(r *store.Reservation) { r.ID = "" }, "empty id"},
		{"empty chat", func(r *store.Reservation) { r.ChatID = "" }, "empty chat id"},
		{"unknown kind", func(r *store.Reservation) { r.Kind = "channel" }, "unknown chat kind"},
		{"negative ttl", func(r *store.Reservation) { r.TTL = -time.Second }, "negative ttl"},
		{"time out of range", func(r *store.Reservation) { r.ReservedAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.mod(&r)
			err := r.Validate()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, store.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestNewReservationID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := store.NewReservationID()
		assert.Len(t, id, 24)
		assert.False(t, seen[id], "unique")
		seen[id] = true
	}
}
