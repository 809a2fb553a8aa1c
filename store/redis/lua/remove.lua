-- remove.lua forgets the keys and returns {key, tag, expiry} of each that
-- was there, for the caller to clean the indexes of other slots.
-- ARGV[6..] the keys.
local out = {}
for i = 6, #ARGV do
	if redis.call('HEXISTS', M, ARGV[i]) == 1 then
		kill(ARGV[i], out)
	else
		redis.call('ZREM', Z, ARGV[i])
	end
end
return out
