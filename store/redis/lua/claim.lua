-- claim.lua claims those of the keys that are tracked and unclaimed (or
-- whose claim lapsed) and returns them in the order given.
-- ARGV[7] the claim's holder token; ARGV[8..] the keys.
local token = ARGV[7]
local out = {}
for i = 8, #ARGV do
	local k = ARGV[i]
	local v = load(k)
	if v and free(v) then
		local p = pack(k, v)
		claim(k, token, v)
		out[#out + 1] = p
	end
end
return out
