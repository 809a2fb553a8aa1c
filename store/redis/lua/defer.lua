-- defer.lua counts one more failed automatic recall of each key that is
-- tracked with an expiry, and returns {key, failures so far} for each.
-- ARGV[6..] the keys.
local out = {}
for i = 6, #ARGV do
	local k = ARGV[i]
	local m = load(k)
	if m then
		local _, e = head(m.body)
		if e ~= '' then
			out[#out + 1] = k
			out[#out + 1] = redis.call('HINCRBY', N, k, 1)
		end
	end
end
return out
