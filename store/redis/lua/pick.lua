-- pick.lua checks the entries the tag or due index gave for this chat. For
-- each key it returns pack's reply when the message qualifies, 'busy' when
-- it would but a live claim holds it, and 'gone' when the index entry is
-- stale (the caller drops it there).
-- ARGV[6] 't' for a tag (not replies, carrying the tag) or 'd' for due
-- (with an expiry); ARGV[7] the tag; ARGV[8..] the keys.
local mode, tag = ARGV[6], ARGV[7]
local out = {}
for i = 8, #ARGV do
	local k = ARGV[i]
	local m = load(k)
	local r = 'gone'
	if m then
		local reply, e, g = head(m.body)
		if (mode == 't' and g == tag and not reply) or (mode == 'd' and e ~= '') then
			if free(m) then
				r = pack(k, m)
			else
				r = 'busy'
			end
		elseif mode == 't' and g == tag then
			r = 'skip'
		end
	end
	out[#out + 1] = r
end
return out
