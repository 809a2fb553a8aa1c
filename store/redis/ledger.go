package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// DefaultPrefix is the key prefix of a Ledger or Deduper unless configured
// otherwise.
const DefaultPrefix = "dingrecall"

// DefaultByTagMax is the most messages ByTag returns unless
// Options.ByTagMax says otherwise.
const DefaultByTagMax = 1000

// grace is how long Redis keeps a key after the ledger, by its injected
// clock, already treats it as gone. Redis's expiry only reclaims space; the
// grace keeps it from dropping a message that a replica whose clock lags a
// little still considers tracked.
const grace = 5 * time.Minute

// page is how many entries of a cross-chat index one call reads at a time.
const page = 256

// Options configures a Ledger. Zero values take the defaults; negative ones
// are refused.
type Options struct {
	// Prefix starts every key of the ledger (DefaultPrefix). Ledgers with
	// different prefixes share a Redis without seeing each other. It may
	// not hold '{' or '}', which would break the hash tags.
	Prefix string
	// TTL is how long after SentAt a message stays tracked
	// (store.DefaultTTL).
	TTL time.Duration
	// PerChat is the most messages tracked per chat (store.DefaultPerChat);
	// recording one more drops the oldest.
	PerChat int
	// Lease is how long a claim holds before it lapses
	// (store.DefaultLease).
	Lease time.Duration
	// ByTagMax is the most messages ByTag returns, the newest
	// (DefaultByTagMax); the app sets RECALL_MAX.
	ByTagMax int
	// AuditTTL is how long the audit log keeps entries
	// (store.DefaultAuditTTL), for the entries Migrate moves.
	AuditTTL time.Duration
	// Now is the clock (time.Now). Every expiry and lease decision uses it;
	// every replica should run on a synchronised clock.
	Now func() time.Time
}

// validate refuses negative options and a prefix with braces.
func (o Options) validate() error {
	for _, v := range []struct {
		name string
		neg  bool
		val  any
	}{
		{"TTL", o.TTL < 0, o.TTL},
		{"PerChat", o.PerChat < 0, o.PerChat},
		{"Lease", o.Lease < 0, o.Lease},
		{"ByTagMax", o.ByTagMax < 0, o.ByTagMax},
		{"AuditTTL", o.AuditTTL < 0, o.AuditTTL},
	} {
		if v.neg {
			return redisErr("options", fmt.Errorf("%w: %s is negative (%v)", store.ErrInvalid, v.name, v.val))
		}
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return redisErr("options", fmt.Errorf("%w: Prefix %q holds a brace", store.ErrInvalid, o.Prefix))
	}
	return nil
}

// Ledger is the store.Ledger shared by several replicas, kept in Redis
// (go-redis v9) on one node, a Redis Cluster or a Sentinel-watched master.
// Its state lives in Redis only, so any number of *Ledger values, in one
// process or many, can serve one ledger.
//
// Layout (keys.go): each chat's messages, index, claims, failures, info
// and reservations are keys under the chat's own hash tag, so that a
// cluster spreads chats over its slots; every change to a chat is one Lua
// script (lua/*.lua) that names the chat's keys in KEYS and touches
// nothing else, run atomically by Redis, so replicas never claim one
// message twice nor lose one. What spans chats is kept apart from the
// chats: a directory from message key to chat (one string key each, so
// Get, Claim and Remove find a message's chat), an index per tag, the due
// index and the chat list (each sharded over several hash tags), a set per
// case-folded title and a small index of reservations. Those are written
// beside the chat's script in the same pipeline and cleaned after it;
// readers check every entry against the chat, so an entry left stale by
// a failure in between is dropped, never served.
//
// Times are Unix milliseconds. Every decision on time is taken in the
// scripts from the time the caller passes in, read from Options.Now.
// Redis's own expiry only reclaims space, a grace period after the
// ledger's clock drops a message; TTL old messages are forgotten lazily,
// a bounded number per call, and skipped until then.
//
// Every loop over Redis has a bound: scripts walk at most what they
// return plus a page, the cross-chat indexes are read a page at a time,
// ByTag returns at most Options.ByTagMax messages.
//
// A call that go-redis retries after a lost reply may have run already: a
// retried claim then leaves the first claim to lapse with its lease, and
// the other scripts are idempotent. Two Records of one key into two chats
// at the same moment are not ordered with each other (processQueryKeys
// are unique per send, so they do not happen).
type Ledger struct {
	c        goredis.UniversalClient
	k        keys
	prefix   string
	ttl      int64 // milliseconds
	lease    int64 // milliseconds
	perChat  int
	byTagMax int
	auditTTL time.Duration
	now      func() time.Time
}

var _ store.Ledger = (*Ledger)(nil)

// New returns a Ledger on client, configured by opts. It does not connect:
// go-redis connects, and reconnects, when the ledger is used. It fails with
// an error wrapping store.ErrInvalid when client is nil or an option is
// negative. Run Migrate once before serving.
func New(client goredis.UniversalClient, opts Options) (*Ledger, error) {
	if client == nil {
		return nil, redisErr("new", fmt.Errorf("%w: nil client", store.ErrInvalid))
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
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
	if opts.ByTagMax == 0 {
		opts.ByTagMax = DefaultByTagMax
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Ledger{
		c:        client,
		k:        keys{p: opts.Prefix},
		prefix:   opts.Prefix,
		ttl:      millis(opts.TTL),
		lease:    millis(opts.Lease),
		perChat:  opts.PerChat,
		byTagMax: opts.ByTagMax,
		auditTTL: opts.AuditTTL,
		now:      opts.Now,
	}, nil
}

// Client returns the ledger's go-redis client, which its Deduper, Audit,
// States and Limiter share.
func (r *Ledger) Client() goredis.UniversalClient { return r.c }

// Close closes the ledger's client, which Open created or New was given.
// The Deduper, Audit, States and Limiter taken from the ledger share that
// client, so they stop working too.
func (r *Ledger) Close() error {
	if err := r.c.Close(); err != nil {
		return fmt.Errorf("redis ledger: close: %w", err)
	}
	return nil
}

// Deduper returns a Deduper on the ledger's client, prefix and clock.
func (r *Ledger) Deduper() *Deduper {
	return &Deduper{c: r.c, prefix: r.prefix + ":dedup:", now: r.now}
}

// millis returns d in milliseconds, rounded up.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// chatCall is a per-chat script run on chat at now, with args after the
// common arguments (see lua/chat.lua).
func (r *Ledger) chatCall(chat string, now int64, s *goredis.Script, args ...any) *call {
	all := make([]any, 0, 5+len(args))
	all = append(all, now, r.ttl, r.lease, r.perChat, millis(grace))
	return &call{s: s, keys: r.k.chat(chat), args: append(all, args...)}
}

// run runs one per-chat script and returns its reply (nil for a Lua false).
func (r *Ledger) run(ctx context.Context, chat string, s *goredis.Script, args ...any) (any, error) {
	c := r.chatCall(chat, r.now().UnixMilli(), s, args...)
	if err := batch(ctx, r.c, []*call{c}, nil); err != nil {
		return nil, err
	}
	return c.result(), nil
}

// redisErr wraps err as a failure of the ledger operation op.
func redisErr(op string, err error) error {
	return fmt.Errorf("redis ledger: %s: %w", op, err)
}

// begin returns an error if ctx is done, before any call to Redis.
func begin(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return redisErr(op, err)
	}
	return nil
}

// Record tracks m; see store.Ledger. A message whose SentAt is already TTL
// old is accepted but not tracked. Times are kept to the millisecond.
func (r *Ledger) Record(ctx context.Context, m store.Message) error {
	const op = "record"
	if err := begin(ctx, op); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return redisErr(op, err)
	}
	return r.record(ctx, op, "", m, "")
}

// record writes m into its chat, with one pipeline that also points the
// directory at the chat, indexes the tag, the due time and the chat, and,
// for Commit, drops reservation res; then it forgets a copy of the key in
// another chat and cleans the indexes of the messages the chat dropped.
// claim is the claim to keep ("" for none: only a migration keeps one).
func (r *Ledger) record(ctx context.Context, op, res string, m store.Message, claim string) error {
	now := r.now().UnixMilli()
	sent := m.SentAt.UnixMilli()
	tracked := sent > now-r.ttl
	life := time.Duration(sent+r.ttl+millis(grace)-now) * time.Millisecond
	chat, key := m.ChatID, m.Key
	mem := member(chat, key)
	rec := r.chatCall(chat, now, recordScript, key, sent, encodeBody(m), string(m.Kind), encodeFailure(m.Failure), claim, res)
	calls := []*call{rec}
	var unindex *call
	if res != "" {
		unindex = &call{s: resUnindexScript, keys: r.k.reservations(), args: []any{res, ""}}
		calls = append(calls, unindex)
	}
	var old interface{ Val() string }
	err := batch(ctx, r.c, calls, func(p goredis.Pipeliner) {
		if !tracked {
			old = p.GetDel(ctx, r.k.dir(key))
			return
		}
		old = p.SetArgs(ctx, r.k.dir(key), chat, goredis.SetArgs{Get: true, TTL: life})
		if m.Tag != "" {
			tk := r.k.tag(m.Tag)
			p.ZAdd(ctx, tk, goredis.Z{Score: float64(sent), Member: mem})
			p.ExpireNX(ctx, tk, life)
			p.ExpireGT(ctx, tk, life)
		}
		if !m.ExpiresAt.IsZero() {
			p.ZAdd(ctx, r.k.due(key), goredis.Z{Score: float64(m.ExpiresAt.UnixMilli()), Member: mem})
		}
	})
	if err != nil {
		return redisErr(op, err)
	}
	reply, _ := rec.result().([]any)
	if len(reply) < 3 {
		return redisErr(op, fmt.Errorf("unexpected reply %v", rec.result()))
	}
	var stale []func(goredis.Pipeliner)
	if list, _ := reply[2].(int64); list == 1 {
		// A chat is listed when it gets its first message and then at most
		// once a minute; Chats refreshes what a lost write left behind.
		stale = append(stale, func(p goredis.Pipeliner) {
			p.ZAddGT(ctx, r.k.active(chat), goredis.Z{Score: float64(sent), Member: chat})
		})
	}
	// The copy this message replaced in its chat: drop what no longer
	// holds of its tag and due entries.
	if oldTag, ok := reply[0].(string); ok && oldTag != "" && (oldTag != m.Tag || !tracked) {
		stale = append(stale, func(p goredis.Pipeliner) { p.ZRem(ctx, r.k.tag(oldTag), mem) })
	}
	if oldExp, ok := reply[1].(string); ok && oldExp != "" && (m.ExpiresAt.IsZero() || !tracked) {
		stale = append(stale, func(p goredis.Pipeliner) { p.ZRem(ctx, r.k.due(key), mem) })
	}
	cleanup := r.forgotten(ctx, chat, reply[3:])
	if oc := old.Val(); oc != "" && oc != chat {
		// The key was tracked in another chat: it is this message now.
		rm := r.chatCall(oc, now, removeScript, key)
		if err := batch(ctx, r.c, []*call{rm}, nil); err != nil {
			return redisErr(op, err)
		}
		killed, _ := rm.result().([]any)
		// Its directory entry names this chat now, so the other chat's
		// clean-up leaves it.
		cleanup = append(cleanup, r.forgotten(ctx, oc, killed)...)
	}
	if unindex != nil {
		if rc := str(unindex.result()); rc != "" && rc != chat {
			// Reserved for another chat than the message went to.
			if err := batch(ctx, r.c, []*call{r.chatCall(rc, now, unreserveScript, res)}, nil); err != nil {
				return redisErr(op, err)
			}
		}
	}
	r.clean(ctx, append(cleanup, stale...))
	return nil
}

// cleanups are index updates in other slots that follow a script's change.
type cleanups []func(goredis.Pipeliner)

// forgotten returns the clean-up of the messages a chat script reports it
// forgot: {key, tag, expiry} triples whose tag and due entries go, and
// whose directory entry goes if it still names chat.
func (r *Ledger) forgotten(ctx context.Context, chat string, killed []any) cleanups {
	var out cleanups
	for i := 0; i+2 < len(killed); i += 3 {
		key, tag, exp := str(killed[i]), str(killed[i+1]), str(killed[i+2])
		mem := member(chat, key)
		out = append(out, func(p goredis.Pipeliner) {
			if tag != "" {
				p.ZRem(ctx, r.k.tag(tag), mem)
			}
			if exp != "" {
				p.ZRem(ctx, r.k.due(key), mem)
			}
			// EVAL, not EVALSHA: in a pipeline a node that does not
			// know the script yet could not be told it afterwards.
			p.Eval(ctx, dirDelSource, []string{r.k.dir(key)}, chat)
		})
	}
	return out
}

// clean runs clean-ups, best effort: an entry it fails to drop is stale,
// and readers check and drop stale entries themselves.
func (r *Ledger) clean(ctx context.Context, c cleanups) {
	if len(c) == 0 {
		return
	}
	_, _ = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, f := range c {
			f(p)
		}
		return nil
	})
}

// encodeFailure is a failure as the ledger keeps it: empty for none, else
// its JSON.
func encodeFailure(f store.Failure) string {
	if f.IsZero() {
		return ""
	}
	b, _ := json.Marshal(f) // two strings: cannot fail
	return string(b)
}

// decodeFailure reads a kept failure: JSON, or the plain words that older
// versions kept (store.Failure reads both).
func decodeFailure(s string) (store.Failure, error) {
	var f store.Failure
	if s == "" {
		return f, nil
	}
	if s[0] != '{' {
		return store.Failure{Message: s}, nil
	}
	err := json.Unmarshal([]byte(s), &f)
	return f, err
}

// Get returns the tracked message with the key; see store.Ledger.
func (r *Ledger) Get(ctx context.Context, key string) (store.Message, error) {
	const op = "get"
	if err := begin(ctx, op); err != nil {
		return store.Message{}, err
	}
	chat, err := r.c.Get(ctx, r.k.dir(key)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Message{}, fmt.Errorf("redis ledger: get %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.Message{}, redisErr(op, unavailable(err))
	}
	v, err := r.run(ctx, chat, getScript, key)
	if err != nil {
		return store.Message{}, redisErr(op, err)
	}
	if v == nil {
		return store.Message{}, fmt.Errorf("redis ledger: get %q: %w", key, store.ErrNotFound)
	}
	m, err := decodeMessage(chat, v)
	if err != nil {
		return store.Message{}, redisErr(op, err)
	}
	return m, nil
}

// List returns the tracked messages of a chat, newest first; see store.Ledger.
func (r *Ledger) List(ctx context.Context, chatID string, limit int) ([]store.Message, error) {
	return r.messages(ctx, "list", chatID, listScript, limit)
}

// Newest returns the newest n unclaimed non-reply messages of a chat; see
// store.Ledger.
func (r *Ledger) Newest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	if n <= 0 {
		return nil, begin(ctx, "newest")
	}
	return r.messages(ctx, "newest", chatID, newestScript, n, 0, "")
}

// TakeNewest claims and returns what Newest would; see store.Ledger.
func (r *Ledger) TakeNewest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	if n <= 0 {
		return nil, begin(ctx, "take newest")
	}
	token := store.NewClaimToken()
	ms, err := r.messages(ctx, "take newest", chatID, newestScript, n, 1, token)
	for i := range ms {
		ms[i].Claim = token
	}
	return ms, err
}

// messages runs a per-chat script that returns messages.
func (r *Ledger) messages(ctx context.Context, op, chat string, s *goredis.Script, args ...any) ([]store.Message, error) {
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	v, err := r.run(ctx, chat, s, args...)
	if err != nil {
		return nil, redisErr(op, err)
	}
	ms, err := decodeMessages(chat, v)
	if err != nil {
		return nil, redisErr(op, err)
	}
	return ms, nil
}

// locate returns the chat of each of the keys that the directory names,
// in one pipeline; keys it does not know are left out.
func (r *Ledger) locate(ctx context.Context, keys []string) (map[string]string, error) {
	cmds := make([]*goredis.StringCmd, len(keys))
	_, _ = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, r.k.dir(k))
		}
		return nil
	})
	out := make(map[string]string, len(keys))
	for i, c := range cmds {
		v, err := c.Result()
		switch {
		case errors.Is(err, goredis.Nil):
		case err != nil:
			return nil, unavailable(err)
		default:
			out[keys[i]] = v
		}
	}
	return out, nil
}

// byChat groups the keys by the chat the directory names, each group in
// the order given, without duplicates; chats lists the chats in order of
// first appearance.
func (r *Ledger) byChat(ctx context.Context, keys []string) (chats []string, groups map[string][]string, err error) {
	where, err := r.locate(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	groups = map[string][]string{}
	seen := map[string]bool{}
	for _, k := range keys {
		c, ok := where[k]
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := groups[c]; !ok {
			chats = append(chats, c)
		}
		groups[c] = append(groups[c], k)
	}
	return chats, groups, nil
}

// eachChat runs a per-chat script on each chat the keys are in, with
// head before the chat's keys as arguments, in one pipeline, and returns
// the calls by chat.
func (r *Ledger) eachChat(ctx context.Context, keys []string, s *goredis.Script, head ...any) (chats []string, calls map[string]*call, err error) {
	chats, groups, err := r.byChat(ctx, keys)
	if err != nil || len(chats) == 0 {
		return nil, nil, err
	}
	now := r.now().UnixMilli()
	calls = make(map[string]*call, len(chats))
	list := make([]*call, 0, len(chats))
	for _, c := range chats {
		args := append(append([]any{}, head...), keyArgs(groups[c])...)
		calls[c] = r.chatCall(c, now, s, args...)
		list = append(list, calls[c])
	}
	return chats, calls, batch(ctx, r.c, list, nil)
}

// Claim claims those of the keys that are tracked and unclaimed; see
// store.Ledger.
func (r *Ledger) Claim(ctx context.Context, keys []string) ([]store.Message, error) {
	const op = "claim"
	if err := begin(ctx, op); err != nil || len(keys) == 0 {
		return nil, err
	}
	token := store.NewClaimToken()
	chats, calls, err := r.eachChat(ctx, keys, claimScript, token)
	if err != nil {
		return nil, redisErr(op, err)
	}
	got := map[string]store.Message{}
	for _, c := range chats {
		ms, err := decodeMessages(c, calls[c].result())
		if err != nil {
			return nil, redisErr(op, err)
		}
		for _, m := range ms {
			m.Claim = token
			got[m.Key] = m
		}
	}
	var out []store.Message
	for _, k := range keys {
		if m, ok := got[k]; ok {
			out = append(out, m)
			delete(got, k)
		}
	}
	return out, nil
}

// Remove forgets the keys; see store.Ledger.
func (r *Ledger) Remove(ctx context.Context, keys ...string) error {
	const op = "remove"
	if err := begin(ctx, op); err != nil || len(keys) == 0 {
		return err
	}
	chats, calls, err := r.eachChat(ctx, keys, removeScript)
	if err != nil {
		return redisErr(op, err)
	}
	var c cleanups
	for _, chat := range chats {
		killed, _ := calls[chat].result().([]any)
		c = append(c, r.forgotten(ctx, chat, killed)...)
	}
	r.clean(ctx, c)
	return nil
}

// Fail records the failures and releases the claims; see store.Ledger.
func (r *Ledger) Fail(ctx context.Context, claim string, failures map[string]store.Failure) error {
	const op = "fail"
	if err := begin(ctx, op); err != nil || len(failures) == 0 {
		return err
	}
	keys := make([]string, 0, len(failures))
	for k := range failures {
		keys = append(keys, k)
	}
	chats, groups, err := r.byChat(ctx, keys)
	if err != nil {
		return redisErr(op, err)
	}
	now := r.now().UnixMilli()
	calls := make([]*call, 0, len(chats))
	for _, c := range chats {
		args := []any{claim}
		for _, k := range groups[c] {
			args = append(args, k, encodeFailure(failures[k]))
		}
		calls = append(calls, r.chatCall(c, now, failScript, args...))
	}
	if err := batch(ctx, r.c, calls, nil); err != nil {
		return redisErr(op, err)
	}
	return nil
}

// Release releases the claims on the keys; see store.Ledger.
func (r *Ledger) Release(ctx context.Context, claim string, keys ...string) error {
	const op = "release"
	if err := begin(ctx, op); err != nil || len(keys) == 0 {
		return err
	}
	if _, _, err := r.eachChat(ctx, keys, releaseScript, claim); err != nil {
		return redisErr(op, err)
	}
	return nil
}

// Renew extends the live claims that claim holds on the keys; see
// store.Ledger.
func (r *Ledger) Renew(ctx context.Context, claim string, keys ...string) error {
	const op = "renew"
	if err := begin(ctx, op); err != nil {
		return err
	}
	if claim == "" {
		return redisErr(op, fmt.Errorf("%w: empty claim", store.ErrInvalid))
	}
	if len(keys) == 0 {
		return nil
	}
	if _, _, err := r.eachChat(ctx, keys, renewScript, claim); err != nil {
		return redisErr(op, err)
	}
	return nil
}

// TakeNewestWithInFlight claims the free messages among the newest n and
// returns them with those in flight, in one script; see store.Ledger.
func (r *Ledger) TakeNewestWithInFlight(ctx context.Context, chatID string, n int) (taken, inFlight []store.Message, err error) {
	if n <= 0 {
		return nil, nil, begin(ctx, "take newest")
	}
	token := store.NewClaimToken()
	taken, inFlight, err = r.inFlight(ctx, "take newest", chatID, n, 1, token)
	for i := range taken {
		taken[i].Claim = token
	}
	return taken, inFlight, err
}

// NewestWithInFlight returns what TakeNewestWithInFlight would, claiming
// nothing; see store.Ledger.
func (r *Ledger) NewestWithInFlight(ctx context.Context, chatID string, n int) (free, inFlight []store.Message, err error) {
	if n <= 0 {
		return nil, nil, begin(ctx, "newest")
	}
	return r.inFlight(ctx, "newest", chatID, n, 0, "")
}

// inFlight runs the inflight script and decodes its two lists.
func (r *Ledger) inFlight(ctx context.Context, op, chat string, n, take int, token string) (free, busy []store.Message, err error) {
	if err := begin(ctx, op); err != nil {
		return nil, nil, err
	}
	v, err := r.run(ctx, chat, inFlightScript, n, take, token)
	if err != nil {
		return nil, nil, redisErr(op, err)
	}
	lists, _ := v.([]any)
	if len(lists) != 2 {
		return nil, nil, redisErr(op, fmt.Errorf("unexpected reply %v", v))
	}
	if free, err = decodeMessages(chat, lists[0]); err != nil {
		return nil, nil, redisErr(op, err)
	}
	if busy, err = decodeMessages(chat, lists[1]); err != nil {
		return nil, nil, redisErr(op, err)
	}
	return free, busy, nil
}

// keyArgs returns ss as script arguments.
func keyArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// str returns v as a string: "" for nil (or false, in RESP3).
func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// decodeMessages decodes a list of messages of chat as the scripts return
// them.
func decodeMessages(chat string, v any) ([]store.Message, error) {
	rows, _ := v.([]any)
	if len(rows) == 0 {
		return nil, nil
	}
	out := make([]store.Message, 0, len(rows))
	for _, row := range rows {
		m, err := decodeMessage(chat, row)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// decodeMessage decodes a message of chat as the scripts return it (see
// pack in lua/chat.lua): its key, body, failure and lapsed flag.
func decodeMessage(chat string, v any) (store.Message, error) {
	f, _ := v.([]any)
	if len(f) != 4 {
		return store.Message{}, fmt.Errorf("unexpected reply %v", v)
	}
	key := str(f[0])
	b, err := decodeBody(str(f[1]))
	if err != nil {
		return store.Message{}, fmt.Errorf("message %q: %w", key, err)
	}
	ms, err := strconv.ParseInt(b.sent, 10, 64)
	if err != nil {
		return store.Message{}, fmt.Errorf("message %q: bad sent time: %w", key, err)
	}
	m := store.Message{
		Key:       key,
		Kind:      store.Kind(b.kind),
		ChatID:    chat,
		RobotCode: b.robot,
		MsgKey:    b.msgKey,
		MsgParam:  b.params,
		Tag:       b.tag,
		SentAt:    time.UnixMilli(ms).UTC(),
		Reply:     b.reply,
		Lapsed:    str(f[3]) == "1",
	}
	if m.Failure, err = decodeFailure(str(f[2])); err != nil {
		return store.Message{}, fmt.Errorf("message %q: bad failure: %w", key, err)
	}
	if b.expires != "" {
		e, err := strconv.ParseInt(b.expires, 10, 64)
		if err != nil {
			return store.Message{}, fmt.Errorf("message %q: bad expiry time: %w", key, err)
		}
		m.ExpiresAt = time.UnixMilli(e).UTC()
	}
	return m, nil
}
