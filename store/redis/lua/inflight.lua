-- inflight.lua walks the newest messages of the chat that are not
-- replies, claimed or not, up to a count: it returns {free, in flight},
-- the free ones (unclaimed or lapsed) claimed if asked, and those a live
-- claim holds, each newest first (TakeNewestWithInFlight and
-- NewestWithInFlight).
-- ARGV[6] how many; ARGV[7] '1' to claim the free ones; ARGV[8] the holder
-- token.
local n, take, token = tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8]
local free_, busy = {}, {}
if n <= 0 then
	return {free_, busy}
end
trim()
local seen, from, step = 0, 0, n + 16
while seen < n do
	local ks = redis.call('ZREVRANGE', Z, from, from + step - 1)
	for _, k in ipairs(ks) do
		local m = load(k)
		if m and not head(m.body) then
			seen = seen + 1
			if free(m) then
				free_[#free_ + 1] = pack(k, m)
				if take then
					claim(k, token, m)
				end
			else
				busy[#busy + 1] = pack(k, m)
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
