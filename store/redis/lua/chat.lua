-- chat.lua is the prelude of every per-chat script (see keys.go for the
-- layout). Every such script is called with the eight keys of one chat in
-- KEYS, all under the chat's hash tag, and touches no other key; its first
-- five ARGV are the same, its own arguments start at ARGV[6]. Times are
-- Unix milliseconds from the caller's clock: Redis's clock is never read.
local Z = KEYS[1] -- zset: message key by SentAt
local M = KEYS[2] -- hash: message key -> body (keys.go, encodeBody)
local L = KEYS[3] -- hash: message key -> claim, "until|holder|x"
local F = KEYS[4] -- hash: message key -> failure (JSON)
local N = KEYS[5] -- hash: message key -> failed automatic recalls
local I = KEYS[6] -- hash: k kind, t title, f folded title
local R = KEYS[7] -- hash: reservation ID -> "<ms>\n<JSON>"
local Q = KEYS[8] -- hash: reservation ID -> settlement lease end
local NOW = tonumber(ARGV[1])
local TTL = tonumber(ARGV[2])
local LEASE = tonumber(ARGV[3])
local PERCHAT = tonumber(ARGV[4])
local GRACE = tonumber(ARGV[5])
-- A message is tracked while its send time is after CUT.
local CUT = NOW - TTL
-- TRIM bounds how many TTL old messages one call forgets; the rest are
-- skipped as untracked until a later call forgets them.
local TRIM = 64

-- head returns what the scripts read of a body: whether it is a reply,
-- its expiry ('' for none) and its tag.
local function head(body)
	local c1 = string.find(body, ':', 2, true)
	local c2 = string.find(body, ':', c1 + 1, true)
	local n = tonumber(string.sub(body, c1 + 1, c2 - 1))
	return string.sub(body, 1, 1) == '1', string.sub(body, 2, c1 - 1), string.sub(body, c2 + 1, c2 + n)
end

-- claimOf splits a claim into its end, holder and lapsed-before flag.
local function claimOf(v)
	if not v or v == '' then
		return 0, '', ''
	end
	local a = string.find(v, '|', 1, true)
	local b = string.find(v, '|', a + 1, true)
	return tonumber(string.sub(v, 1, a - 1)), string.sub(v, a + 1, b - 1), string.sub(v, b + 1)
end

-- load returns {body, claim} of message k, or nil when it is not tracked
-- (unknown or TTL old).
local function load(k)
	local s = redis.call('ZSCORE', Z, k)
	if not s or tonumber(s) <= CUT then
		return nil
	end
	local body = redis.call('HGET', M, k)
	if not body then
		return nil
	end
	return {body = body, claim = redis.call('HGET', L, k) or ''}
end

-- free reports whether the loaded message m is unclaimed.
local function free(m)
	local until_ = claimOf(m.claim)
	return until_ <= NOW
end

-- lapsed reports whether a claim on m lapsed without being released: its
-- holder still names it but its lease ran out, or it lapsed before and was
-- claimed again since.
local function lapsed(m)
	local until_, holder, x = claimOf(m.claim)
	return x == '1' or (holder ~= '' and until_ <= NOW)
end

-- pack is the reply for message k: key, body, failure, '1' when lapsed.
local function pack(k, m)
	local l = ''
	if lapsed(m) then
		l = '1'
	end
	return {k, m.body, redis.call('HGET', F, k) or '', l}
end

-- claim claims m (key k) for the lease for holder token, noting whether an
-- earlier claim lapsed, and updates m.
local function claim(k, token, m)
	local x = ''
	if lapsed(m) then
		x = '1'
	end
	m.claim = (NOW + LEASE) .. '|' .. token .. '|' .. x
	redis.call('HSET', L, k, m.claim)
end

-- holds reports whether token holds the claim on k (an empty token holds
-- any): a holder whose lease lapsed and was claimed again does not.
local function holds(k, token)
	if token == '' then
		return true
	end
	local _, holder = claimOf(redis.call('HGET', L, k))
	return holder == token
end

-- keep makes key live for at least ms milliseconds of Redis's time (a
-- grace period at least).
local function keep(key, ms)
	ms = math.max(ms, GRACE)
	if redis.call('PTTL', key) < ms then
		redis.call('PEXPIRE', key, ms)
	end
end

-- keepAll keeps the chat's message keys, and its info unless titled, for
-- ms milliseconds.
local function keepAll(ms)
	for _, key in ipairs({Z, M, L, F, N}) do
		keep(key, ms)
	end
	if redis.call('HEXISTS', I, 't') == 0 then
		keep(I, ms)
	end
end

-- kill forgets message k and appends {k, tag, expiry} to out when given,
-- for the caller to clean the indexes of other slots.
local function kill(k, out)
	local body = redis.call('HGET', M, k)
	redis.call('ZREM', Z, k)
	redis.call('HDEL', M, k)
	redis.call('HDEL', L, k)
	redis.call('HDEL', F, k)
	redis.call('HDEL', N, k)
	if out and body then
		local _, e, g = head(body)
		out[#out + 1] = k
		out[#out + 1] = g
		out[#out + 1] = e
	end
end

-- trim forgets up to TRIM TTL old messages, the lowest scores.
local function trim(out)
	for _, k in ipairs(redis.call('ZRANGEBYSCORE', Z, '-inf', CUT, 'LIMIT', 0, TRIM)) do
		kill(k, out)
	end
end
