package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	bbolt "go.etcd.io/bbolt"

	"github.com/dingrecall/dingrecall/store/file"
	"github.com/dingrecall/dingrecall/store/memory"
)

// BackupSuffix is appended to the path of a JSON STORE_FILE to name the
// copy kept when it is migrated.
const BackupSuffix = ".json.bak"

// isJSON reports whether the file at path exists and holds JSON (its first
// byte other than white space is '{'), as store/file writes it.
func isJSON(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	head = bytes.TrimLeft(head[:n], " \t\r\n")
	return len(head) > 0 && head[0] == '{', nil
}

// migrateJSON replaces a JSON STORE_FILE at path by a database holding the
// same ledger and audit log, and keeps the JSON file as path+BackupSuffix.
// A file that is not JSON, or no file, is left alone. The database is
// written beside the file and renamed over it, so that at every moment
// path holds either the JSON file or the complete database: a crash
// mid-way migrates again at the next start.
func migrateJSON(path string, opts Options) error {
	isJ, err := isJSON(path)
	if err != nil {
		return fmt.Errorf("bolt store %s: %w", path, err)
	}
	if !isJ {
		return nil
	}
	fail := func(err error) error { return fmt.Errorf("bolt store %s: migrate from JSON: %w", path, err) }
	mem, err := memory.New(memory.Options{TTL: opts.TTL, PerChat: opts.PerChat, Lease: opts.Lease, Now: opts.Now, Journal: true})
	if err != nil {
		return fail(err)
	}
	defer mem.Close()
	audit, err := memory.NewAudit(memory.AuditOptions{TTL: opts.AuditTTL, Now: opts.Now})
	if err != nil {
		return fail(err)
	}
	jf, err := file.New(path, mem, audit)
	if err != nil {
		return fail(err)
	}
	if err := jf.Load(context.Background()); err != nil {
		return fail(err)
	}
	entries := audit.Snapshot().Audit
	tmp := path + ".migrating"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	db, err := openDB(tmp)
	if err != nil {
		return fail(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := putJournal(tx, mem.Journal()); err != nil {
			return err
		}
		return writeAudit(tx.Bucket(bucketAudit), entries)
	})
	if err = errors.Join(err, db.Close()); err != nil {
		_ = os.Remove(tmp)
		return fail(err)
	}
	backup := path + BackupSuffix
	if err := copyFile(path, backup); err != nil {
		_ = os.Remove(tmp)
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	syncDir(filepath.Dir(path))
	opts.Log.WithFields(logrus.Fields{"file": path, "backup": backup, "messages": mem.Len(), "audit": len(entries)}).
		Info("STORE_FILE migrated from JSON to a bbolt database; the JSON file is kept as the backup")
	return nil
}

// copyFile copies src to dst atomically: to a temporary file, synced, then
// renamed over dst.
func copyFile(src, dst string) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(raw)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// syncDir makes renames in dir durable where the OS allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
