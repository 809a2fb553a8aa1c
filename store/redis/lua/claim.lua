-- claim.lua claims those of the keys that are tracked and unclaimed (or
-- whose claim lapsed) and returns them in the order given.
-- ARGV[6] the holder token; ARGV[7..] the keys.
local token = ARGV[6]
local out = {}
for i = 7, #ARGV do
	local k = ARGV[i]
	local m = load(k)
	if m and free(m) then
		local p = pack(k, m)
		claim(k, token, m)
		out[#out + 1] = p
	end
end
return out
