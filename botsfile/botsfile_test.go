package botsfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var defaults = Defaults{QPS: 20, CallbackMode: ModeHTTP}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deploys.secret"), []byte("deploy-secret\n"), 0o600))
	data := `
bots:
  - name: alerts
    appKey: dingalerts
    appSecret: alerts-secret
    robotCode: dingalertsrobot
    coolAppCode: COOL1
    qps: 40
    monthlyQuota: 10000
    callbackMode: stream
  - name: deploys
    appKey: dingdeploys
    appSecretFile: deploys.secret
`
	bots, warnings, err := Parse("bots.yaml", []byte(data), dir, defaults)
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, []Bot{
		{Name: "alerts", AppKey: "dingalerts", AppSecret: "alerts-secret", RobotCode: "dingalertsrobot", CoolAppCode: "COOL1", QPS: 40, MonthlyQuota: 10000, CallbackMode: ModeStream},
		{Name: "deploys", AppKey: "dingdeploys", AppSecret: "deploy-secret", RobotCode: "dingdeploys", QPS: 20, CallbackMode: ModeHTTP},
	}, bots)
}

func TestParseMistakes(t *testing.T) {
	cases := []struct {
		name, data string
		want       []string // one substring per problem, in order
	}{
		{"empty", ``, []string{"is empty"}},
		{"not a mapping", `- a`, []string{"want a mapping with the key bots"}},
		{"no bots key", `routes: []`, []string{`unknown key "routes"`, "has no key bots"}},
		{"empty list", `bots: []`, []string{"want a list of at least one bot"}},
		{"entry not a mapping", "bots:\n  - alerts", []string{"bots[0] (line 2): want an entry of fields"}},
		{"missing fields", "bots:\n  - qps: 3", []string{"name: is required", "appKey: is required", "appSecret: is required (or appSecretFile)"}},
		{"bad name", "bots:\n  - {name: Alerts!, appKey: k, appSecret: s}", []string{`name: is "Alerts!": want 1 to 32 lower-case`}},
		{"duplicate name and key", "bots:\n  - {name: a, appKey: k, appSecret: s}\n  - {name: a, appKey: k, appSecret: t}", []string{`"a" names another bot too`, "is the app key of another bot too"}},
		{"unknown field", "bots:\n  - {name: a, appKey: k, appSecret: s, secret: x}", []string{`bots[0] "a" (line 2) secret: is not a known field`}},
		{"both secrets", "bots:\n  - {name: a, appKey: k, appSecret: s, appSecretFile: f}", []string{"give appSecret or appSecretFile, not both"}},
		{"missing secret file", "bots:\n  - {name: a, appKey: k, appSecretFile: nope}", []string{"appSecretFile: ", "cannot be read: no such file or directory"}},
		{"bad numbers and mode", "bots:\n  - {name: a, appKey: k, appSecret: s, qps: 0, monthlyQuota: -1, callbackMode: ws}", []string{"qps: is \"0\": want a whole number from 1 to 10000", "monthlyQuota: is \"-1\"", `callbackMode: is "ws": want http, stream or both`}},
		{"given twice", "bots:\n  - name: a\n    name: b\n    appKey: k\n    appSecret: s", []string{"name: is given twice"}},
		{"list value", "bots:\n  - {name: a, appKey: [k], appSecret: s}", []string{`bots[0] "a" (line 2) appKey: want a single value`}},
		{"mapping secret", "bots:\n  - {name: a, appKey: k, appSecret: {x: 1}}", []string{`bots[0] "a" (line 2) appSecret: want a single value`}},
		{"bad yaml", "bots: [", []string{"is not valid YAML"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Parse("bots.yaml", []byte(c.data), t.TempDir(), defaults)
			var bad *Error
			require.True(t, errors.As(err, &bad), "want *Error, got %v", err)
			joined := strings.Join(bad.Problems, "\n")
			for _, w := range c.want {
				assert.Contains(t, joined, w)
			}
			if c.name == "list value" || c.name == "mapping secret" {
				assert.Len(t, bad.Problems, len(c.want), "one line per mistake: %s", joined)
			}
			assert.Contains(t, err.Error(), "BOTS_FILE bots.yaml")
		})
	}
}

func TestSecretsNeverInMessages(t *testing.T) {
	data := "bots:\n  - {name: a, appKey: k, appSecret: top-secret, qps: x}\n  - {name: b, appKey: k2, appSecret: 'two words'}"
	_, _, err := Parse("bots.yaml", []byte(data), t.TempDir(), defaults)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "top-secret")
	assert.NotContains(t, err.Error(), "two words")
	assert.Contains(t, err.Error(), "appSecret: holds a blank")
}

func TestSecretFileWarningsAndContent(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.secret")
	require.NoError(t, os.WriteFile(open, []byte("s3cret\r\n"), 0o644))
	require.NoError(t, os.Chmod(open, 0o644))
	two := filepath.Join(dir, "two.secret")
	require.NoError(t, os.WriteFile(two, []byte("a\nb\n"), 0o600))
	empty := filepath.Join(dir, "empty.secret")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))

	bots, warnings, err := Parse("bots.yaml", []byte("bots:\n  - {name: a, appKey: k, appSecretFile: "+open+"}"), dir, defaults)
	require.NoError(t, err)
	assert.Equal(t, "s3cret", bots[0].AppSecret)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "may be read by others (mode 0644)")
	assert.NotContains(t, warnings[0], "s3cret")

	_, _, err = Parse("bots.yaml", []byte("bots:\n  - {name: a, appKey: k, appSecretFile: two.secret}\n  - {name: b, appKey: k2, appSecretFile: empty.secret}"), dir, defaults)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds a blank or a second line")
	assert.Contains(t, err.Error(), "empty.secret is empty")
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bots.yaml")
	_, _, err := Load(path, defaults)
	require.ErrorContains(t, err, "cannot be read: no such file or directory")
	require.NoError(t, os.WriteFile(path, []byte("bots:\n  - {name: a, appKey: k, appSecret: s}"), 0o600))
	bots, _, err := Load(path, defaults)
	require.NoError(t, err)
	assert.Equal(t, "a", bots[0].Name)
}

func TestLoadWarnsOfAReadableFileWithSecrets(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s"), []byte("x"), 0o600))
	cases := []struct {
		name, text string
		mode       os.FileMode
		warn       bool
	}{
		{"inline secret, readable", "bots:\n  - {name: a, appKey: k, appSecret: s}", 0o644, true},
		{"inline secret, private", "bots:\n  - {name: a, appKey: k, appSecret: s}", 0o600, false},
		{"secret file only, readable", "bots:\n  - {name: a, appKey: k, appSecretFile: s}", 0o644, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "bots.yaml")
			require.NoError(t, os.WriteFile(path, []byte(c.text), c.mode))
			require.NoError(t, os.Chmod(path, c.mode))
			_, warnings, err := Load(path, defaults)
			require.NoError(t, err)
			if c.warn {
				require.Len(t, warnings, 1)
				assert.Contains(t, warnings[0], "holds an appSecret and may be read by others (mode 0644)")
			} else {
				assert.Empty(t, warnings)
			}
		})
	}
}

func TestMistakesNameTheFieldsLine(t *testing.T) {
	data := "bots:\n  - name: alerts\n    appKey: k\n    appSecret: s\n    qps: 0\n    callbackMode: ws\n"
	_, _, err := Parse("bots.yaml", []byte(data), t.TempDir(), defaults)
	var bad *Error
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, []string{
		`bots[0] "alerts" (line 5) qps: is "0": want a whole number from 1 to 10000`,
		`bots[0] "alerts" (line 6) callbackMode: is "ws": want http, stream or both`,
	}, bad.Problems)
	// A field that is not there is named at its bot's line.
	_, _, err = Parse("bots.yaml", []byte("bots:\n  - name: alerts\n    appSecret: s\n"), t.TempDir(), defaults)
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, []string{`bots[0] "alerts" (line 2) appKey: is required`}, bad.Problems)
}
