-- inflight.lua walks the newest messages of a chat that are not replies,
-- claimed or not, up to a count: it returns {free, in flight}, the free ones
-- (unclaimed or lapsed) claimed if asked, and those a live claim holds,
-- each newest first (TakeNewestWithInFlight and NewestWithInFlight).
-- ARGV[7] chat ID; ARGV[8] how many; ARGV[9] '1' to claim the free ones;
-- ARGV[10] the claim's holder token.
local chat, n, take, token = ARGV[7], tonumber(ARGV[8]), ARGV[9] == '1', ARGV[10]
local free_, busy = {}, {}
if n <= 0 then
	return {free_, busy}
end
trim(chat)
local ck = ckey(chat)
local seen, from, step = 0, 0, n + 16
while seen < n do
	local ks = redis.call('ZREVRANGE', ck, from, from + step - 1)
	for _, k in ipairs(ks) do
		local v = load(k)
		if v and v[9] ~= '1' then
			seen = seen + 1
			if free(v) then
				free_[#free_ + 1] = pack(k, v)
				if take then
					claim(k, token, v)
				end
			else
				busy[#busy + 1] = pack(k, v)
			end
			if seen == n then
				break
			end
		end
	end
	if #ks < step then
		break
	end
	from = from + step
end
return {free_, busy}
