-- record.lua tracks a message, replacing any under its key in this chat,
-- and enforces the TTL and the per-chat cap; with a reservation ID it also
-- forgets that reservation (Commit), in the same step.
-- ARGV[6] key; ARGV[7] SentAt; ARGV[8] body; ARGV[9] kind; ARGV[10]
-- failure ('' for none); ARGV[11] claim ('' for none: a migration keeps
-- one); ARGV[12] reservation ID ('' for none).
-- It returns {old tag, old expiry, list, killed...}: the tag and expiry of
-- the message it replaced (false and false when there was none); list, 1
-- when the caller should (re)list the chat in the chat list (the chat was
-- empty, or was last listed a minute ago or more: the chat list is not
-- written on every record), else 0; then {key, tag, expiry} of each
-- message it dropped (TTL old, over the cap, or the message itself when
-- already TTL old or the oldest of a full chat), for the caller to clean
-- the indexes of other slots.
local key, sent, body, kind = ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9]
local failure, claimv, res = ARGV[10], ARGV[11], ARGV[12]
if res ~= '' then
	redis.call('HDEL', R, res)
	redis.call('HDEL', Q, res)
end
local oldTag, oldExp = false, false
local old = redis.call('HGET', M, key)
if old then
	local _, e, g = head(old)
	oldTag, oldExp = g, e
end
kill(key)
local out = {oldTag, oldExp, 0}
if sent > CUT then
	local listed = tonumber(redis.call('HGET', I, 'a') or '0')
	if redis.call('ZCARD', Z) == 0 or NOW - listed >= 60000 then
		redis.call('HSET', I, 'a', NOW)
		out[3] = 1
	end
	redis.call('HSET', M, key, body)
	redis.call('ZADD', Z, sent, key)
	if failure ~= '' then
		redis.call('HSET', F, key, failure)
	end
	if claimv ~= '' then
		redis.call('HSET', L, key, claimv)
	end
	redis.call('HSET', I, 'k', kind)
	-- Redis reclaims the chat a grace period after the ledger drops its
	-- newest message.
	keepAll(sent + TTL + GRACE - NOW)
	trim(out)
	local over = redis.call('ZCARD', Z) - PERCHAT
	if over > 0 then
		for _, k in ipairs(redis.call('ZRANGE', Z, 0, over - 1)) do
			kill(k, out)
		end
	end
else
	out[#out + 1] = key
	out[#out + 1] = ''
	out[#out + 1] = ''
end
return out
