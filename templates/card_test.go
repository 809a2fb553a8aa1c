package templates_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/templates"
)

// cardCases are the card texts rendered in every language, with sample data.
var cardCases = []struct {
	file string
	name string
	data any
}{
	{"card-button-recall", templates.CardRecallButton, nil},
	{"card-button-confirm", templates.CardConfirmButton, nil},
	{"card-button-cancel", templates.CardCancelButton, nil},
	{"card-tombstone-title", templates.CardTombstoneTitle, nil},
	{"card-tombstone", templates.CardTombstone, templates.TombstoneData{Who: "Li Lei", At: "11-26 10:02:00", Reason: "wrong env"}},
	{"card-tombstone-no-reason", templates.CardTombstone, templates.TombstoneData{Who: "manager4220", At: "11-26 10:02:00"}},
	{"card-tombstone-ttl", templates.CardTombstone, templates.TombstoneData{Source: "ttl", At: "11-26 10:02:00"}},
	{"card-tombstone-api", templates.CardTombstone, templates.TombstoneData{Source: "api", At: "11-26 10:02:00", Reason: "pipeline failed"}},
	{"card-preview-title", templates.CardPreviewTitle, templates.CardPreviewData{PreviewData: templates.PreviewData{Asked: 25, Count: 25}}},
	{"card-preview", templates.CardPreview, templates.CardPreviewData{Asker: "Li Lei", PreviewData: templates.PreviewData{
		Asked: 25, Count: 2, From: "11-26 10:00:00", To: "11-26 10:05:00", Lines: []string{"disk full on db-1", "deploy v1.2.3"}, Confirm: true, Within: "2m"}}},
	{"card-done-title", templates.CardDoneTitle, nil},
	{"card-closed-title", templates.CardClosedTitle, nil},
	{"card-cancelled", templates.CardCancelled, nil},
	{"card-expired", templates.CardExpired, nil},
	{"card-refused", templates.CardRefused, templates.CardNoteData{Chat: "ops-alerts"}},
	{"card-not-yours", templates.CardNotYours, templates.CardNoteData{Asker: "Li Lei"}},
}

func TestCardGolden(t *testing.T) {
	for _, lang := range templates.Languages {
		set, err := templates.Load(lang, templates.CardNames...)
		require.NoError(t, err)
		for _, tc := range cardCases {
			t.Run(lang+"/"+tc.file, func(t *testing.T) {
				got, err := set.Render(tc.name, tc.data)
				require.NoError(t, err)
				require.NotEmpty(t, got)
				path := filepath.Join("testdata", "golden", lang, tc.file+".txt")
				if *update {
					require.NoError(t, os.WriteFile(path, []byte(got+"\n"), 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "run go test ./templates -update to create the golden file")
				assert.Equal(t, strings.TrimSuffix(string(want), "\n"), got)
			})
		}
	}
}
