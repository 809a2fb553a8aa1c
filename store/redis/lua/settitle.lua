-- settitle.lua sets or, when empty, forgets the title of the chat and
-- returns the folded title it had ('' for none), for the caller to update
-- the title index.
-- ARGV[6] kind; ARGV[7] title; ARGV[8] its case fold.
local kind, title, fold = ARGV[6], ARGV[7], ARGV[8]
local old = redis.call('HGET', I, 'f') or ''
if title == '' then
	redis.call('HDEL', I, 't', 'f')
	trim()
	if redis.call('ZCARD', Z) > 0 then
		redis.call('HSET', I, 'k', kind)
		local top = redis.call('ZREVRANGE', Z, 0, 0, 'WITHSCORES')
		keep(I, tonumber(top[2]) + TTL + GRACE - NOW)
	else
		redis.call('DEL', I)
	end
	return old
end
redis.call('HSET', I, 'k', kind, 't', title, 'f', fold)
redis.call('PERSIST', I)
return old
