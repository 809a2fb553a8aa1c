-- claim.lua claims those of the keys that are tracked and unclaimed and
-- returns them in the order given.
-- ARGV[7] the claim's holder token; ARGV[8..] the keys.
local token = ARGV[7]
local out = {}
for i = 8, #ARGV do
	local k = ARGV[i]
	local v = load(k)
	if v and free(v) then
		claim(k, token)
		out[#out + 1] = pack(k, v)
	end
end
return out
