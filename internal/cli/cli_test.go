package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/client"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/internal/apptest"
)

// keyLine is what send prints: a key and a newline.
var keyLine = regexp.MustCompile(`^[0-9a-f]{8,}\n$`)

// result is what a run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the CLI in-process with args, stdin and the environment vars,
// on top of DINGRECALL_URL and DINGRECALL_TOKEN for s (when s is not nil).
func runCLI(t *testing.T, s *server, stdin string, vars map[string]string, args ...string) result {
	t.Helper()
	env := map[string]string{}
	if s != nil {
		env[envURL], env[envToken] = s.URL, s.Token
	}
	for k, v := range vars {
		env[k] = v
	}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Run(ctx, args, Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errOut.String()}
}

// sendKey sends text to conv with extra flags and returns the key.
func sendKey(t *testing.T, s *server, conv, text string, flags ...string) string {
	t.Helper()
	r := runCLI(t, s, "", nil, append(append([]string{"send", "-c", conv}, flags...), text)...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Regexp(t, keyLine, r.stdout)
	return strings.TrimSpace(r.stdout)
}

// closedURL is the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

func TestSend(t *testing.T) {
	s := newServer(t, nil)

	t.Run("arguments are the text", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "send", "-c", "cidOps==", "--tag", "deploy-1", "deploying", "v1.2.3")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Regexp(t, keyLine, r.stdout)
		m, ok := s.Fake.Message(strings.TrimSpace(r.stdout))
		require.True(t, ok)
		require.JSONEq(t, `{"content":"deploying v1.2.3"}`, m.MsgParam)
	})
	t.Run("stdin with -", func(t *testing.T) {
		r := runCLI(t, s, "line one\nline two\n\n", nil, "send", "-c", "cidOps==", "-")
		require.Equal(t, ExitOK, r.code, r.stderr)
		m, ok := s.Fake.Message(strings.TrimSpace(r.stdout))
		require.True(t, ok)
		require.JSONEq(t, `{"content":"line one\nline two"}`, m.MsgParam)
	})
	t.Run("json", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "send", "-c", "cidOps==", "--ttl", "10m", "--json", "self-cleaning")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var sent client.Sent
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &sent))
		require.Equal(t, "cidOps==", sent.ConversationID)
		require.Equal(t, 10*time.Minute, sent.ExpiresAt.Sub(sent.SentAt))
		_, ok := s.Fake.Message(sent.ProcessQueryKey)
		require.True(t, ok)
	})
	t.Run("markdown", func(t *testing.T) {
		key := sendKey(t, s, "cidOps==", "**v1** out", "--markdown", "Release")
		m, _ := s.Fake.Message(key)
		require.Equal(t, "sampleMarkdown", m.MsgKey)
		require.JSONEq(t, `{"title":"Release","text":"**v1** out"}`, m.MsgParam)
	})
	t.Run("one-to-one with -u", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "send", "-u", "staff-7", "--json", "just you")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var sent client.Sent
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &sent))
		require.Equal(t, "staff-7", sent.ConversationID)
	})
	t.Run("flags beat the environment", func(t *testing.T) {
		r := runCLI(t, nil, "", map[string]string{envURL: closedURL(t), envToken: "wrong"},
			"send", "--url", s.URL, "--token", s.Token, "-c", "cidOps==", "from flags")
		require.Equal(t, ExitOK, r.code, r.stderr)
	})
}

func TestRecall(t *testing.T) {
	s := newServer(t, nil)
	a1 := sendKey(t, s, "cidA==", "a1", "-t", "deploy-9")
	a2 := sendKey(t, s, "cidA==", "a2")
	a3 := sendKey(t, s, "cidA==", "a3")
	b1 := sendKey(t, s, "cidB==", "b1", "-t", "deploy-9")

	t.Run("dry run", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "recall", "--tag", "deploy-9", "--dry-run")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "would recall "+b1+"\nwould recall "+a1+"\ndry run: 2 selected, nothing recalled\n", r.stdout)
		require.Empty(t, s.Fake.Recalled())

		r = runCLI(t, s, "", nil, "recall", "--tag", "deploy-9", "--dry-run", "--json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var res client.RecallResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
		require.True(t, res.DryRun)
		require.Equal(t, []string{b1, a1}, res.Selected)
	})
	t.Run("a failed key exits 1 and says why", func(t *testing.T) {
		s.Fake.FailKey(a3, "the robot lacks the recall permission")
		defer s.Fake.ClearKeyFailure(a3)
		r := runCLI(t, s, "", nil, "recall", "-c", "cidA==", "--last", "1")
		require.Equal(t, ExitFailed, r.code, r.stderr)
		require.Equal(t, "failed "+a3+": the robot lacks the recall permission\n1 selected, 0 recalled, 1 failed\n", r.stdout)

		r = runCLI(t, s, "", nil, "recall", "-c", "cidA==", "--keys", a3, "--json")
		require.Equal(t, ExitFailed, r.code, r.stderr)
		var res client.RecallResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
		require.Equal(t, map[string]string{a3: "the robot lacks the recall permission"}, res.Failed)
	})
	t.Run("keys from stdin, one unknown", func(t *testing.T) {
		r := runCLI(t, s, a3+"\nnot-a-key\n", nil, "recall", "-c", "cidA==", "--keys", "-")
		require.Equal(t, ExitFailed, r.code, r.stderr)
		require.Contains(t, r.stdout, "recalled "+a3+"\n")
		require.Contains(t, r.stdout, "failed not-a-key: ")
		require.True(t, strings.HasSuffix(r.stdout, "1 selected, 1 recalled, 1 failed\n"), r.stdout)
	})
	t.Run("since", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "recall", "-c", "cidA==", "--since", "1h")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "recalled "+a2+"\nrecalled "+a1+"\n2 selected, 2 recalled, 0 failed\n", r.stdout)
	})
	t.Run("tag", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "recall", "--tag", "deploy-9")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "recalled "+b1+"\n1 selected, 1 recalled, 0 failed\n", r.stdout)
		r = runCLI(t, s, "", nil, "recall", "--tag", "deploy-9")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "nothing to recall\n", r.stdout)
	})
	t.Run("comma-separated and repeated keys", func(t *testing.T) {
		k1, k2, k3 := sendKey(t, s, "cidC==", "c1"), sendKey(t, s, "cidC==", "c2"), sendKey(t, s, "cidC==", "c3")
		r := runCLI(t, s, "", nil, "recall", "-c", "cidC==", "--keys", k1+","+k2, "-k", k3, "--json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var res client.RecallResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
		require.ElementsMatch(t, []string{k1, k2, k3}, res.Recalled)
	})
}

func TestListAndAudit(t *testing.T) {
	s := newServer(t, nil)
	older := sendKey(t, s, "cid/Ops+1==", "the first line\nand more", "-t", "rel-1")
	newer := sendKey(t, s, "cid/Ops+1==", "x", "--markdown", "Maintenance window", "--ttl", "5m")

	r := runCLI(t, s, "", nil, "list", "-c", "cid/Ops+1==")
	require.Equal(t, ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^KEY\s+SENT\s+TAG\s+CONTENT\s+NOTE$`, lines[0])
	require.Regexp(t, `^`+newer+`\s+\S+Z\s+-\s+"Maintenance window"\s+auto-recall at \S+Z$`, lines[1])
	require.Regexp(t, `^`+older+`\s+\S+Z\s+rel-1\s+"the first line and more"\s*$`, lines[2])

	r = runCLI(t, s, "", nil, "list", "-c", "cid/Ops+1==", "--limit", "1", "--json")
	require.Equal(t, ExitOK, r.code, r.stderr)
	var msgs []client.TrackedMessage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &msgs))
	require.Len(t, msgs, 1)
	require.Equal(t, newer, msgs[0].ProcessQueryKey)

	r = runCLI(t, s, "", nil, "list", "-u", "staff-nobody")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "nothing held for staff-nobody\n", r.stdout)

	r = runCLI(t, s, "", nil, "audit")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "no audit entries\n", r.stdout)

	require.Equal(t, ExitOK, runCLI(t, s, "", nil, "recall", "-t", "rel-1").code)
	require.Equal(t, ExitFailed, runCLI(t, s, "", nil, "recall", "-c", "cid/Ops+1==", "-k", "gone").code)

	r = runCLI(t, s, "", nil, "audit", "-c", "cid/Ops+1==")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Regexp(t, `^\S+Z recall by api in cid/Ops\+1==: 1 keys\n  failed gone: .+\n`+
		`\S+Z recall by api in cid/Ops\+1==: tag rel-1\n  recalled `+older+` "the first line and more"\n$`, r.stdout)

	r = runCLI(t, s, "", nil, "audit", "--limit", "1", "--json")
	require.Equal(t, ExitOK, r.code, r.stderr)
	var entries []client.AuditEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &entries))
	require.Len(t, entries, 1)
	require.Equal(t, "1 keys", entries[0].Request)
}

func TestExitCodes(t *testing.T) {
	s := newServer(t, map[string]string{"DUPLICATE_WINDOW": "1m", "BURST_LIMIT": "3"})
	first := sendKey(t, s, "cidDup==", "only once")
	unreachable := map[string]string{envURL: closedURL(t)}
	cases := []struct {
		name   string
		vars   map[string]string
		stdin  string
		args   []string
		before func()
		code   int
		stderr string
	}{
		{name: "no URL", vars: map[string]string{envURL: ""}, args: []string{"list", "-c", "x"}, code: ExitUsage, stderr: "give --url or set DINGRECALL_URL"},
		{name: "no token", vars: map[string]string{envToken: ""}, args: []string{"audit"}, code: ExitUsage, stderr: "give --token or set DINGRECALL_TOKEN"},
		{name: "URL without scheme", vars: map[string]string{envURL: "localhost:8080"}, args: []string{"audit"}, code: ExitUsage, stderr: "want an http:// or https:// URL"},
		{name: "unknown command", args: []string{"frobnicate"}, code: ExitUsage, stderr: `unknown command "frobnicate"`},
		{name: "unknown flag", args: []string{"recall", "--everything"}, code: ExitUsage, stderr: "flag provided but not defined"},
		{name: "bad duration", args: []string{"recall", "-c", "x", "--since", "soon"}, code: ExitUsage, stderr: "since"},
		{name: "nothing to recall said", args: []string{"recall", "-c", "x"}, code: ExitUsage, stderr: "give one of --tag, --last, --keys and --since"},
		{name: "two selections", args: []string{"recall", "--tag", "a", "--last", "2"}, code: ExitUsage, stderr: "got --tag and --last"},
		{name: "last 0", args: []string{"recall", "-c", "x", "--last", "0"}, code: ExitUsage, stderr: "--last wants a number from 1"},
		{name: "empty tag", args: []string{"recall", "--tag", " "}, code: ExitUsage, stderr: "--tag is empty"},
		{name: "no keys on stdin", args: []string{"recall", "-c", "x", "--keys", "-"}, stdin: "\n", code: ExitUsage, stderr: "--keys names no key"},
		{name: "recall arguments", args: []string{"recall", "--tag", "a", "extra"}, code: ExitUsage, stderr: "recall takes no arguments"},
		{name: "send without text", args: []string{"send", "-c", "x"}, code: ExitUsage, stderr: "no text"},
		{name: "send empty stdin", args: []string{"send", "-c", "x", "-"}, stdin: "\n\n", code: ExitUsage, stderr: "the text is empty"},
		{name: "send stdin too large", args: []string{"send", "-c", "x", "-"}, stdin: strings.Repeat("a", maxStdin+1), code: ExitUsage, stderr: "stdin is over"},
		{name: "list without a chat", args: []string{"list"}, code: ExitUsage, stderr: "which chat?"},
		{name: "list with two chats", args: []string{"list", "-c", "x", "-u", "y"}, code: ExitUsage, stderr: "not both"},
		{name: "list limit 0", args: []string{"list", "-c", "x", "--limit", "0"}, code: ExitUsage, stderr: "--limit wants a number from 1"},
		{name: "audit limit 0", args: []string{"audit", "--limit", "0"}, code: ExitUsage, stderr: "--limit wants a number from 1"},
		{name: "audit arguments", args: []string{"audit", "x"}, code: ExitUsage, stderr: "audit takes no arguments"},
		{name: "list arguments", args: []string{"list", "-c", "x", "y"}, code: ExitUsage, stderr: "list takes no arguments"},
		{name: "serve arguments", args: []string{"serve", "now"}, code: ExitUsage, stderr: "serve takes no arguments"},
		{name: "healthcheck arguments", args: []string{"healthcheck", "now"}, code: ExitUsage, stderr: "healthcheck takes no arguments"},
		{name: "server refuses a field", args: []string{"send", "-c", "x", "--chat-type", "channel", "hi"}, code: ExitUsage, stderr: "400 invalid_request: chatType: want group, private or oto"},
		{name: "server refuses the limit", args: []string{"audit", "--limit", "5000"}, code: ExitUsage, stderr: "400 invalid_request: limit"},
		{name: "wrong token", vars: map[string]string{envToken: "wrong-token"}, args: []string{"audit"}, code: ExitUsage, stderr: "401 unauthorized"},
		{name: "duplicate", args: []string{"send", "-c", "cidDup==", "only once"}, code: ExitFailed, stderr: "409 duplicate: .*key \"" + first + "\"\\) \\(request"},
		{
			name: "burst", args: []string{"send", "-c", "cidBurst==", "the one too many"}, code: ExitFailed, stderr: `429 burst: .*\(retry after [0-9hms]+; request \w+\)`,
			before: func() {
				for _, text := range []string{"b1", "b2", "b3"} {
					sendKey(t, s, "cidBurst==", text)
				}
			},
		},
		{name: "unreachable", vars: unreachable, args: []string{"recall", "--tag", "x"}, code: ExitUnavailable, stderr: "connection refused"},
		{name: "unreachable list", vars: unreachable, args: []string{"list", "-c", "x"}, code: ExitUnavailable, stderr: "connection refused"},
		{name: "unreachable audit", vars: unreachable, args: []string{"audit"}, code: ExitUnavailable, stderr: "connection refused"},
		{
			name: "DingTalk refuses: 502", args: []string{"send", "-c", "cidStopped==", "hi"}, code: ExitUnavailable, stderr: "502 bot.stopped: the bot is off",
			before: func() {
				s.Fake.FailCallWith(dingtalktest.PathGroupSend, 1, http.StatusBadRequest, "bot.stopped", "the bot is off")
			},
		},
		{
			name: "no answer in time", args: []string{"send", "-c", "cidSlow==", "--timeout", "100ms", "hi"}, code: ExitUnavailable, stderr: "deadline exceeded",
			before: func() { s.Fake.SetLatency(5 * time.Second) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			defer s.Fake.SetLatency(0)
			r := runCLI(t, s, tc.stdin, tc.vars, tc.args...)
			require.Equal(t, tc.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			require.Regexp(t, tc.stderr, r.stderr)
			require.Empty(t, r.stdout)
			if tc.code == ExitUsage {
				require.Contains(t, r.stderr, "--help' for usage.")
			}
			require.NotContains(t, r.stderr, s.Token)
		})
	}
}

func TestHelp(t *testing.T) {
	secret := map[string]string{envToken: "do-not-print-me-42", envURL: "http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"send", "--help"}, {"recall", "-h"}, {"list", "--help"},
		{"audit", "--help"}, {"serve", "--help"}, {"healthcheck", "--help"}, {"help", "recall"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCLI(t, nil, "", secret, args...)
			require.Equal(t, ExitOK, r.code, r.stderr)
			require.Contains(t, r.stdout, "Example")
			require.NotContains(t, r.stdout, "do-not-print-me-42")
			if args[0] != "serve" && args[0] != "healthcheck" {
				require.Regexp(t, `(?s)Exit codes.*\b3\b`, r.stdout)
			}
		})
	}
	r := runCLI(t, nil, "", nil, "--version")
	require.Equal(t, ExitOK, r.code)
	require.Regexp(t, `^dingrecall version \d+\.\d+\.\d+\n$`, r.stdout)
}

func TestServeAndHealthcheck(t *testing.T) {
	s := newServer(t, nil)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	require.NoError(t, err)

	r := runCLI(t, nil, "", map[string]string{"LISTEN_ADDR": "127.0.0.1:" + port}, "healthcheck")
	require.Equal(t, ExitOK, r.code, r.stderr)

	_, closedPort, err := net.SplitHostPort(strings.TrimPrefix(closedURL(t), "http://"))
	require.NoError(t, err)
	r = runCLI(t, nil, "", map[string]string{"LISTEN_ADDR": "127.0.0.1:" + closedPort}, "healthcheck")
	require.Equal(t, 1, r.code)

	// A server that cannot start exits 1, with or without "serve".
	bad := map[string]string{"LISTEN_ADDR": "127.0.0.1:" + port, "API_TOKEN": "t", "LOG_LEVEL": "error"}
	for _, args := range [][]string{{"serve"}, nil} {
		r = runCLI(t, nil, "", bad, args...)
		require.Equal(t, ExitFailed, r.code)
		require.Contains(t, r.stderr, "LISTEN_ADDR 127.0.0.1:"+port)
	}
}

// newBotsServer runs the app with the bots named names beside the default
// one (a BOTS_FILE), on a fake DingTalk that knows each bot's app.
func newBotsServer(t *testing.T, names ...string) *server {
	t.Helper()
	path, opts := apptest.BotsFile(t, names...)
	return apptest.New(t, testToken, map[string]string{"BOTS_FILE": path}, opts...)
}

func TestSeveralBots(t *testing.T) {
	s := newBotsServer(t, "alerts", "deploys")
	viaAlerts := map[string]string{envBot: "alerts"}
	byDefault := sendKey(t, s, "cidShared==", "from default", "-t", "rel-2")
	byAlerts := sendKey(t, s, "cidShared==", "from alerts", "-t", "rel-2", "--bot", "alerts")
	r := runCLI(t, s, "", viaAlerts, "send", "-c", "cidShared==", "--bot", "deploys", "-t", "rel-2", "--json", "from deploys")
	require.Equal(t, ExitOK, r.code, r.stderr)
	var sent client.Sent
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sent))
	require.Equal(t, "deploys", sent.Bot, "the flag beats the environment")
	byDeploys := sent.ProcessQueryKey
	r = runCLI(t, s, "", viaAlerts, "send", "-c", "cidShared==", "from alerts by the environment")
	require.Equal(t, ExitOK, r.code, r.stderr)
	byAlertsEnv := strings.TrimSpace(r.stdout)
	for key, robot := range map[string]string{byAlerts: "robot-alerts", byAlertsEnv: "robot-alerts", byDeploys: "robot-deploys"} {
		m, ok := s.Fake.Message(key)
		require.True(t, ok)
		require.Equal(t, robot, m.RobotCode, "sent through its own app")
	}

	t.Run("list shows every bot's with a BOT column", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "list", "-c", "cidShared==")
		require.Equal(t, ExitOK, r.code, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 5)
		require.Regexp(t, `^KEY\s+BOT\s+SENT\s+TAG\s+CONTENT\s+NOTE$`, lines[0])
		require.Regexp(t, `^`+byAlertsEnv+`\s+alerts\s+\S+Z\s+-\s+"from alerts by the environment"\s*$`, lines[1])
		require.Regexp(t, `^`+byDeploys+`\s+deploys\s+\S+Z\s+rel-2\s+"from deploys"\s*$`, lines[2])
		require.Regexp(t, `^`+byAlerts+`\s+alerts\s+`, lines[3])
		require.Regexp(t, `^`+byDefault+`\s+default\s+`, lines[4])
	})
	t.Run("list of one bot", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "list", "-c", "cidShared==", "--bot", "default")
		require.Equal(t, ExitOK, r.code, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 2)
		require.Regexp(t, `^KEY\s+SENT\s+TAG\s+CONTENT\s+NOTE$`, lines[0], "the default bot's table is as before")
		require.Regexp(t, `^`+byDefault+`\s+\S+Z\s+rel-2\s+"from default"\s*$`, lines[1])

		r = runCLI(t, s, "", viaAlerts, "list", "-c", "cidShared==", "--json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var msgs []client.TrackedMessage
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &msgs))
		require.Len(t, msgs, 2)
		for _, m := range msgs {
			require.Equal(t, "alerts", m.Bot)
		}
	})
	t.Run("recall takes only the bot's messages", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "recall", "--tag", "rel-2", "--bot", "alerts")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "recalled "+byAlerts+"\n1 selected, 1 recalled, 0 failed\n", r.stdout)
		r = runCLI(t, s, "", viaAlerts, "recall", "-c", "cidShared==", "--last", "5")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "recalled "+byAlertsEnv+"\n1 selected, 1 recalled, 0 failed\n", r.stdout)
		r = runCLI(t, s, "", nil, "recall", "--tag", "rel-2")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "recalled "+byDefault+"\n1 selected, 1 recalled, 0 failed\n", r.stdout, "no bot named: the default bot")
		_, ok := s.Fake.Message(byDeploys)
		require.True(t, ok)
		require.NotContains(t, s.Fake.Recalled(), byDeploys)
	})
	t.Run("audit names the bot", func(t *testing.T) {
		r := runCLI(t, s, "", nil, "audit")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Regexp(t, `^\S+Z recall by api in cidShared==: tag rel-2\n  recalled `+byDefault+` "from default"\n`+
			`\S+Z recall by api in cidShared== for alerts: last 5\n  recalled `+byAlertsEnv+` .+\n`+
			`\S+Z recall by api in cidShared== for alerts: tag rel-2\n  recalled `+byAlerts+` "from alerts"\n$`, r.stdout)

		r = runCLI(t, s, "", nil, "audit", "--bot", "alerts", "--json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var entries []client.AuditEntry
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &entries))
		require.Len(t, entries, 2)
		for _, e := range entries {
			require.Equal(t, "alerts", e.Bot)
		}
		r = runCLI(t, s, "", nil, "audit", "--bot", "deploys")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "no audit entries\n", r.stdout)
	})
	t.Run("an unknown bot is a usage error", func(t *testing.T) {
		for _, args := range [][]string{
			{"send", "-c", "cidShared==", "--bot", "nobody", "hi"},
			{"recall", "--tag", "rel-2", "--bot", "nobody"},
			{"list", "-c", "cidShared==", "--bot", "nobody"},
			{"audit", "--bot", "nobody"},
		} {
			r := runCLI(t, s, "", nil, args...)
			require.Equal(t, ExitUsage, r.code, "%v: %s", args, r.stderr)
			require.Contains(t, r.stderr, `400 invalid_request: no bot is called "nobody"`, args)
			require.NotContains(t, r.stderr, "--help", "the answer lists the bots; --help cannot")
			require.Empty(t, r.stdout)
		}
		r := runCLI(t, s, "", nil, "audit", "--bot", "al erts")
		require.Equal(t, ExitUsage, r.code)
		require.Contains(t, r.stderr, "invalid option: WithBot")
	})
}

func TestDingTalkRefusalExitCodes(t *testing.T) {
	s := newBotsServer(t, "alerts")
	alerts := map[string]string{envBot: "alerts"}
	// Each bot has its token before DingTalk starts refusing.
	sendKey(t, s, "cidQ==", "warm-up")
	sendKey(t, s, "cidQ==", "warm-up alerts", "--bot", "alerts")

	s.Fake.SetOrgQuota(apptest.BotAppKey("alerts"), 0)
	r := runCLI(t, s, "", alerts, "send", "-c", "cidQ==", "over quota")
	require.Equal(t, ExitQuota, r.code, r.stderr)
	require.Regexp(t, `503 dingtalk_quota_exhausted: .*starts again on \d{4}-\d{2}-01 \(request \w+\)\n$`, r.stderr)
	require.NotContains(t, r.stderr, "retry after")
	require.Empty(t, r.stdout)
	sendKey(t, s, "cidQ==", "the default app still has quota")
	s.Fake.SetOrgQuota(apptest.BotAppKey("alerts"), -1)

	s.Fake.ServeBanPage(1)
	r = runCLI(t, s, "", alerts, "send", "-c", "cidQ==", "banned")
	require.Equal(t, ExitUnavailable, r.code, r.stderr)
	require.Regexp(t, `503 dingtalk_ip_banned: .*\(retry after 5m0s; request \w+\)\n$`, r.stderr)
	require.Empty(t, r.stdout)
}
