-- renew.lua extends to a full lease the live claims the token holds on the
-- keys.
-- ARGV[6] the holder token (not empty); ARGV[7..] the keys.
local token = ARGV[6]
for i = 7, #ARGV do
	local k = ARGV[i]
	local m = load(k)
	if m then
		local until_, holder, x = claimOf(m.claim)
		if holder == token and until_ > NOW then
			redis.call('HSET', L, k, (NOW + LEASE) .. '|' .. token .. '|' .. x)
		end
	end
end
return 1
