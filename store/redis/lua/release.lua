-- release.lua releases the claims on the keys that the token holds.
-- ARGV[7] the holder token ('' for any); ARGV[8..] the keys.
local token = ARGV[7]
for i = 8, #ARGV do
	if holds(ARGV[i], token) then
		unclaim(ARGV[i])
	end
end
return 1
