-- pending.lua checks reservations the index gave for this chat: for each
-- ID it returns the reservation (JSON) when no settler holds it, 'held'
-- when one does, or 'gone' (unknown or TTL old, and then forgotten) for
-- the caller to drop from the index.
-- ARGV[6..] the IDs.
local out = {}
for i = 6, #ARGV do
	local id = ARGV[i]
	local v = redis.call('HGET', R, id)
	local r = 'gone'
	if v then
		local nl = string.find(v, '\n', 1, true)
		if tonumber(string.sub(v, 1, nl - 1)) <= CUT then
			redis.call('HDEL', R, id)
			redis.call('HDEL', Q, id)
		else
			local l = redis.call('HGET', Q, id)
			if l and tonumber(l) > NOW then
				r = 'held'
			else
				r = string.sub(v, nl + 1)
			end
		end
	end
	out[#out + 1] = r
end
return out
