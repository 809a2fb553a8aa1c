-- resindex.lua indexes reservation ARGV[1] of chat ARGV[2], made at ARGV[3]
-- (Unix milliseconds), and returns the chat it was indexed under before
-- ('' for none). KEYS[1] the zset of IDs by time, KEYS[2] the hash of ID
-- to chat.
local old = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return old
