package client_test

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

// testToken is the API_TOKEN of the servers the tests start.
const testToken = "client-test-token-0123456789"

// server is the whole dingrecall app, run in-process with app.Run on a
// loopback listener against a fake DingTalk.
type server struct {
	url    string
	token  string
	fake   *dingtalktest.Server
	cancel context.CancelFunc
	done   chan error
}

// startServer runs the app with env on top of quiet defaults and waits until
// it answers. Call stop when done.
func startServer(env map[string]string) (*server, error) {
	fake := dingtalktest.New()
	vars := map[string]string{
		"DINGTALK_APP_KEY":    fake.AppKey(),
		"DINGTALK_APP_SECRET": fake.AppSecret(),
		"DINGTALK_API_BASE":   fake.URL(),
		"API_TOKEN":           testToken,
		"REPLY_TTL":           "0",
		"BURST_LIMIT":         "0",
		"DUPLICATE_WINDOW":    "0",
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
	s := &server{url: "http://" + ln.Addr().String(), token: vars["API_TOKEN"], fake: fake, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- app.Run(ctx, ln, func(k string) string { return vars[k] }) }()
	// The listener already listens, so this waits for the server to serve;
	// it fails at once when Run gave up and closed the listener.
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(s.url + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("/healthz answered %d", resp.StatusCode)
		}
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("starting the app: %w", err), s.stop())
	}
	return s, nil
}

// stop shuts the app down, waits for Run to return and closes the fake.
func (s *server) stop() error {
	defer s.fake.Close()
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("the app did not shut down in 30s")
	}
}

// newServer is startServer for a test, stopped when it ends.
func newServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	s, err := startServer(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}
