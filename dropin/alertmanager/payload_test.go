package alertmanager_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dropin/alertmanager"
)

// validPayload is a notification as Alertmanager 0.25 posts it.
const validPayload = `{"receiver":"dingrecall","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"DiskFull","instance":"db-3"},"annotations":{"summary":"disk 91%"},"startsAt":"2026-05-01T09:00:00.123Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"5f1b2c3d4e5f6a7b"}],"groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull","instance":"db-3"},"commonAnnotations":{"summary":"disk 91%"},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","truncatedAlerts":0}`

func TestDecodePayload(t *testing.T) {
	p, err := alertmanager.DecodePayload([]byte(validPayload))
	require.NoError(t, err)
	assert.Equal(t, `{}:{alertname="DiskFull"}`, p.GroupKey)
	require.Len(t, p.Alerts, 1)
	assert.Equal(t, "5f1b2c3d4e5f6a7b", p.Alerts[0].Fingerprint)
	assert.Equal(t, "db-3", p.Alerts[0].Labels["instance"])
	assert.Len(t, p.Alerts.Firing(), 1)
	assert.Empty(t, p.Alerts.Resolved())
}

func TestDecodePayloadNamesTheField(t *testing.T) {
	edit := func(old, new string) string {
		require.Contains(t, validPayload, old)
		return strings.Replace(validPayload, old, new, 1)
	}
	tests := []struct {
		name, body, field string
	}{
		{"empty", ``, "body"},
		{"not JSON", `{"version":`, "body"},
		{"two values", validPayload + `{}`, "body"},
		{"version 3", edit(`"version":"4"`, `"version":"3"`), "version"},
		{"no version", edit(`"version":"4",`, ``), "version"},
		{"version a number", edit(`"version":"4"`, `"version":4`), "version"},
		{"no group key", edit(`"groupKey":"{}:{alertname=\"DiskFull\"}"`, `"groupKey":""`), "groupKey"},
		{"bad status", edit(`"status":"firing","alerts"`, `"status":"burning","alerts"`), "status"},
		{"no alerts", edit(`"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","instance":"db-3"},"annotations":{"summary":"disk 91%"},"startsAt":"2026-05-01T09:00:00.123Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"5f1b2c3d4e5f6a7b"}]`, `"alerts":[]`), "alerts"},
		{"alerts an object", edit(`"alerts":[{"status"`, `"alerts":{"x":[{"status"`) + "}", "alerts"},
		{"alert without status", edit(`{"status":"firing","labels"`, `{"labels"`), "alerts[0].status"},
		{"alert without fingerprint", edit(`"fingerprint":"5f1b2c3d4e5f6a7b"`, `"fingerprint":""`), "alerts[0].fingerprint"},
		{"labels not an object", edit(`"labels":{"alertname":"DiskFull","instance":"db-3"}`, `"labels":"DiskFull"`), "alerts[0].labels"},
		{"label value a number", edit(`"instance":"db-3"},"annotations"`, `"instance":3},"annotations"`), "alerts[0].labels"},
		{"resolved while firing", edit(`"status":"firing","alerts"`, `"status":"resolved","alerts"`), "status"},
		{"startsAt not a time", edit(`"startsAt":"2026-05-01T09:00:00.123Z"`, `"startsAt":"yesterday"`), "alerts[0].startsAt"},
		{"fingerprint a number", edit(`"fingerprint":"5f1b2c3d4e5f6a7b"`, `"fingerprint":5`), "alerts[0].fingerprint"},
		{"groupLabels a list", edit(`"groupLabels":{"alertname":"DiskFull"}`, `"groupLabels":["DiskFull"]`), "groupLabels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := alertmanager.DecodePayload([]byte(tt.body))
			var pe *alertmanager.PayloadError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.field, pe.Field, pe.Error())
			assert.True(t, errors.Is(err, alertmanager.ErrBadPayload))
			assert.True(t, strings.HasPrefix(pe.Error(), tt.field+": "))
		})
	}
}

func TestDecodePayloadDuplicateFingerprint(t *testing.T) {
	body := strings.Replace(validPayload, `"alerts":[{`, `"alerts":[{"status":"firing","fingerprint":"5f1b2c3d4e5f6a7b"},{`, 1)
	_, err := alertmanager.DecodePayload([]byte(body))
	var pe *alertmanager.PayloadError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "alerts[1].fingerprint", pe.Field)
}

func TestKVHelpers(t *testing.T) {
	kv := alertmanager.KV{"b": "2", "a": "1"}
	assert.Equal(t, []string{"a", "b"}, kv.Names())
	assert.Equal(t, []string{"1", "2"}, kv.Values())
	assert.Equal(t, []alertmanager.Pair{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}, kv.SortedPairs())
}
