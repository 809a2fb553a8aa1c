-- findchat.lua finds a chat by ID, else by case-folded title. It returns
-- {'ok', id, kind, title, count}, {'none'} or {'many', how many}.
-- ARGV[7] the ID or title; ARGV[8] its case fold.
local q, fold = ARGV[7], ARGV[8]

local function summary(c)
	trim(c)
	return {'ok', c, redis.call('HGET', KINDS, c) or '', redis.call('HGET', TITLES, c) or '', redis.call('ZCARD', ckey(c))}
end

if q ~= '' then
	local s = summary(q)
	if s[5] > 0 or s[4] ~= '' then
		return s
	end
end
if fold == '' then
	return {'none'}
end
local ids = redis.call('SMEMBERS', fkey(fold))
if #ids == 0 then
	return {'none'}
elseif #ids > 1 then
	return {'many', #ids}
end
return summary(ids[1])
