-- record.lua tracks a message (see record in common.lua).
-- ARGV[7] key; ARGV[8..17] the fields c k r n p g s e y f.
return record(7)
