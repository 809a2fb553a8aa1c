// Package file keeps the memory stores in one file (STORE_FILE), so that one
// machine's restarts forget nothing: Load reads the file at start, Save
// writes it atomically and Persist saves it every interval while something
// changed, and once more at shutdown.
//
// It works on the memory backend through memory.Snapshotter: a
// *memory.Ledger contributes its tracked messages and chat titles, a
// *memory.Audit its audit log. Claims are not kept: a restart releases
// them.
package file

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

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
)

// snapshotVersion is the format of a STORE_FILE.
const snapshotVersion = 1

// snapshot is what a STORE_FILE holds: every tracked message, every known
// chat title and the audit log.
type snapshot struct {
	Version  int                `json:"version"`
	SavedAt  time.Time          `json:"savedAt"`
	Messages []store.Message    `json:"messages"`
	Titles   []chatTitle        `json:"titles"`
	Audit    []store.AuditEntry `json:"audit,omitempty"`
}

// chatTitle is one remembered chat title.
type chatTitle struct {
	ChatID string     `json:"chatId"`
	Kind   store.Kind `json:"kind"`
	Title  string     `json:"title"`
}

// File keeps memory stores in one file.
type File struct {
	path  string
	parts []memory.Snapshotter
}

// MissingDirError reports that the directory a file is to be kept in does
// not exist. It unwraps to fs.ErrNotExist.
type MissingDirError struct {
	// Dir is the directory, as the file's path names it.
	Dir string
}

// Error says which directory does not exist.
func (e *MissingDirError) Error() string {
	return "directory " + e.Dir + " does not exist"
}

// Unwrap returns fs.ErrNotExist.
func (e *MissingDirError) Unwrap() error { return fs.ErrNotExist }

// checkDir reports why dir cannot hold the file: a *MissingDirError when it
// does not exist, another error when it is not a directory or cannot be
// examined.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &MissingDirError{Dir: dir}
	case err != nil:
		return fmt.Errorf("directory %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// New returns the file at path for parts, such as a *memory.Ledger and a
// *memory.Audit; Load restores each its own part in the order given. It
// fails with an error wrapping store.ErrInvalid when path is empty or a
// part is nil, or when there is no part; with a *MissingDirError when the
// directory of path does not exist, and with another error when that is
// not a directory. The file itself need not exist.
func New(path string, parts ...memory.Snapshotter) (*File, error) {
	switch {
	case path == "":
		return nil, fmt.Errorf("store file: %w: empty path", store.ErrInvalid)
	case len(parts) == 0:
		return nil, fmt.Errorf("store file %s: %w: nothing to keep", path, store.ErrInvalid)
	}
	for i, p := range parts {
		if p == nil {
			return nil, fmt.Errorf("store file %s: %w: part %d is nil", path, store.ErrInvalid, i)
		}
	}
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return &File{path: path, parts: parts}, nil
}

// changes counts the changes a save would write.
func (f *File) changes() uint64 {
	var n uint64
	for _, p := range f.parts {
		n += p.Changes()
	}
	return n
}

// snapshot gathers the parts' state in the file's format.
func (f *File) snapshot() snapshot {
	s := snapshot{Version: snapshotVersion}
	for _, p := range f.parts {
		ps := p.Snapshot()
		if s.SavedAt.IsZero() {
			s.SavedAt = ps.At
		}
		s.Messages = append(s.Messages, ps.Messages...)
		for _, t := range ps.Titles {
			s.Titles = append(s.Titles, chatTitle{ChatID: t.ChatID, Kind: t.Kind, Title: t.Title})
		}
		s.Audit = append(s.Audit, ps.Audit...)
	}
	return s
}

// Save writes the file atomically: to a temporary file in the same
// directory, synced, then renamed over it. Readers see the old snapshot or
// the new one, never a torn one. When the directory has gone, the error
// wraps a *MissingDirError.
func (f *File) Save() error {
	_, err := f.save()
	return err
}

// save is Save returning the change count the file reflects.
func (f *File) save() (uint64, error) {
	changes := f.changes()
	s := f.snapshot()
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		// Name the directory, not the temporary file, when it is the
		// directory that is wrong.
		if derr := checkDir(dir); derr != nil {
			err = derr
		}
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

// Load adds what the file holds to the parts, each its own part; messages
// and audit entries that expired meanwhile are skipped. A missing file is
// an empty store, not an error. A file that cannot be read or parsed is an
// error, so that a start-up never overwrites it with an empty store.
func (f *File) Load(ctx context.Context) error {
	raw, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load ledger from %s: %w", f.path, err)
	}
	var s snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("load ledger from %s: not a ledger file (%v); move it away to start empty", f.path, err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("load ledger from %s: format version %d, want %d", f.path, s.Version, snapshotVersion)
	}
	ms := memory.Snapshot{At: s.SavedAt, Messages: s.Messages, Audit: s.Audit}
	for _, t := range s.Titles {
		ms.Titles = append(ms.Titles, memory.Title{ChatID: t.ChatID, Kind: t.Kind, Title: t.Title})
	}
	for _, p := range f.parts {
		if err := p.Restore(ctx, ms); err != nil {
			return fmt.Errorf("load ledger from %s: %w", f.path, err)
		}
	}
	return nil
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
