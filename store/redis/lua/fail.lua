-- fail.lua sets the failure reason of tracked keys and releases them, when
-- the token holds their claim.
-- ARGV[7] the holder token ('' for any); ARGV[8..] pairs of key and reason.
local token = ARGV[7]
for i = 8, #ARGV - 1, 2 do
	local k, reason = ARGV[i], ARGV[i + 1]
	if load(k) and holds(k, token) then
		local mk = mkey(k)
		if reason == '' then
			redis.call('HDEL', mk, 'f')
		else
			redis.call('HSET', mk, 'f', reason)
		end
		unclaim(k)
	end
end
return 1
