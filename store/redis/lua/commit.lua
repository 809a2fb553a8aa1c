-- commit.lua forgets a reservation and tracks the message it became, in one
-- step.
-- ARGV[7] the reservation ID; ARGV[8] the message key; ARGV[9..18] its
-- fields c k r n p g s e y f (see record in common.lua).
dropres(ARGV[7])
return record(8)
