-- reserve.lua stores a reservation, replacing any under its ID, unless it
-- is already TTL old, and forgets a few TTL old ones.
-- ARGV[7] the ID; ARGV[8] its reservation time; ARGV[9] the reservation
-- (JSON, opaque here).
local id, at, body = ARGV[7], tonumber(ARGV[8]), ARGV[9]
dropres(id)
pruneres(8)
if at <= CUT then
	return 0
end
redis.call('HSET', RES, id, body)
redis.call('ZADD', RESQ, at, id)
return 1
