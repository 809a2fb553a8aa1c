package bolt_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/bolt"
	"github.com/dingrecall/dingrecall/store/file"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// open opens the database at path, closed when t ends.
func open(t testing.TB, path string, opts bolt.Options) *bolt.Ledger {
	t.Helper()
	l, err := bolt.Open(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestLedger(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg storetest.Config) store.Ledger {
		return open(t, filepath.Join(t.TempDir(), "ledger.db"), bolt.Options{
			TTL: cfg.TTL, PerChat: cfg.PerChat, Lease: cfg.Lease, Now: cfg.Clock.Now,
		})
	})
}

func TestAudit(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T, clock *storetest.Clock, ttl time.Duration) store.Audit {
		return open(t, filepath.Join(t.TempDir(), "ledger.db"), bolt.Options{AuditTTL: ttl, Now: clock.Now}).Audit()
	})
}

// msg returns a group message sent sec seconds after storetest.Start.
func msg(key, chat string, sec int, mods ...func(*store.Message)) store.Message {
	m := store.Message{
		Key: key, Kind: store.KindGroup, ChatID: chat, RobotCode: "robot", MsgKey: "sampleText",
		MsgParam: `{"content":"` + key + `"}`, SentAt: storetest.Start.Add(time.Duration(sec) * time.Second),
	}
	for _, mod := range mods {
		mod(&m)
	}
	return m
}

// state is what a ledger holds, as its reads show it.
type state struct {
	Messages     map[string][]store.Message
	Chats        []store.Chat
	Reservations []store.Reservation
	Audit        []store.AuditEntry
}

// read returns the state of l over chats.
func read(t *testing.T, l *bolt.Ledger, chats ...string) state {
	t.Helper()
	ctx := t.Context()
	s := state{Messages: map[string][]store.Message{}}
	for _, c := range chats {
		ms, err := l.List(ctx, c, 0)
		require.NoError(t, err)
		for i := range ms {
			ms[i].SentAt = ms[i].SentAt.UTC()
			if !ms[i].ExpiresAt.IsZero() {
				ms[i].ExpiresAt = ms[i].ExpiresAt.UTC()
			}
		}
		s.Messages[c] = ms
	}
	var err error
	s.Chats, err = l.Chats(ctx)
	require.NoError(t, err)
	s.Reservations, err = l.Pending(ctx, storetest.Start.Add(time.Hour), 0)
	require.NoError(t, err)
	for i := range s.Reservations {
		s.Reservations[i].ReservedAt = s.Reservations[i].ReservedAt.UTC()
	}
	s.Audit, err = l.Audit().AuditLog(ctx, "", 0)
	require.NoError(t, err)
	for i := range s.Audit {
		s.Audit[i].At = s.Audit[i].At.UTC()
	}
	return s
}

// TestReopen checks that what a ledger was told survives a close and an
// open: messages with their failures and expiry, titles, reservations and
// the audit log; that claims come back as lapsed; and that what expired or
// exceeds the per-chat cap meanwhile is pruned, on disk too.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ledger.db")
	clock := storetest.NewClock(storetest.Start.Add(time.Minute))
	opts := bolt.Options{TTL: time.Hour, PerChat: 4, Now: clock.Now}
	l := open(t, path, opts)

	for i := range 6 {
		require.NoError(t, l.Record(ctx, msg(fmt.Sprintf("a%d", i), "cid-a", i*10)))
	}
	require.NoError(t, l.Record(ctx, msg("b0", "cid-b", 5, func(m *store.Message) {
		m.Kind, m.Tag, m.Reply, m.ExpiresAt = store.KindPrivate, "deploy", true, storetest.Start.Add(time.Hour)
	})))
	require.NoError(t, l.Record(ctx, msg("old", "cid-c", -3000)))
	require.NoError(t, l.Remove(ctx, "a5"))
	taken, err := l.TakeNewest(ctx, "cid-a", 2) // a4, a3: claimed at the "crash"
	require.NoError(t, err)
	require.Len(t, taken, 2)
	failed, err := l.Claim(ctx, []string{"a2"})
	require.NoError(t, err)
	require.NoError(t, l.Fail(ctx, failed[0].Claim, map[string]store.Failure{"a2": {Message: "message too old"}}))
	require.NoError(t, l.SetTitle(ctx, "cid-a", store.KindGroup, "Alpha"))
	require.NoError(t, l.SetTitle(ctx, "cid-quiet", store.KindGroup, "Quiet"))
	require.NoError(t, l.Reserve(ctx, store.Reservation{ID: "r1", Kind: store.KindGroup, ChatID: "cid-a", MsgParam: "x", ReservedAt: storetest.Start, Holder: "replica-a", TTL: time.Minute}))
	require.NoError(t, l.Reserve(ctx, store.Reservation{ID: "r2", Kind: store.KindOTO, ChatID: "staff-1"}))
	require.NoError(t, l.Commit(ctx, "r2", msg("c0", "staff-1", 50, func(m *store.Message) { m.Kind = store.KindOTO })))
	require.NoError(t, l.Audit().AddAudit(ctx, store.AuditEntry{Action: store.ActionRecall, Source: store.SourceAPI, ChatID: "cid-a",
		Items: []store.AuditItem{{Key: "a5", ChatID: "cid-a", Kind: store.KindGroup, Result: store.ResultRecalled, SentAt: storetest.Start}}}))

	chats := []string{"cid-a", "cid-b", "cid-c", "staff-1"}
	before := read(t, l, chats...)
	require.NoError(t, l.Close())

	// Reopened at once: everything is back, the claims as lapsed ones.
	l = open(t, path, opts)
	after := read(t, l, chats...)
	for i, m := range before.Messages["cid-a"] {
		if m.Key == "a4" || m.Key == "a3" {
			before.Messages["cid-a"][i].Lapsed = true
		}
	}
	assert.Equal(t, before, after)
	assert.Equal(t, []string{"a4", "a3", "a2"}, keysOf(t, l, "cid-a"), "the lapsed ones are selectable again, flagged")
	c, err := l.FindChat(ctx, "quiet")
	require.NoError(t, err)
	assert.Equal(t, "cid-quiet", c.ID)
	require.NoError(t, l.Close())

	// Later, and with a smaller cap: what expired or is over the cap goes,
	// from the disk too.
	clock.Set(storetest.Start.Add(time.Hour + 15*time.Second)) // a0, a1 and b0 (sent at 0, 10, 5 s) expired
	l = open(t, path, bolt.Options{TTL: time.Hour, PerChat: 1, Now: clock.Now})
	got := read(t, l, chats...)
	assert.Equal(t, []string{"a4"}, keys(got.Messages["cid-a"]))
	assert.Empty(t, got.Messages["cid-b"])
	assert.Equal(t, []string{"c0"}, keys(got.Messages["staff-1"]))
	require.NoError(t, l.Close())
	disk, err := bolt.DiskKeys(path)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a4", "c0"}, disk["messages"])
	assert.ElementsMatch(t, []string{"cid-a", "cid-quiet"}, disk["titles"])
	assert.Empty(t, disk["reservations"], "r1 expired with the TTL")
	assert.Len(t, disk["audit"], 1)
}

// keysOf returns the keys Newest shows in chat.
func keysOf(t *testing.T, l store.Ledger, chat string) []string {
	t.Helper()
	ms, err := l.Newest(t.Context(), chat, 100)
	require.NoError(t, err)
	return keys(ms)
}

func keys(ms []store.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Key)
	}
	return out
}

// TestAuditPruned checks that the audit log on disk drops expired
// entries as new ones are added and at open.
func TestAuditPruned(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ledger.db")
	clock := storetest.NewClock(storetest.Start)
	l := open(t, path, bolt.Options{AuditTTL: time.Hour, Now: clock.Now})
	for i := range 3 {
		require.NoError(t, l.Audit().AddAudit(ctx, store.AuditEntry{ID: fmt.Sprintf("e%d", i), Action: store.ActionRecall}))
		clock.Advance(20 * time.Minute)
	}
	clock.Advance(30 * time.Minute) // e0 and e1 are now older than an hour
	require.NoError(t, l.Audit().AddAudit(ctx, store.AuditEntry{ID: "e3", Action: store.ActionRecall}))
	require.NoError(t, l.Close())
	disk, err := bolt.DiskKeys(path)
	require.NoError(t, err)
	assert.Len(t, disk["audit"], 2, "the expired ones were deleted with the next commit")

	clock.Advance(40 * time.Minute) // e2 expired too
	l = open(t, path, bolt.Options{AuditTTL: time.Hour, Now: clock.Now})
	got, err := l.Audit().AuditLog(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "e3", got[0].ID)
	require.NoError(t, l.Close())
	disk, err = bolt.DiskKeys(path)
	require.NoError(t, err)
	assert.Len(t, disk["audit"], 1, "and at open")
}

// TestMigrateJSON checks that a JSON STORE_FILE is imported on the first
// open, kept as a backup and reported in one log line, and that the next
// open does not migrate again.
func TestMigrateJSON(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.json")
	clock := storetest.NewClock(storetest.Start.Add(time.Minute))

	// What store/file wrote before.
	m, err := memory.New(memory.Options{Now: clock.Now})
	require.NoError(t, err)
	defer m.Close()
	a, err := memory.NewAudit(memory.AuditOptions{Now: clock.Now})
	require.NoError(t, err)
	want := []store.Message{msg("k2", "cid-a", 2, func(m *store.Message) { m.Failure = store.Failure{Message: "busy"} }), msg("k1", "cid-a", 1)}
	for _, msg := range want {
		require.NoError(t, m.Record(ctx, msg))
	}
	require.NoError(t, m.SetTitle(ctx, "cid-a", store.KindGroup, "Alpha"))
	require.NoError(t, a.AddAudit(ctx, store.AuditEntry{ID: "e1", Action: store.ActionRecall, ChatID: "cid-a"}))
	f, err := file.New(path, m, a)
	require.NoError(t, err)
	require.NoError(t, f.Save())
	original, err := os.ReadFile(path)
	require.NoError(t, err)

	log, hook := logtest.NewNullLogger()
	l := open(t, path, bolt.Options{Now: clock.Now, Log: log})
	ms, err := l.List(ctx, "cid-a", 0)
	require.NoError(t, err)
	for i := range ms {
		ms[i].SentAt = ms[i].SentAt.UTC()
	}
	assert.Equal(t, want, ms)
	c, err := l.FindChat(ctx, "alpha")
	require.NoError(t, err)
	assert.Equal(t, "cid-a", c.ID)
	entries, err := l.Audit().AuditLog(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "e1", entries[0].ID)

	backup, err := os.ReadFile(path + bolt.BackupSuffix)
	require.NoError(t, err)
	assert.Equal(t, original, backup, "the JSON file is kept as it was")
	require.Len(t, hook.AllEntries(), 1, "one line reports the migration")
	line := hook.LastEntry()
	assert.Equal(t, logrus.InfoLevel, line.Level)
	assert.Contains(t, line.Message, "migrated")
	assert.Equal(t, 2, line.Data["messages"])
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, names, 2, "no temporary file is left: %v", names)

	// It is a database now: the next open migrates nothing.
	require.NoError(t, l.Record(ctx, msg("k3", "cid-a", 3)))
	require.NoError(t, l.Close())
	hook.Reset()
	l = open(t, path, bolt.Options{Now: clock.Now, Log: log})
	assert.Empty(t, hook.AllEntries())
	assert.Equal(t, []string{"k3", "k2", "k1"}, keysOf(t, l, "cid-a"))
}

// TestOpenRefuses checks what Open refuses, and that a refused file is
// left as it was.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	tests := []struct {
		name    string
		path    string
		opts    bolt.Options
		want    string
		wantErr error
	}{
		{"empty path", "", bolt.Options{}, "empty path", store.ErrInvalid},
		{"negative TTL", filepath.Join(dir, "x.db"), bolt.Options{TTL: -time.Second}, "TTL is negative", store.ErrInvalid},
		{"negative PerChat", filepath.Join(dir, "x.db"), bolt.Options{PerChat: -1}, "PerChat is negative", store.ErrInvalid},
		{"missing directory", filepath.Join(dir, "nope", "x.db"), bolt.Options{}, "directory " + filepath.Join(dir, "nope") + " does not exist", fs.ErrNotExist},
		{"a directory", dir, bolt.Options{}, "", nil},
		{"broken JSON", write("broken.json", `{"version": 1, "messages": [`), bolt.Options{}, "not a ledger file", nil},
		{"other JSON version", write("v9.json", `{"version": 9}`), bolt.Options{}, "format version 9", nil},
		{"garbage", write("garbage.db", strings.Repeat("not a database ", 400)), bolt.Options{}, "neither a ledger JSON file nor a ledger database", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before []byte
			if fi, err := os.Stat(tt.path); err == nil && !fi.IsDir() {
				before, _ = os.ReadFile(tt.path)
			}
			l, err := bolt.Open(tt.path, tt.opts)
			if err == nil {
				_ = l.Close()
			}
			require.Error(t, err)
			if tt.want != "" {
				assert.ErrorContains(t, err, tt.want)
			}
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			if before != nil {
				after, err := os.ReadFile(tt.path)
				require.NoError(t, err)
				assert.Equal(t, before, after, "the file is untouched")
				_, err = os.Stat(tt.path + bolt.BackupSuffix)
				assert.ErrorIs(t, err, fs.ErrNotExist)
			}
		})
	}
	var missing *file.MissingDirError
	_, err := bolt.Open(filepath.Join(dir, "nope", "x.db"), bolt.Options{})
	assert.True(t, errors.As(err, &missing))
}

// TestOpenedTwice checks that a second open of a database in use fails
// quickly, naming the reason.
func TestOpenedTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	open(t, path, bolt.Options{})
	began := time.Now()
	_, err := bolt.Open(path, bolt.Options{})
	require.Error(t, err)
	assert.ErrorContains(t, err, "another process has it open")
	assert.Less(t, time.Since(began), 10*time.Second)
}

// TestClosed checks that after Close the ledger refuses changes as
// unavailable, still answers reads, and closes again without error.
func TestClosed(t *testing.T) {
	ctx := t.Context()
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), bolt.Options{})
	require.NoError(t, l.Record(ctx, msg("k1", "cid-a", 1, func(m *store.Message) { m.SentAt = time.Now() })))
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "twice")

	err := l.Record(ctx, msg("k2", "cid-a", 2, func(m *store.Message) { m.SentAt = time.Now() }))
	assert.ErrorIs(t, err, store.ErrUnavailable)
	assert.ErrorIs(t, err, bolt.ErrClosed)
	assert.ErrorIs(t, l.Audit().AddAudit(ctx, store.AuditEntry{Action: store.ActionRecall}), bolt.ErrClosed)
	assert.ErrorIs(t, l.Ping(ctx), store.ErrUnavailable)
	_, err = l.Get(ctx, "k1")
	assert.NoError(t, err, "reads answer from memory")
}

// TestClaimNotKeptWhenNotDurable checks that a claim that cannot be
// written is given back, so that the message is not left claimed.
func TestClaimNotKeptWhenNotDurable(t *testing.T) {
	ctx := t.Context()
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), bolt.Options{})
	now := time.Now()
	require.NoError(t, l.Record(ctx, msg("k1", "cid-a", 0, func(m *store.Message) { m.SentAt = now })))
	require.NoError(t, l.Close())
	calls := map[string]func() ([]store.Message, error){
		"TakeNewest": func() ([]store.Message, error) { return l.TakeNewest(ctx, "cid-a", 1) },
		"Claim":      func() ([]store.Message, error) { return l.Claim(ctx, []string{"k1"}) },
		"TakeNewestWithInFlight": func() ([]store.Message, error) {
			taken, _, err := l.TakeNewestWithInFlight(ctx, "cid-a", 1)
			return taken, err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			ms, err := call()
			require.ErrorIs(t, err, store.ErrUnavailable)
			assert.Empty(t, ms)
			assert.Equal(t, []string{"k1"}, keysOf(t, l, "cid-a"), "not left claimed")
		})
	}
}

// TestKeyTooLong checks that IDs the database cannot hold are refused
// before anything changes.
func TestKeyTooLong(t *testing.T) {
	ctx := t.Context()
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), bolt.Options{})
	long := strings.Repeat("k", 40_000)
	m := msg(long, "cid-a", 0, func(m *store.Message) { m.SentAt = time.Now() })
	require.ErrorIs(t, l.Record(ctx, m), store.ErrInvalid)
	require.ErrorIs(t, l.Commit(ctx, "r", m), store.ErrInvalid)
	require.ErrorIs(t, l.Reserve(ctx, store.Reservation{ID: long, Kind: store.KindGroup, ChatID: "cid-a"}), store.ErrInvalid)
	require.ErrorIs(t, l.SetTitle(ctx, long, store.KindGroup, "T"), store.ErrInvalid)
	require.ErrorIs(t, l.Audit().AddAudit(ctx, store.AuditEntry{ID: long}), store.ErrInvalid)
	assert.Empty(t, keysOf(t, l, "cid-a"))
	require.NoError(t, l.Record(ctx, msg("ok", "cid-a", 0, func(m *store.Message) { m.SentAt = time.Now() })), "the store still works")
}

// TestCorruptRecord checks that a record that cannot be read stops Open
// instead of being dropped.
func TestCorruptRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := open(t, path, bolt.Options{})
	require.NoError(t, l.Record(t.Context(), msg("k1", "cid-a", 0, func(m *store.Message) { m.SentAt = time.Now() })))
	require.NoError(t, l.Close())
	require.NoError(t, bolt.PutRaw(path, "messages", "k1", []byte{1, 0}))
	_, err := bolt.Open(path, bolt.Options{})
	require.Error(t, err)
	assert.ErrorContains(t, err, `message "k1": corrupt record`)
	disk, err := bolt.DiskKeys(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"k1"}, disk["messages"], "kept")
}
