-- newest.lua returns the newest unclaimed messages of the chat that are
-- not replies, newest first, and claims them if asked (Newest and
-- TakeNewest). It walks from the newest message, a page at a time.
-- ARGV[6] how many; ARGV[7] '1' to claim them; ARGV[8] the holder token.
local n, take, token = tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8]
local out = {}
if n <= 0 then
	return out
end
trim()
local from, step = 0, n + 16
while #out < n do
	local ks = redis.call('ZREVRANGE', Z, from, from + step - 1)
	for _, k in ipairs(ks) do
		local m = load(k)
		if m and not head(m.body) and free(m) then
			out[#out + 1] = pack(k, m)
			if take then
				claim(k, token, m)
			end
			if #out == n then
				break
			end
		end
	end
	if #ks < step then
		break
	end
	from = from + step
end
return out
