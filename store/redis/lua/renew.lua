-- renew.lua extends to a full lease the live claims the token holds on the
-- messages KEYS[9..] (their hashes).
-- ARGV[7] the holder token (not empty).
local token = ARGV[7]
for i = 9, #KEYS do
	local v = redis.call('HMGET', KEYS[i], 's', 'l', 'o')
	if v[1] and tonumber(v[1]) > CUT and v[3] == token and tonumber(v[2] or 0) > NOW then
		redis.call('HSET', KEYS[i], 'l', NOW + LEASE)
	end
end
return 1
