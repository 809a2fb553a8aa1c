-- resunindex.lua drops reservation ARGV[1] from the index, when it is
-- indexed under chat ARGV[2] or ARGV[2] is '', and returns the chat it was
-- indexed under ('' for none). KEYS as in resindex.lua.
local chat = redis.call('HGET', KEYS[2], ARGV[1]) or ''
if ARGV[2] == '' or chat == ARGV[2] then
	redis.call('HDEL', KEYS[2], ARGV[1])
	redis.call('ZREM', KEYS[1], ARGV[1])
end
return chat
