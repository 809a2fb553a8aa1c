-- fail.lua sets the failure of tracked keys and releases them, when the
-- token holds their claim.
-- ARGV[6] the holder token ('' for any); ARGV[7..] pairs of key and
-- failure ('' to clear it).
local token = ARGV[6]
for i = 7, #ARGV - 1, 2 do
	local k, failure = ARGV[i], ARGV[i + 1]
	if load(k) and holds(k, token) then
		if failure == '' then
			redis.call('HDEL', F, k)
		else
			redis.call('HSET', F, k, failure)
		end
		redis.call('HDEL', L, k)
	end
end
return 1
