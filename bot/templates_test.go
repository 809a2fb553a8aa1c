package bot_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/templates"
)

// Every language has every reply the bot needs, including a help summary of
// every command and a sentence for every seed error code.
func TestEveryLanguageHasWhatTheBotNeeds(t *testing.T) {
	for _, lang := range templates.Languages {
		t.Run(lang, func(t *testing.T) {
			set, err := templates.Load(lang, bot.TemplateNames()...)
			require.NoError(t, err)
			for _, code := range dingtalk.SeedCodes {
				explained := set.Explain(code, "detail")
				assert.NotEqual(t, code+": detail", explained, "%s has no sentence for %s", lang, code)
				assert.NotEmpty(t, explained)
			}
		})
	}
}
