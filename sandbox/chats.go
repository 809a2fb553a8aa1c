package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// Chat kinds, as the page and the send API name them.
const (
	kindGroup   = "group"
	kindPrivate = "private"
	kindOTO     = "oto"
)

// chat is one chat the page shows.
type chat struct {
	// Slug names the chat on the page and in requests.
	Slug string `json:"id"`
	// Title is what DingTalk shows as the chat's name.
	Title string `json:"title"`
	// Kind is group, private or oto (one-to-one with the bot).
	Kind string `json:"kind"`
	// ConversationID is the chat's openConversationId; for a one-to-one chat
	// it is what callbacks from it carry (the bot answers by staff ID).
	ConversationID string `json:"conversationId"`
	// Owner is the staff ID of the person in a one-to-one chat with the bot.
	Owner string `json:"owner,omitempty"`
	// Sample is a suggested bot post; Suggestions are commands worth trying.
	Sample      string   `json:"sample"`
	Suggestions []string `json:"suggestions"`
	// Discovered is true for chats the page did not define: ones the bot
	// posted to through the API (the banner's curl lines, for example).
	Discovered bool `json:"discovered,omitempty"`
}

// person is someone the page can post as.
type person struct {
	ID   string `json:"id"`
	Nick string `json:"nick"`
	// Note says what the default sandbox settings let this person do.
	Note string `json:"note"`
}

// people are the users the page offers. main.go makes ops-lead a recall admin
// and oncall a recall user unless RECALL_ADMINS or RECALL_USERS is set.
var people = []person{
	{ID: "ops-lead", Nick: "Ops Lead", Note: "recall admin"},
	{ID: "oncall", Nick: "On-call", Note: "recall user"},
	{ID: "stranger", Nick: "Stranger", Note: "no recall rights"},
}

// nickOf is the display name of a staff ID.
func nickOf(staffID string) string {
	for _, p := range people {
		if p.ID == staffID {
			return p.Nick
		}
	}
	return staffID
}

// groupSuggestions are the commands worth trying in a group.
var groupSuggestions = []string{"recall 3", "recall 1", "recall", "help"}

// builtinChats are the chats the page always shows.
func builtinChats() []*chat {
	return []*chat{
		{Slug: "ops-alerts", Title: "ops-alerts", Kind: kindGroup, ConversationID: "cidSandboxOps==",
			Sample: "ALERT disk 91% on db-3", Suggestions: groupSuggestions},
		{Slug: "deploys", Title: "deploys", Kind: kindGroup, ConversationID: "cidSandboxDeploy==",
			Sample: "deploy v1.2.3 started", Suggestions: groupSuggestions},
		{Slug: "dm-ops-lead", Title: "Ops Lead ↔ bot", Kind: kindOTO, ConversationID: "cidSandboxDmOpsLead==", Owner: "ops-lead",
			Sample:      "your on-call shift starts at 18:00",
			Suggestions: []string{"chats", "recall 2 in ops-alerts", "recall 1 in cidSandboxDeploy==", "recall 1", "help"}},
	}
}

// Group is a group chat the page always shows.
type Group struct {
	// ConversationID is the chat's openConversationId; Title its name.
	ConversationID, Title string
}

// Groups are the page's built-in group chats, so that the app can know their
// titles from the start ("recall 2 in ops-alerts" before anyone wrote there).
func Groups() []Group {
	var out []Group
	for _, c := range builtinChats() {
		if c.Kind == kindGroup {
			out = append(out, Group{ConversationID: c.ConversationID, Title: c.Title})
		}
	}
	return out
}

// add makes c known. The caller holds s.mu, or s is not shared yet.
func (s *sim) add(c *chat) {
	s.chats = append(s.chats, c)
	if c.Kind == kindOTO {
		s.byUser[c.Owner] = c
	} else {
		s.byConv[c.ConversationID] = c
	}
}

// chatOf returns the chat named slug.
func (s *sim) chatOf(slug string) (*chat, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.chats {
		if c.Slug == slug {
			return c, true
		}
	}
	return nil, false
}

// discover adds a chat for each conversation or person in sent the page does
// not know yet, up to maxDiscovered. The caller holds s.mu.
func (s *sim) discover(sent []dingtalktest.Message) {
	discovered := 0
	for _, c := range s.chats {
		if c.Discovered {
			discovered++
		}
	}
	for _, m := range sent {
		if discovered >= maxDiscovered {
			return
		}
		switch m.Kind {
		case dingtalktest.KindOTO:
			for _, id := range m.UserIDs {
				if _, ok := s.byUser[id]; ok || id == "" || discovered >= maxDiscovered {
					continue
				}
				discovered++
				s.add(&chat{Slug: fmt.Sprintf("chat-%d", len(s.chats)+1), Title: nickOf(id) + " ↔ bot", Kind: kindOTO,
					ConversationID: "cidSandboxDm-" + id + "==", Owner: id, Discovered: true,
					Sample: "hello " + id, Suggestions: []string{"recall 1", "chats", "help"}})
			}
		default:
			if _, ok := s.byConv[m.ConversationID]; ok || m.ConversationID == "" {
				continue
			}
			kind := kindGroup
			if m.Kind == dingtalktest.KindPrivate {
				kind = kindPrivate
			}
			discovered++
			s.add(&chat{Slug: fmt.Sprintf("chat-%d", len(s.chats)+1), Title: m.ConversationID, Kind: kind,
				ConversationID: m.ConversationID, Discovered: true,
				Sample: "hello from the sandbox", Suggestions: groupSuggestions})
		}
	}
}

// chatsOf returns the chats a sent message shows in. The caller holds s.mu.
func (s *sim) chatsOf(m dingtalktest.Message) []*chat {
	if m.Kind != dingtalktest.KindOTO {
		if c, ok := s.byConv[m.ConversationID]; ok {
			return []*chat{c}
		}
		return nil
	}
	var out []*chat
	for _, id := range m.UserIDs {
		if c, ok := s.byUser[id]; ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// botUserID is the bot's sender ID in the page's chats: the chatbotUserId
// of every callback, and the senderId of a quoted message of the bot's.
const botUserID = "$:LWCP_v1:$sandboxBot"

// senderID is the DingTalk sender ID of a staff ID on the page.
func senderID(staffID string) string { return "$:LWCP_v1:$" + staffID }

// quoted is a message a person quotes, as the callback describes it.
type quoted struct {
	// ID is its id on the page; Nick and Text what the page shows of it.
	ID, Nick, Text string
	// MsgType, MsgID, SenderID, At and Content are the callback's
	// repliedMsg fields.
	MsgType, MsgID, SenderID string
	At                       time.Time
	Content                  map[string]string
}

// quoteOf finds the message with page id in ch that a person may quote: a
// bot message DingTalk has not recalled, or a typed one.
func (s *sim) quoteOf(ch *chat, id string) (*quoted, *reqError) {
	if key, ok := strings.CutPrefix(id, "bot-"); ok {
		m, found := s.d.Fake.Message(key)
		s.mu.Lock()
		in := found && slices.Contains(s.chatsOf(m), ch)
		s.mu.Unlock()
		switch {
		case !in:
			return nil, badRequest("quote", "no bot message %q in this chat", id)
		case m.Recalled:
			return nil, badRequest("quote", "the message was recalled: DingTalk shows nothing to quote")
		}
		title, text := contentOf(m.MsgKey, m.MsgParam)
		q := &quoted{ID: id, Nick: botName, Text: text, MsgID: "sandbox-bot-" + key, SenderID: botUserID, At: m.SentAt}
		switch m.MsgKey {
		case "sampleText":
			q.MsgType, q.Content = "text", map[string]string{"text": text}
		case "sampleMarkdown":
			q.MsgType, q.Content = "markdown", map[string]string{"title": title, "text": text}
		case "sampleLink":
			q.MsgType, q.Content = "link", map[string]string{"title": title, "text": text}
		default:
			// sampleActionCard… and anything else: DingTalk's quote of it
			// carries its type and no text this page can rebuild.
			q.MsgType, q.Content = "actionCard", map[string]string{"title": title}
		}
		return q, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.said[ch.Slug] {
		if t.ID == id {
			return &quoted{ID: id, Nick: t.Nick, Text: t.Text, MsgType: "text", MsgID: t.MsgID, SenderID: senderID(t.User),
				At: t.At, Content: map[string]string{"text": t.Text}}, nil
		}
	}
	return nil, badRequest("quote", "no message %q in this chat", id)
}

// typed is a message a person typed on the page.
type typed struct {
	ID         string
	MsgID      string
	User, Nick string
	GroupAdmin bool
	Text       string
	// Quote is the message quoted with it, nil when none.
	Quote *quoted
	At    time.Time
	// Status is the callback's HTTP status, 0 until it answered; Err says
	// why it failed.
	Status int
	Err    string
}

// record keeps what user typed into c (quoting q, when not nil), dropping
// the oldest beyond maxKept.
func (s *sim) record(c *chat, user string, groupAdmin bool, text string, q *quoted) *typed {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	t := &typed{
		ID: fmt.Sprintf("u%d", s.seq), MsgID: fmt.Sprintf("%s-%d", s.msgPrefix, s.seq),
		User: user, Nick: nickOf(user), GroupAdmin: groupAdmin, Text: text, Quote: q, At: s.now(),
	}
	list := append(s.said[c.Slug], t)
	if len(list) > maxKept {
		list = slices.Delete(list, 0, len(list)-maxKept)
	}
	s.said[c.Slug] = list
	return t
}

// settle notes the callback's answer to t.
func (s *sim) settle(t *typed, status int, errText string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Status, t.Err = status, errText
}

// messageView is one message as the page shows it.
type messageView struct {
	// ID is unique on the page: "bot-<processQueryKey>" or "u<n>".
	ID string `json:"id"`
	// From is "bot" or "user".
	From string `json:"from"`
	// Key is the processQueryKey of a bot message.
	Key string `json:"key,omitempty"`
	// MsgKey is a bot message's template (sampleText, sampleMarkdown, …).
	MsgKey string `json:"msgKey,omitempty"`
	// User is the staff ID of who typed a message.
	User       string `json:"user,omitempty"`
	Nick       string `json:"nick"`
	GroupAdmin bool   `json:"groupAdmin,omitempty"`
	// Title is a markdown message's title; Text is what it says.
	Title string    `json:"title,omitempty"`
	Text  string    `json:"text"`
	At    time.Time `json:"at"`
	// Recalled is true once DingTalk (the fake) recalled a bot message.
	Recalled   bool       `json:"recalled"`
	RecalledAt *time.Time `json:"recalledAt,omitempty"`
	// CallbackStatus is the HTTP status the callback answered a typed
	// message with (0 while waiting); CallbackError says why it failed.
	CallbackStatus int    `json:"callbackStatus,omitempty"`
	CallbackError  string `json:"callbackError,omitempty"`
	// Quote is the message a typed one quotes.
	Quote *quoteView `json:"quote,omitempty"`
	// Reactions are the texts of the reactions the bot shows on a typed
	// message, as the fake DingTalk records them.
	Reactions []string `json:"reactions,omitempty"`
	// Card is set for a card the bot delivered: its buttons (cards.go).
	Card *cardView `json:"card,omitempty"`
}

// quoteView is a quoted message as the page shows it inside the quoting one.
type quoteView struct {
	ID   string `json:"id"`
	Nick string `json:"nick"`
	Text string `json:"text"`
}

// chatView is a chat with its messages, oldest first.
type chatView struct {
	*chat
	Messages []messageView `json:"messages"`
}

// stateView is what GET /sandbox/api/state answers.
type stateView struct {
	Chats  []chatView `json:"chats"`
	People []person   `json:"people"`
	// BotName is how the bot is shown.
	BotName string `json:"botName"`
	// Via is how typed messages reach the app: "http" or "stream".
	Via string `json:"via"`
	// MaxCount is the most messages one "bot posts" request sends.
	MaxCount int `json:"maxCount"`
	// AlertChat is the conversation of the Alertmanager route the page fires
	// sample alerts through ("" without one); AlertsFiring how many fire.
	AlertChat    string `json:"alertChat,omitempty"`
	AlertsFiring int    `json:"alertsFiring"`
	// Clickable is true while the app has a Stream connection to the fake,
	// which card button clicks travel over.
	Clickable bool `json:"clickable"`
}

// botName is how the page shows the bot.
const botName = "dingrecall"

// state builds every chat's messages from the fake's record and what people
// typed, each list in time order.
func (s *sim) state() stateView {
	sent := s.d.Fake.Sent()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discover(sent)
	bots := map[*chat][]messageView{}
	for _, m := range sent {
		for _, c := range s.chatsOf(m) {
			bots[c] = append(bots[c], s.withCard(botView(m), m))
		}
	}
	out := stateView{People: people, BotName: botName, Via: s.via(), MaxCount: maxCount, Chats: make([]chatView, 0, len(s.chats)), AlertsFiring: len(s.alerts),
		Clickable: len(s.d.Fake.Connections()) > 0}
	if s.d.Alerts != nil {
		out.AlertChat = s.d.Alerts.ConversationID
	}
	for _, c := range s.chats {
		list := bots[c]
		if len(list) > maxKept {
			list = list[len(list)-maxKept:]
		}
		msgs := make([]messageView, 0, len(list)+len(s.said[c.Slug]))
		msgs = append(msgs, list...)
		for _, t := range s.said[c.Slug] {
			v := messageView{
				ID: t.ID, From: "user", User: t.User, Nick: t.Nick, GroupAdmin: t.GroupAdmin,
				Text: t.Text, At: t.At, CallbackStatus: t.Status, CallbackError: t.Err,
				Reactions: s.d.Fake.ReactionsShown(t.MsgID),
			}
			if q := t.Quote; q != nil {
				v.Quote = &quoteView{ID: q.ID, Nick: q.Nick, Text: q.Text}
			}
			msgs = append(msgs, v)
		}
		// Stable: bot messages keep their send order when times tie.
		slices.SortStableFunc(msgs, func(a, b messageView) int { return a.At.Compare(b.At) })
		out.Chats = append(out.Chats, chatView{chat: c, Messages: msgs})
	}
	return out
}

// botView is how the page shows a message the bot sent.
func botView(m dingtalktest.Message) messageView {
	v := messageView{ID: "bot-" + m.Key, From: "bot", Key: m.Key, MsgKey: m.MsgKey, Nick: botName, At: m.SentAt, Recalled: m.Recalled}
	if m.Recalled {
		at := m.RecalledAt
		v.RecalledAt = &at
	}
	v.Title, v.Text = contentOf(m.MsgKey, m.MsgParam)
	return v
}

// contentOf extracts the title and text of a message from its msgParam: the
// content of sampleText, the title and text of sampleMarkdown, and for other
// templates whatever title and text they carry, else the template's name.
func contentOf(msgKey, msgParam string) (title, text string) {
	var p map[string]any
	_ = json.Unmarshal([]byte(msgParam), &p)
	str := func(k string) string { v, _ := p[k].(string); return v }
	switch msgKey {
	case "sampleText":
		text = str("content")
	case "sampleMarkdown":
		title, text = str("title"), str("text")
	default:
		title, text = str("title"), str("text")
		if text == "" {
			text = str("content")
		}
		if text == "" {
			text = "[" + msgKey + "]"
		}
	}
	return clip(title), clip(text)
}

// clip shortens s to maxText characters.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxText {
		return s
	}
	return string([]rune(s)[:maxText]) + "…"
}

// getState answers GET /sandbox/api/state.
func (s *sim) getState(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, s.state())
}

// validStaffID reports whether id looks like a staff ID the page may post as.
func validStaffID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r))
	}) < 0
}
