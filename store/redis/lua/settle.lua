-- settle.lua takes a reservation for settlement for one lease, unless it
-- is unknown, TTL old or held by another settler; it returns the
-- reservation (JSON) or false.
-- ARGV[7] the ID.
local id = ARGV[7]
local at = redis.call('ZSCORE', RESQ, id)
if not at then
	return false
end
if tonumber(at) <= CUT then
	dropres(id)
	return false
end
local l = redis.call('HGET', RESL, id)
if l and tonumber(l) > NOW then
	return false
end
redis.call('HSET', RESL, id, NOW + LEASE)
return redis.call('HGET', RES, id)
