-- release.lua releases the claims on the keys that the token holds.
-- ARGV[6] the holder token ('' for any); ARGV[7..] the keys.
local token = ARGV[6]
for i = 7, #ARGV do
	if holds(ARGV[i], token) then
		redis.call('HDEL', L, ARGV[i])
	end
end
return 1
