-- release.lua releases the claims on the keys.
-- ARGV[7..] the keys.
for i = 7, #ARGV do
	redis.call('HDEL', mkey(ARGV[i]), 'l')
end
return 1
