package bot

// Intake, Guard and Recaller name the Bot itself, for handlers.Deps, whose
// fields still have these types: the Bot's Accept, Send, Preview, Recall
// and TooOldReason are what handlers call on them.
//
// Deprecated: depend on the Bot's methods; these go once handlers does.
type (
	Intake   = Bot
	Guard    = Bot
	Recaller = Bot
)
