package file_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/file"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/storetest"
)

// fileLedger is a memory ledger on clock.
func fileLedger(t testing.TB, clock *storetest.Clock) *memory.Ledger {
	t.Helper()
	m, err := memory.New(memory.Options{Now: clock.Now, TTL: 24 * time.Hour})
	require.NoError(t, err)
	return m
}

// fileAudit is a memory audit log on clock, keeping entries for an hour.
func fileAudit(t testing.TB, clock *storetest.Clock) *memory.Audit {
	t.Helper()
	a, err := memory.NewAudit(memory.AuditOptions{TTL: time.Hour, Now: clock.Now})
	require.NoError(t, err)
	return a
}

// newFile returns the file at path for parts, failing t if New refuses
// them.
func newFile(t testing.TB, path string, parts ...memory.Snapshotter) *file.File {
	t.Helper()
	f, err := file.New(path, parts...)
	require.NoError(t, err)
	return f
}

// load loads the file at path into a new ledger on clock and returns it.
func load(t testing.TB, path string, clock *storetest.Clock) (*memory.Ledger, error) {
	t.Helper()
	l := fileLedger(t, clock)
	return l, newFile(t, path, l).Load(context.Background())
}

func TestSaveAndLoadFile(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(storetest.Start)
	path := filepath.Join(t.TempDir(), "ledger.json")
	m := fileLedger(t, clock)
	msgs := []store.Message{
		{Key: "k1", Kind: store.KindGroup, ChatID: "cidA", RobotCode: "bot", MsgKey: "sampleText", MsgParam: `{"content":"one"}`, Tag: "deploy", SentAt: clock.Now().Add(-2 * time.Hour)},
		{Key: "k2", Kind: store.KindGroup, ChatID: "cidA", RobotCode: "bot", MsgKey: "sampleText", MsgParam: `{"content":"two"}`, SentAt: clock.Now().Add(-time.Hour), Reply: true, ExpiresAt: clock.Now().Add(time.Minute)},
		{Key: "k3", Kind: store.KindOTO, ChatID: "staff-1", RobotCode: "bot", MsgKey: "sampleMarkdown", MsgParam: `{"title":"t","text":"x"}`, SentAt: clock.Now().Add(-23 * time.Hour)},
		{Key: "k4", Kind: store.KindPrivate, ChatID: "cidP", RobotCode: "bot", MsgKey: "sampleText", MsgParam: `{"content":"p"}`, SentAt: clock.Now()},
	}
	for _, msg := range msgs {
		require.NoError(t, m.Record(ctx, msg))
	}
	require.NoError(t, m.Fail(ctx, "", map[string]store.Failure{"k1": {Code: "bot.stopped", Message: "robot stopped"}}))
	require.NoError(t, m.SetTitle(ctx, "cidA", store.KindGroup, "ops-alerts"))
	require.NoError(t, m.SetTitle(ctx, "cidQuiet", store.KindGroup, "quiet"))
	_, err := m.TakeNewest(ctx, "cidP", 1) // a claim is not kept across a restart
	require.NoError(t, err)
	require.NoError(t, newFile(t, path, m).Save())

	clock.Advance(90 * time.Minute) // k3 expires meanwhile
	loaded, err := load(t, path, clock)
	require.NoError(t, err)
	assert.Equal(t, 3, loaded.Len())

	got, err := loaded.List(ctx, "cidA", 0)
	require.NoError(t, err)
	want := []store.Message{msgs[1], msgs[0]}
	want[1].Failure = store.Failure{Code: "bot.stopped", Message: "robot stopped"}
	require.Len(t, got, 2)
	for i := range want {
		assert.Equal(t, want[i].Key, got[i].Key)
		assert.Equal(t, want[i].MsgParam, got[i].MsgParam)
		assert.Equal(t, want[i].Tag, got[i].Tag)
		assert.Equal(t, want[i].Reply, got[i].Reply)
		assert.Equal(t, want[i].Failure, got[i].Failure)
		assert.True(t, want[i].SentAt.Equal(got[i].SentAt))
		assert.True(t, want[i].ExpiresAt.Equal(got[i].ExpiresAt))
	}
	_, err = loaded.Get(ctx, "k3")
	assert.ErrorIs(t, err, store.ErrNotFound, "a message that expired while down is not loaded")
	taken, err := loaded.TakeNewest(ctx, "cidP", 1)
	require.NoError(t, err)
	assert.Len(t, taken, 1, "claims are released by a restart")
	chat, err := loaded.FindChat(ctx, "quiet")
	require.NoError(t, err)
	assert.Equal(t, "cidQuiet", chat.ID, "titles survive too")

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

func TestLoadFileProblems(t *testing.T) {
	dir := t.TempDir()
	m := fileLedger(t, storetest.NewClock(storetest.Start))

	err := newFile(t, filepath.Join(dir, "missing.json"), m).Load(t.Context())
	require.NoError(t, err, "a missing file is an empty ledger")
	assert.Zero(t, m.Len())

	tests := []struct{ name, content, want string }{
		{"corrupt", `{"version":1,"messages":[`, "not a ledger file"},
		{"other version", `{"version":99}`, "format version 99"},
		{"invalid message", `{"version":1,"messages":[{"Key":"","Kind":"group"}]}`, "empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			err := newFile(t, path, m).Load(t.Context())
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestPersistSavesChangesAndAtShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clock := storetest.NewClock(storetest.Start)
	path := filepath.Join(t.TempDir(), "ledger.json")
	m := fileLedger(t, clock)
	log, _ := test.NewNullLogger()
	done := make(chan struct{})
	f := newFile(t, path, m)
	go func() { f.Persist(ctx, time.Millisecond, log); close(done) }()

	require.NoError(t, m.Record(ctx, store.Message{Key: "k1", Kind: store.KindGroup, ChatID: "c", SentAt: clock.Now()}))
	require.Eventually(t, func() bool {
		l, err := load(t, path, clock)
		return err == nil && l.Len() == 1
	}, 5*time.Second, time.Millisecond, "the ticker saves a change")

	cancel()
	<-done

	// With an interval that never ticks, only the shutdown save writes.
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { f.Persist(ctx, time.Hour, log); close(done) }()
	require.NoError(t, m.Record(ctx, store.Message{Key: "k2", Kind: store.KindGroup, ChatID: "c", SentAt: clock.Now()}))
	cancel()
	<-done
	l, err := load(t, path, clock)
	require.NoError(t, err)
	assert.Equal(t, 2, l.Len(), "the last change is saved at shutdown")
}

func TestFileKeepsTheAuditLog(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(storetest.Start)
	path := filepath.Join(t.TempDir(), "ledger.json")
	audit := fileAudit(t, clock)
	require.NoError(t, audit.AddAudit(ctx, store.AuditEntry{Action: store.ActionRecall, ChatID: "cidA", Request: "recall 1",
		Items: []store.AuditItem{{Key: "k1", ChatID: "cidA", Result: store.ResultRecalled, MsgParam: `{"content":"x"}`}}}))
	require.NoError(t, newFile(t, path, fileLedger(t, clock), audit).Save())

	loaded := fileAudit(t, clock)
	require.NoError(t, newFile(t, path, fileLedger(t, clock), loaded).Load(ctx))
	got, err := loaded.AuditLog(ctx, "cidA", 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "recall 1", got[0].Request)
	assert.Equal(t, `{"content":"x"}`, got[0].Items[0].MsgParam)
}

func TestNewRefuses(t *testing.T) {
	m := fileLedger(t, storetest.NewClock(storetest.Start))
	path := filepath.Join(t.TempDir(), "ledger.json")
	tests := []struct {
		name  string
		path  string
		parts []memory.Snapshotter
		want  string
	}{
		{"empty path", "", []memory.Snapshotter{m}, "empty path"},
		{"no part", path, nil, "nothing to keep"},
		{"nil part", path, []memory.Snapshotter{m, nil}, "part 1 is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := file.New(tt.path, tt.parts...)
			require.ErrorIs(t, err, store.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// TestMissingDirectory checks that a file in a directory that does not
// exist (or is not a directory) is refused naming the directory, not the
// temporary file a save would have written.
func TestMissingDirectory(t *testing.T) {
	root := t.TempDir()
	plain := filepath.Join(root, "plain")
	require.NoError(t, os.WriteFile(plain, nil, 0o600))
	m := fileLedger(t, storetest.NewClock(storetest.Start))
	tests := []struct {
		name    string
		path    string
		want    string
		missing bool // a *MissingDirError
	}{
		{"missing", filepath.Join(root, "x", "y", "ledger.json"), "directory " + filepath.Join(root, "x", "y") + " does not exist", true},
		{"relative missing", filepath.Join("no-such-dir-here", "ledger.json"), "directory no-such-dir-here does not exist", true},
		{"a file", filepath.Join(plain, "ledger.json"), plain + " is not a directory", false},
		{"under a file", filepath.Join(plain, "sub", "ledger.json"), "directory " + filepath.Join(plain, "sub"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := file.New(tt.path, m)
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.want)
			assert.NotContains(t, err.Error(), ".tmp-")
			var missing *file.MissingDirError
			assert.Equal(t, tt.missing, errors.As(err, &missing))
			assert.Equal(t, tt.missing, errors.Is(err, fs.ErrNotExist))
			if tt.missing {
				assert.Equal(t, tt.want, err.Error(), "the whole message")
			}
		})
	}

	t.Run("gone after start", func(t *testing.T) {
		dir := filepath.Join(root, "data")
		require.NoError(t, os.Mkdir(dir, 0o700))
		f := newFile(t, filepath.Join(dir, "ledger.json"), m)
		require.NoError(t, f.Save())
		require.NoError(t, os.RemoveAll(dir))
		err := f.Save()
		var missing *file.MissingDirError
		require.ErrorAs(t, err, &missing)
		assert.Equal(t, dir, missing.Dir)
		assert.EqualError(t, err, "save ledger to "+filepath.Join(dir, "ledger.json")+": directory "+dir+" does not exist")
	})
}
