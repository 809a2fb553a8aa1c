-- reserve.lua stores a reservation of this chat, replacing any under its
-- ID, and forgets a few TTL old ones (leftovers).
-- ARGV[6] the ID; ARGV[7] its reservation time; ARGV[8] the reservation
-- (JSON, opaque here); ARGV[9] the end of a settlement lease ('' for none:
-- a migration keeps one).
local id, at, body, lease = ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9]
redis.call('HDEL', Q, id)
local n = 0
for _, v in ipairs(redis.call('HRANDFIELD', R, 8)) do
	local old = redis.call('HGET', R, v)
	if tonumber(string.sub(old, 1, string.find(old, '\n', 1, true) - 1)) <= CUT then
		redis.call('HDEL', R, v)
		redis.call('HDEL', Q, v)
	end
end
if at <= CUT then
	redis.call('HDEL', R, id)
	return 0
end
redis.call('HSET', R, id, at .. '\n' .. body)
if lease ~= '' then
	redis.call('HSET', Q, id, lease)
end
keep(R, at + TTL + GRACE - NOW)
keep(Q, at + TTL + GRACE - NOW)
return 1
