-- remove.lua forgets the keys.
-- ARGV[7..] the keys.
local chats, order = {}, {}
for i = 7, #ARGV do
	local k = ARGV[i]
	local v = redis.call('HMGET', mkey(k), 'c', 'g')
	if v[1] then
		kill(k, v[1], v[2])
		if not chats[v[1]] then
			chats[v[1]] = true
			order[#order + 1] = v[1]
		end
	end
end
for _, c in ipairs(order) do
	touch(c)
end
return #order
