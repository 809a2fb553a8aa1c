package bolt

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
)

func TestMessageCodec(t *testing.T) {
	sent := time.Date(2025, time.March, 1, 9, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		m    store.Message
	}{
		{"plain", store.Message{Key: "k", Kind: store.KindGroup, ChatID: "cid", SentAt: sent}},
		{"every field", store.Message{Key: "k2", Kind: store.KindOTO, ChatID: "staff-1", RobotCode: "robot", MsgKey: "sampleMarkdown",
			MsgParam: `{"title":"标题","text":"# x\n"}`, Tag: "deploy", SentAt: sent, Reply: true, ExpiresAt: sent.Add(time.Hour),
			Failure: store.Failure{Code: "bot.stopped", Message: "busy"}, Lapsed: true}},
		{"private, before 1970", store.Message{Key: "k3", Kind: store.KindPrivate, ChatID: "cid", SentAt: time.Unix(-5, 0).UTC()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodeMessage(nil, tt.m)
			got, err := decodeMessage(tt.m.Key, b)
			require.NoError(t, err)
			assert.Equal(t, tt.m, got)
			for cut := range len(b) {
				_, err := decodeMessage(tt.m.Key, b[:cut])
				assert.True(t, errors.Is(err, errCorrupt), "truncated to %d bytes: %v", cut, err)
			}
			_, err = decodeMessage(tt.m.Key, append(b, 0))
			assert.ErrorIs(t, err, errCorrupt, "trailing bytes")
		})
	}
	b := encodeMessage(nil, tests[0].m)
	b[0] = 9
	_, err := decodeMessage("k", b)
	assert.ErrorIs(t, err, errCorrupt, "unknown format")
}

func TestAuditKeyOrder(t *testing.T) {
	times := []time.Time{time.Unix(-10, 0), time.Unix(0, 0), time.Unix(0, 1), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
	var prev []byte
	for _, at := range times {
		k := auditKey(store.AuditEntry{ID: "id", At: at})
		got, ok := auditTime(k)
		require.True(t, ok)
		assert.True(t, got.Equal(at))
		if prev != nil {
			assert.Less(t, string(prev), string(k), "keys sort as their times")
		}
		prev = k
	}
	_, ok := auditTime([]byte("short"))
	assert.False(t, ok)
}
