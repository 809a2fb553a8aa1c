// Package sandbox serves the chat simulator page of sandbox mode at
// /sandbox: fake DingTalk chats in which a person posts as a chosen user
// (through the app's real, signed callback path), makes the bot post test
// messages (through the real /api/v1/messages) and watches the bot's
// messages appear and get recalled, read from the fake DingTalk's own record.
//
// The page and its script and style sheet are embedded in the binary; it
// loads nothing from elsewhere. Its endpoints, all under /sandbox/api:
//
//   - GET /sandbox/api/state: every chat with its messages, oldest first: what
//     the page's people typed (kept in memory, bounded) merged with what the
//     bot sent there according to the fake DingTalk, recalled ones marked;
//     a typed message shows the message it quotes and the reactions the bot
//     put on it (the fake's record).
//   - POST /sandbox/api/say {chat, user, groupAdmin, text, quote}: builds the
//     callback DingTalk would post when user writes text to the bot in chat,
//     quoting the message with page id quote if set (text.isReplyMsg,
//     text.repliedMsg and originalMsgId, as DingTalk's would), signs it with
//     the app secret and posts it to the app's /dingtalk/callback; answers
//     with the callback's status.
//   - POST /sandbox/api/bot {chat, text, count, ttl, tag, card}: has the bot
//     post text (count times, numbered) into chat through the app's
//     /api/v1/messages with the API token, which stays on the server; with
//     card, as cards with a Recall button.
//   - POST /sandbox/api/click {chat, key, user, action}: user clicks a button
//     of the card key; the fake DingTalk pushes the card callback to the app
//     over its Stream mode gateway (cards.go).
//   - POST /sandbox/api/alert {action}: with an Alertmanager route (Deps.Alerts),
//     "fire" makes one more sample alert fire and "resolve" resolves them all;
//     either posts the notification Alertmanager would send to the app's
//     /alertmanager/<route>, with the API token.
//
// Register is only called in sandbox mode, so none of this exists when the
// app talks to the real DingTalk.
package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// Deps are what the simulator needs.
type Deps struct {
	// Fake is the in-process DingTalk of sandbox mode.
	Fake *dingtalktest.Server
	// AppSecret signs the callbacks the page sends as a user.
	AppSecret string
	// APIToken authorises the page's calls to /api/v1.
	APIToken string
	// Self returns the base URL of the running app (e.g. http://127.0.0.1:8080),
	// which the simulator posts callbacks to, so they take the real path.
	Self func() string
	// Log is where the simulator logs.
	Log logrus.FieldLogger
	// Stream delivers typed messages over the fake's Stream mode gateway
	// (CALLBACK_MODE=stream) instead of to /dingtalk/callback.
	Stream bool
	// Alerts, when set, is the Alertmanager route the page fires and
	// resolves a sample alert through.
	Alerts *AlertRoute
}

// Limits of the simulator.
const (
	// maxBody is the largest request body the simulator's endpoints read.
	maxBody = 64 << 10
	// maxText is the most characters a typed message or a bot post may have.
	maxText = 2000
	// maxCount is the most messages one "bot posts" request sends.
	maxCount = 50
	// maxKept is the most typed messages kept, and bot messages shown, per chat.
	maxKept = 200
	// maxDiscovered is the most chats shown besides the built-in ones.
	maxDiscovered = 8
	// upstreamTimeout bounds each call the simulator makes to the app.
	upstreamTimeout = 15 * time.Second
)

// Register adds /sandbox and its endpoints to r. It adds nothing when d has
// no fake DingTalk or no way to reach the app, as outside sandbox mode.
func Register(r *gin.Engine, d Deps) {
	if d.Fake == nil || d.Self == nil {
		return
	}
	if d.Log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		d.Log = l
	}
	s := newSim(d, time.Now)
	r.GET("/sandbox", servePage)
	r.GET("/sandbox/static/:file", serveStatic)
	api := r.Group("/sandbox/api")
	api.GET("/state", s.getState)
	api.POST("/say", sameOrigin, s.say)
	api.POST("/bot", sameOrigin, s.botPost)
	api.POST("/click", sameOrigin, s.click)
	if d.Alerts != nil {
		api.POST("/alert", sameOrigin, s.alertPost)
	}
}

// sim is the simulator's state: its chats and what people typed in them.
type sim struct {
	d      Deps
	now    func() time.Time
	client *http.Client
	// msgPrefix makes callback msgIds unique across restarts, which matters
	// when the de-duplication store outlives the process (Redis).
	msgPrefix string

	mu     sync.Mutex
	chats  []*chat
	byConv map[string]*chat // group and private chats by conversation ID
	byUser map[string]*chat // one-to-one chats by the person's staff ID
	said   map[string][]*typed
	seq    int
	// alerts are the sample alerts firing.
	alerts []sampleAlert
}

// newSim builds the simulator with its built-in chats.
func newSim(d Deps, now func() time.Time) *sim {
	s := &sim{
		d: d, now: now,
		client:    &http.Client{Timeout: upstreamTimeout},
		msgPrefix: "sandbox-" + randomHex(4),
		byConv:    map[string]*chat{},
		byUser:    map[string]*chat{},
		said:      map[string][]*typed{},
	}
	for _, c := range builtinChats() {
		s.add(c)
	}
	return s
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
