-- pending.lua forgets the TTL old reservations and returns the others made
-- before a time that no settler holds, oldest first.
-- ARGV[7] the time (exclusive); ARGV[8] limit, all when <= 0.
local before, limit = ARGV[7], tonumber(ARGV[8])
pruneres()
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', RESQ, '-inf', '(' .. before)) do
	local l = redis.call('HGET', RESL, id)
	if not l or tonumber(l) <= NOW then
		local body = redis.call('HGET', RES, id)
		if body then
			out[#out + 1] = body
			if #out == limit then
				break
			end
		end
	end
end
return out
