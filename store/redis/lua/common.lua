-- common.lua is the prelude of every ledger script (see ledger.go for the key
-- layout). Every script is called with the same KEYS and the same first six
-- ARGV; its own arguments start at ARGV[7]. Times are Unix milliseconds and
-- come from the caller's clock: Redis's own clock is never consulted.
local P = ARGV[1] -- key prefix, "{prefix}:"
local NOW = tonumber(ARGV[2])
local TTL = tonumber(ARGV[3])
local LEASE = tonumber(ARGV[4])
local PERCHAT = tonumber(ARGV[5])
local GRACE = tonumber(ARGV[6])
-- A message is tracked while its send time is after CUT.
local CUT = NOW - TTL
local ACTIVE = KEYS[1] -- zset: chat ID by its newest message's send time
local DUE = KEYS[2] -- zset: message key by ExpiresAt
local KINDS = KEYS[3] -- hash: chat ID -> kind
local TITLES = KEYS[4] -- hash: chat ID -> title
local FOLDS = KEYS[5] -- hash: chat ID -> case-folded title
local RES = KEYS[6] -- hash: reservation ID -> the reservation (JSON)
local RESQ = KEYS[7] -- zset: reservation ID by its reservation time
local RESL = KEYS[8] -- hash: reservation ID -> settlement lease end

local function mkey(k) return P .. 'm:' .. k end
local function ckey(c) return P .. 'c:' .. c end
local function tkey(t) return P .. 't:' .. t end
local function fkey(f) return P .. 'f:' .. f end

-- The fields of a message hash: chat, kind, robot, msgKey (name), param,
-- tag (group), sent, expires, reply (y), failure, lease (claimed until),
-- owner (the claim's holder token), x ('1' once a claim lapsed and the
-- message was claimed again). The first ten are returned to Go in this
-- order (messageFields in ledger.go), followed by the lapsed flag.
local F = {'c', 'k', 'r', 'n', 'p', 'g', 's', 'e', 'y', 'f', 'l', 'o', 'x'}

-- load returns the fields of message k, or nil when it is not tracked
-- (unknown or TTL old).
local function load(k)
	local v = redis.call('HMGET', mkey(k), unpack(F))
	if not v[7] or tonumber(v[7]) <= CUT then
		return nil
	end
	return v
end

-- free reports whether the loaded message v is unclaimed.
local function free(v)
	return not v[11] or tonumber(v[11]) <= NOW
end

-- lapsed reports whether a claim on the loaded message v lapsed without
-- being released: its holder still names it but its lease ran out, or it
-- lapsed before and was claimed again since.
local function lapsed(v)
	return v[13] == '1' or (v[12] ~= nil and v[12] ~= false and tonumber(v[11] or 0) <= NOW)
end

-- pack returns the reply for message k with fields v: the key, the first
-- ten fields and '1' when lapsed.
local function pack(k, v)
	local out = {k}
	for i = 1, 10 do
		out[i + 1] = v[i] or ''
	end
	if lapsed(v) then
		out[12] = '1'
	else
		out[12] = ''
	end
	return out
end

-- claim claims the loaded message k with fields v for the lease, for the
-- holder token, noting whether an earlier claim lapsed, and updates v.
local function claim(k, token, v)
	local was = lapsed(v)
	if was then
		redis.call('HSET', mkey(k), 'l', NOW + LEASE, 'o', token, 'x', '1')
	else
		redis.call('HSET', mkey(k), 'l', NOW + LEASE, 'o', token)
	end
	v[11], v[12] = tostring(NOW + LEASE), token
	if was then
		v[13] = '1'
	end
end

-- unclaim drops the claim on message k and its lapsed flag.
local function unclaim(k)
	redis.call('HDEL', mkey(k), 'l', 'o', 'x')
end

-- holds reports whether token holds the claim on message k (an empty token
-- holds any): a holder whose lease lapsed and was claimed again does not.
local function holds(k, token)
	return token == '' or redis.call('HGET', mkey(k), 'o') == token
end

-- keep makes key live for at least ms milliseconds of Redis's time.
local function keep(key, ms)
	if redis.call('PTTL', key) < ms then
		redis.call('PEXPIRE', key, ms)
	end
end

-- kill forgets message k of chat with tag in every index except ACTIVE
-- (callers touch the chat).
local function kill(k, chat, tag)
	redis.call('DEL', mkey(k))
	if chat then
		redis.call('ZREM', ckey(chat), k)
	end
	if tag and tag ~= '' then
		redis.call('ZREM', tkey(tag), k)
	end
	redis.call('ZREM', DUE, k)
end

-- touch brings the activity of chat up to date after its messages changed:
-- a chat without messages leaves ACTIVE, and KINDS unless it has a title.
local function touch(chat)
	local top = redis.call('ZREVRANGE', ckey(chat), 0, 0, 'WITHSCORES')
	if top[1] then
		redis.call('ZADD', ACTIVE, top[2], chat)
	else
		redis.call('ZREM', ACTIVE, chat)
		if redis.call('HEXISTS', TITLES, chat) == 0 then
			redis.call('HDEL', KINDS, chat)
		end
	end
end

-- trim forgets the TTL old messages of chat, the lowest scores of its zset.
local function trim(chat)
	local ck = ckey(chat)
	local ks = redis.call('ZRANGEBYSCORE', ck, '-inf', CUT)
	for _, k in ipairs(ks) do
		local v = redis.call('HMGET', mkey(k), 'c', 'g')
		if v[1] == chat then
			kill(k, chat, v[2])
		else
			-- The hash was reclaimed, or the key re-recorded elsewhere.
			redis.call('ZREM', ck, k)
		end
	end
	if #ks > 0 then
		touch(chat)
	end
end

-- sweep drops up to n chats whose newest message is TTL old from ACTIVE
-- (and KINDS unless titled), so that quiet chats do not pile up there. It
-- deletes nothing else: the keys of such a chat expire in Redis on their
-- own, and a message recorded into it first trims it.
local function sweep(n)
	for _, c in ipairs(redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', CUT, 'LIMIT', 0, n)) do
		redis.call('ZREM', ACTIVE, c)
		if redis.call('HEXISTS', TITLES, c) == 0 then
			redis.call('HDEL', KINDS, c)
		end
	end
end

-- dropres forgets the reservation id.
local function dropres(id)
	redis.call('HDEL', RES, id)
	redis.call('ZREM', RESQ, id)
	redis.call('HDEL', RESL, id)
end

-- pruneres forgets up to n reservations that are TTL old (all when n is
-- nil).
local function pruneres(n)
	local old
	if n then
		old = redis.call('ZRANGEBYSCORE', RESQ, '-inf', CUT, 'LIMIT', 0, n)
	else
		old = redis.call('ZRANGEBYSCORE', RESQ, '-inf', CUT)
	end
	for _, id in ipairs(old) do
		dropres(id)
	end
end

-- record tracks a message, replacing any under its key, and enforces the
-- TTL and the per-chat cap. Its arguments start at ARGV[i]: the key, then
-- the fields c k r n p g s e y f of F, '' when empty (y is '1' for a
-- reply; e is '' without ExpiresAt).
local function record(i)
	local key, chat, kind, tag = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 6]
	local sent, exp = tonumber(ARGV[i + 7]), ARGV[i + 8]

	local old = redis.call('HMGET', mkey(key), 'c', 'g')
	local oldChat = old[1]
	if oldChat then
		kill(key, oldChat, old[2])
	else
		-- A due entry may outlive a message Redis reclaimed.
		redis.call('ZREM', DUE, key)
	end

	if sent > CUT then
		local args = {}
		for j = 1, 10 do
			local v = ARGV[i + j]
			if v ~= '' then
				args[#args + 1] = F[j]
				args[#args + 1] = v
			end
		end
		-- Redis reclaims the message a grace period after the ledger drops it.
		local life = sent + TTL + GRACE - NOW
		local mk, ck = mkey(key), ckey(chat)
		redis.call('HSET', mk, unpack(args))
		redis.call('PEXPIRE', mk, life)
		redis.call('ZADD', ck, sent, key)
		keep(ck, life)
		if tag ~= '' then
			local tk = tkey(tag)
			redis.call('ZADD', tk, sent, key)
			keep(tk, life)
		end
		if exp ~= '' then
			redis.call('ZADD', DUE, exp, key)
		end
		redis.call('HSET', KINDS, chat, kind)
		trim(chat)
		local over = redis.call('ZCARD', ck) - PERCHAT
		if over > 0 then
			for _, k in ipairs(redis.call('ZRANGE', ck, 0, over - 1)) do
				kill(k, chat, redis.call('HGET', mkey(k), 'g'))
			end
		end
		touch(chat)
	end
	if oldChat and (oldChat ~= chat or sent <= CUT) then
		touch(oldChat)
	end
	sweep(2)
	return 1
end
