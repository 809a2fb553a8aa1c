-- chats.lua returns the chats with tracked messages as {id, kind, title,
-- count, newest send time}, most recently active first.
for _, c in ipairs(redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', CUT)) do
	trim(c)
	touch(c)
end
local out = {}
local all = redis.call('ZREVRANGE', ACTIVE, 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
	local c = all[i]
	trim(c)
	local n = redis.call('ZCARD', ckey(c))
	if n > 0 then
		out[#out + 1] = {c, redis.call('HGET', KINDS, c) or '', redis.call('HGET', TITLES, c) or '', n, all[i + 1]}
	end
end
return out
