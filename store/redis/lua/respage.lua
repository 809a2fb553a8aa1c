-- respage.lua returns a page of the reservation index, oldest first: ID,
-- chat and time of at most ARGV[3] reservations made before ARGV[1]
-- (exclusive), from offset ARGV[2]. KEYS as in resindex.lua.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'WITHSCORES', 'LIMIT', tonumber(ARGV[2]), tonumber(ARGV[3]))
local out = {}
for i = 1, #ids, 2 do
	out[#out + 1] = ids[i]
	out[#out + 1] = redis.call('HGET', KEYS[2], ids[i]) or ''
	out[#out + 1] = ids[i + 1]
end
return out
