-- due.lua returns the unclaimed messages whose ExpiresAt is at or before a
-- time, earliest first, and drops the due entries of untracked messages.
-- ARGV[7] the time; ARGV[8] limit, all when <= 0.
local until_, limit = ARGV[7], tonumber(ARGV[8])
local out = {}
local from, step = 0, 64
if limit > 0 then
	step = limit + 16
end
while limit <= 0 or #out < limit do
	local ks = redis.call('ZRANGEBYSCORE', DUE, '-inf', until_, 'LIMIT', from, step)
	local gone = 0
	for _, k in ipairs(ks) do
		local v = redis.call('HMGET', mkey(k), unpack(F))
		if not v[7] then
			redis.call('ZREM', DUE, k)
			gone = gone + 1
		elseif tonumber(v[7]) <= CUT then
			kill(k, v[1], v[6])
			touch(v[1])
			gone = gone + 1
		elseif free(v) then
			out[#out + 1] = pack(k, v)
			if #out == limit then
				break
			end
		end
	end
	if #ks < step then
		break
	end
	from = from + step - gone
end
return out
