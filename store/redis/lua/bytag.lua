-- bytag.lua returns the unclaimed messages with a tag that are not
-- replies, newest first.
-- ARGV[7] the tag (not empty).
local tag = ARGV[7]
local tk = tkey(tag)
redis.call('ZREMRANGEBYSCORE', tk, '-inf', CUT)
local out = {}
for _, k in ipairs(redis.call('ZREVRANGE', tk, 0, -1)) do
	local v = load(k)
	if v and v[6] == tag and v[9] ~= '1' and free(v) then
		out[#out + 1] = pack(k, v)
	end
end
return out
