-- claim.lua claims those of the keys that are tracked and unclaimed and
-- returns them in the order given.
-- ARGV[7..] the keys.
local out = {}
for i = 7, #ARGV do
	local k = ARGV[i]
	local v = load(k)
	if v and free(v) then
		claim(k)
		out[#out + 1] = pack(k, v)
	end
end
return out
