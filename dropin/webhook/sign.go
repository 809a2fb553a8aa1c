package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignWindow is how far a signed request's timestamp may be from the
// server's clock, either way, as DingTalk's custom robots allow.
const SignWindow = time.Hour

// Errors of Verify; both answer errcode 310000, as DingTalk does.
var (
	// ErrInvalidTimestamp means the timestamp is missing, not epoch
	// milliseconds, or more than SignWindow away from now.
	ErrInvalidTimestamp = errors.New("invalid timestamp")
	// ErrSignMismatch means the sign is missing or is not the HMAC of the
	// timestamp with the route's secret.
	ErrSignMismatch = errors.New("sign not match")
)

// Sign returns the timestamp (epoch milliseconds) and the sign a custom
// robot client sends at t for secret: base64 of HMAC-SHA256 keyed with
// secret over timestamp + "\n" + secret. The sign is not URL-encoded; a
// client escapes it into the query string.
func Sign(secret string, t time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(t.UnixMilli(), 10)
	return timestamp, signature(secret, timestamp)
}

// signature is base64(HMAC-SHA256(secret, timestamp + "\n" + secret)).
func signature(secret, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a request's timestamp and sign query parameters (as
// url.Values decoded them) against secret at now. It is lenient only about
// how the sign crossed the query string: a '+' a client left unescaped
// (which decodes to a blank) and a sign escaped twice are taken as what the
// client meant; the HMAC itself must match, compared in constant time.
func Verify(secret, timestamp, sign string, now time.Time) error {
	timestamp = strings.TrimSpace(timestamp)
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	if d := now.Sub(time.UnixMilli(ms)); d > SignWindow || d < -SignWindow {
		return ErrInvalidTimestamp
	}
	if sign == "" {
		return ErrSignMismatch
	}
	want := []byte(signature(secret, timestamp))
	for _, got := range signForms(sign) {
		if hmac.Equal([]byte(got), want) {
			return nil
		}
	}
	return ErrSignMismatch
}

// signForms are the readings of a decoded sign worth comparing.
func signForms(sign string) []string {
	forms := []string{sign, strings.ReplaceAll(sign, " ", "+")}
	if strings.Contains(sign, "%") {
		if once, err := url.QueryUnescape(sign); err == nil {
			forms = append(forms, once)
		}
	}
	return forms
}
