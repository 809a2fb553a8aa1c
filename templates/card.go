package templates

// Names of the texts of interactive cards: button labels, the tombstone a
// recalled card turns into, the preview card of a large recall and its
// outcomes, and the private notes a tap may earn. CardNames lists them; the
// bot loads them with its other names.
const (
	CardRecallButton   = "card.button.recall"
	CardConfirmButton  = "card.button.confirm"
	CardCancelButton   = "card.button.cancel"
	CardTombstoneTitle = "card.tombstone.title"
	CardTombstone      = "card.tombstone"
	CardPreviewTitle   = "card.preview.title"
	CardPreview        = "card.preview"
	CardDoneTitle      = "card.preview.done_title"
	CardCancelled      = "card.preview.cancelled"
	CardExpired        = "card.preview.expired"
	CardClosedTitle    = "card.preview.closed_title"
	CardRefused        = "card.refused"
	CardNotYours       = "card.not_yours"
)

// CardNames lists the card texts every language defines.
var CardNames = []string{
	CardRecallButton, CardConfirmButton, CardCancelButton, CardTombstoneTitle, CardTombstone,
	CardPreviewTitle, CardPreview, CardDoneTitle, CardCancelled, CardExpired, CardClosedTitle,
	CardRefused, CardNotYours,
}

// TombstoneData is the data of CardTombstone: who recalled the card (their
// name or staff ID; empty when no person did), what did (the audit source:
// command, button, api, ttl, ...), when, and why if they said.
type TombstoneData struct {
	Who    string
	Source string
	At     string
	Reason string
}

// CardPreviewData is the data of CardPreviewTitle and CardPreview: the
// preview of a recall that waits for its asker's Confirm.
type CardPreviewData struct {
	PreviewData
	// Asker is who asked for the recall: only they can confirm it.
	Asker string
}

// CardNoteData is the data of the private notes CardRefused and
// CardNotYours: the chat the card is in, and who asked for the recall a
// preview card stands for.
type CardNoteData struct {
	Chat  string
	Asker string
}
