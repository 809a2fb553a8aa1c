package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
)

// reqError is an error the simulator answers with its status and code.
type reqError struct {
	status  int
	code    string
	field   string
	message string
}

// Error is the message.
func (e *reqError) Error() string { return e.message }

// badRequest is a 400 naming the field at fault.
func badRequest(field, format string, args ...any) *reqError {
	return &reqError{status: http.StatusBadRequest, code: "invalid_request", field: field, message: field + ": " + fmt.Sprintf(format, args...)}
}

// fail answers err as {"error": {"code", "message", "field"}}, as /api/v1 does.
func fail(c *gin.Context, err *reqError) {
	body := gin.H{"code": err.code, "message": err.message}
	if err.field != "" {
		body["field"] = err.field
	}
	c.AbortWithStatusJSON(err.status, gin.H{"error": body})
}

// sameOrigin refuses a POST another site's page makes from a browser: a
// cross-site form cannot send application/json without a CORS preflight
// (which nothing here answers), and a browser's Origin header must name this
// host.
func sameOrigin(c *gin.Context) {
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "application/json" {
		fail(c, &reqError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", message: "send the body as application/json"})
		return
	}
	if origin := c.GetHeader("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != c.Request.Host {
			fail(c, &reqError{status: http.StatusForbidden, code: "forbidden", message: "the sandbox takes requests from its own page only"})
			return
		}
	}
	c.Next()
}

// decode reads a bounded JSON body into v, refusing unknown fields.
func decode(c *gin.Context, v any) *reqError {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &reqError{status: http.StatusRequestEntityTooLarge, code: "too_large", message: fmt.Sprintf("request body is over %d bytes", maxBody)}
	case err != nil:
		return badRequest("body", "could not be read: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field := strings.Trim(name, `"`)
			return badRequest(field, "is not a known field")
		}
		return badRequest("body", "is not the JSON object expected: %v", err)
	}
	if dec.More() {
		return badRequest("body", "holds more than one JSON value")
	}
	return nil
}

// checkText trims text and checks it is there and not too long.
func checkText(field, text string) (string, *reqError) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", badRequest(field, "is empty")
	case utf8.RuneCountInString(text) > maxText:
		return "", badRequest(field, "is over %d characters", maxText)
	}
	return text, nil
}

// sayRequest is the body of POST /sandbox/api/say.
type sayRequest struct {
	// Chat is the chat's id on the page.
	Chat string `json:"chat"`
	// User is the staff ID to post as.
	User string `json:"user"`
	// GroupAdmin is the callback's isAdmin: the person is an admin of the group.
	GroupAdmin bool `json:"groupAdmin"`
	// Text is what the person types (in a group, after @-mentioning the bot).
	Text string `json:"text"`
	// Quote is the page id of a message in the chat the person quotes
	// (replies to) with Text: "bot-<processQueryKey>" or "u<n>"; empty for
	// none.
	Quote string `json:"quote"`
}

// sayResponse is the answer of POST /sandbox/api/say.
type sayResponse struct {
	// ID is the typed message's id on the page; MsgID its callback msgId.
	ID    string `json:"id"`
	MsgID string `json:"msgId"`
	// Via is how the callback reached the app: "http" (a signed POST to
	// /dingtalk/callback) or "stream" (a frame on the fake's Stream mode
	// connection).
	Via string `json:"via"`
	// CallbackStatus is the HTTP status /dingtalk/callback answered with, or
	// in stream mode the code of the app's ack (0 when no ack came within
	// ackWait); CallbackError its error message, if any.
	CallbackStatus int    `json:"callbackStatus"`
	CallbackError  string `json:"callbackError,omitempty"`
}

// chatAndUser is the page's chat slug and the staff ID a person acts as,
// checked: the chat must be on the page, the ID one DingTalk could have.
func (s *sim) chatAndUser(slug, user string) (*chat, *reqError) {
	ch, ok := s.chatOf(slug)
	if !ok {
		return nil, badRequest("chat", "no chat %q on the page", slug)
	}
	if !validStaffID(user) {
		return nil, badRequest("user", "want a staff ID of letters, digits and -_.@ (at most 64), got %q", user)
	}
	return ch, nil
}

// say answers POST /sandbox/api/say: it posts what a person typed to the
// app's /dingtalk/callback, signed as DingTalk signs it.
func (s *sim) say(c *gin.Context) {
	var req sayRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	ch, rerr := s.chatAndUser(req.Chat, req.User)
	if rerr != nil {
		fail(c, rerr)
		return
	}
	if ch.Kind == kindOTO && req.User != ch.Owner {
		fail(c, badRequest("user", "only %s writes in this one-to-one chat", ch.Owner))
		return
	}
	text, rerr := checkText("text", req.Text)
	if rerr != nil {
		fail(c, rerr)
		return
	}
	var q *quoted
	if req.Quote != "" {
		if q, rerr = s.quoteOf(ch, req.Quote); rerr != nil {
			fail(c, rerr)
			return
		}
	}
	groupAdmin := req.GroupAdmin && ch.Kind != kindOTO
	t := s.record(ch, req.User, groupAdmin, text, q)
	body, err := json.Marshal(s.callbackBody(ch, t))
	if err != nil {
		s.settle(t, 0, err.Error())
		fail(c, &reqError{status: http.StatusInternalServerError, code: "internal", message: err.Error()})
		return
	}
	status, errText, err := s.deliver(c.Request.Context(), body)
	log := s.d.Log.WithFields(logrus.Fields{"chat": ch.ConversationID, "user": t.User, "msg_id": t.MsgID, "status": status})
	if err != nil {
		s.settle(t, 0, "the callback could not be delivered: "+err.Error())
		log.WithError(err).Warn("sandbox: callback could not be delivered")
		fail(c, &reqError{status: http.StatusBadGateway, code: "unreachable", message: "the callback could not be delivered: " + err.Error()})
		return
	}
	s.settle(t, status, errText)
	log.Debug("sandbox: posted a callback")
	c.JSON(http.StatusOK, sayResponse{ID: t.ID, MsgID: t.MsgID, Via: s.via(), CallbackStatus: status, CallbackError: errText})
}

// via is how callbacks reach the app: "stream" or "http".
func (s *sim) via() string {
	if s.d.Stream {
		return "stream"
	}
	return "http"
}

// ackWait bounds how long a stream mode delivery waits for the app's ack.
const ackWait = 5 * time.Second

// deliver hands a callback body to the app the way DingTalk would: signed
// to /dingtalk/callback, or in stream mode pushed over the fake gateway's
// WebSocket, answering with the code of the app's ack (0 with a note when
// none came within ackWait).
func (s *sim) deliver(ctx context.Context, body []byte) (int, string, error) {
	if s.d.Stream {
		id, err := s.d.Fake.PushCallback("", body)
		if err != nil {
			return 0, "", err
		}
		return s.awaitAck(ctx, id)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	dingtalk.SignHeader(h, s.d.AppSecret, s.now())
	return s.post(ctx, "/dingtalk/callback", h, body)
}

// awaitAck waits (polling the fake's record, at most ackWait) for the app to
// acknowledge the stream frame messageID, and returns the ack's code.
func (s *sim) awaitAck(ctx context.Context, messageID string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, ackWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if acks := s.d.Fake.AcksFor(messageID); len(acks) > 0 {
			a := acks[len(acks)-1]
			if a.Code != http.StatusOK {
				return a.Code, a.Message, nil
			}
			return a.Code, "", nil
		}
		select {
		case <-ctx.Done():
			return 0, "the app has not acknowledged the frame yet", nil
		case <-tick.C:
		}
	}
}

// callbackBody is the callback DingTalk posts when the person of t writes to
// the bot in ch.
func (s *sim) callbackBody(ch *chat, t *typed) map[string]any {
	at := t.At.UnixMilli()
	body := map[string]any{
		"conversationId":            ch.ConversationID,
		"chatbotCorpId":             "dingsandboxcorp",
		"chatbotUserId":             botUserID,
		"msgId":                     t.MsgID,
		"senderNick":                t.Nick,
		"isAdmin":                   t.GroupAdmin,
		"senderStaffId":             t.User,
		"senderId":                  senderID(t.User),
		"senderCorpId":              "dingsandboxcorp",
		"createAt":                  at,
		"sessionWebhook":            "https://oapi.dingtalk.com/robot/sendBySession?session=sandbox",
		"sessionWebhookExpiredTime": at + 90*60*1000,
		"robotCode":                 s.d.Fake.RobotCode(),
		"msgtype":                   "text",
		"text":                      map[string]string{"content": t.Text},
	}
	if ch.Kind == kindOTO {
		body["conversationType"] = dingtalk.ConversationOneToOne
	} else {
		body["conversationType"] = dingtalk.ConversationGroup
		body["conversationTitle"] = ch.Title
		body["isInAtList"] = true
		body["atUsers"] = []map[string]string{{"dingtalkId": botUserID}}
		// DingTalk strips the @mention and keeps the blank before the text.
		body["text"] = map[string]string{"content": " " + t.Text}
	}
	if q := t.Quote; q != nil {
		// A quote, as DingTalk's callback carries it (see dingtalk.Quote):
		// the quoted message in text.repliedMsg and its id in originalMsgId.
		// DingTalk adds originalProcessQueryKey for quoted cards only; the
		// bot's messages here are no cards, so it goes without.
		body["text"] = map[string]any{
			"content":    body["text"].(map[string]string)["content"],
			"isReplyMsg": true,
			"repliedMsg": map[string]any{
				"msgType": q.MsgType, "msgId": q.MsgID, "senderId": q.SenderID,
				"createdAt": q.At.UnixMilli(), "content": q.Content,
			},
		}
		body["originalMsgId"] = q.MsgID
	}
	return body
}

// botRequest is the body of POST /sandbox/api/bot.
type botRequest struct {
	// Chat is the chat's id on the page.
	Chat string `json:"chat"`
	// Text is what the bot posts; with Count > 1 each post is numbered.
	Text string `json:"text"`
	// Count is how many messages to post, 1 (the default) to maxCount.
	Count int `json:"count"`
	// TTL and Tag are passed to /api/v1/messages as they are.
	TTL string `json:"ttl"`
	Tag string `json:"tag"`
	// Card posts each as a card with a Recall button, titled with the text.
	Card bool `json:"card"`
}

// botResponse is the answer of POST /sandbox/api/bot.
type botResponse struct {
	// Sent is how many messages the API accepted; Keys their processQueryKeys.
	Sent int      `json:"sent"`
	Keys []string `json:"keys"`
}

// botPost answers POST /sandbox/api/bot: it sends through the app's own
// /api/v1/messages, one message at a time, and stops at the first refusal,
// answering with the API's status and error.
func (s *sim) botPost(c *gin.Context) {
	var req botRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	ch, ok := s.chatOf(req.Chat)
	if !ok {
		fail(c, badRequest("chat", "no chat %q on the page", req.Chat))
		return
	}
	text, rerr := checkText("text", req.Text)
	if rerr != nil {
		fail(c, rerr)
		return
	}
	if req.Count == 0 {
		req.Count = 1
	}
	if req.Count < 1 || req.Count > maxCount {
		fail(c, badRequest("count", "want 1 to %d, got %d", maxCount, req.Count))
		return
	}
	out := botResponse{Keys: []string{}}
	for i := 1; i <= req.Count; i++ {
		msg := map[string]any{"text": text}
		if req.Count > 1 {
			msg["text"] = fmt.Sprintf("%s (%d/%d)", text, i, req.Count)
		}
		switch ch.Kind {
		case kindOTO:
			msg["chatType"], msg["userId"] = kindOTO, ch.Owner
		case kindPrivate:
			msg["chatType"], msg["conversationId"] = kindPrivate, ch.ConversationID
		default:
			msg["conversationId"] = ch.ConversationID
		}
		if req.Card {
			msg["card"] = map[string]any{"title": msg["text"], "text": msg["text"], "recallButton": true}
			delete(msg, "text")
		}
		if req.TTL != "" {
			msg["ttl"] = req.TTL
		}
		if req.Tag != "" {
			msg["tag"] = req.Tag
		}
		body, _ := json.Marshal(msg) // strings and ints only: cannot fail
		h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + s.d.APIToken}}
		status, errText, key, err := s.send(c.Request.Context(), h, body)
		if err != nil {
			fail(c, &reqError{status: http.StatusBadGateway, code: "unreachable", message: fmt.Sprintf("sent %d; the app's /api/v1/messages could not be reached: %v", out.Sent, err)})
			return
		}
		if status/100 != 2 {
			fail(c, &reqError{status: status, code: "api_refused", message: fmt.Sprintf("sent %d; /api/v1/messages answered %d: %s", out.Sent, status, errText)})
			return
		}
		out.Sent++
		out.Keys = append(out.Keys, key)
	}
	s.d.Log.WithFields(logrus.Fields{"chat": ch.ConversationID, "sent": out.Sent}).Debug("sandbox: the bot posted")
	c.JSON(http.StatusOK, out)
}

// send posts one message to /api/v1/messages and returns the status, the
// error message of a refusal and the key of an accepted message.
func (s *sim) send(ctx context.Context, h http.Header, body []byte) (int, string, string, error) {
	var key string
	status, errText, err := s.exchange(ctx, "/api/v1/messages", h, body, func(raw []byte) {
		var ok struct {
			ProcessQueryKey string `json:"processQueryKey"`
		}
		if json.Unmarshal(raw, &ok) == nil {
			key = ok.ProcessQueryKey
		}
	})
	return status, errText, key, err
}

// post posts body to the app's path and returns the status and, for an
// answer that is not 2xx, its error message.
func (s *sim) post(ctx context.Context, path string, h http.Header, body []byte) (int, string, error) {
	return s.exchange(ctx, path, h, body, nil)
}

// exchange posts body to the app's path; onOK reads a 2xx answer's body.
func (s *sim) exchange(ctx context.Context, path string, h http.Header, body []byte, onOK func([]byte)) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.d.Self(), "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header = h
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode/100 == 2 {
		if onOK != nil {
			onOK(raw)
		}
		return resp.StatusCode, "", nil
	}
	return resp.StatusCode, errorMessage(raw), nil
}

// errorMessage is the message of an {"error": {"code", "message"}} answer,
// else the start of the body.
func errorMessage(raw []byte) string {
	var e struct {
		Error struct {
			Code, Message string
		}
	}
	if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	text := strings.TrimSpace(string(raw))
	if utf8.RuneCountInString(text) > 300 {
		text = string([]rune(text)[:300]) + "…"
	}
	return text
}
