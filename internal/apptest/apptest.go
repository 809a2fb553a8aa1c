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
// answers. Call Stop when done.
func Start(token string, env map[string]string) (*Server, error) {
	fake := dingtalktest.New()
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
func New(t testing.TB, token string, env map[string]string) *Server {
	t.Helper()
	s, err := Start(token, env)
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
