-- settitle.lua sets or, when empty, forgets the title of a chat.
-- ARGV[7] chat ID; ARGV[8] kind; ARGV[9] title; ARGV[10] its case fold.
local chat, kind, title, fold = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local old = redis.call('HGET', FOLDS, chat)
if old then
	redis.call('SREM', fkey(old), chat)
end
if title == '' then
	redis.call('HDEL', TITLES, chat)
	redis.call('HDEL', FOLDS, chat)
	trim(chat)
	if redis.call('ZCARD', ckey(chat)) > 0 then
		redis.call('HSET', KINDS, chat, kind)
	else
		redis.call('HDEL', KINDS, chat)
	end
	return 1
end
redis.call('HSET', TITLES, chat, title)
redis.call('HSET', FOLDS, chat, fold)
redis.call('SADD', fkey(fold), chat)
redis.call('HSET', KINDS, chat, kind)
return 1
