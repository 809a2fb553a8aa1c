-- settle.lua takes a reservation of this chat for settlement for one
-- lease, unless it is unknown, TTL old or held by another settler; it
-- returns the reservation (JSON), or 'gone' (unknown or TTL old: the
-- caller drops its index entry) or 'held'.
-- ARGV[6] the ID.
local id = ARGV[6]
local v = redis.call('HGET', R, id)
if not v then
	return 'gone'
end
local nl = string.find(v, '\n', 1, true)
if tonumber(string.sub(v, 1, nl - 1)) <= CUT then
	redis.call('HDEL', R, id)
	redis.call('HDEL', Q, id)
	return 'gone'
end
local l = redis.call('HGET', Q, id)
if l and tonumber(l) > NOW then
	return 'held'
end
redis.call('HSET', Q, id, NOW + LEASE)
return string.sub(v, nl + 1)
