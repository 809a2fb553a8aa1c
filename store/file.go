package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
)

// snapshotVersion is the format of a STORE_FILE.
const snapshotVersion = 1

// snapshot is what a STORE_FILE holds: every tracked message (claims are not
// kept: a restart releases them), every known chat title and the audit log.
type snapshot struct {
	Version  int          `json:"version"`
	SavedAt  time.Time    `json:"savedAt"`
	Messages []Message    `json:"messages"`
	Titles   []chatTitle  `json:"titles"`
	Audit    []AuditEntry `json:"audit,omitempty"`
}

// chatTitle is one remembered chat title.
type chatTitle struct {
	ChatID string `json:"chatId"`
	Kind   Kind   `json:"kind"`
	Title  string `json:"title"`
}

// File keeps a memory ledger, and optionally its audit log, in one file
// (STORE_FILE), so that one machine's restarts forget nothing.
type File struct {
	path   string
	ledger *Memory
	audit  *MemoryAudit
}

// NewFile returns the file at path for ledger and audit (nil for none).
func NewFile(path string, ledger *Memory, audit *MemoryAudit) *File {
	return &File{path: path, ledger: ledger, audit: audit}
}

// snapshot copies the ledger's durable state.
func (m *Memory) snapshot() snapshot {
	now := m.lock()
	defer m.unlock()
	s := snapshot{Version: snapshotVersion, SavedAt: time.Unix(0, now).UTC()}
	for _, ch := range m.ix.chats {
		if ch.title != "" {
			s.Titles = append(s.Titles, chatTitle{ChatID: ch.id, Kind: ch.kind, Title: ch.title})
		}
		for _, e := range ch.msgs.items {
			if m.ix.alive(e, now) {
				s.Messages = append(s.Messages, e.message())
			}
		}
	}
	return s
}

// changes counts the changes a save would write.
func (f *File) changes() uint64 {
	f.ledger.lock()
	n := f.ledger.ix.changes
	f.ledger.unlock()
	if f.audit != nil {
		n += f.audit.changeCount()
	}
	return n
}

// Save writes the file atomically: to a temporary file in the same
// directory, synced, then renamed over it. Readers see the old snapshot or
// the new one, never a torn one.
func (f *File) Save() error {
	_, err := f.save()
	return err
}

// save is Save returning the change count the file reflects.
func (f *File) save() (uint64, error) {
	changes := f.changes()
	s := f.ledger.snapshot()
	if f.audit != nil {
		s.Audit = f.audit.entries()
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("save ledger to %s: %w", f.path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := json.NewEncoder(tmp).Encode(s); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("save ledger to %s: %w", f.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("save ledger to %s: %w", f.path, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("save ledger to %s: %w", f.path, err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return 0, fmt.Errorf("save ledger to %s: %w", f.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename itself durable where the OS allows
		d.Close()
	}
	return changes, nil
}

// Load adds the messages, titles and audit entries saved in the file to the
// ledger and audit log, and returns how many messages the ledger then holds;
// messages that expired meanwhile are skipped. A missing file is an empty
// ledger, not an error. A file that cannot be read or parsed is an error, so
// that a start-up never overwrites it with an empty ledger.
func (f *File) Load() (int, error) {
	raw, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load ledger from %s: %w", f.path, err)
	}
	var s snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("load ledger from %s: not a ledger file (%v); move it away to start empty", f.path, err)
	}
	if s.Version != snapshotVersion {
		return 0, fmt.Errorf("load ledger from %s: format version %d, want %d", f.path, s.Version, snapshotVersion)
	}
	ctx := context.Background()
	for _, t := range s.Titles {
		if err := f.ledger.SetTitle(ctx, t.ChatID, t.Kind, t.Title); err != nil {
			return 0, fmt.Errorf("load ledger from %s: %w", f.path, err)
		}
	}
	for _, msg := range s.Messages {
		if err := f.ledger.Record(ctx, msg); err != nil {
			return 0, fmt.Errorf("load ledger from %s: %w", f.path, err)
		}
	}
	if f.audit != nil {
		f.audit.load(s.Audit)
	}
	return f.ledger.Len(), nil
}

// Persist saves the file every interval while something changed, and once
// more when ctx ends (at shutdown). A crash loses at most what changed in
// the last interval. Save errors are logged and retried at the next tick.
func (f *File) Persist(ctx context.Context, interval time.Duration, log logrus.FieldLogger) {
	saved := ^uint64(0) // nothing saved yet
	save := func() {
		if f.changes() == saved {
			return
		}
		n, err := f.save()
		if err != nil {
			log.WithError(err).Error("could not save the ledger to STORE_FILE")
			return
		}
		saved = n
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			save()
			return
		case <-t.C:
			save()
		}
	}
}
