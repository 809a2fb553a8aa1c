-- fail.lua sets the failure reason of tracked keys and releases them.
-- ARGV[7..] pairs of key and reason.
for i = 7, #ARGV - 1, 2 do
	local k, reason = ARGV[i], ARGV[i + 1]
	if load(k) then
		local mk = mkey(k)
		if reason == '' then
			redis.call('HDEL', mk, 'f', 'l')
		else
			redis.call('HSET', mk, 'f', reason)
			redis.call('HDEL', mk, 'l')
		end
	end
end
return 1
