package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// DefaultPrefix is the key prefix of a Ledger or Deduper unless configured
// otherwise.
const DefaultPrefix = "dingrecall"

// grace is how long Redis keeps a key after the ledger, by its injected
// clock, already treats it as gone. Redis's expiry only reclaims space; the
// grace keeps it from dropping a message that a replica whose clock lags a
// little still considers tracked.
const grace = 5 * time.Minute

// Options configures a Ledger. Zero values take the defaults; negative ones
// are refused.
type Options struct {
	// Prefix starts every key of the ledger (DefaultPrefix). Ledgers with
	// different prefixes share a Redis without seeing each other.
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
	// Now is the clock (time.Now). Every expiry and lease decision uses it;
	// every replica should run on a synchronised clock.
	Now func() time.Time
}

// validate refuses negative options.
func (o Options) validate() error {
	for _, v := range []struct {
		name string
		neg  bool
		val  any
	}{
		{"TTL", o.TTL < 0, o.TTL},
		{"PerChat", o.PerChat < 0, o.PerChat},
		{"Lease", o.Lease < 0, o.Lease},
	} {
		if v.neg {
			return redisErr("options", fmt.Errorf("%w: %s is negative (%v)", store.ErrInvalid, v.name, v.val))
		}
	}
	return nil
}

// Ledger is the store.Ledger shared by several replicas, kept in Redis
// (go-redis v9). Its state lives in Redis only, so any number of *Ledger
// values, in one process or many, can serve one ledger.
//
// Layout: with P the prefix, every key starts with "{P}:" so that all of a
// ledger's keys share one Redis Cluster hash slot, as its multi-key scripts
// require.
//
//	{P}:m:<key>    hash, one per message: c chat ID, k kind, r robot code,
//	               n msgKey, p msgParam, g tag, s SentAt, e ExpiresAt,
//	               y "1" for a reply, f failure, l claimed until, o the
//	               claim's holder token, x "1" once a claim lapsed and
//	               the message was claimed again; empty fields are left
//	               out
//	{P}:c:<chat>   zset of the chat's message keys by SentAt
//	{P}:t:<tag>    zset of the tag's message keys by SentAt
//	{P}:due        zset of the keys of messages with an ExpiresAt, by it
//	{P}:chats      zset of chat IDs by their newest message's SentAt
//	{P}:kind       hash of chat ID to kind
//	{P}:title      hash of chat ID to title
//	{P}:fold       hash of chat ID to its case-folded title
//	{P}:f:<fold>   set of the chat IDs with that case-folded title
//	{P}:res        hash of reservation ID to the reservation (JSON)
//	{P}:resq       zset of reservation IDs by reservation time
//	{P}:resl       hash of reservation ID to the end of its settlement lease
//
// Times are Unix milliseconds. One hash per message keeps Get at one
// HMGET and lets Redis reclaim each message on its own; small hashes are
// stored as compact listpacks. The per-chat zset makes Newest and
// TakeNewest walk from the newest message, costing O(log n + returned +
// skipped), not O(history), and the chat's count is its ZCARD. The claim
// is the field l of the message's hash, compared with the caller's clock,
// so a lapsed lease needs no clean-up: a hash whose l has passed while o
// still names a holder is a lapsed claim (store.Message.Lapsed).
//
// Every decision on time is taken in the scripts from the time the caller
// passes in, read from Options.Now. Redis's own expiry only reclaims
// space, five minutes after the ledger's clock drops a message: message
// hashes and the chat and tag zsets get a PEXPIRE of SentAt + TTL + grace
// − now; the indexes are trimmed lazily, TTL old messages being the lowest
// scores of their chat's zset.
//
// Every method that reads an index or changes anything is one Lua script
// (lua/*.lua), run atomically by Redis, so replicas never claim one message
// twice nor lose one; Get is a single HMGET and Ping a PING. Every script
// is passed the eight fixed keys above in KEYS (Renew its message hashes
// too); those that walk an index reach the message, chat and tag keys it
// names under the same hash tag, so that they share one cluster slot. A call that
// go-redis retries after a lost reply may have run already: a retried claim
// then leaves the first claim to lapse with its lease, and the other
// scripts are idempotent.
//
// The Deduper keeps its keys, "P:dedup:<id>", outside the hash tag, since
// each is a key of its own.
type Ledger struct {
	c       goredis.UniversalClient
	prefix  string   // "{P}:"
	keys    []string // the KEYS of every script
	ttl     int64    // milliseconds
	lease   int64    // milliseconds
	perChat int
	now     func() time.Time
	dedup   string // the deduper's prefix
}

var _ store.Ledger = (*Ledger)(nil)

// New returns a Ledger on client, configured by opts. It does not connect:
// go-redis connects, and reconnects, when the ledger is used. It fails with
// an error wrapping store.ErrInvalid when client is nil or an option is
// negative.
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
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := "{" + opts.Prefix + "}:"
	return &Ledger{
		c:       client,
		prefix:  p,
		keys:    []string{p + "chats", p + "due", p + "kind", p + "title", p + "fold", p + "res", p + "resq", p + "resl"},
		ttl:     millis(opts.TTL),
		lease:   millis(opts.Lease),
		perChat: opts.PerChat,
		now:     opts.Now,
		dedup:   opts.Prefix,
	}, nil
}

// Open returns a Ledger on a new client for the redis:// (or rediss:// or
// unix://) URL, as go-redis's ParseURL reads it; query parameters such as
// dial_timeout or max_retries tune the client. It does not connect, so an
// application starts while Redis is down; use Ping for readiness. It fails
// on a URL go-redis refuses (the error leaves the URL out, since it may
// hold a password) and as New does. Close the ledger to close the client.
func Open(rawURL string, opts Options) (*Ledger, error) {
	o, err := goredis.ParseURL(rawURL)
	if err != nil {
		// A url.Error quotes the URL, password included.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis ledger: open: %w", err)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return New(goredis.NewClient(o), opts)
}

// Close closes the ledger's client, which Open created or New was given.
// The Deduper, Audit and States taken from the ledger share that client,
// so they stop working too.
func (r *Ledger) Close() error {
	if err := r.c.Close(); err != nil {
		return fmt.Errorf("redis ledger: close: %w", err)
	}
	return nil
}

// Deduper returns a Deduper on the ledger's client, prefix and clock.
func (r *Ledger) Deduper() *Deduper {
	return &Deduper{c: r.c, prefix: r.dedup + ":dedup:", now: r.now}
}

// withClaim sets the claim token on claimed messages.
func withClaim(msgs []store.Message, err error) func(string) ([]store.Message, error) {
	return func(token string) ([]store.Message, error) {
		for i := range msgs {
			msgs[i].Claim = token
		}
		return msgs, err
	}
}

// millis returns d in milliseconds, rounded up.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// argv returns the script arguments: the common ones (see lua/common.lua)
// followed by args.
func (r *Ledger) argv(args ...any) []any {
	all := make([]any, 0, 6+len(args))
	all = append(all, r.prefix, r.now().UnixMilli(), r.ttl, r.lease, r.perChat, millis(grace))
	return append(all, args...)
}

// run runs a ledger script with args after the common arguments; a failed
// call is marked store.ErrUnavailable.
func (r *Ledger) run(ctx context.Context, s *goredis.Script, args ...any) (any, error) {
	v, err := s.Run(ctx, r.c, r.keys, r.argv(args...)...).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	return v, unavailable(err)
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
	if _, err := r.run(ctx, recordScript, recordArgs(m)...); err != nil {
		return redisErr(op, err)
	}
	return nil
}

// recordArgs returns the arguments of the record script for m: its key,
// then the fields c k r n p g s e y f.
func recordArgs(m store.Message) []any {
	var expires, reply string
	if !m.ExpiresAt.IsZero() {
		expires = strconv.FormatInt(m.ExpiresAt.UnixMilli(), 10)
	}
	if m.Reply {
		reply = "1"
	}
	return []any{m.Key,
		m.ChatID, string(m.Kind), m.RobotCode, m.MsgKey, m.MsgParam, m.Tag,
		strconv.FormatInt(m.SentAt.UnixMilli(), 10), expires, reply, encodeFailure(m.Failure)}
}

// encodeFailure is a failure as the "f" field keeps it: empty for none,
// else its JSON.
func encodeFailure(f store.Failure) string {
	if f.IsZero() {
		return ""
	}
	b, _ := json.Marshal(f) // two strings: cannot fail
	return string(b)
}

// decodeFailure reads the "f" field: JSON, or the plain words that older
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

// messageFields are the fields of a message hash that make up a
// store.Message, in the order the scripts return them (followed by the
// lapsed flag).
var messageFields = []string{"c", "k", "r", "n", "p", "g", "s", "e", "y", "f"}

// getFields are the fields Get reads: messageFields and those of the
// claim, l o x, from which it tells whether a claim lapsed.
var getFields = append(slices.Clone(messageFields), "l", "o", "x")

// Get returns the tracked message with the key; see store.Ledger.
func (r *Ledger) Get(ctx context.Context, key string) (store.Message, error) {
	const op = "get"
	if err := begin(ctx, op); err != nil {
		return store.Message{}, err
	}
	vs, err := r.c.HMGet(ctx, r.prefix+"m:"+key, getFields...).Result()
	if err != nil {
		return store.Message{}, redisErr(op, unavailable(err))
	}
	if len(vs) != len(getFields) {
		return store.Message{}, redisErr(op, fmt.Errorf("unexpected reply %v", vs))
	}
	n := len(messageFields)
	lapsed := ""
	if until, holder := str(vs[n]), str(vs[n+1]); str(vs[n+2]) == "1" || (holder != "" && !leaseLive(until, r.now())) {
		lapsed = "1"
	}
	row := make([]any, 0, 2+n)
	row = append(row, key)
	row = append(row, vs[:n]...)
	row = append(row, lapsed)
	m, err := decodeMessage(row)
	if err != nil {
		return store.Message{}, redisErr(op, err)
	}
	if m.SentAt.IsZero() || m.SentAt.UnixMilli() <= r.now().UnixMilli()-r.ttl {
		return store.Message{}, fmt.Errorf("redis ledger: get %q: %w", key, store.ErrNotFound)
	}
	return m, nil
}

// List returns the tracked messages of a chat, newest first; see store.Ledger.
func (r *Ledger) List(ctx context.Context, chatID string, limit int) ([]store.Message, error) {
	return r.messages(ctx, "list", listScript, chatID, limit)
}

// Newest returns the newest n unclaimed non-reply messages of a chat; see
// store.Ledger.
func (r *Ledger) Newest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	if n <= 0 {
		return nil, begin(ctx, "newest")
	}
	return r.messages(ctx, "newest", newestScript, chatID, n, 0, "")
}

// TakeNewest claims and returns what Newest would; see store.Ledger.
func (r *Ledger) TakeNewest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	if n <= 0 {
		return nil, begin(ctx, "take newest")
	}
	token := store.NewClaimToken()
	return withClaim(r.messages(ctx, "take newest", newestScript, chatID, n, 1, token))(token)
}

// Claim claims those of the keys that are tracked and unclaimed; see
// store.Ledger.
func (r *Ledger) Claim(ctx context.Context, keys []string) ([]store.Message, error) {
	if len(keys) == 0 {
		return nil, begin(ctx, "claim")
	}
	token := store.NewClaimToken()
	return withClaim(r.messages(ctx, "claim", claimScript, append([]any{token}, keyArgs(keys)...)...))(token)
}

// Remove forgets the keys; see store.Ledger.
func (r *Ledger) Remove(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return begin(ctx, "remove")
	}
	return r.exec(ctx, "remove", removeScript, keyArgs(keys)...)
}

// Fail records the failures and releases the claims; see store.Ledger.
func (r *Ledger) Fail(ctx context.Context, claim string, failures map[string]store.Failure) error {
	if len(failures) == 0 {
		return begin(ctx, "fail")
	}
	args := make([]any, 0, 1+2*len(failures))
	args = append(args, claim)
	for k, f := range failures {
		args = append(args, k, encodeFailure(f))
	}
	return r.exec(ctx, "fail", failScript, args...)
}

// Release releases the claims on the keys; see store.Ledger.
func (r *Ledger) Release(ctx context.Context, claim string, keys ...string) error {
	if len(keys) == 0 {
		return begin(ctx, "release")
	}
	return r.exec(ctx, "release", releaseScript, append([]any{claim}, keyArgs(keys)...)...)
}

// ByTag returns the unclaimed non-reply messages with the tag, newest
// first; see store.Ledger.
func (r *Ledger) ByTag(ctx context.Context, tag string) ([]store.Message, error) {
	if tag == "" {
		return nil, begin(ctx, "by tag")
	}
	return r.messages(ctx, "by tag", byTagScript, tag)
}

// Due returns the unclaimed messages due for automatic recall at now,
// earliest first; see store.Ledger.
func (r *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]store.Message, error) {
	return r.messages(ctx, "due", dueScript, now.UnixMilli(), limit)
}

// SetTitle remembers the title of a chat; see store.Ledger.
func (r *Ledger) SetTitle(ctx context.Context, chatID string, kind store.Kind, title string) error {
	const op = "set title"
	if err := begin(ctx, op); err != nil {
		return err
	}
	switch {
	case chatID == "":
		return redisErr(op, fmt.Errorf("%w: empty chat id", store.ErrInvalid))
	case !kind.Valid():
		return redisErr(op, fmt.Errorf("%w: unknown chat kind %q", store.ErrInvalid, kind))
	}
	return r.exec(ctx, op, setTitleScript, chatID, string(kind), title, fold(title))
}

// Chats returns the chats with tracked messages, most recently active
// first; see store.Ledger.
func (r *Ledger) Chats(ctx context.Context) ([]store.Chat, error) {
	const op = "chats"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	v, err := r.run(ctx, chatsScript)
	if err != nil {
		return nil, redisErr(op, err)
	}
	rows, _ := v.([]any)
	all := make([]store.ActiveChat[float64], 0, len(rows))
	for _, row := range rows {
		f, _ := row.([]any)
		if len(f) != 5 {
			return nil, redisErr(op, fmt.Errorf("unexpected reply %v", row))
		}
		c, err := decodeChat(f[:4])
		if err != nil {
			return nil, redisErr(op, err)
		}
		newest, err := strconv.ParseFloat(str(f[4]), 64)
		if err != nil {
			return nil, redisErr(op, fmt.Errorf("chat %q: bad activity score: %w", c.ID, err))
		}
		all = append(all, store.ActiveChat[float64]{Chat: c, Newest: newest})
	}
	return store.ByActivity(all), nil
}

// FindChat returns the chat with the ID or, failing that, the title; see
// store.Ledger.
func (r *Ledger) FindChat(ctx context.Context, idOrTitle string) (store.Chat, error) {
	const op = "find chat"
	if err := begin(ctx, op); err != nil {
		return store.Chat{}, err
	}
	v, err := r.run(ctx, findChatScript, idOrTitle, fold(idOrTitle))
	if err != nil {
		return store.Chat{}, redisErr(op, err)
	}
	f, _ := v.([]any)
	if len(f) == 0 {
		return store.Chat{}, redisErr(op, fmt.Errorf("unexpected reply %v", v))
	}
	switch str(f[0]) {
	case "ok":
		if len(f) != 5 {
			break
		}
		c, err := decodeChat(f[1:])
		if err != nil {
			return store.Chat{}, redisErr(op, err)
		}
		return c, nil
	case "none":
		return store.Chat{}, fmt.Errorf("redis ledger: find chat %q: %w", idOrTitle, store.ErrNotFound)
	case "many":
		if len(f) != 2 {
			break
		}
		return store.Chat{}, fmt.Errorf("redis ledger: find chat %q: %w: %v chats have this title", idOrTitle, store.ErrAmbiguous, f[1])
	}
	return store.Chat{}, redisErr(op, fmt.Errorf("unexpected reply %v", v))
}

// Ping reports whether Redis answers; see store.Ledger.
func (r *Ledger) Ping(ctx context.Context) error {
	const op = "ping"
	if err := begin(ctx, op); err != nil {
		return err
	}
	if err := r.c.Ping(ctx).Err(); err != nil {
		return redisErr(op, unavailable(err))
	}
	return nil
}

// exec runs a script that returns nothing of interest.
func (r *Ledger) exec(ctx context.Context, op string, s *goredis.Script, args ...any) error {
	if err := begin(ctx, op); err != nil {
		return err
	}
	if _, err := r.run(ctx, s, args...); err != nil {
		return redisErr(op, err)
	}
	return nil
}

// messages runs a script that returns messages.
func (r *Ledger) messages(ctx context.Context, op string, s *goredis.Script, args ...any) ([]store.Message, error) {
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	v, err := r.run(ctx, s, args...)
	if err != nil {
		return nil, redisErr(op, err)
	}
	rows, _ := v.([]any)
	if len(rows) == 0 {
		return nil, nil
	}
	out := make([]store.Message, 0, len(rows))
	for _, row := range rows {
		f, _ := row.([]any)
		m, err := decodeMessage(f)
		if err != nil {
			return nil, redisErr(op, err)
		}
		out = append(out, m)
	}
	return out, nil
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

// leaseLive reports whether a claim lease that ends at until (Unix
// milliseconds, "" for none) still holds at now.
func leaseLive(until string, now time.Time) bool {
	ms, err := strconv.ParseInt(until, 10, 64)
	return err == nil && ms > now.UnixMilli()
}

// decodeMessage decodes a message as the scripts return it: the key, the
// values of messageFields and "1" when a claim on it lapsed. A message
// without SentAt is returned as the zero store.Message.
func decodeMessage(f []any) (store.Message, error) {
	if len(f) != 2+len(messageFields) {
		return store.Message{}, fmt.Errorf("unexpected reply %v", f)
	}
	s := func(i int) string { return str(f[1+i]) }
	sent := s(6)
	if sent == "" {
		return store.Message{}, nil
	}
	key := str(f[0])
	ms, err := strconv.ParseInt(sent, 10, 64)
	if err != nil {
		return store.Message{}, fmt.Errorf("message %q: bad sent time: %w", key, err)
	}
	m := store.Message{
		Key:       key,
		ChatID:    s(0),
		Kind:      store.Kind(s(1)),
		RobotCode: s(2),
		MsgKey:    s(3),
		MsgParam:  s(4),
		Tag:       s(5),
		SentAt:    time.UnixMilli(ms).UTC(),
		Reply:     s(8) == "1",
		Lapsed:    s(10) == "1",
	}
	failure, err := decodeFailure(s(9))
	if err != nil {
		return store.Message{}, fmt.Errorf("message %q: bad failure: %w", key, err)
	}
	m.Failure = failure
	if e := s(7); e != "" {
		ms, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return store.Message{}, fmt.Errorf("message %q: bad expiry time: %w", key, err)
		}
		m.ExpiresAt = time.UnixMilli(ms).UTC()
	}
	return m, nil
}

// decodeChat decodes {id, kind, title, count}.
func decodeChat(f []any) (store.Chat, error) {
	n, ok := f[3].(int64)
	if !ok {
		return store.Chat{}, fmt.Errorf("chat %q: bad count %v", str(f[0]), f[3])
	}
	return store.Chat{ID: str(f[0]), Kind: store.Kind(str(f[1])), Title: str(f[2]), Count: int(n)}, nil
}
