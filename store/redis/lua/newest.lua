-- newest.lua returns the newest unclaimed messages of a chat that are not
-- replies, newest first, and claims them if asked (Newest and TakeNewest).
-- ARGV[7] chat ID; ARGV[8] how many; ARGV[9] '1' to claim them; ARGV[10]
-- the claim's holder token.
local chat, n, take, token = ARGV[7], tonumber(ARGV[8]), ARGV[9] == '1', ARGV[10]
local out = {}
if n <= 0 then
	return out
end
trim(chat)
local ck = ckey(chat)
local from, step = 0, n + 16
while #out < n do
	local ks = redis.call('ZREVRANGE', ck, from, from + step - 1)
	for _, k in ipairs(ks) do
		local v = load(k)
		if v and v[9] ~= '1' and free(v) then
			out[#out + 1] = pack(k, v)
			if take then
				claim(k, token, v)
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
