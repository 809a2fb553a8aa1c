package client_test

import (
	"testing"

	"github.com/dingrecall/dingrecall/internal/apptest"
)

// testToken is the API_TOKEN of the servers the tests start.
const testToken = "client-test-token-0123456789"

// server is the whole dingrecall app, run in-process against a fake
// DingTalk (package internal/apptest).
type server = apptest.Server

// startServer runs the app with env on top of quiet defaults and waits until
// it answers. Call Stop when done.
func startServer(env map[string]string) (*server, error) { return apptest.Start(testToken, env) }

// newServer is startServer for a test, stopped when it ends.
func newServer(t *testing.T, env map[string]string) *server { return apptest.New(t, testToken, env) }
