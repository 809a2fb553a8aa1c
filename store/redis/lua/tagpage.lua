-- tagpage.lua forgets the entries of the tag index KEYS[1] that are TTL old
-- and returns a page of the others, newest first, as member and score
-- pairs: at most ARGV[3] of them (RECALL_MAX or less), from offset
-- ARGV[2]. ARGV[1] is the TTL cut (Unix milliseconds).
local cut, from, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if from == 0 then
	redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cut)
end
return redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. cut, 'WITHSCORES', 'LIMIT', from, n)
