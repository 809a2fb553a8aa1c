package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisAudit is the Audit shared by replicas, in the ledger's Redis. Each
// entry is one JSON string {P}:a:<id>; {P}:al is a zset of every entry ID by
// time and {P}:al:<chat> one per chat. Entries older than the TTL by the
// injected clock are left out of reads and trimmed from the zsets when an
// entry is added; Redis expiry reclaims the strings a grace period later.
type RedisAudit struct {
	c      redis.UniversalClient
	prefix string
	ttl    time.Duration
	now    func() time.Time
}

var _ Audit = (*RedisAudit)(nil)

// Audit returns the audit log on the ledger's client, prefix and clock,
// keeping entries for ttl (DefaultAuditTTL when not positive).
func (r *Redis) Audit(ttl time.Duration) *RedisAudit {
	if ttl <= 0 {
		ttl = DefaultAuditTTL
	}
	return &RedisAudit{c: r.c, prefix: r.prefix, ttl: ttl, now: r.now}
}

// AddAudit appends e in one MULTI/EXEC; see Audit.
func (a *RedisAudit) AddAudit(ctx context.Context, e AuditEntry) error {
	if e.ID == "" {
		e.ID = newAuditID()
	}
	if e.At.IsZero() {
		e.At = a.now()
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redis audit: add: %w", err)
	}
	keep := a.ttl + redisGrace
	cut := strconv.FormatInt(a.now().Add(-a.ttl).UnixMilli(), 10)
	z := redis.Z{Score: float64(e.At.UnixMilli()), Member: e.ID}
	_, err = a.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, a.prefix+"a:"+e.ID, raw, keep)
		for _, list := range append([]string{a.prefix + "al"}, a.chatLists(e.Chats())...) {
			p.ZAdd(ctx, list, z)
			p.ZRemRangeByScore(ctx, list, "-inf", cut)
			p.PExpire(ctx, list, keep)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis audit: add: %w", err)
	}
	return nil
}

// chatLists names the per-chat zsets of chats.
func (a *RedisAudit) chatLists(chats []string) []string {
	out := make([]string, len(chats))
	for i, c := range chats {
		out[i] = a.prefix + "al:" + c
	}
	return out
}

// AuditLog returns entries newest first; see Audit.
func (a *RedisAudit) AuditLog(ctx context.Context, chatID string, limit int) ([]AuditEntry, error) {
	list := a.prefix + "al"
	if chatID != "" {
		list = a.chatLists([]string{chatID})[0]
	}
	by := &redis.ZRangeBy{Min: "(" + strconv.FormatInt(a.now().Add(-a.ttl).UnixMilli(), 10), Max: "+inf"}
	if limit > 0 {
		by.Count = int64(limit)
	}
	ids, err := a.c.ZRevRangeByScore(ctx, list, by).Result()
	if err != nil {
		return nil, fmt.Errorf("redis audit: read: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = a.prefix + "a:" + id
	}
	vals, err := a.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis audit: read: %w", err)
	}
	out := make([]AuditEntry, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // reclaimed meanwhile
		}
		var e AuditEntry
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			return nil, fmt.Errorf("redis audit: read: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// RedisStates is the States shared by replicas, in the ledger's Redis: each
// value is a string {P}:s:<key> holding "<expiry ms>:<value>", compared with
// the injected clock in Lua; Redis expiry reclaims it a grace period later.
type RedisStates struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

var _ States = (*RedisStates)(nil)

// States returns the States on the ledger's client, prefix and clock.
func (r *Redis) States() *RedisStates {
	return &RedisStates{c: r.c, prefix: r.prefix + "s:", now: r.now}
}

// Scripts of RedisStates. KEYS[1] is the state key; ARGV[1] now (ms).
var (
	statePutScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, ':', 1, true)
  if tonumber(string.sub(cur, 1, sep - 1)) > tonumber(ARGV[1]) then
    return {0, string.sub(cur, sep + 1)}
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[3], 'PX', ARGV[4])
return {1, ARGV[3]}`)
	stateTakeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return {0, ''} end
redis.call('DEL', KEYS[1])
local sep = string.find(cur, ':', 1, true)
if tonumber(string.sub(cur, 1, sep - 1)) > tonumber(ARGV[1]) then
  return {1, string.sub(cur, sep + 1)}
end
return {0, ''}`)
)

// PutStateIfAbsent stores value unless key is live; see States.
func (s *RedisStates) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	if err := checkState("redis states: put", key, ttl); err != nil {
		return "", false, err
	}
	now := s.now()
	res, err := statePutScript.Run(ctx, s.c, []string{s.prefix + key},
		now.UnixMilli(), now.Add(ttl).UnixMilli(), value, millis(ttl+redisGrace)).Slice()
	if err != nil {
		return "", false, fmt.Errorf("redis states: put %q: %w", key, err)
	}
	return stateResult(res)
}

// SetState stores value; see States.
func (s *RedisStates) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := checkState("redis states: set", key, ttl); err != nil {
		return err
	}
	v := strconv.FormatInt(s.now().Add(ttl).UnixMilli(), 10) + ":" + value
	if err := s.c.Set(ctx, s.prefix+key, v, ttl+redisGrace).Err(); err != nil {
		return fmt.Errorf("redis states: set %q: %w", key, err)
	}
	return nil
}

// TakeState returns and deletes the live value; see States.
func (s *RedisStates) TakeState(ctx context.Context, key string) (string, bool, error) {
	res, err := stateTakeScript.Run(ctx, s.c, []string{s.prefix + key}, s.now().UnixMilli()).Slice()
	if err != nil {
		return "", false, fmt.Errorf("redis states: take %q: %w", key, err)
	}
	v, ok, err := stateResult(res)
	return v, ok, err
}

// DeleteState forgets key; see States.
func (s *RedisStates) DeleteState(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis states: delete %q: %w", key, err)
	}
	return nil
}

// stateResult reads a {flag, value} script answer.
func stateResult(res []any) (string, bool, error) {
	if len(res) != 2 {
		return "", false, errors.New("redis states: malformed script answer")
	}
	flag, _ := res[0].(int64)
	v, _ := res[1].(string)
	return v, flag == 1, nil
}

// eventsScript records (when ARGV[3] is set) and reads the events zset
// KEYS[1]: ARGV[1] now ms, ARGV[2] window ms, ARGV[3] member or "", ARGV[4]
// unique suffix, ARGV[5] expiry ms. Members are "<member>\x00<suffix>" so
// that one member may be recorded twice.
var eventsScript = redis.NewScript(`
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[3] .. '\0' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
return redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. (now - window), 'WITHSCORES')`)

// AddEvent records an event; see States.
func (s *RedisStates) AddEvent(ctx context.Context, key, member string, window time.Duration) ([]Event, error) {
	if err := checkState("redis states: add event", key, window); err != nil {
		return nil, err
	}
	return s.events(ctx, key, member, window)
}

// Events returns the events within window; see States.
func (s *RedisStates) Events(ctx context.Context, key string, window time.Duration) ([]Event, error) {
	return s.events(ctx, key, "", window)
}

// events runs eventsScript and decodes its answer.
func (s *RedisStates) events(ctx context.Context, key, member string, window time.Duration) ([]Event, error) {
	res, err := eventsScript.Run(ctx, s.c, []string{s.prefix + "e:" + key},
		s.now().UnixMilli(), millis(window), member, newAuditID(), millis(window+redisGrace)).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis states: events %q: %w", key, err)
	}
	var out []Event
	for i := 0; i+1 < len(res); i += 2 {
		m, _ := res[i].(string)
		ms, _ := strconv.ParseInt(fmt.Sprint(res[i+1]), 10, 64)
		m, _, _ = strings.Cut(m, "\x00")
		out = append(out, Event{Member: m, At: time.UnixMilli(ms).UTC()})
	}
	return out, nil
}
