-- drop.lua forgets a reservation.
-- ARGV[7] the ID.
dropres(ARGV[7])
return 1
