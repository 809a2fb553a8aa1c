package webhook_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dropin/webhook"
)

// Fixtures computed outside Go, with
//
//	printf '%s\n%s' "$ts" "$secret" | openssl dgst -sha256 -hmac "$secret" -binary | base64
const fixtureSecret = "SECfixture0123456789abcdef"

var signFixtures = []struct {
	secret, timestamp, sign string
}{
	{fixtureSecret, "1700000000000", "0PW8FiSG3TtfmDPk9QuipOLFtQro4g0UAvlclv14VkY="},
	{fixtureSecret, "1700000000001", "m8Hd5E0nPgg/YcWPhgQe6njh3+z6r4lGrfY/GLaF1gw="},
	{fixtureSecret, "1764112345678", "WJN2YzmmGpzFQiuUP5zOA6TrxifpoRGzxzjSoqd/Few="},
	{"this is secret", "1700000000000", "sSFWELbV2YwjdDQhWZwTcWlX5BWUx5J6TPpsZmuPii0="},
	{"this is secret", "1764112345678", "Mgmf9whAOoYkdYzQxG7RbIZoQ1167rKVu9TC3XPWk6k="},
}

func TestSignMatchesFixtures(t *testing.T) {
	for _, f := range signFixtures {
		ts, sign := webhook.Sign(f.secret, time.UnixMilli(mustMillis(t, f.timestamp)))
		assert.Equal(t, f.timestamp, ts)
		assert.Equal(t, f.sign, sign, "%s at %s", f.secret, f.timestamp)
	}
}

func mustMillis(t *testing.T, ts string) int64 {
	t.Helper()
	ms, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)
	return ms
}

func TestVerify(t *testing.T) {
	plus := signFixtures[1] // its sign holds a '+'
	at := time.UnixMilli(1700000000001)
	// What a server sees after url.Values decoded the query string.
	decoded := func(raw string) string {
		v, err := url.ParseQuery("sign=" + raw)
		assert.NoError(t, err)
		return v.Get("sign")
	}
	tests := []struct {
		name      string
		secret    string
		timestamp string
		sign      string
		now       time.Time
		want      error
	}{
		{"escaped as DingTalk asks", fixtureSecret, plus.timestamp, decoded(url.QueryEscape(plus.sign)), at, nil},
		{"a + left unescaped", fixtureSecret, plus.timestamp, decoded(plus.sign), at, nil},
		{"escaped twice", fixtureSecret, plus.timestamp, decoded(url.QueryEscape(url.QueryEscape(plus.sign))), at, nil},
		{"59 minutes late", fixtureSecret, plus.timestamp, plus.sign, at.Add(59 * time.Minute), nil},
		{"59 minutes early", fixtureSecret, plus.timestamp, plus.sign, at.Add(-59 * time.Minute), nil},
		{"exactly an hour late", fixtureSecret, plus.timestamp, plus.sign, at.Add(time.Hour), nil},
		{"over an hour late", fixtureSecret, plus.timestamp, plus.sign, at.Add(time.Hour + time.Millisecond), webhook.ErrInvalidTimestamp},
		{"over an hour early", fixtureSecret, plus.timestamp, plus.sign, at.Add(-time.Hour - time.Millisecond), webhook.ErrInvalidTimestamp},
		{"no timestamp", fixtureSecret, "", plus.sign, at, webhook.ErrInvalidTimestamp},
		{"timestamp in seconds", fixtureSecret, "1700000000", plus.sign, at, webhook.ErrInvalidTimestamp},
		{"timestamp not a number", fixtureSecret, "yesterday", plus.sign, at, webhook.ErrInvalidTimestamp},
		{"no sign", fixtureSecret, plus.timestamp, "", at, webhook.ErrSignMismatch},
		{"another secret", "SECother", plus.timestamp, plus.sign, at, webhook.ErrSignMismatch},
		{"another timestamp's sign", fixtureSecret, plus.timestamp, signFixtures[0].sign, at, webhook.ErrSignMismatch},
		{"sign cut short", fixtureSecret, plus.timestamp, strings.TrimSuffix(plus.sign, "="), at, webhook.ErrSignMismatch},
		{"sign in hex, not base64", fixtureSecret, plus.timestamp, "9bc1dde44d273e083f61c58f86041eea78e1dfecfaaf8946adf63f18b685d60c", at, webhook.ErrSignMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.timestamp, tt.sign, tt.now)
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestSignRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 8e6, time.UTC)
	ts, sign := webhook.Sign("SECround", now)
	assert.NoError(t, webhook.Verify("SECround", ts, sign, now))
	assert.ErrorIs(t, webhook.Verify("SECround2", ts, sign, now), webhook.ErrSignMismatch)
}
