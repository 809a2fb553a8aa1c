package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCardSettings(t *testing.T) {
	real := map[string]string{"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "s"}
	tests := []struct {
		name        string
		env         map[string]string
		wantErr     string
		mode        string
		template    string
		wantButtons bool
	}{
		{name: "defaults, http", env: real, mode: "recall"},
		{name: "stream has buttons", env: map[string]string{"CALLBACK_MODE": "stream"}, mode: "recall", wantButtons: true},
		{name: "both has buttons", env: map[string]string{"CALLBACK_MODE": "both"}, mode: "recall", wantButtons: true},
		{name: "sandbox has buttons", env: map[string]string{"DINGTALK_APP_KEY": "", "DINGTALK_APP_SECRET": ""}, mode: "recall", wantButtons: true},
		{name: "http with buttons", env: map[string]string{"CARD_BUTTONS": "true"}, mode: "recall", wantButtons: true},
		{name: "stream without", env: map[string]string{"CALLBACK_MODE": "stream", "CARD_BUTTONS": "false"}, mode: "recall"},
		{name: "tombstones and a template", env: map[string]string{"RECALL_MODE": "Tombstone", "CARD_TEMPLATE_ID": " team.schema "}, mode: "tombstone", template: "team.schema"},
		{name: "bad mode", env: map[string]string{"RECALL_MODE": "hide"}, wantErr: "RECALL_MODE"},
		{name: "bad buttons", env: map[string]string{"CARD_BUTTONS": "yes"}, wantErr: "CARD_BUTTONS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range real {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := loadConfig(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.mode, cfg.RecallMode)
			assert.Equal(t, tt.template, cfg.CardTemplate)
			assert.Equal(t, tt.wantButtons, cfg.CardButtons)
		})
	}
}
