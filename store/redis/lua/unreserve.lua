-- unreserve.lua forgets reservations of this chat.
-- ARGV[6..] the IDs.
for i = 6, #ARGV do
	redis.call('HDEL', R, ARGV[i])
	redis.call('HDEL', Q, ARGV[i])
end
return 1
