package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// States is the store.States shared by replicas, in the ledger's Redis: each
// value is a string P:s:<key> (a key of its own, so that states spread over
// a cluster) holding "<expiry ms>:<value>", compared with
// the injected clock in Lua; Redis expiry reclaims it a grace period later.
type States struct {
	c      goredis.UniversalClient
	prefix string
	now    func() time.Time
}

var _ store.States = (*States)(nil)

// States returns the States on the ledger's client, prefix and clock.
func (r *Ledger) States() *States {
	return &States{c: r.c, prefix: r.prefix + ":s:", now: r.now}
}

// Close does nothing and returns nil: the client belongs to the Ledger the
// States came from, and Ledger.Close closes it. It exists so that every
// store closes alike.
func (s *States) Close() error { return nil }

// Scripts of States. KEYS[1] is the state key; ARGV[1] now (ms).
var (
	statePutScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, ':', 1, true)
  if tonumber(string.sub(cur, 1, sep - 1)) > tonumber(ARGV[1]) then
    return {0, string.sub(cur, sep + 1)}
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[3], 'PX', ARGV[4])
return {1, ARGV[3]}`)
	stateTakeScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return {0, ''} end
redis.call('DEL', KEYS[1])
local sep = string.find(cur, ':', 1, true)
if tonumber(string.sub(cur, 1, sep - 1)) > tonumber(ARGV[1]) then
  return {1, string.sub(cur, sep + 1)}
end
return {0, ''}`)
)

// stateSwapScript stores ARGV[4] under KEYS[1] if its live value is
// ARGV[3] (empty when absent or expired): ARGV[1] now ms, ARGV[2] the new
// expiry ms, ARGV[5] the Redis expiry in ms. It returns 1 when it stored.
var stateSwapScript = goredis.NewScript(`
local cur, live = redis.call('GET', KEYS[1]), ''
if cur then
  local sep = string.find(cur, ':', 1, true)
  if tonumber(string.sub(cur, 1, sep - 1)) > tonumber(ARGV[1]) then
    live = string.sub(cur, sep + 1)
  end
end
if live ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[4], 'PX', ARGV[5])
return 1`)

// CompareAndSwapState stores value if the live value of key is old, in one
// script; see store.States.
func (s *States) CompareAndSwapState(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	if err := store.CheckState("redis states: swap", key, ttl); err != nil {
		return false, err
	}
	now := s.now()
	n, err := stateSwapScript.Run(ctx, s.c, []string{s.prefix + key},
		now.UnixMilli(), now.Add(ttl).UnixMilli(), old, value, millis(ttl+grace)).Int()
	if err != nil {
		return false, fmt.Errorf("redis states: swap %q: %w", key, unavailable(err))
	}
	return n == 1, nil
}

// PutStateIfAbsent stores value unless key is live; see store.States.
func (s *States) PutStateIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	if err := store.CheckState("redis states: put", key, ttl); err != nil {
		return "", false, err
	}
	now := s.now()
	res, err := statePutScript.Run(ctx, s.c, []string{s.prefix + key},
		now.UnixMilli(), now.Add(ttl).UnixMilli(), value, millis(ttl+grace)).Slice()
	if err != nil {
		return "", false, fmt.Errorf("redis states: put %q: %w", key, unavailable(err))
	}
	return stateResult(res)
}

// SetState stores value; see store.States.
func (s *States) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := store.CheckState("redis states: set", key, ttl); err != nil {
		return err
	}
	v := strconv.FormatInt(s.now().Add(ttl).UnixMilli(), 10) + ":" + value
	if err := s.c.Set(ctx, s.prefix+key, v, ttl+grace).Err(); err != nil {
		return fmt.Errorf("redis states: set %q: %w", key, unavailable(err))
	}
	return nil
}

// TakeState returns and deletes the live value; see store.States.
func (s *States) TakeState(ctx context.Context, key string) (string, bool, error) {
	res, err := stateTakeScript.Run(ctx, s.c, []string{s.prefix + key}, s.now().UnixMilli()).Slice()
	if err != nil {
		return "", false, fmt.Errorf("redis states: take %q: %w", key, unavailable(err))
	}
	v, ok, err := stateResult(res)
	return v, ok, err
}

// DeleteState forgets key; see store.States.
func (s *States) DeleteState(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis states: delete %q: %w", key, unavailable(err))
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
var eventsScript = goredis.NewScript(`
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[3] .. '\0' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
return redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. (now - window), 'WITHSCORES')`)

// AddEvent records an event; see store.States.
func (s *States) AddEvent(ctx context.Context, key, member string, window time.Duration) ([]store.Event, error) {
	if err := store.CheckState("redis states: add event", key, window); err != nil {
		return nil, err
	}
	return s.events(ctx, key, member, window)
}

// Events returns the events within window; see store.States.
func (s *States) Events(ctx context.Context, key string, window time.Duration) ([]store.Event, error) {
	return s.events(ctx, key, "", window)
}

// events runs eventsScript and decodes its answer.
func (s *States) events(ctx context.Context, key, member string, window time.Duration) ([]store.Event, error) {
	res, err := eventsScript.Run(ctx, s.c, []string{s.prefix + "e:" + key},
		s.now().UnixMilli(), millis(window), member, store.NewAuditID(), millis(window+grace)).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis states: events %q: %w", key, unavailable(err))
	}
	var out []store.Event
	for i := 0; i+1 < len(res); i += 2 {
		m, _ := res[i].(string)
		ms, _ := strconv.ParseInt(fmt.Sprint(res[i+1]), 10, 64)
		m, _, _ = strings.Cut(m, "\x00")
		out = append(out, store.Event{Member: m, At: time.UnixMilli(ms).UTC()})
	}
	return out, nil
}
