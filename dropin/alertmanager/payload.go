package alertmanager

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Alert statuses, of a notification and of each alert.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// PayloadVersion is the version of Alertmanager's webhook payload taken.
const PayloadVersion = "4"

// KV is a set of labels or annotations.
type KV map[string]string

// SortedPairs returns the pairs sorted by name, for templates.
func (kv KV) SortedPairs() []Pair {
	out := make([]Pair, 0, len(kv))
	for k, v := range kv {
		out = append(out, Pair{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the names, sorted.
func (kv KV) Names() []string {
	out := make([]string, 0, len(kv))
	for k := range kv {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Values returns the values in the order of Names.
func (kv KV) Values() []string {
	names := kv.Names()
	out := make([]string, len(names))
	for i, k := range names {
		out[i] = kv[k]
	}
	return out
}

// Pair is one label or annotation.
type Pair struct {
	Name, Value string
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string    `json:"status"`
	Labels       KV        `json:"labels"`
	Annotations  KV        `json:"annotations"`
	StartsAt     time.Time `json:"startsAt"`
	EndsAt       time.Time `json:"endsAt"`
	GeneratorURL string    `json:"generatorURL"`
	Fingerprint  string    `json:"fingerprint"`
}

// Alerts is a list of alerts.
type Alerts []Alert

// Firing returns the firing alerts.
func (as Alerts) Firing() Alerts { return as.with(StatusFiring) }

// Resolved returns the resolved alerts.
func (as Alerts) Resolved() Alerts { return as.with(StatusResolved) }

// with returns the alerts of a status.
func (as Alerts) with(status string) Alerts {
	var out Alerts
	for _, a := range as {
		if a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

// fingerprints returns the alerts' fingerprints, sorted.
func (as Alerts) fingerprints() []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Fingerprint
	}
	slices.Sort(out)
	return out
}

// Payload is Alertmanager's webhook notification, version 4.
type Payload struct {
	Version           string `json:"version"`
	GroupKey          string `json:"groupKey"`
	TruncatedAlerts   int    `json:"truncatedAlerts"`
	Status            string `json:"status"`
	Receiver          string `json:"receiver"`
	GroupLabels       KV     `json:"groupLabels"`
	CommonLabels      KV     `json:"commonLabels"`
	CommonAnnotations KV     `json:"commonAnnotations"`
	ExternalURL       string `json:"externalURL"`
	Alerts            Alerts `json:"alerts"`
}

// ErrBadPayload is wrapped by every *PayloadError.
var ErrBadPayload = errors.New("bad Alertmanager payload")

// PayloadError names the field of a payload that is wrong.
type PayloadError struct {
	// Field is the field's path, such as "alerts[1].status" ("body" for
	// the payload as a whole).
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error names the field.
func (e *PayloadError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap makes every PayloadError an ErrBadPayload.
func (e *PayloadError) Unwrap() error { return ErrBadPayload }

// bad returns a *PayloadError.
func bad(field, format string, args ...any) *PayloadError {
	return &PayloadError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// wirePayload is a payload as sent, its alerts still raw so that a mistake
// in one is named with its index.
type wirePayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       KV                `json:"groupLabels"`
	CommonLabels      KV                `json:"commonLabels"`
	CommonAnnotations KV                `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []json.RawMessage `json:"alerts"`
}

// wireAlert is an alert as sent, its times still text.
type wireAlert struct {
	Status       string `json:"status"`
	Labels       KV     `json:"labels"`
	Annotations  KV     `json:"annotations"`
	StartsAt     string `json:"startsAt"`
	EndsAt       string `json:"endsAt"`
	GeneratorURL string `json:"generatorURL"`
	Fingerprint  string `json:"fingerprint"`
}

// DecodePayload reads and checks a webhook payload: version 4, a group key,
// a status and at least one alert, each with a status and a fingerprint.
// It fails with a *PayloadError naming the first field at fault. Fields
// Alertmanager may add later are ignored.
func DecodePayload(raw []byte) (Payload, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return Payload{}, bad("body", "is empty; want Alertmanager's webhook payload (JSON)")
	}
	var w wirePayload
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&w); err != nil {
		return Payload{}, decodeError("", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Payload{}, bad("body", "holds more than one JSON value")
	}
	p := Payload{
		Version: w.Version, GroupKey: w.GroupKey, TruncatedAlerts: w.TruncatedAlerts, Status: w.Status, Receiver: w.Receiver,
		GroupLabels: w.GroupLabels, CommonLabels: w.CommonLabels, CommonAnnotations: w.CommonAnnotations, ExternalURL: w.ExternalURL,
	}
	for i, rawAlert := range w.Alerts {
		prefix := fmt.Sprintf("alerts[%d]", i)
		var wa wireAlert
		if err := json.Unmarshal(rawAlert, &wa); err != nil {
			return Payload{}, decodeError(prefix, err)
		}
		a := Alert{Status: wa.Status, Labels: wa.Labels, Annotations: wa.Annotations, GeneratorURL: wa.GeneratorURL, Fingerprint: wa.Fingerprint}
		var err error
		if a.StartsAt, err = parseTime(wa.StartsAt); err != nil {
			return Payload{}, bad(prefix+".startsAt", "is %q: want an RFC 3339 time", wa.StartsAt)
		}
		if a.EndsAt, err = parseTime(wa.EndsAt); err != nil {
			return Payload{}, bad(prefix+".endsAt", "is %q: want an RFC 3339 time", wa.EndsAt)
		}
		p.Alerts = append(p.Alerts, a)
	}
	return p, p.validate()
}

// decodeError names the field a JSON decoding error is about, under prefix.
func decodeError(prefix string, err error) *PayloadError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		switch {
		case prefix != "" && field != "":
			field = prefix + "." + field
		case prefix != "":
			field = prefix
		case field == "":
			field = "body"
		}
		return bad(field, "want %s, got %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	}
	if prefix == "" {
		prefix = "body"
	}
	return bad(prefix, "is not valid JSON: %v", err)
}

// parseTime reads an RFC 3339 time; "" is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// jsonKind names the JSON value a Go kind decodes from.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int64":
		return "a whole number"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "an object"
}

// validate checks what the receiver relies on.
func (p Payload) validate() error {
	switch {
	case p.Version != PayloadVersion:
		return bad("version", "is %q: want %q (Alertmanager's webhook payload version 4)", p.Version, PayloadVersion)
	case strings.TrimSpace(p.GroupKey) == "":
		return bad("groupKey", "is missing")
	case p.Status != StatusFiring && p.Status != StatusResolved:
		return bad("status", "is %q: want firing or resolved", p.Status)
	case len(p.Alerts) == 0:
		return bad("alerts", "is missing or empty")
	}
	seen := make(map[string]bool, len(p.Alerts))
	for i, a := range p.Alerts {
		field := fmt.Sprintf("alerts[%d]", i)
		switch {
		case a.Status != StatusFiring && a.Status != StatusResolved:
			return bad(field+".status", "is %q: want firing or resolved", a.Status)
		case strings.TrimSpace(a.Fingerprint) == "":
			return bad(field+".fingerprint", "is missing")
		case seen[a.Fingerprint]:
			return bad(field+".fingerprint", "%q appears twice", a.Fingerprint)
		}
		seen[a.Fingerprint] = true
	}
	if p.Status == StatusResolved && len(p.Alerts.Firing()) > 0 {
		return bad("status", "is resolved but alerts[%d] fires", slices.IndexFunc(p.Alerts, func(a Alert) bool { return a.Status == StatusFiring }))
	}
	return nil
}

// hash identifies the payload's content: the same notification sent again
// (a retry, or a repeat_interval reminder) hashes the same.
func (p Payload) hash() string {
	raw, _ := json.Marshal(p) // maps of strings, strings, times: cannot fail
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// groupID is a short, stable name of a group key, for tags and state keys.
func groupID(groupKey string) string {
	sum := sha256.Sum256([]byte(groupKey))
	return hex.EncodeToString(sum[:8])
}
