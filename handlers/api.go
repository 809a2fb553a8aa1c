package handlers

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// authorize checks the bearer token in constant time.
func (h *handler) authorize(c *gin.Context) {
	if h.d.APIToken == "" {
		h.writeError(c, errAPIDisabled)
		return
	}
	scheme, got, _ := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(h.d.APIToken)) != 1 {
		h.writeError(c, errUnauthorized)
		return
	}
	c.Next()
}

// decodeJSON reads a bounded JSON body into v (a pointer to a struct),
// refusing unknown fields and naming the field at fault.
func decodeJSON(c *gin.Context, v any) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		if dec.More() {
			return badField("body", "holds more than one JSON value")
		}
		return nil
	case errors.Is(err, io.EOF):
		return badField("body", "is empty; want a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badField("body", "is not valid JSON: %v", err)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return badField(field, "want %s, got %s", jsonKind(typeErr.Type), typeErr.Value)
	}
	// encoding/json has no type for an unknown field: find it by walking
	// the body against v's fields.
	if field := unknownField(body, reflect.TypeOf(v)); field != "" {
		return badField(field, "is not a known field")
	}
	return badField("body", "%v", err)
}

// unknownField names the first member (in name order) of the JSON object
// raw, or of an object nested in it, that the struct type t has no field
// for, matching names as encoding/json does, case aside; "" when there is
// none or raw is no object.
func unknownField(raw []byte, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f, ok := jsonField(t, name)
		if !ok {
			return name
		}
		if inner := unknownField(obj[name], f.Type); inner != "" {
			return inner
		}
	}
	return ""
}

// jsonField finds the field of struct type t that the JSON member name
// decodes into: its json tag's name (or its Go name), ignoring case.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if strings.EqualFold(tag, name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// sendRequest is the body of POST /api/v1/messages.
type sendRequest struct {
	ConversationID string          `json:"conversationId"`
	ChatType       string          `json:"chatType"`
	UserID         string          `json:"userId"`
	Text           *string         `json:"text"`
	Markdown       *markdownBody   `json:"markdown"`
	MsgKey         string          `json:"msgKey"`
	MsgParam       json.RawMessage `json:"msgParam"`
	Card           *cardBody       `json:"card"`
	Tag            string          `json:"tag"`
	TTL            string          `json:"ttl"`
	// Bot names the bot that sends it (BOTS_FILE); empty for the default.
	Bot string `json:"bot"`
}

// markdownBody is the "markdown" content of a send.
type markdownBody struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// outgoing validates the request and turns it into a bot.Outgoing; ttl may
// be at most maxTTL.
func (r *sendRequest) outgoing(maxTTL time.Duration) (bot.Outgoing, error) {
	var o bot.Outgoing
	switch r.ChatType {
	case "", "group":
		o.Kind = store.KindGroup
	case "private":
		o.Kind = store.KindPrivate
	case "oto":
		o.Kind = store.KindOTO
	default:
		return o, badField("chatType", "want group, private or oto, got %q", r.ChatType)
	}
	if o.Kind == store.KindOTO {
		switch {
		case strings.TrimSpace(r.UserID) == "":
			return o, badField("userId", "is required for chatType oto")
		case r.ConversationID != "":
			return o, badField("conversationId", "chatType oto takes userId, not conversationId")
		}
		o.ChatID = r.UserID
	} else {
		switch {
		case strings.TrimSpace(r.ConversationID) == "":
			return o, badField("conversationId", "is required")
		case r.UserID != "":
			return o, badField("userId", "is for chatType oto; chatType %s takes conversationId", r.ChatType)
		}
		o.ChatID = r.ConversationID
	}
	forms, field := 0, "text"
	if r.Text != nil {
		forms++
		if strings.TrimSpace(*r.Text) == "" {
			return o, badField("text", "is empty")
		}
		o.Message = dingtalk.Text(*r.Text)
	}
	if r.Markdown != nil {
		forms, field = forms+1, "markdown"
		if strings.TrimSpace(r.Markdown.Title) == "" || strings.TrimSpace(r.Markdown.Text) == "" {
			return o, badField("markdown", "needs a title and a text")
		}
		o.Message = dingtalk.Markdown(r.Markdown.Title, r.Markdown.Text)
	}
	if r.Card != nil {
		forms, field = forms+1, "card"
		msg, err := r.Card.message(o.Kind)
		if err != nil {
			return o, err
		}
		o.Message = msg
	}
	if r.MsgKey != "" || len(r.MsgParam) > 0 {
		forms, field = forms+1, "msgParam"
		param, err := rawParam(r.MsgParam)
		if err != nil {
			return o, err
		}
		if r.MsgKey == "" {
			return o, badField("msgKey", "is required with msgParam")
		}
		o.Message = dingtalk.Message{MsgKey: r.MsgKey, MsgParam: param}
	}
	switch {
	case forms == 0:
		return o, badField("text", "give text, markdown, card, or msgKey with msgParam")
	case forms > 1:
		return o, badField("text", "give only one of text, markdown, card, or msgKey with msgParam")
	}
	if err := o.Message.Validate(); err != nil {
		return o, badField(field, "%s", strings.TrimPrefix(err.Error(), dingtalk.ErrInvalidMessage.Error()+": "))
	}
	o.Tag, o.Bot = r.Tag, r.Bot
	if r.TTL != "" {
		ttl, err := time.ParseDuration(r.TTL)
		if err != nil || ttl <= 0 || ttl > maxTTL {
			return o, badField("ttl", "want a duration such as 10m, above 0 and at most %v (DingTalk recalls within 24h; LEDGER_TTL keeps messages that long), got %q", maxTTL, r.TTL)
		}
		o.TTL = ttl
	}
	return o, nil
}

// rawParam accepts msgParam as a JSON string holding an object (as DingTalk
// takes it) or as the object itself.
func rawParam(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", badField("msgParam", "is required with msgKey")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return "", badField("msgParam", "want a JSON object, or a string holding one")
	}
	return string(raw), nil
}

// sendMessage is POST /api/v1/messages.
func (h *handler) sendMessage(c *gin.Context) {
	var req sendRequest
	if err := decodeJSON(c, &req); err != nil {
		h.writeError(c, err)
		return
	}
	o, err := req.outgoing(h.d.MaxTTL)
	if err != nil {
		h.writeError(c, err)
		return
	}
	m, err := h.d.Bot.Send(c.Request.Context(), o)
	if errors.Is(err, bot.ErrUntracked) {
		h.requestLogger(c).WithFields(logrus.Fields{"chat": o.ChatID, "bot": o.Bot, "api": "messages", "key": m.Key}).WithError(err).Error("api send: posted but not tracked")
		h.writeError(c, untracked(m.Key))
		return
	}
	if err != nil {
		h.requestLogger(c).WithFields(logrus.Fields{"chat": o.ChatID, "bot": o.Bot, "api": "messages"}).WithError(err).Warn("api send failed")
		h.writeError(c, err)
		return
	}
	resp := gin.H{"processQueryKey": m.Key, "conversationId": m.ChatID, "sentAt": m.SentAt.UTC().Format(time.RFC3339Nano), "bot": botName(m.Bot)}
	if !m.ExpiresAt.IsZero() {
		resp["expiresAt"] = m.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	c.JSON(http.StatusCreated, resp)
}

// recallRequest is the body of POST /api/v1/recall.
type recallRequest struct {
	ConversationID string   `json:"conversationId"`
	UserID         string   `json:"userId"`
	Last           *int     `json:"last"`
	Keys           []string `json:"keys"`
	Tag            *string  `json:"tag"`
	Since          string   `json:"since"`
	DryRun         bool     `json:"dryRun"`
	// Reason says why, for the tombstones of cards (RECALL_MODE=tombstone).
	Reason string `json:"reason"`
	// Bot names the bot whose messages are recalled; empty for the default.
	Bot string `json:"bot"`
}

// selection validates the request and turns it into a bot.Selection.
func (r *recallRequest) selection(max int) (bot.Selection, error) {
	sel := bot.Selection{ChatID: r.ConversationID, Keys: r.Keys, Max: max, Bot: r.Bot}
	if r.UserID != "" {
		if r.ConversationID != "" {
			return sel, badField("userId", "give conversationId or userId, not both")
		}
		sel.ChatID = r.UserID
	}
	forms := 0
	if r.Last != nil {
		forms++
		if *r.Last < 1 || *r.Last > max {
			return sel, badField("last", "want 1 to %d, got %d", max, *r.Last)
		}
		sel.Last = *r.Last
	}
	if r.Keys != nil {
		forms++
		if len(r.Keys) == 0 || len(r.Keys) > max {
			return sel, badField("keys", "want 1 to %d keys, got %d", max, len(r.Keys))
		}
		for i, k := range r.Keys {
			if strings.TrimSpace(k) == "" {
				return sel, badField(fmt.Sprintf("keys[%d]", i), "is empty")
			}
		}
	}
	if r.Tag != nil {
		forms++
		if strings.TrimSpace(*r.Tag) == "" {
			return sel, badField("tag", "is empty")
		}
		sel.Tag = *r.Tag
	}
	if r.Since != "" {
		forms++
		d, err := time.ParseDuration(r.Since)
		if err != nil || d < time.Second || d > bot.MaxSince {
			return sel, badField("since", "want a duration such as 10m, 30s or 1h, from 1s to 24h, got %q", r.Since)
		}
		sel.Since = d
	}
	switch {
	case forms == 0:
		return sel, badField("body", "give one of last, keys, tag and since")
	case forms > 1:
		return sel, badField("body", "give only one of last, keys, tag and since")
	case sel.ChatID == "" && sel.Tag == "":
		return sel, badField("conversationId", "is required with last, keys and since")
	}
	return sel, nil
}

// summary says what the request asked, for the audit log.
func (r *recallRequest) summary() string {
	switch {
	case r.Last != nil:
		return fmt.Sprintf("last %d", *r.Last)
	case r.Keys != nil:
		return fmt.Sprintf("%d keys", len(r.Keys))
	case r.Tag != nil:
		return "tag " + *r.Tag
	}
	return "since " + r.Since
}

// recallResponse is the answer of POST /api/v1/recall.
type recallResponse struct {
	Selected []string          `json:"selected"`
	Recalled []string          `json:"recalled"`
	Failed   map[string]string `json:"failed"`
	// FailedCodes maps each failed key whose failure has a code (DingTalk's,
	// or dingrecall's own such as dingrecall.notTracked) to it, so that
	// callers decide by code rather than by the words in Failed.
	FailedCodes map[string]string `json:"failedCodes"`
	// InFlight lists, for "last", those of the newest messages that another
	// request was recalling while this one ran (not selected, not failed).
	InFlight []string `json:"inFlight"`
	DryRun   bool     `json:"dryRun"`
	// ResetsOn is, when DingTalk refused keys for the organisation's spent
	// monthly quota, the day the quota starts again (2006-01-02).
	ResetsOn string `json:"resetsOn,omitempty"`
}

// recall is POST /api/v1/recall.
func (h *handler) recall(c *gin.Context) {
	var req recallRequest
	if err := decodeJSON(c, &req); err != nil {
		h.writeError(c, err)
		return
	}
	sel, err := req.selection(h.d.RecallMax)
	if err != nil {
		h.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	resp := recallResponse{Selected: []string{}, Recalled: []string{}, Failed: map[string]string{}, FailedCodes: map[string]string{}, InFlight: []string{}, DryRun: req.DryRun}
	if req.DryRun {
		msgs, err := h.d.Bot.Preview(ctx, sel)
		if err != nil {
			h.writeError(c, err)
			return
		}
		resp.Selected = appendKeys(resp.Selected, msgs)
		c.JSON(http.StatusOK, resp)
		return
	}
	out, err := h.d.Bot.Recall(ctx, sel, bot.Actor{Source: store.SourceAPI, Request: req.summary(), Reason: req.Reason})
	if err != nil {
		h.requestLogger(c).WithFields(logrus.Fields{"chat": sel.ChatID, "bot": sel.Bot, "tag": sel.Tag, "api": "recall"}).WithError(err).Warn("api recall failed")
		h.writeError(c, err)
		return
	}
	resp.Selected = appendKeys(resp.Selected, out.Selected)
	resp.Recalled = append(resp.Recalled, out.Recalled...)
	resp.InFlight = appendKeys(resp.InFlight, out.InFlight)
	for k, f := range out.Failed {
		resp.Failed[k] = f.String()
		if f.Code != "" {
			resp.FailedCodes[k] = f.Code
		}
		if dingtalk.IsQuotaCode(f.Code) {
			resp.ResetsOn = dingtalk.QuotaResetDay(h.d.Now())
		}
	}
	for _, m := range out.TooOld {
		resp.Failed[m.Key] = h.d.Bot.TooOldReason()
		resp.FailedCodes[m.Key] = bot.CodeTooOld
	}
	h.requestLogger(c).WithFields(logrus.Fields{"chat": sel.ChatID, "bot": sel.Bot, "tag": sel.Tag, "user": "api", "recalled": len(out.Recalled), "failed": len(out.Failed), "in_flight": len(out.InFlight)}).Info("recall")
	c.JSON(http.StatusOK, resp)
}

// botName is the name the API shows for a store's bot ("" is the default).
func botName(name string) string {
	if name == "" {
		return bot.DefaultBot
	}
	return name
}

// appendKeys appends the keys of msgs to keys.
func appendKeys(keys []string, msgs []store.Message) []string {
	for _, m := range msgs {
		keys = append(keys, m.Key)
	}
	return keys
}

// messageJSON is one tracked message in GET .../messages.
type messageJSON struct {
	ProcessQueryKey string  `json:"processQueryKey"`
	ConversationID  string  `json:"conversationId"`
	ChatType        string  `json:"chatType"`
	MsgKey          string  `json:"msgKey"`
	MsgParam        string  `json:"msgParam"`
	Tag             string  `json:"tag"`
	SentAt          string  `json:"sentAt"`
	Reply           bool    `json:"reply"`
	ExpiresAt       *string `json:"expiresAt"`
	// Failure is the last recall failure in words ("code: message"), and
	// FailureCode its code alone; both empty when there is none.
	Failure     string `json:"failure"`
	FailureCode string `json:"failureCode"`
	// Bot is the bot that sent it.
	Bot string `json:"bot"`
}

// listMessages is GET /api/v1/conversations/{conversationId}/messages.
func (h *handler) listMessages(c *gin.Context) {
	id, err := url.PathUnescape(c.Param("conversationId"))
	if err != nil {
		h.writeError(c, badField("conversationId", "is not a valid escaped path segment"))
		return
	}
	limit := 0
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			h.writeError(c, badField("limit", "want a positive number, got %q", raw))
			return
		}
		limit = n
	}
	msgs, err := h.d.Bot.List(c.Request.Context(), c.Query("bot"), id, limit)
	if err != nil {
		h.writeError(c, err)
		return
	}
	out := make([]messageJSON, 0, len(msgs))
	for _, m := range msgs {
		j := messageJSON{
			ProcessQueryKey: m.Key, ConversationID: m.ChatID, ChatType: string(m.Kind),
			MsgKey: m.MsgKey, MsgParam: m.MsgParam, Tag: m.Tag,
			SentAt: m.SentAt.UTC().Format(time.RFC3339Nano), Reply: m.Reply, Failure: m.Failure.String(), FailureCode: m.Failure.Code,
			Bot: botName(m.Bot),
		}
		if !m.ExpiresAt.IsZero() {
			at := m.ExpiresAt.UTC().Format(time.RFC3339Nano)
			j.ExpiresAt = &at
		}
		out = append(out, j)
	}
	c.JSON(http.StatusOK, gin.H{"messages": out})
}

// auditLog is GET /api/v1/audit?conversationId=&limit=: the audit log,
// newest first (limit defaults to 50, at most 1000).
func (h *handler) auditLog(c *gin.Context) {
	limit := 50
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 1000 {
			h.writeError(c, badField("limit", "want 1 to 1000, got %q", raw))
			return
		}
		limit = n
	}
	entries, err := h.d.Bot.AuditLog(c.Request.Context(), c.Query("bot"), c.Query("conversationId"), limit)
	if err != nil {
		h.writeError(c, err)
		return
	}
	out := make([]auditEntryJSON, 0, len(entries))
	for _, e := range entries {
		e.Bot = botName(e.Bot)
		j := auditEntryJSON{AuditEntry: e, Items: make([]auditItemJSON, 0, len(e.Items))}
		for _, it := range e.Items {
			j.Items = append(j.Items, auditItemJSON{AuditItem: it, SentAt: it.SentAt})
		}
		out = append(out, j)
	}
	c.JSON(http.StatusOK, gin.H{"entries": out})
}

// auditEntryJSON is one entry of GET /api/v1/audit: the store's entry with
// its items shaped by auditItemJSON. (A field of the outer struct hides the
// embedded one of the same JSON name.)
type auditEntryJSON struct {
	store.AuditEntry
	Items []auditItemJSON `json:"items"`
}

// auditItemJSON is one item of an audit entry, without a sentAt when the
// ledger did not know when the message was sent (a key it did not hold).
type auditItemJSON struct {
	store.AuditItem
	SentAt time.Time `json:"sentAt,omitzero"`
}

// query admits only the query parameters named in allowed, each at most
// once, and answers any other with a 400 naming it, as unknown JSON fields
// are: a misspelt parameter must not go unnoticed. Names are matched
// exactly, case included.
func (h *handler) query(allowed ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.URL.RawQuery == "" {
			return
		}
		values, err := url.ParseQuery(c.Request.URL.RawQuery)
		if err != nil {
			h.writeError(c, badField("query", "is not a valid query string"))
			return
		}
		names := make([]string, 0, len(values))
		for name := range values {
			names = append(names, name)
		}
		slices.Sort(names) // name the same parameter every time
		for _, name := range names {
			switch {
			case name == "":
				h.writeError(c, badField("query", "has a parameter without a name"))
				return
			case !slices.Contains(allowed, name):
				h.writeError(c, badField(name, "is not a known query parameter"))
				return
			case len(values[name]) > 1:
				h.writeError(c, badField(name, "is given more than once"))
				return
			}
		}
	}
}
