package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// The msgtypes of DingTalk's custom robots that Map takes.
const (
	TypeText       = "text"
	TypeMarkdown   = "markdown"
	TypeLink       = "link"
	TypeActionCard = "actionCard"
	TypeFeedCard   = "feedCard"
)

// The app robot's message templates Map produces, besides
// dingtalk.MsgKeyText and dingtalk.MsgKeyMarkdown. The vertical button
// cards are KeyActionCard followed by their number of buttons (2 to 5).
const (
	KeyLink       = "sampleLink"
	KeyActionCard = "sampleActionCard"
	// KeyActionCardRow is the card with two buttons side by side.
	KeyActionCardRow = "sampleActionCard6"
)

// MaxButtons is the most buttons an app robot card carries; a custom robot
// actionCard with more becomes a markdown message with one link per button.
const MaxButtons = 5

// ErrMissingBody means the request had no JSON object as its body.
var ErrMissingBody = errors.New("missing json body")

// UnsupportedError means the body's msgtype is not one Map takes.
type UnsupportedError struct {
	// MsgType is what the body named ("" when it named none).
	MsgType string
}

// Error names the msgtype.
func (e *UnsupportedError) Error() string {
	if e.MsgType == "" {
		return "msgtype is missing: want text, markdown, link, actionCard or feedCard"
	}
	return fmt.Sprintf("msgtype %q is not supported: want text, markdown, link, actionCard or feedCard", e.MsgType)
}

// FieldError means a field the msgtype needs is missing, empty or of the
// wrong JSON type.
type FieldError struct {
	// Field is the field's path in the body, such as "markdown.title".
	Field string
	// Problem says what is wrong with it.
	Problem string
}

// Error names the field in the arrow form DingTalk's own answers use
// (markdown->title).
func (e *FieldError) Error() string {
	return "miss param : " + strings.ReplaceAll(e.Field, ".", "->") + " (" + e.Problem + ")"
}

// TooLongError means the mapped message is over DingTalk's msgParam limit.
type TooLongError struct {
	// Bytes is the size of the mapped msgParam.
	Bytes int
}

// Error gives the sizes.
func (e *TooLongError) Error() string {
	return fmt.Sprintf("message is too long: %d bytes once mapped, the app robot takes %d", e.Bytes, dingtalk.MaxMsgParamBytes)
}

// Mapped is a custom robot message as the app robot posts it.
type Mapped struct {
	// MsgType is the custom robot msgtype the body had.
	MsgType string
	// Message is the app robot message: template key and parameters.
	Message dingtalk.Message
	// Dropped says what of the body the app robot cannot carry, one note
	// each (mentions, hideAvatar, a button layout).
	Dropped []string
}

// flexString is a JSON string, number, boolean or null, as text; tools send
// btnOrientation, hideAvatar and isAtAll either way.
type flexString string

// UnmarshalJSON takes any scalar.
func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	raw := strings.TrimSpace(string(b))
	if raw == "null" {
		*f = ""
		return nil
	}
	if strings.HasPrefix(raw, "{") || strings.HasPrefix(raw, "[") {
		return &json.UnmarshalTypeError{Value: "object or array", Type: reflect.TypeFor[string]()}
	}
	*f = flexString(raw)
	return nil
}

// truthy reports whether f reads as true or 1.
func (f flexString) truthy() bool {
	b, err := strconv.ParseBool(strings.TrimSpace(string(f)))
	return err == nil && b
}

// robotBody is a custom robot request body. Fields DingTalk does not define
// are ignored, as DingTalk ignores them.
type robotBody struct {
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content string `json:"content"`
	} `json:"text"`
	Markdown *struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
	Link *struct {
		Title      string `json:"title"`
		Text       string `json:"text"`
		MessageURL string `json:"messageUrl"`
		PicURL     string `json:"picUrl"`
	} `json:"link"`
	ActionCard *struct {
		Title          string     `json:"title"`
		Text           string     `json:"text"`
		SingleTitle    string     `json:"singleTitle"`
		SingleURL      string     `json:"singleURL"`
		BtnOrientation flexString `json:"btnOrientation"`
		HideAvatar     flexString `json:"hideAvatar"`
		Btns           []struct {
			Title     string `json:"title"`
			ActionURL string `json:"actionURL"`
		} `json:"btns"`
	} `json:"actionCard"`
	FeedCard *struct {
		Links []struct {
			Title      string `json:"title"`
			MessageURL string `json:"messageURL"`
			PicURL     string `json:"picURL"`
		} `json:"links"`
	} `json:"feedCard"`
	At *struct {
		AtMobiles []flexString `json:"atMobiles"`
		AtUserIDs []flexString `json:"atUserIds"`
		IsAtAll   flexString   `json:"isAtAll"`
	} `json:"at"`
}

// Map turns a custom robot request body into the app robot message that
// carries it (text→sampleText, markdown→sampleMarkdown, link→sampleLink,
// actionCard→sampleActionCard…, feedCard→sampleMarkdown). It fails with
// ErrMissingBody, an *UnsupportedError, a *FieldError or a *TooLongError.
func Map(raw []byte) (Mapped, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return Mapped{}, ErrMissingBody
	}
	var b robotBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&b); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return Mapped{}, &FieldError{Field: typeErr.Field, Problem: "has the wrong JSON type"}
		}
		return Mapped{}, ErrMissingBody
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Mapped{}, ErrMissingBody // trailing data: not one JSON object
	}
	m := Mapped{MsgType: b.MsgType}
	var err error
	switch b.MsgType {
	case TypeText:
		err = m.text(b)
	case TypeMarkdown:
		err = m.markdown(b)
	case TypeLink:
		err = m.link(b)
	case TypeActionCard:
		err = m.actionCard(b)
	case TypeFeedCard:
		err = m.feedCard(b)
	default:
		return Mapped{}, &UnsupportedError{MsgType: b.MsgType}
	}
	if err != nil {
		return Mapped{}, err
	}
	if b.At != nil && (len(b.At.AtMobiles) > 0 || len(b.At.AtUserIDs) > 0 || b.At.IsAtAll.truthy()) {
		m.Dropped = append(m.Dropped, "at: the app robot's group messages notify nobody; @ words stay in the text as written")
	}
	if n := len(m.Message.MsgParam); n > dingtalk.MaxMsgParamBytes {
		return Mapped{}, &TooLongError{Bytes: n}
	}
	return m, nil
}

// required fails with a *FieldError when value is blank.
func required(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return &FieldError{Field: field, Problem: "is missing or empty"}
	}
	return nil
}

// firstError is the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// params serialises a template's parameters; string maps and structs of
// strings cannot fail.
func params(key string, v any) dingtalk.Message {
	raw, _ := json.Marshal(v)
	return dingtalk.Message{MsgKey: key, MsgParam: string(raw)}
}

func (m *Mapped) text(b robotBody) error {
	if b.Text == nil {
		return &FieldError{Field: "text", Problem: "is missing"}
	}
	if err := required("text.content", b.Text.Content); err != nil {
		return err
	}
	m.Message = dingtalk.Text(b.Text.Content)
	return nil
}

func (m *Mapped) markdown(b robotBody) error {
	if b.Markdown == nil {
		return &FieldError{Field: "markdown", Problem: "is missing"}
	}
	if err := firstError(required("markdown.title", b.Markdown.Title), required("markdown.text", b.Markdown.Text)); err != nil {
		return err
	}
	m.Message = dingtalk.Markdown(b.Markdown.Title, b.Markdown.Text)
	return nil
}

func (m *Mapped) link(b robotBody) error {
	l := b.Link
	if l == nil {
		return &FieldError{Field: "link", Problem: "is missing"}
	}
	if err := firstError(required("link.title", l.Title), required("link.text", l.Text), required("link.messageUrl", l.MessageURL)); err != nil {
		return err
	}
	m.Message = params(KeyLink, struct {
		Title      string `json:"title"`
		Text       string `json:"text"`
		MessageURL string `json:"messageUrl"`
		PicURL     string `json:"picUrl"`
	}{l.Title, l.Text, l.MessageURL, l.PicURL})
	return nil
}

func (m *Mapped) actionCard(b robotBody) error {
	c := b.ActionCard
	if c == nil {
		return &FieldError{Field: "actionCard", Problem: "is missing"}
	}
	if err := firstError(required("actionCard.title", c.Title), required("actionCard.text", c.Text)); err != nil {
		return err
	}
	if c.HideAvatar.truthy() {
		m.Dropped = append(m.Dropped, "actionCard.hideAvatar: the app robot always shows its avatar")
	}
	// DingTalk takes singleTitle and singleURL over btns when both are set.
	if c.SingleTitle != "" || c.SingleURL != "" {
		if err := firstError(required("actionCard.singleTitle", c.SingleTitle), required("actionCard.singleURL", c.SingleURL)); err != nil {
			return err
		}
		m.Message = single(c.Title, c.Text, c.SingleTitle, c.SingleURL)
		return nil
	}
	if len(c.Btns) == 0 {
		return &FieldError{Field: "actionCard.singleTitle", Problem: "give singleTitle and singleURL, or btns"}
	}
	for i, btn := range c.Btns {
		if err := firstError(required(fmt.Sprintf("actionCard.btns[%d].title", i), btn.Title),
			required(fmt.Sprintf("actionCard.btns[%d].actionURL", i), btn.ActionURL)); err != nil {
			return err
		}
	}
	row := strings.TrimSpace(string(c.BtnOrientation)) == "1"
	switch n := len(c.Btns); {
	case n == 1:
		m.Message = single(c.Title, c.Text, c.Btns[0].Title, c.Btns[0].ActionURL)
	case n == 2 && row:
		m.Message = params(KeyActionCardRow, map[string]string{
			"title": c.Title, "text": c.Text,
			"buttonTitle1": c.Btns[0].Title, "buttonUrl1": c.Btns[0].ActionURL,
			"buttonTitle2": c.Btns[1].Title, "buttonUrl2": c.Btns[1].ActionURL,
		})
		return nil
	case n <= MaxButtons:
		p := map[string]string{"title": c.Title, "text": c.Text}
		for i, btn := range c.Btns {
			p[fmt.Sprintf("actionTitle%d", i+1)] = btn.Title
			p[fmt.Sprintf("actionURL%d", i+1)] = btn.ActionURL
		}
		m.Message = params(fmt.Sprintf("%s%d", KeyActionCard, n), p)
	default:
		var sb strings.Builder
		sb.WriteString(c.Text)
		for _, btn := range c.Btns {
			fmt.Fprintf(&sb, "\n\n[%s](%s)", escapeLinkText(btn.Title), btn.ActionURL)
		}
		m.Message = dingtalk.Markdown(c.Title, sb.String())
		m.Dropped = append(m.Dropped, fmt.Sprintf("actionCard.btns: %d buttons are more than the app robot's cards take (%d); posted as markdown with one link per button", n, MaxButtons))
		return nil
	}
	if row && len(c.Btns) > 2 {
		m.Dropped = append(m.Dropped, "actionCard.btnOrientation: side by side exists for two buttons only; the buttons are stacked")
	}
	return nil
}

// single is the card with one button.
func single(title, text, buttonTitle, buttonURL string) dingtalk.Message {
	return params(KeyActionCard, struct {
		Title       string `json:"title"`
		Text        string `json:"text"`
		SingleTitle string `json:"singleTitle"`
		SingleURL   string `json:"singleURL"`
	}{title, text, buttonTitle, buttonURL})
}

func (m *Mapped) feedCard(b robotBody) error {
	if b.FeedCard == nil || len(b.FeedCard.Links) == 0 {
		return &FieldError{Field: "feedCard.links", Problem: "is missing or empty"}
	}
	var sb strings.Builder
	for i, l := range b.FeedCard.Links {
		if err := firstError(required(fmt.Sprintf("feedCard.links[%d].title", i), l.Title),
			required(fmt.Sprintf("feedCard.links[%d].messageURL", i), l.MessageURL)); err != nil {
			return err
		}
		if i > 0 {
			sb.WriteString("\n\n")
		}
		if l.PicURL != "" {
			fmt.Fprintf(&sb, "![](%s)\n\n", l.PicURL)
		}
		fmt.Fprintf(&sb, "[%s](%s)", escapeLinkText(l.Title), l.MessageURL)
	}
	m.Message = dingtalk.Markdown(b.FeedCard.Links[0].Title, sb.String())
	m.Dropped = append(m.Dropped, "feedCard: the app robot has no feed card; posted as one markdown message, a picture and a link per entry")
	return nil
}

// escapeLinkText keeps brackets in a title from ending a markdown link.
func escapeLinkText(s string) string {
	return strings.NewReplacer("[", `\[`, "]", `\]`).Replace(s)
}
