// Package sandbox serves the chat simulator page of sandbox mode at
// /sandbox: fake DingTalk chats in which a person posts as a chosen user
// (through the app's real, signed callback path), makes the bot post test
// messages (through the real /api/v1/messages) and watches the bot's
// messages appear and get recalled, read from the fake DingTalk's own record.
package sandbox

import (
	"net/http"

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
}

// Register adds /sandbox and its endpoints to r.
func Register(r *gin.Engine, d Deps) {
	r.GET("/sandbox", func(c *gin.Context) {
		c.String(http.StatusOK, "dingrecall sandbox")
	})
}
