-- info.lua returns the chat as {kind, title, folded title, count, newest
-- SentAt ('' when empty)} after forgetting its TTL old messages.
trim()
local top = redis.call('ZREVRANGE', Z, 0, 0, 'WITHSCORES')
local i = redis.call('HMGET', I, 'k', 't', 'f')
return {i[1] or '', i[2] or '', i[3] or '', redis.call('ZCARD', Z), top[2] or ''}
