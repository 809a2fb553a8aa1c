// Package apptest runs the whole dingrecall app in-process for the tests of
// packages that talk to it from outside (the Go client, the command line):
// app.Run on a loopback listener against a fake DingTalk.
package apptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/internal/app"
)

// Server is a running app.
type Server struct {
	// URL is its base URL, Token its API_TOKEN.
	URL, Token string
	// Fake is the fake DingTalk it talks to.
	Fake   *dingtalktest.Server
	cancel context.CancelFunc
	done   chan error
}

// Start runs the app with API_TOKEN token and env on top of quiet defaults
// (no reply clean-up, no guards, replies as messages) and waits until it
// answers, against a fake DingTalk built with fakeOpts (such as
// dingtalktest.WithApp for the apps of a BOTS_FILE given in env). Call Stop
// when done.
func Start(token string, env map[string]string, fakeOpts ...dingtalktest.Option) (*Server, error) {
	fake := dingtalktest.New(fakeOpts...)
	vars := map[string]string{
		"DINGTALK_APP_KEY":    fake.AppKey(),
		"DINGTALK_APP_SECRET": fake.AppSecret(),
		"DINGTALK_API_BASE":   fake.URL(),
		"API_TOKEN":           token,
		"REPLY_TTL":           "0",
		"BURST_LIMIT":         "0",
		"DUPLICATE_WINDOW":    "0",
		"ACK_STYLE":           "reply",
		"LOG_LEVEL":           "error",
	}
	for k, v := range env {
		vars[k] = v
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fake.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{URL: "http://" + ln.Addr().String(), Token: vars["API_TOKEN"], Fake: fake, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- app.Run(ctx, ln, func(k string) string { return vars[k] }) }()
	// The listener already listens, so this waits for the server to serve;
	// it fails at once when Run gave up and closed the listener.
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(s.URL + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("/healthz answered %d", resp.StatusCode)
		}
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("starting the app: %w", err), s.Stop())
	}
	return s, nil
}

// Stop shuts the app down, waits for Run to return and closes the fake.
func (s *Server) Stop() error {
	defer s.Fake.Close()
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("the app did not shut down in 30s")
	}
}

// New is Start for a test, stopped when it ends.
func New(t testing.TB, token string, env map[string]string, fakeOpts ...dingtalktest.Option) *Server {
	t.Helper()
	s, err := Start(token, env, fakeOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// BotAppKey is the app key of the bot called name in a [BotsFile].
func BotAppKey(name string) string { return "ding" + name }

// BotsFile writes a BOTS_FILE with a bot for each of names (beside the
// default bot of DINGTALK_APP_KEY), each its own app: app key
// [BotAppKey](name), its own secret and robot code. It returns the file's
// path, for BOTS_FILE in Start's env, and the options that make the fake
// DingTalk know those apps.
func BotsFile(t testing.TB, names ...string) (string, []dingtalktest.Option) {
	t.Helper()
	var b strings.Builder
	b.WriteString("bots:\n")
	opts := make([]dingtalktest.Option, 0, len(names))
	for _, name := range names {
		key, secret, robot := BotAppKey(name), name+"-secret-0123456789", "robot-"+name
		fmt.Fprintf(&b, "  - {name: %s, appKey: %s, appSecret: %s, robotCode: %s}\n", name, key, secret, robot)
		opts = append(opts, dingtalktest.WithApp(key, secret, robot))
	}
	path := filepath.Join(t.TempDir(), "bots.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, opts
}
