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
// kept: a restart releases them) and every known chat title.
type snapshot struct {
	Version  int         `json:"version"`
	SavedAt  time.Time   `json:"savedAt"`
	Messages []Message   `json:"messages"`
	Titles   []chatTitle `json:"titles"`
}

// chatTitle is one remembered chat title.
type chatTitle struct {
	ChatID string `json:"chatId"`
	Kind   Kind   `json:"kind"`
	Title  string `json:"title"`
}

// snapshot copies the ledger's durable state and its change count.
func (m *Memory) snapshot() (snapshot, uint64) {
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
	return s, m.ix.changes
}

// SaveFile writes the ledger to path atomically: to a temporary file in the
// same directory, synced, then renamed over path. Readers of path see the
// old snapshot or the new one, never a torn one.
func (m *Memory) SaveFile(path string) error {
	_, err := m.saveFile(path)
	return err
}

// saveFile is SaveFile returning the change count the file reflects.
func (m *Memory) saveFile(path string) (uint64, error) {
	s, changes := m.snapshot()
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("save ledger to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	enc := json.NewEncoder(tmp)
	if err := enc.Encode(s); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("save ledger to %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("save ledger to %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("save ledger to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("save ledger to %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename itself durable where the OS allows
		d.Close()
	}
	return changes, nil
}

// LoadFile adds the messages and titles saved in path to the ledger and
// returns how many messages it loaded; messages that expired meanwhile are
// skipped. A missing file is an empty ledger, not an error. A file that
// cannot be read or parsed is an error, so that a start-up never overwrites
// it with an empty ledger.
func (m *Memory) LoadFile(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load ledger from %s: %w", path, err)
	}
	var s snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("load ledger from %s: not a ledger file (%v); move it away to start empty", path, err)
	}
	if s.Version != snapshotVersion {
		return 0, fmt.Errorf("load ledger from %s: format version %d, want %d", path, s.Version, snapshotVersion)
	}
	ctx := context.Background()
	for _, t := range s.Titles {
		if err := m.SetTitle(ctx, t.ChatID, t.Kind, t.Title); err != nil {
			return 0, fmt.Errorf("load ledger from %s: %w", path, err)
		}
	}
	for _, msg := range s.Messages {
		if err := m.Record(ctx, msg); err != nil {
			return 0, fmt.Errorf("load ledger from %s: %w", path, err)
		}
	}
	return m.Len(), nil
}

// Persist saves the ledger to path every interval while it changed, and once
// more when ctx ends (at shutdown). A crash loses at most what changed in
// the last interval. Save errors are logged and retried at the next tick.
func (m *Memory) Persist(ctx context.Context, path string, interval time.Duration, log logrus.FieldLogger) {
	saved := ^uint64(0) // nothing saved yet
	save := func() {
		m.lock()
		changes := m.ix.changes
		m.unlock()
		if changes == saved {
			return
		}
		n, err := m.saveFile(path)
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
