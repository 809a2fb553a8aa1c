package memory

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patrickmn/go-cache"

	"github.com/dingrecall/dingrecall/store"
)

// internLimit bounds the table of interned robot codes and message keys.
const internLimit = 1024

// Options configures a Ledger. Zero values take the defaults; negative ones
// are refused.
type Options struct {
	// TTL is how long after SentAt a message stays tracked
	// (store.DefaultTTL).
	TTL time.Duration
	// PerChat is the most messages tracked per chat (store.DefaultPerChat);
	// recording one more drops the oldest.
	PerChat int
	// Lease is how long a claim holds before it lapses
	// (store.DefaultLease).
	Lease time.Duration
	// Now is the clock (time.Now). Every expiry and lease decision uses it.
	Now func() time.Time
	// CleanupInterval is how often the janitor reclaims expired messages
	// (one minute).
	CleanupInterval time.Duration
	// Journal makes the ledger note every message, reservation and title
	// it changes, for a store that writes them through to disk (store/bolt);
	// see Ledger.Journal.
	Journal bool
}

// validate refuses negative options.
func (o Options) validate() error {
	const what = "memory ledger"
	return cmp.Or(
		notNegative(what, "TTL", o.TTL),
		notNegative(what, "PerChat", o.PerChat),
		notNegative(what, "Lease", o.Lease),
		notNegative(what, "CleanupInterval", o.CleanupInterval),
	)
}

// Ledger is the embedded store.Ledger: messages live in a go-cache keyed by
// processQueryKey and expiring with the TTL, indexed per chat, per tag and
// by due time. It is safe for concurrent use by one process; replicas need
// a shared ledger.
//
// Each chat keeps its messages in a slice sorted by SentAt (appended in the
// common case, inserted by binary search otherwise), so Newest and
// TakeNewest walk from the end and cost O(n + skipped replies and claimed
// messages), not O(history). Removed and expired messages are marked dead
// and cleaned lazily: dead ones at either end of a slice are popped at once
// and a slice is compacted when more than half of it is dead. Expired
// messages form a prefix of each chat's slice, since all share one TTL, and
// are trimmed whenever the chat is used; the janitor catches the rest
// through go-cache's eviction callback.
type Ledger struct {
	c   *cache.Cache
	ix  *index
	jan *janitor
}

var _ store.Ledger = (*Ledger)(nil)

// New returns an empty Ledger configured by opts. It fails with an error
// wrapping store.ErrInvalid when an option is negative.
func New(opts Options) (*Ledger, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.TTL == 0 {
		opts.TTL = store.DefaultTTL
	}
	if opts.PerChat == 0 {
		opts.PerChat = store.DefaultPerChat
	}
	if opts.Lease == 0 {
		opts.Lease = store.DefaultLease
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CleanupInterval == 0 {
		opts.CleanupInterval = defaultCleanup
	}
	ix := &index{
		ttl:     int64(opts.TTL),
		lease:   int64(opts.Lease),
		perChat: opts.PerChat,
		now:     opts.Now,
		chats:   make(map[string]*chat),
		tags:    make(map[string]*list),
		strs:    make(map[string]string),
		res:     make(map[string]*reservation),
	}
	if opts.Journal {
		ix.journal = make(map[journalKey]uint64)
	}
	c := cache.New(cache.NoExpiration, 0) // no janitor of go-cache's own
	// The callback must not reference the Ledger: the janitor holds c, and
	// stops when the Ledger becomes unreachable (see startJanitor).
	c.OnEvicted(ix.evicted)
	m := &Ledger{c: c, ix: ix}
	m.jan = startJanitor(m, c, opts.CleanupInterval)
	return m, nil
}

// Close stops the ledger's janitor. The ledger keeps its messages and
// still answers (a last save to STORE_FILE may follow), dropping expired
// messages as it meets them. Close always returns nil, and may be called
// more than once.
func (m *Ledger) Close() error {
	m.jan.Stop()
	return nil
}

// index is the part of a Ledger that go-cache's eviction callback reaches.
// All fields, and all fields of the entries and chats it holds except
// entry.dead, are guarded by mu.
type index struct {
	mu      sync.Mutex
	ttl     int64 // nanoseconds
	lease   int64 // nanoseconds
	perChat int
	now     func() time.Time

	chats map[string]*chat
	tags  map[string]*list // by SentAt
	due   list             // messages with an ExpiresAt, by ExpiresAt
	strs  map[string]string
	live  int
	// changes counts the changes a snapshot keeps (not claims), so the
	// STORE_FILE saver writes only when something changed.
	changes uint64
	// evict holds entries killed under mu whose keys the Ledger must still
	// delete from go-cache before unlocking.
	evict []*entry
	// res holds the reservations by ID.
	res map[string]*reservation
	// journal maps each record changed since it was last written through
	// to the sequence number of its last change; nil unless
	// Options.Journal. seq numbers the changes.
	journal map[journalKey]uint64
	seq     uint64
}

// chat is one chat's summary and its messages sorted by SentAt.
type chat struct {
	id    string
	kind  store.Kind
	title string
	msgs  list
}

// entry is one tracked message. It is shared by go-cache and the lists; the
// chat ID and kind are not copied per message.
type entry struct {
	key      string
	robot    string
	msgKey   string
	msgParam string
	tag      string
	failure  store.Failure
	chat     *chat
	sentAt   int64  // Unix nanoseconds
	expires  int64  // Unix nanoseconds of ExpiresAt, when due is set
	claimed  int64  // claimed until, Unix nanoseconds; 0 when not claimed
	holder   string // the token of the claim
	dead     atomic.Bool
	kind     uint8
	reply    bool
	due      bool
	// lapsed is set when a claim on the entry lapsed and it was claimed
	// again; see wasLapsed.
	lapsed bool
}

// kinds maps an entry's kind code to its store.Kind.
var kinds = [...]store.Kind{store.KindGroup, store.KindPrivate, store.KindOTO}

func kindCode(k store.Kind) uint8 {
	for i, v := range kinds {
		if v == k {
			return uint8(i)
		}
	}
	return 0
}

func (e *entry) message() store.Message {
	m := store.Message{
		Key:       e.key,
		Kind:      kinds[e.kind],
		ChatID:    e.chat.id,
		RobotCode: e.robot,
		MsgKey:    e.msgKey,
		MsgParam:  e.msgParam,
		Tag:       e.tag,
		SentAt:    time.Unix(0, e.sentAt).UTC(),
		Reply:     e.reply,
		Failure:   e.failure,
	}
	if e.due {
		m.ExpiresAt = time.Unix(0, e.expires).UTC()
	}
	return m
}

// msg returns e as a message at now, flagged Lapsed if a claim on it
// lapsed.
func (ix *index) msg(e *entry, now int64) store.Message {
	m := e.message()
	m.Lapsed = wasLapsed(e, now)
	return m
}

// wasLapsed reports whether a claim on e lapsed at now without being
// released: its holder still names it but its lease ran out, or it lapsed
// before and e was claimed again since.
func wasLapsed(e *entry, now int64) bool {
	return e.lapsed || (e.holder != "" && e.claimed <= now)
}

// take claims e for claim until a lease from now, noting whether an
// earlier claim lapsed, and returns it as a message with its claim.
func (ix *index) take(e *entry, now int64, claim string) store.Message {
	e.lapsed = wasLapsed(e, now)
	e.claimed, e.holder = now+ix.lease, claim
	ix.mark(JournalMessage, e.key)
	m := ix.msg(e, now)
	m.Claim = claim
	return m
}

// release drops the claim on e and its lapsed flag.
func (ix *index) release(e *entry) {
	e.claimed, e.holder, e.lapsed = 0, "", false
	ix.mark(JournalMessage, e.key)
}

func bySentAt(e *entry) int64    { return e.sentAt }
func byExpiresAt(e *entry) int64 { return e.expires }

// list is a slice of entries sorted by a time, with dead entries removed
// lazily.
type list struct {
	items []*entry
	dead  int // dead entries in items
}

// insert adds e after every entry whose time is not later than e's.
func (l *list) insert(e *entry, at func(*entry) int64) {
	t := at(e)
	n := len(l.items)
	if n == 0 || at(l.items[n-1]) <= t {
		l.items = append(l.items, e)
		return
	}
	i := sort.Search(n, func(i int) bool { return at(l.items[i]) > t })
	l.items = append(l.items, nil)
	copy(l.items[i+1:], l.items[i:])
	l.items[i] = e
}

// tidy pops dead entries from both ends and compacts the slice when more
// than half of it is dead.
func (l *list) tidy() {
	for len(l.items) > 0 && l.items[0].dead.Load() {
		l.items[0] = nil
		l.items = l.items[1:]
		l.dead--
	}
	for n := len(l.items); n > 0 && l.items[n-1].dead.Load(); n-- {
		l.items[n-1] = nil
		l.items = l.items[:n-1]
		l.dead--
	}
	if l.dead > 0 && 2*l.dead > len(l.items) {
		out := l.items[:0]
		for _, e := range l.items {
			if !e.dead.Load() {
				out = append(out, e)
			}
		}
		clear(l.items[len(out):])
		l.items = out
		l.dead = 0
	}
	if len(l.items) == 0 {
		l.items = nil
	}
}

// alive reports whether e is tracked at now.
func (ix *index) alive(e *entry, now int64) bool {
	return !e.dead.Load() && e.sentAt > now-ix.ttl
}

// holds reports whether claim holds e's claim (an empty claim holds any).
func holds(e *entry, claim string) bool { return claim == "" || e.holder == claim }

// free reports whether e is tracked and unclaimed at now.
func (ix *index) free(e *entry, now int64) bool {
	return ix.alive(e, now) && e.claimed <= now
}

func (ix *index) intern(s string) string {
	if v, ok := ix.strs[s]; ok {
		return v
	}
	if len(ix.strs) < internLimit {
		ix.strs[s] = s
	}
	return s
}

// kill forgets e in every index. The Ledger deletes it from go-cache on unlock.
func (ix *index) kill(e *entry) {
	if e.dead.Load() {
		return
	}
	e.dead.Store(true)
	ix.live--
	ix.mark(JournalMessage, e.key)
	ch := e.chat
	ch.msgs.dead++
	ch.msgs.tidy()
	if len(ch.msgs.items) == 0 && ch.title == "" && ix.chats[ch.id] == ch {
		delete(ix.chats, ch.id)
	}
	if e.tag != "" {
		if l := ix.tags[e.tag]; l != nil {
			l.dead++
			l.tidy()
			if len(l.items) == 0 {
				delete(ix.tags, e.tag)
			}
		}
	}
	if e.due {
		ix.due.dead++
		ix.due.tidy()
	}
	e.msgParam = ""
	ix.evict = append(ix.evict, e)
}

// trim forgets the expired messages of ch, which are a prefix of its slice.
func (ix *index) trim(ch *chat, now int64) {
	cut := now - ix.ttl
	for len(ch.msgs.items) > 0 {
		e := ch.msgs.items[0]
		if e.sentAt > cut {
			return
		}
		ix.kill(e)
	}
}

// evicted is go-cache's eviction callback. Entries the ledger deleted
// itself are already dead; others expired and the janitor deleted them.
func (ix *index) evicted(_ string, v any) {
	e, ok := v.(*entry)
	if !ok || e.dead.Load() {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.kill(e)
	// e has left go-cache already.
	clear(ix.evict)
	ix.evict = ix.evict[:0]
}

func (m *Ledger) lock() int64 {
	m.ix.mu.Lock()
	return m.ix.now().UnixNano()
}

// unlock deletes the entries killed under the lock from go-cache, unless
// their key maps to a newer entry, and unlocks.
func (m *Ledger) unlock() {
	ix := m.ix
	for i, e := range ix.evict {
		if v, ok := m.c.Get(e.key); ok && v == any(e) {
			m.c.Delete(e.key) // calls ix.evicted, which sees e dead
		}
		ix.evict[i] = nil
	}
	ix.evict = ix.evict[:0]
	ix.mu.Unlock()
}

// lookup returns the entry of key in go-cache, dead or alive, or nil.
func (m *Ledger) lookup(key string) *entry {
	v, ok := m.c.Get(key)
	if !ok {
		return nil
	}
	e, _ := v.(*entry)
	return e
}

// Record tracks msg; see store.Ledger. A message whose SentAt is already
// TTL old is accepted but not tracked.
func (m *Ledger) Record(ctx context.Context, msg store.Message) error {
	if err := ctxErr(ctx, "record message"); err != nil {
		return err
	}
	if err := msg.Validate(); err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	now := m.lock()
	defer m.unlock()
	m.record(msg, now, false)
	return nil
}

// record tracks msg, valid, at now, flagged lapsed if asked; the caller
// holds the lock.
func (m *Ledger) record(msg store.Message, now int64, lapsed bool) {
	ix := m.ix
	ix.changes++
	ix.mark(JournalMessage, msg.Key)
	if old := m.lookup(msg.Key); old != nil {
		ix.kill(old)
	}
	sent := msg.SentAt.UnixNano()
	if sent <= now-ix.ttl {
		return
	}
	ch := ix.chats[msg.ChatID]
	if ch == nil {
		ch = &chat{id: msg.ChatID}
		ix.chats[msg.ChatID] = ch
	}
	ch.kind = msg.Kind
	e := &entry{
		key:      msg.Key,
		robot:    ix.intern(msg.RobotCode),
		msgKey:   ix.intern(msg.MsgKey),
		msgParam: msg.MsgParam,
		tag:      msg.Tag,
		failure:  msg.Failure,
		chat:     ch,
		sentAt:   sent,
		kind:     kindCode(msg.Kind),
		reply:    msg.Reply,
		lapsed:   lapsed,
	}
	ch.msgs.insert(e, bySentAt)
	if e.tag != "" {
		l := ix.tags[e.tag]
		if l == nil {
			l = &list{}
			ix.tags[e.tag] = l
		}
		l.insert(e, bySentAt)
	}
	if !msg.ExpiresAt.IsZero() {
		e.due = true
		e.expires = msg.ExpiresAt.UnixNano()
		ix.due.insert(e, byExpiresAt)
	}
	ix.live++
	// time.Time.Sub saturates, so far-future times cannot overflow.
	m.c.Set(e.key, e, msg.SentAt.Add(time.Duration(ix.ttl)+evictionGrace).Sub(time.Unix(0, now)))
	ix.trim(ch, now)
	for len(ch.msgs.items)-ch.msgs.dead > ix.perChat {
		ix.kill(ch.msgs.items[0]) // tidy keeps the head alive
	}
}

// Get returns the tracked message with the key; see store.Ledger.
func (m *Ledger) Get(ctx context.Context, key string) (store.Message, error) {
	if err := ctxErr(ctx, "get message"); err != nil {
		return store.Message{}, err
	}
	now := m.lock()
	defer m.unlock()
	e := m.lookup(key)
	if e == nil || !m.ix.alive(e, now) {
		return store.Message{}, fmt.Errorf("get message %q: %w", key, store.ErrNotFound)
	}
	return m.ix.msg(e, now), nil
}

// List returns the tracked messages of a chat, newest first; see store.Ledger.
func (m *Ledger) List(ctx context.Context, chatID string, limit int) ([]store.Message, error) {
	if err := ctxErr(ctx, "list messages"); err != nil {
		return nil, err
	}
	now := m.lock()
	defer m.unlock()
	ch := m.ix.chats[chatID]
	if ch == nil {
		return nil, nil
	}
	m.ix.trim(ch, now)
	n := len(ch.msgs.items) - ch.msgs.dead
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]store.Message, 0, n)
	for i := len(ch.msgs.items) - 1; i >= 0 && len(out) < n; i-- {
		if e := ch.msgs.items[i]; !e.dead.Load() {
			out = append(out, m.ix.msg(e, now))
		}
	}
	return out, nil
}

// Newest returns the newest n unclaimed non-reply messages of a chat; see
// store.Ledger.
func (m *Ledger) Newest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	if err := ctxErr(ctx, "newest messages"); err != nil {
		return nil, err
	}
	return m.newest(chatID, n, ""), nil
}

// TakeNewest claims and returns what Newest would; see store.Ledger.
func (m *Ledger) TakeNewest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	if err := ctxErr(ctx, "take newest messages"); err != nil {
		return nil, err
	}
	return m.newest(chatID, n, store.NewClaimToken()), nil
}

func (m *Ledger) newest(chatID string, n int, claim string) []store.Message {
	if n <= 0 {
		return nil
	}
	now := m.lock()
	defer m.unlock()
	ix := m.ix
	ch := ix.chats[chatID]
	if ch == nil {
		return nil
	}
	ix.trim(ch, now)
	out := make([]store.Message, 0, min(n, len(ch.msgs.items)))
	for i := len(ch.msgs.items) - 1; i >= 0 && len(out) < n; i-- {
		e := ch.msgs.items[i]
		if e.reply || !ix.free(e, now) {
			continue
		}
		if claim != "" {
			out = append(out, ix.take(e, now, claim))
		} else {
			out = append(out, ix.msg(e, now))
		}
	}
	return out
}

// Claim claims those of the keys that are tracked and unclaimed; see
// store.Ledger.
func (m *Ledger) Claim(ctx context.Context, keys []string) ([]store.Message, error) {
	if err := ctxErr(ctx, "claim messages"); err != nil {
		return nil, err
	}
	now := m.lock()
	defer m.unlock()
	token := store.NewClaimToken()
	var out []store.Message
	for _, k := range keys {
		e := m.lookup(k)
		if e == nil || !m.ix.free(e, now) {
			continue
		}
		out = append(out, m.ix.take(e, now, token))
	}
	return out, nil
}

// Remove forgets the keys; see store.Ledger.
func (m *Ledger) Remove(ctx context.Context, keys ...string) error {
	if err := ctxErr(ctx, "remove messages"); err != nil {
		return err
	}
	m.lock()
	defer m.unlock()
	m.ix.changes++
	for _, k := range keys {
		if e := m.lookup(k); e != nil {
			m.ix.kill(e)
		}
	}
	return nil
}

// Fail records the failures and releases the claims; see store.Ledger.
func (m *Ledger) Fail(ctx context.Context, claim string, failures map[string]store.Failure) error {
	if err := ctxErr(ctx, "fail messages"); err != nil {
		return err
	}
	now := m.lock()
	defer m.unlock()
	m.ix.changes++
	for k, f := range failures {
		if e := m.lookup(k); e != nil && m.ix.alive(e, now) && holds(e, claim) {
			e.failure = f
			m.ix.release(e)
		}
	}
	return nil
}

// Release releases the claims on the keys; see store.Ledger.
func (m *Ledger) Release(ctx context.Context, claim string, keys ...string) error {
	if err := ctxErr(ctx, "release messages"); err != nil {
		return err
	}
	m.lock()
	defer m.unlock()
	for _, k := range keys {
		if e := m.lookup(k); e != nil && !e.dead.Load() && holds(e, claim) {
			m.ix.release(e)
		}
	}
	return nil
}

// ByTag returns the unclaimed non-reply messages with the tag, newest
// first; see store.Ledger.
func (m *Ledger) ByTag(ctx context.Context, tag string) ([]store.Message, error) {
	if err := ctxErr(ctx, "messages by tag"); err != nil {
		return nil, err
	}
	now := m.lock()
	defer m.unlock()
	ix := m.ix
	l := ix.tags[tag]
	if l == nil {
		return nil, nil
	}
	var out []store.Message
	var expired []*entry
	for i := len(l.items) - 1; i >= 0; i-- {
		e := l.items[i]
		switch {
		case e.dead.Load():
		case !ix.alive(e, now):
			expired = append(expired, e)
		case !e.reply && e.claimed <= now:
			out = append(out, ix.msg(e, now))
		}
	}
	for _, e := range expired {
		ix.kill(e)
	}
	return out, nil
}

// Due returns the unclaimed messages due for automatic recall at now,
// earliest first; see store.Ledger.
func (m *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]store.Message, error) {
	if err := ctxErr(ctx, "due messages"); err != nil {
		return nil, err
	}
	clock := m.lock()
	defer m.unlock()
	ix := m.ix
	until := now.UnixNano()
	var out []store.Message
	var expired []*entry
	for _, e := range ix.due.items {
		if e.expires > until || (limit > 0 && len(out) >= limit) {
			break
		}
		switch {
		case e.dead.Load():
		case !ix.alive(e, clock):
			expired = append(expired, e)
		case e.claimed <= clock:
			out = append(out, ix.msg(e, clock))
		}
	}
	for _, e := range expired {
		ix.kill(e)
	}
	return out, nil
}

// SetTitle remembers the title of a chat; see store.Ledger.
func (m *Ledger) SetTitle(ctx context.Context, chatID string, kind store.Kind, title string) error {
	if err := ctxErr(ctx, "set chat title"); err != nil {
		return err
	}
	switch {
	case chatID == "":
		return fmt.Errorf("set chat title: %w: empty chat id", store.ErrInvalid)
	case !kind.Valid():
		return fmt.Errorf("set chat title: %w: unknown chat kind %q", store.ErrInvalid, kind)
	}
	m.lock()
	defer m.unlock()
	ix := m.ix
	ix.changes++
	ix.mark(JournalTitle, chatID)
	ch := ix.chats[chatID]
	if ch == nil {
		if title == "" {
			return nil
		}
		ch = &chat{id: chatID}
		ix.chats[chatID] = ch
	}
	ch.kind = kind
	ch.title = title
	if title == "" && len(ch.msgs.items) == 0 {
		delete(ix.chats, chatID)
	}
	return nil
}

// summary returns ch's summary after trimming it, and its newest SentAt.
func (ix *index) summary(ch *chat, now int64) (store.Chat, int64) {
	ix.trim(ch, now)
	c := store.Chat{ID: ch.id, Kind: ch.kind, Title: ch.title, Count: len(ch.msgs.items) - ch.msgs.dead}
	var newest int64
	if n := len(ch.msgs.items); n > 0 {
		newest = ch.msgs.items[n-1].sentAt
	}
	return c, newest
}

// Chats returns the chats with tracked messages, most recently active
// first; see store.Ledger.
func (m *Ledger) Chats(ctx context.Context) ([]store.Chat, error) {
	if err := ctxErr(ctx, "list chats"); err != nil {
		return nil, err
	}
	now := m.lock()
	defer m.unlock()
	var all []store.ActiveChat[int64]
	for _, ch := range m.ix.chats {
		if c, newest := m.ix.summary(ch, now); c.Count > 0 {
			all = append(all, store.ActiveChat[int64]{Chat: c, Newest: newest})
		}
	}
	return store.ByActivity(all), nil
}

// FindChat returns the chat with the ID or, failing that, the title; see
// store.Ledger.
func (m *Ledger) FindChat(ctx context.Context, idOrTitle string) (store.Chat, error) {
	if err := ctxErr(ctx, "find chat"); err != nil {
		return store.Chat{}, err
	}
	now := m.lock()
	defer m.unlock()
	ix := m.ix
	if ch := ix.chats[idOrTitle]; ch != nil {
		if c, _ := ix.summary(ch, now); c.Count > 0 || c.Title != "" {
			return c, nil
		}
	}
	var found []*chat
	for _, ch := range ix.chats {
		if ch.title != "" && strings.EqualFold(ch.title, idOrTitle) {
			found = append(found, ch)
		}
	}
	switch len(found) {
	case 0:
		return store.Chat{}, fmt.Errorf("find chat %q: %w", idOrTitle, store.ErrNotFound)
	case 1:
		c, _ := ix.summary(found[0], now)
		return c, nil
	}
	return store.Chat{}, fmt.Errorf("find chat %q: %w: %d chats have this title", idOrTitle, store.ErrAmbiguous, len(found))
}

// Ping reports whether the ledger can serve requests; a Ledger always can
// unless ctx is done.
func (m *Ledger) Ping(ctx context.Context) error {
	return ctxErr(ctx, "ping")
}

// Len returns the number of tracked messages.
func (m *Ledger) Len() int {
	now := m.lock()
	defer m.unlock()
	for _, ch := range m.ix.chats {
		m.ix.trim(ch, now)
	}
	return m.ix.live
}

// TakeNewestWithInFlight claims the free messages among the newest n and
// returns them with those in flight; see store.Ledger.
func (m *Ledger) TakeNewestWithInFlight(ctx context.Context, chatID string, n int) (taken, inFlight []store.Message, err error) {
	if err := ctxErr(ctx, "take newest messages"); err != nil {
		return nil, nil, err
	}
	taken, inFlight = m.withInFlight(chatID, n, store.NewClaimToken())
	return taken, inFlight, nil
}

// NewestWithInFlight returns what TakeNewestWithInFlight would, claiming
// nothing; see store.Ledger.
func (m *Ledger) NewestWithInFlight(ctx context.Context, chatID string, n int) (free, inFlight []store.Message, err error) {
	if err := ctxErr(ctx, "newest messages"); err != nil {
		return nil, nil, err
	}
	free, inFlight = m.withInFlight(chatID, n, "")
	return free, inFlight, nil
}

// withInFlight walks the newest n non-reply messages of a chat and sorts
// them into free ones, claimed for claim unless it is empty, and those a
// live claim holds.
func (m *Ledger) withInFlight(chatID string, n int, claim string) (free, inFlight []store.Message) {
	if n <= 0 {
		return nil, nil
	}
	now := m.lock()
	defer m.unlock()
	ix := m.ix
	ch := ix.chats[chatID]
	if ch == nil {
		return nil, nil
	}
	ix.trim(ch, now)
	seen := 0
	for i := len(ch.msgs.items) - 1; i >= 0 && seen < n; i-- {
		e := ch.msgs.items[i]
		if e.reply || !ix.alive(e, now) {
			continue
		}
		seen++
		switch {
		case e.claimed > now:
			inFlight = append(inFlight, ix.msg(e, now))
		case claim != "":
			free = append(free, ix.take(e, now, claim))
		default:
			free = append(free, ix.msg(e, now))
		}
	}
	return free, inFlight
}

// Renew extends the live claims that claim holds on the keys; see
// store.Ledger.
func (m *Ledger) Renew(ctx context.Context, claim string, keys ...string) error {
	if err := ctxErr(ctx, "renew claims"); err != nil {
		return err
	}
	if claim == "" {
		return fmt.Errorf("renew claims: %w: empty claim", store.ErrInvalid)
	}
	now := m.lock()
	defer m.unlock()
	for _, k := range keys {
		if e := m.lookup(k); e != nil && m.ix.alive(e, now) && e.holder == claim && e.claimed > now {
			e.claimed = now + m.ix.lease
		}
	}
	return nil
}
