-- record.lua tracks a message, replacing any under its key, and enforces
-- the TTL and the per-chat cap.
-- ARGV[7] key; ARGV[8..17] the fields c k r n p g s e y f of F, '' when
-- empty (y is '1' for a reply; e is '' without ExpiresAt).
local key, chat, kind, tag = ARGV[7], ARGV[8], ARGV[9], ARGV[13]
local sent, exp = tonumber(ARGV[14]), ARGV[15]

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
	for i = 1, 10 do
		local v = ARGV[7 + i]
		if v ~= '' then
			args[#args + 1] = F[i]
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
