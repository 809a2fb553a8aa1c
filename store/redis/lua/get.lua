-- get.lua returns message ARGV[6] as pack does, or false when it is not
-- tracked.
local m = load(ARGV[6])
if not m then
	return false
end
return pack(ARGV[6], m)
