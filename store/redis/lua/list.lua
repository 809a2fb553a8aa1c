-- list.lua returns the tracked messages of the chat, newest first.
-- ARGV[6] limit, all when <= 0.
local limit = tonumber(ARGV[6])
trim()
if limit <= 0 then
	limit = -1
end
local out = {}
for _, k in ipairs(redis.call('ZREVRANGEBYSCORE', Z, '+inf', '(' .. CUT, 'LIMIT', 0, limit)) do
	local m = load(k)
	if m then
		out[#out + 1] = pack(k, m)
	end
end
return out
