-- list.lua returns the tracked messages of a chat, newest first.
-- ARGV[7] chat ID; ARGV[8] limit, all when <= 0.
local chat, limit = ARGV[7], tonumber(ARGV[8])
trim(chat)
local stop = -1
if limit > 0 then
	stop = limit - 1
end
local out = {}
for _, k in ipairs(redis.call('ZREVRANGE', ckey(chat), 0, stop)) do
	local v = load(k)
	if v then
		out[#out + 1] = pack(k, v)
	end
end
return out
