package app

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// startSandbox starts the in-process fake DingTalk and points cfg at it, so
// nothing can reach the real DingTalk. It generates an API token unless one
// is set, and reports whether it did.
func startSandbox(cfg *config, log logrus.FieldLogger) (*dingtalktest.Server, bool, error) {
	secret, err := randomHex(16)
	if err != nil {
		return nil, false, err
	}
	fake := dingtalktest.New(dingtalktest.WithCredentials("sandbox-app-key", "sandbox-"+secret))
	cfg.AppKey, cfg.AppSecret, cfg.RobotCode, cfg.APIBase = fake.AppKey(), fake.AppSecret(), fake.RobotCode(), fake.URL()
	if cfg.Admins == "" && cfg.Users == "" {
		// The simulator's people: ops-lead may recall anywhere, oncall here.
		cfg.Admins, cfg.Users = "ops-lead", "oncall"
	}
	generated := false
	if cfg.APIToken == "" {
		if cfg.APIToken, err = randomHex(16); err != nil {
			fake.Close()
			return nil, false, err
		}
		generated = true
	}
	// The app secret and a generated API token go to the plain-text banner
	// only, never into a log line.
	log.WithField("fake_dingtalk", fake.URL()).Warn("SANDBOX MODE: DINGTALK_APP_KEY is unset, so dingrecall talks to an in-process fake DingTalk; nothing reaches the real one")
	return fake, generated, nil
}

// loopbackURL is the http URL of a listening address, with "localhost" for
// an unspecified host such as ":8080".
func loopbackURL(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("http://localhost:%d", tcp.Port)
	}
	return "http://" + addr.String()
}

// sandboxBanner prints, as plain text that pastes into a shell, how to try
// the sandbox listening on addr.
func sandboxBanner(w io.Writer, cfg config, addr net.Addr, generatedToken bool) {
	base := loopbackURL(addr)
	token, tokenNote := "$API_TOKEN", "as set in API_TOKEN"
	if generatedToken {
		token, tokenNote = cfg.APIToken, cfg.APIToken+" (generated; set API_TOKEN to choose one)"
	}
	h := http.Header{}
	dingtalk.SignHeader(h, cfg.AppSecret, time.Now())
	recallHow := fmt.Sprintf(`Recall it as ops-lead, a recall admin, would (a signed callback, valid for an hour; change msgId to send it again):
  curl -s -X POST %[1]s/dingtalk/callback -H 'timestamp: %[2]s' -H 'sign: %[3]s' -H 'Content-Type: application/json' -d '{"conversationId":"cidSandboxOps==","conversationType":"2","conversationTitle":"ops-alerts","senderStaffId":"ops-lead","senderNick":"Ops Lead","isAdmin":false,"msgId":"sandbox-msg-1","msgtype":"text","text":{"content":" recall 1"}}'`,
		base, h.Get(dingtalk.HeaderTimestamp), h.Get(dingtalk.HeaderSign))
	if cfg.CallbackMode == "stream" {
		recallHow = "Stream mode: callbacks arrive over the fake's WebSocket, so type commands (recall 1) in the chat simulator above."
	}
	fmt.Fprintf(w, `
dingrecall SANDBOX MODE: DINGTALK_APP_KEY is unset, so it talks to an in-process fake DingTalk.
  app secret: %[1]s
  API token:  %[2]s

Open the chat simulator in a browser:  %[3]s/sandbox
  (recall admins: %[6]s; recall users: %[7]s; group admins may recall: %[8]t)

Send a message through the bot:
  curl -s -X POST %[3]s/api/v1/messages -H "Authorization: Bearer %[4]s" -H 'Content-Type: application/json' -d '{"conversationId":"cidSandboxOps==","text":"hello from the sandbox"}'
List what the bot tracks there:
  curl -s -H "Authorization: Bearer %[4]s" %[3]s/api/v1/conversations/cidSandboxOps==/messages
%[5]s
%[9]s`, cfg.AppSecret, tokenNote, base, token, recallHow, orNone(cfg.Admins), orNone(cfg.Users), cfg.GroupAdmins, dropinBanner(cfg, base, token))
}

// dropinBanner is how to try the sandbox's built-in routes, or nothing when
// ROUTES_FILE replaces them.
func dropinBanner(cfg config, base, token string) string {
	if cfg.RoutesFile != "" {
		return ""
	}
	return fmt.Sprintf(`
Post as a DingTalk custom robot would (into deploys; a tool changes only its host):
  curl -s -X POST '%[1]s/robot/send?access_token=%[2]s' -H 'Content-Type: application/json' -d '{"msgtype":"text","text":{"content":"build 42 passed"}}'
Send an Alertmanager notification (into ops-alerts; the page's Fire and Resolve buttons do the same):
  curl -s -X POST %[1]s/alertmanager/%[3]s -H "Authorization: Bearer %[4]s" -H 'Content-Type: application/json' -d '{"version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","status":"firing","receiver":"%[3]s","groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull","instance":"db-9","severity":"critical"},"commonAnnotations":{"summary":"disk 91%% full"},"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","instance":"db-9","severity":"critical"},"annotations":{"summary":"disk 91%% full"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"0000000000000009"}]}'
`, base, sandboxWebhookToken, sandboxAlertRoute, token)
}

// orNone is list, or "none" when it is empty.
func orNone(list string) string {
	if strings.TrimSpace(list) == "" {
		return "none"
	}
	return list
}

// randomHex returns n random bytes as hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
