-- dedupe.lua records an ID unless it is held, and reports whether it was
-- not. KEYS[1] the ID's key, holding the Unix millisecond time it expires
-- by the caller's clock. ARGV[1] now; ARGV[2] the expiry to set; ARGV[3]
-- the Redis expiry in milliseconds, a grace period later.
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > tonumber(ARGV[1]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
