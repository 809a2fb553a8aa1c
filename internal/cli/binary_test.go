package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/client"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// buildBinary builds the dingrecall command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dingrecall")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/dingrecall/dingrecall").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// runBinary runs bin with args, stdin and exactly the environment env, and
// returns its exit code and output.
func runBinary(t *testing.T, bin, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	return result{code, out.String(), errOut.String()}
}

// freePort is a loopback port that was free a moment ago, for a server
// process that must be told its address.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	return port
}

// TestBinary runs the built command against the app running in the test on
// a fake DingTalk: every subcommand, every exit code, stdin and --json.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	s := newServer(t, nil)
	env := []string{envURL + "=" + s.URL, envToken + "=" + s.Token}

	var keys []string
	t.Run("send prints the key; text from arguments or stdin", func(t *testing.T) {
		r := runBinary(t, bin, "", env, "send", "-c", "cidCI==", "--tag", "pipeline-1", "deploying v1.2.3 to prod")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Regexp(t, keyLine, r.stdout)
		keys = append(keys, strings.TrimSpace(r.stdout))

		r = runBinary(t, bin, "changelog:\n- fix 1\n", env, "send", "-c", "cidCI==", "--tag", "pipeline-1", "-")
		require.Equal(t, ExitOK, r.code, r.stderr)
		key := strings.TrimSpace(r.stdout)
		m, ok := s.Fake.Message(key)
		require.True(t, ok)
		require.JSONEq(t, `{"content":"changelog:\n- fix 1"}`, m.MsgParam)
		keys = append(keys, key)
	})
	t.Run("send --json", func(t *testing.T) {
		r := runBinary(t, bin, "", env, "send", "-c", "cidCI==", "--tag", "pipeline-1", "--json", "migrating")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var sent client.Sent
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &sent))
		require.Equal(t, "cidCI==", sent.ConversationID)
		keys = append(keys, sent.ProcessQueryKey)
	})
	t.Run("list", func(t *testing.T) {
		r := runBinary(t, bin, "", env, "list", "-c", "cidCI==", "--json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var msgs []client.TrackedMessage
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &msgs))
		require.Equal(t, []string{keys[2], keys[1], keys[0]}, []string{msgs[0].ProcessQueryKey, msgs[1].ProcessQueryKey, msgs[2].ProcessQueryKey})

		r = runBinary(t, bin, "", env, "list", "-c", "cidCI==")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Contains(t, r.stdout, `"deploying v1.2.3 to prod"`)
	})
	t.Run("recall --dry-run --json", func(t *testing.T) {
		r := runBinary(t, bin, "", env, "recall", "--tag", "pipeline-1", "--dry-run", "--json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var res client.RecallResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
		require.True(t, res.DryRun)
		require.Equal(t, []string{keys[2], keys[1], keys[0]}, res.Selected)
		require.Empty(t, s.Fake.Recalled())
	})
	t.Run("recall exits 1 when a key fails", func(t *testing.T) {
		s.Fake.FailKey(keys[0], "the message is older than 24 hours")
		defer s.Fake.ClearKeyFailure(keys[0])
		r := runBinary(t, bin, "", env, "recall", "--tag", "pipeline-1")
		require.Equal(t, ExitFailed, r.code, r.stderr)
		require.Equal(t, "recalled "+keys[2]+"\nrecalled "+keys[1]+"\nfailed "+keys[0]+": the message is older than 24 hours\n3 selected, 2 recalled, 1 failed\n", r.stdout)
	})
	t.Run("recall exits 0 when all went", func(t *testing.T) {
		r := runBinary(t, bin, keys[0]+"\n", env, "recall", "-c", "cidCI==", "--keys", "-", "--json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var res client.RecallResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
		require.Equal(t, []string{keys[0]}, res.Recalled)
	})
	t.Run("audit", func(t *testing.T) {
		r := runBinary(t, bin, "", env, "audit", "-c", "cidCI==", "--json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var entries []client.AuditEntry
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &entries))
		require.Len(t, entries, 2)
		require.Equal(t, "1 keys", entries[0].Request)
		require.Equal(t, "tag pipeline-1", entries[1].Request)

		r = runBinary(t, bin, "", env, "audit", "--limit", "1")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Contains(t, r.stdout, "recall by api in cidCI==: 1 keys\n  recalled "+keys[0])
	})
	t.Run("exit 2: usage", func(t *testing.T) {
		r := runBinary(t, bin, "", nil, "recall", "--tag", "x")
		require.Equal(t, ExitUsage, r.code)
		require.Contains(t, r.stderr, "give --url or set DINGRECALL_URL")
		r = runBinary(t, bin, "", env, "recall", "--tag", "x", "--last", "1")
		require.Equal(t, ExitUsage, r.code)
		r = runBinary(t, bin, "", env, "send", "--chat-type", "fax", "-c", "x", "hi")
		require.Equal(t, ExitUsage, r.code)
		require.Contains(t, r.stderr, "400 invalid_request")
	})
	t.Run("exit 3: unreachable or 5xx", func(t *testing.T) {
		r := runBinary(t, bin, "", []string{envURL + "=http://127.0.0.1:" + freePort(t), envToken + "=x"}, "list", "-c", "x")
		require.Equal(t, ExitUnavailable, r.code)
		require.Contains(t, r.stderr, "connection refused")

		s.Fake.FailCallWith(dingtalktest.PathGroupSend, 1, http.StatusBadRequest, "bot.stopped", "the bot is off")
		r = runBinary(t, bin, "", env, "send", "-c", "cidCI==", "to a stopped bot")
		require.Equal(t, ExitUnavailable, r.code)
		require.Contains(t, r.stderr, "502 bot.stopped: the bot is off")
	})
	t.Run("exit 4: DingTalk's monthly quota is used up", func(t *testing.T) {
		s.Fake.FailCallWith(dingtalktest.PathGroupSend, 1, http.StatusForbidden, "Forbidden.AccessDenied.ApiCountLimitForOrg", "the monthly quota is spent")
		r := runBinary(t, bin, "", env, "send", "-c", "cidCI==", "over quota")
		require.Equal(t, ExitQuota, r.code, r.stderr)
		require.Contains(t, r.stderr, "503 dingtalk_quota_exhausted")
		require.Regexp(t, `starts again on \d{4}-\d{2}-01`, r.stderr)
	})
	t.Run("help", func(t *testing.T) {
		for _, args := range [][]string{{"--help"}, {"send", "--help"}, {"recall", "--help"}, {"list", "--help"}, {"audit", "--help"}} {
			r := runBinary(t, bin, "", env, args...)
			require.Equal(t, ExitOK, r.code, r.stderr)
			require.Contains(t, r.stdout, "Examples:")
			require.NotContains(t, r.stdout, s.Token)
		}
	})
	t.Run("serve, and no arguments serves", func(t *testing.T) {
		for _, args := range [][]string{{"serve"}, nil} {
			serveBinary(t, bin, args)
		}
	})
	t.Run("healthcheck exits 1 without a server", func(t *testing.T) {
		r := runBinary(t, bin, "", []string{"LISTEN_ADDR=127.0.0.1:" + freePort(t)}, "healthcheck")
		require.Equal(t, 1, r.code)
		require.Contains(t, r.stderr, "healthcheck:")
	})
}

// serveBinary starts bin with args as a sandbox server on a free port, waits
// for its "listening" log line, checks it with healthcheck and a send, stops
// it by PID with SIGTERM and checks it exits 0.
func serveBinary(t *testing.T, bin string, args []string) {
	t.Helper()
	addr := "127.0.0.1:" + freePort(t)
	const token = "serve-test-token-123"
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"LISTEN_ADDR=" + addr, "API_TOKEN=" + token, "LOG_LEVEL=info"}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
	})

	ready, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			if !seen && strings.Contains(sc.Text(), `"msg":"dingrecall listening"`) {
				seen = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-drained:
		t.Fatal("the server exited before it listened")
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not listen within 30s")
	}

	r := runBinary(t, bin, "", []string{"LISTEN_ADDR=" + addr}, "healthcheck")
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = runBinary(t, bin, "", []string{envURL + "=http://" + addr, envToken + "=" + token}, "send", "-c", "cidSandbox==", "hello")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Regexp(t, keyLine, r.stdout)

	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	select {
	case <-drained:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop within 30s of SIGTERM")
	}
	err = cmd.Wait()
	exited = true
	require.NoError(t, err, "serve exits 0 after SIGTERM")
}
