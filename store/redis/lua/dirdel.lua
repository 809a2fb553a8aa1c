-- dirdel.lua deletes the directory entry KEYS[1] if it still names chat
-- ARGV[1] (a message recorded again into another chat keeps its entry).
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
