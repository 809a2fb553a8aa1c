package bot_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dingrecall/dingrecall/bot"
)

// TestParseHugeChineseDurationIsRefused: a huge number with a Chinese unit
// must be refused like any window over 24 hours. (Found by the issue 6
// tests: the sum used to overflow and wrap into the accepted window, so
// "撤回 213503982335天" parsed as "recall since 9h34m8.384s".)
func TestParseHugeChineseDurationIsRefused(t *testing.T) {
	reg := bot.DefaultRegistry()
	for _, text := range []string{
		"撤回 213503982335天",
		"撤回 18446744075秒",
		"recall since 18446744075秒",
		"撤回 106751天23小时47分钟16秒1秒",
		"撤回 9223372036854775807秒",
		"撤回 1000000000000000000000秒",
	} {
		cmd, err := reg.Parse(text, 100)
		assert.Error(t, err, "%q parsed as %+v", text, cmd)
	}
}
