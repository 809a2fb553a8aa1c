// Package bolt is the durable store of one node (STORE_FILE): a Ledger and
// Audit kept in an embedded bbolt database, so that a crash, even kill -9,
// loses nothing a caller was told about.
//
// The working set is a store/memory Ledger and Audit, which answer every
// read at memory speed. Each call that changes anything writes what it
// changed through to the database and returns only once that write is
// committed (fsync'ed): the memory ledger journals the records each call
// changes (memory.Options.Journal), and a committer goroutine writes the
// journal in one transaction for all the callers waiting at that moment
// (group commit), so concurrent callers share one fsync. A lone caller
// waits for one commit, not for a batching delay as bbolt's DB.Batch
// would make it. At Open everything is loaded back, messages and
// reservations that expired or are over the per-chat cap are pruned, and
// messages that were claimed when the process stopped come back flagged
// Lapsed (store.Message.Lapsed): their recall may have been under way.
//
// A JSON STORE_FILE written by package store/file is migrated on the first
// Open: it is imported, written out as a database that replaces it, and
// kept as <path>.json.bak.
//
// Claims' leases, their renewals and reservations' settlement leases are
// not written: after a restart no claim and no settlement is held.
package bolt

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	bbolt "go.etcd.io/bbolt"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/file"
	"github.com/dingrecall/dingrecall/store/memory"
)

// Buckets of the database.
var (
	bucketMessages     = []byte("messages")     // message key -> encodeMessage
	bucketReservations = []byte("reservations") // reservation ID -> JSON
	bucketTitles       = []byte("titles")       // chat ID -> JSON memory.Title
	bucketAudit        = []byte("audit")        // auditKey -> JSON store.AuditEntry
	bucketMeta         = []byte("meta")         // "format" -> dbFormat
)

// dbFormat is the layout of the database, kept under meta/format.
const dbFormat = "dingrecall-ledger-1"

// openTimeout is how long Open waits for another process to release the
// database's lock.
const openTimeout = time.Second

// auditPrunePerCommit bounds the expired or excess audit entries one
// commit deletes.
const auditPrunePerCommit = 64

// ErrClosed is returned, wrapped with store.ErrUnavailable, by the calls
// that change something after Close.
var ErrClosed = errors.New("bolt store: closed")

// Options configures a Ledger. Zero values take the defaults; negative ones
// are refused.
type Options struct {
	// TTL is how long after SentAt a message stays tracked
	// (store.DefaultTTL).
	TTL time.Duration
	// PerChat is the most messages tracked per chat (store.DefaultPerChat).
	PerChat int
	// Lease is how long a claim holds (store.DefaultLease).
	Lease time.Duration
	// AuditTTL is how long audit entries are kept (store.DefaultAuditTTL).
	AuditTTL time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// Log receives the line that reports a migration from JSON; nil
	// discards it.
	Log logrus.FieldLogger
}

// Ledger is the durable store.Ledger of one node; see the package doc.
// Its Audit shares its database. It is safe for concurrent use; only one
// process may open a database at a time.
type Ledger struct {
	mem   *memory.Ledger
	audit *memory.Audit
	db    *bbolt.DB
	now   func() time.Time
	ttl   time.Duration // of the audit log

	mu sync.Mutex
	// next is the commit the callers waiting now wait for; waiting is
	// true once one does.
	next       *commit
	waiting    bool
	auditQueue []store.AuditEntry
	auditCount int // entries in bucketAudit
	closed     bool

	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	closeErr error
	once     sync.Once
}

var _ store.Ledger = (*Ledger)(nil)

// Open opens the database at path, creating it when missing, and loads it.
// A JSON STORE_FILE (as store/file writes) is migrated first. It fails with
// an error wrapping store.ErrInvalid when an option is negative or path is
// empty, with a *file.MissingDirError when the directory of path does not
// exist, and with another error when the file is neither a ledger JSON file
// nor a database, when another process holds it, or when it cannot be read.
func Open(path string, opts Options) (*Ledger, error) {
	if path == "" {
		return nil, fmt.Errorf("bolt store: %w: empty path", store.ErrInvalid)
	}
	for _, v := range []struct {
		name string
		val  time.Duration
	}{{"TTL", opts.TTL}, {"Lease", opts.Lease}, {"AuditTTL", opts.AuditTTL}, {"PerChat", time.Duration(opts.PerChat)}} {
		if v.val < 0 {
			return nil, fmt.Errorf("bolt store: %w: %s is negative (%v)", store.ErrInvalid, v.name, v.val)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		discard := logrus.New()
		discard.SetOutput(nopWriter{})
		opts.Log = discard
	}
	opts.AuditTTL = cmp.Or(opts.AuditTTL, store.DefaultAuditTTL)
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := migrateJSON(path, opts); err != nil {
		return nil, err
	}
	mem, err := memory.New(memory.Options{TTL: opts.TTL, PerChat: opts.PerChat, Lease: opts.Lease, Now: opts.Now, Journal: true})
	if err != nil {
		return nil, err
	}
	audit, err := memory.NewAudit(memory.AuditOptions{TTL: opts.AuditTTL, Now: opts.Now})
	if err != nil {
		_ = mem.Close()
		return nil, err
	}
	db, err := openDB(path)
	if err != nil {
		_ = mem.Close()
		return nil, err
	}
	l := &Ledger{
		mem: mem, audit: audit, db: db, now: opts.Now, ttl: opts.AuditTTL, next: newCommit(),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if err := l.load(); err != nil {
		_ = db.Close()
		_ = mem.Close()
		return nil, fmt.Errorf("bolt store %s: load: %w", path, err)
	}
	go l.commitLoop()
	return l, nil
}

// nopWriter discards what is written.
type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// checkDir reports why dir cannot hold the database: a
// *file.MissingDirError when it does not exist.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &file.MissingDirError{Dir: dir}
	case err != nil:
		return fmt.Errorf("directory %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// openDB opens (or creates) the database at path with its buckets.
func openDB(path string) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: openTimeout,
		// The free list is rebuilt at open instead of written at every
		// commit, which keeps commits small.
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, bbolt.ErrTimeout):
		return nil, fmt.Errorf("bolt store %s: another process has it open", path)
	case errors.As(err, &pathErr):
		return nil, fmt.Errorf("bolt store %s: %w", path, err)
	case err != nil:
		// bbolt found no database it can read (ErrInvalid, ErrChecksum,
		// a file too small...).
		return nil, fmt.Errorf("bolt store %s: neither a ledger JSON file nor a ledger database (%v); move it away to start empty", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketMessages, bucketReservations, bucketTitles, bucketAudit, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch f := meta.Get([]byte("format")); {
		case f == nil:
			return meta.Put([]byte("format"), []byte(dbFormat))
		case string(f) != dbFormat:
			return fmt.Errorf("format %q, want %q", f, dbFormat)
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt store %s: %w", path, err)
	}
	return db, nil
}

// Close writes what is left to write, stops the committer and the memory
// ledger's janitor and closes the database. Calls that change something
// fail afterwards with ErrClosed; reads still answer from memory. Close may
// be called more than once.
func (l *Ledger) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.stop)
		<-l.done
		_ = l.mem.Close()
		flushErr := l.write(nil)
		l.closeErr = errors.Join(flushErr, l.db.Close())
		if l.closeErr != nil {
			l.closeErr = fmt.Errorf("bolt store: close: %w", l.closeErr)
		}
	})
	return l.closeErr
}

// commit is one group commit: done is closed once it ended, err says how.
type commit struct {
	done chan struct{}
	err  error
}

func newCommit() *commit { return &commit{done: make(chan struct{})} }

// unavailableError is a failed write to the database: both
// store.ErrUnavailable and the underlying error for errors.Is and As.
type unavailableError struct{ err error }

// Error returns the text of the underlying error.
func (e *unavailableError) Error() string { return e.err.Error() }

// Unwrap returns store.ErrUnavailable and the underlying error.
func (e *unavailableError) Unwrap() []error { return []error{store.ErrUnavailable, e.err} }

// durable waits until everything changed so far, the caller's change
// included, is committed to the database. A failure is marked
// store.ErrUnavailable; what failed to be written stays in the journal
// and is written by the next commit.
func (l *Ledger) durable(op string) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("bolt store: %s: %w", op, &unavailableError{ErrClosed})
	}
	c := l.next
	l.waiting = true
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-c.done
	if err := c.err; err != nil {
		return fmt.Errorf("bolt store: %s: %w", op, &unavailableError{err})
	}
	return nil
}

// commitLoop writes the journal each time callers wait, for all of them at
// once, until Close.
func (l *Ledger) commitLoop() {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			// Close marked the ledger closed: no new waiter comes; answer
			// any that came before.
			l.commitWaiting()
			return
		case <-l.kick:
			l.commitWaiting()
		}
	}
}

// commitWaiting commits until no caller waits.
func (l *Ledger) commitWaiting() {
	for {
		l.mu.Lock()
		if !l.waiting {
			l.mu.Unlock()
			return
		}
		c, entries := l.next, l.auditQueue
		l.next, l.waiting, l.auditQueue = newCommit(), false, nil
		l.mu.Unlock()
		c.err = l.write(entries)
		if c.err != nil && len(entries) > 0 {
			// Put the audit entries back for the next commit.
			l.mu.Lock()
			l.auditQueue = append(entries, l.auditQueue...)
			l.mu.Unlock()
		}
		close(c.done)
	}
}

// write commits the journal and the audit entries in one transaction and
// then clears what it wrote from the journal. Only the committer (and
// Close, after it stopped) calls it.
func (l *Ledger) write(audit []store.AuditEntry) error {
	journal := l.mem.Journal()
	if len(journal) == 0 && len(audit) == 0 {
		return nil
	}
	deleted := 0
	err := l.db.Update(func(tx *bbolt.Tx) error {
		if err := putJournal(tx, journal); err != nil {
			return err
		}
		if len(audit) == 0 {
			return nil
		}
		n, err := l.putAudit(tx, audit)
		deleted = n
		return err
	})
	if err != nil {
		return err
	}
	l.auditCount += len(audit) - deleted
	l.mem.Written(journal)
	return nil
}

// putJournal writes the journal's entries.
func putJournal(tx *bbolt.Tx, journal []memory.JournalEntry) error {
	msgs := tx.Bucket(bucketMessages)
	res := tx.Bucket(bucketReservations)
	titles := tx.Bucket(bucketTitles)
	for _, je := range journal {
		var (
			b   *bbolt.Bucket
			val []byte
			err error
		)
		switch je.Kind {
		case memory.JournalMessage:
			b = msgs
			if !je.Gone {
				// A value must stay as it is until the transaction ends.
				val = encodeMessage(make([]byte, 0, 64+len(je.Message.MsgParam)), je.Message)
			}
		case memory.JournalReservation:
			b = res
			if !je.Gone {
				val, err = marshal(je.Reservation)
			}
		case memory.JournalTitle:
			b = titles
			if !je.Gone {
				val, err = marshal(je.Title)
			}
		default:
			continue
		}
		if err != nil {
			return err
		}
		if je.Gone {
			err = b.Delete([]byte(je.ID))
		} else {
			err = b.Put([]byte(je.ID), val)
		}
		if err != nil {
			return fmt.Errorf("write %q: %w", je.ID, err)
		}
	}
	return nil
}
