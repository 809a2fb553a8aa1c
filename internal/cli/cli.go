// Package cli is dingrecall's command line: "serve" (the default) and
// "healthcheck" run the server, and "send", "recall", "list" and "audit"
// call a running server's API through package client, so a deploy pipeline
// can post and recall in one line of shell. Run parses the arguments and
// answers the process's exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v3"

	"github.com/dingrecall/dingrecall/client"
	"github.com/dingrecall/dingrecall/internal/app"
)

// The exit codes of the API commands, so a pipeline can branch on them.
const (
	// ExitOK: everything asked was done.
	ExitOK = 0
	// ExitFailed: done in part or refused: some keys failed to recall, a
	// send was refused as a duplicate (409) or by the burst guard (429), or
	// the server could not start.
	ExitFailed = 1
	// ExitUsage: bad arguments or flags, no server URL or token, or the
	// server refused the request as wrong (400, 401, 404, 413).
	ExitUsage = 2
	// ExitUnavailable: the server was not reached or did not answer in
	// time, or answered 5xx (DingTalk refused or was down, DingTalk banned
	// the server's address for 5 minutes, the store was down): try again
	// later.
	ExitUnavailable = 3
	// ExitQuota: DingTalk refused the call because the organisation's
	// monthly API quota is used up (503 dingtalk_quota_exhausted): no retry
	// succeeds before the reset date the message names.
	ExitQuota = 4
)

// Environment variables the API commands read when the flag is not given.
const (
	envURL   = "DINGRECALL_URL"
	envToken = "DINGRECALL_TOKEN"
	envBot   = "DINGRECALL_BOT"
)

// Env is what a run reads and writes besides its arguments.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment: DINGRECALL_URL, DINGRECALL_TOKEN and
	// DINGRECALL_BOT here, the server's settings for serve and healthcheck.
	Getenv func(string) string
}

// exitError is an error with the exit code it ends the run with.
type exitError struct {
	code int
	err  error
	// named: the message names its source already (the client's errors
	// start with "dingrecall API:" or "dingrecall client:").
	named bool
	// answered: the server refused a value --help cannot tell (a bot
	// name: the server's answer lists the bots there are).
	answered bool
}

// Error is the message of the error it wraps.
func (e *exitError) Error() string { return e.err.Error() }

// Unwrap is the error it wraps.
func (e *exitError) Unwrap() error { return e.err }

// usageError is an ExitUsage error.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// Run runs dingrecall with args (without the program name) and returns the
// exit code. With no arguments it serves, as "serve" does. ctx ends the
// server, or cuts short an API call.
func Run(ctx context.Context, args []string, env Env) int {
	root := rootCommand(env)
	err := root.Run(ctx, append([]string{"dingrecall"}, args...))
	if err == nil {
		return ExitOK
	}
	code, named, answered := ExitUsage, false, false // an error not marked otherwise is the library's: a bad flag or argument
	var ee *exitError
	if errors.As(err, &ee) {
		code, named, answered = ee.code, ee.named, ee.answered
	}
	switch {
	case errors.Is(err, errReported):
	case named:
		fmt.Fprintln(env.Stderr, err)
	default:
		fmt.Fprintln(env.Stderr, "dingrecall:", err)
	}
	if code == ExitUsage && !answered {
		fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", commandPath(args))
	}
	return code
}

// errReported marks an error whose message was written already.
var errReported = errors.New("reported")

// commandPath is "dingrecall" and the subcommand args name, if any.
func commandPath(args []string) string {
	for _, a := range args {
		for _, c := range commandNames {
			if a == c {
				return "dingrecall " + a
			}
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
	}
	return "dingrecall"
}

// commandNames are the subcommands.
var commandNames = []string{"serve", "healthcheck", "send", "recall", "list", "audit"}

// rootHelp is the description of dingrecall itself.
const rootHelp = `Without a command, dingrecall serves: it runs the DingTalk bot and its HTTP API
with the settings in the environment (see README.md). send, recall, list and
audit call a running server's API; they take the server from --url or
$DINGRECALL_URL and its API_TOKEN from --token or $DINGRECALL_TOKEN, and
the bot (of a server with several, its BOTS_FILE) from --bot or
$DINGRECALL_BOT.

Exit codes of send, recall, list and audit:
  0  everything asked was done
  1  done in part or refused: some keys failed to recall, or a send was
     refused as a duplicate (409) or by the burst guard (429)
  2  usage error: bad flags or arguments, no URL or token, or the server
     refused the request (400, 401, 404, 413; an unknown --bot)
  3  the server was not reached or did not answer in time, or answered 5xx
     (DingTalk's 5-minute IP ban among them): try again later
  4  DingTalk's monthly API quota is used up (503 dingtalk_quota_exhausted):
     nothing goes out before the reset date printed
serve exits 1 when the server cannot start; healthcheck exits 1 when the
local /healthz does not answer 200.

Examples:
  export DINGRECALL_URL=https://dingrecall.example.com DINGRECALL_TOKEN=...
  dingrecall send -c cidAbC123== --tag deploy-42 "deploying v1.2.3 to prod"
  dingrecall recall --tag deploy-42 --dry-run
  dingrecall recall --tag deploy-42
  dingrecall send --bot alerts -c cidAbC123== "disk 91% on db-1"`

// rootCommand builds the command tree for one run.
func rootCommand(env Env) *ucli.Command {
	serve := serveCommand(env)
	root := &ucli.Command{
		Name:        "dingrecall",
		Usage:       "a DingTalk bot that records what it posts so it can be recalled",
		UsageText:   "dingrecall [command] [flags]",
		Description: rootHelp,
		Version:     app.Version,
		Reader:      env.Stdin,
		Writer:      env.Stdout,
		ErrWriter:   env.Stderr,
		// The exit code is Run's to decide, not the library's.
		ExitErrHandler: func(context.Context, *ucli.Command, error) {},
		Commands: []*ucli.Command{
			serve,
			healthcheckCommand(env),
			sendCommand(env),
			recallCommand(env),
			listCommand(env),
			auditCommand(env),
		},
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			if cmd.Args().Present() {
				return usageError("unknown command %q", cmd.Args().First())
			}
			return serve.Action(ctx, cmd)
		},
	}
	setUsageErrors(root)
	return root
}

// setUsageErrors makes flag parsing errors of cmd and its subcommands
// usage errors, reported once by Run.
func setUsageErrors(cmd *ucli.Command) {
	cmd.OnUsageError = func(_ context.Context, _ *ucli.Command, err error, _ bool) error {
		return &exitError{code: ExitUsage, err: err}
	}
	for _, sub := range cmd.Commands {
		setUsageErrors(sub)
	}
}

// serveCommand is "dingrecall serve".
func serveCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "serve",
		Usage:     "run the bot and its HTTP API (the default)",
		UsageText: "dingrecall serve",
		Description: `Runs the server with the settings in the environment (LISTEN_ADDR,
DINGTALK_APP_KEY, API_TOKEN, ...; see README.md) until SIGINT or SIGTERM.
Without DINGTALK_APP_KEY it runs the sandbox: a fake DingTalk in the process.
Exits 1 when the server cannot start.

Examples:
  dingrecall serve
  LISTEN_ADDR=:9090 API_TOKEN=secret dingrecall`,
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			if cmd.Args().Present() {
				return usageError("serve takes no arguments, got %q", cmd.Args().Slice())
			}
			if err := app.Run(ctx, nil, env.Getenv); err != nil {
				return &exitError{code: ExitFailed, err: err}
			}
			return nil
		},
	}
}

// healthcheckCommand is "dingrecall healthcheck".
func healthcheckCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "healthcheck",
		Usage:     "exit 0 if the local server's /healthz answers 200",
		UsageText: "dingrecall healthcheck",
		Description: `Asks http://127.0.0.1:<port of LISTEN_ADDR>/healthz, for a container's
health check (the image has no curl). Exits 0 when it answers 200, else 1.

Example (Dockerfile):
  HEALTHCHECK CMD ["/dingrecall", "healthcheck"]`,
		Action: func(_ context.Context, cmd *ucli.Command) error {
			if cmd.Args().Present() {
				return usageError("healthcheck takes no arguments, got %q", cmd.Args().Slice())
			}
			if code := app.Healthcheck(env.Getenv, env.Stderr); code != 0 {
				// Healthcheck said why on stderr.
				return &exitError{code: code, err: errReported}
			}
			return nil
		},
	}
}

// envSource is a flag's value from the environment as Env reads it.
type envSource struct {
	key    string
	getenv func(string) string
}

// fromEnv is the value source of a flag read from key.
func fromEnv(env Env, key string) ucli.ValueSourceChain {
	return ucli.NewValueSourceChain(envSource{key: key, getenv: env.Getenv})
}

// Lookup is the variable's value; an empty one counts as unset.
func (s envSource) Lookup() (string, bool) {
	v := s.getenv(s.key)
	return v, v != ""
}

// String names the source, for the library's messages.
func (s envSource) String() string { return "environment variable " + s.key }

// GoString names the source, for the library's messages.
func (s envSource) GoString() string { return "envSource{" + s.key + "}" }

// IsFromEnv tells the help that the source is the environment.
func (s envSource) IsFromEnv() bool { return true }

// Key is the variable's name, which the help shows.
func (s envSource) Key() string { return s.key }

// serverFlags are the flags of every API command: which server, with what
// token, how long to wait.
func serverFlags(env Env) []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "url", Usage: "the dingrecall server's base URL, such as https://dingrecall.example.com", Sources: fromEnv(env, envURL)},
		&ucli.StringFlag{Name: "token", Usage: "the server's API_TOKEN (prefer the environment variable: flags show in ps)", Sources: fromEnv(env, envToken), HideDefault: true},
		&ucli.DurationFlag{Name: "timeout", Usage: "how long one call may take", Value: client.DefaultTimeout},
	}
}

// botFlag is --bot of an API command; usage says what it does there.
func botFlag(env Env, usage string) ucli.Flag {
	return &ucli.StringFlag{Name: "bot", Usage: usage, Sources: fromEnv(env, envBot)}
}

// newClient is the client the server flags and --bot of cmd describe.
func newClient(cmd *ucli.Command) (*client.Client, error) {
	url, token := cmd.String("url"), cmd.String("token")
	switch {
	case url == "":
		return nil, usageError("no server: give --url or set %s", envURL)
	case token == "":
		return nil, usageError("no token: give --token or set %s", envToken)
	}
	opts := []client.Option{client.WithTimeout(cmd.Duration("timeout"))}
	if bot := cmd.String("bot"); bot != "" {
		opts = append(opts, client.WithBot(bot))
	}
	c, err := client.New(url, token, opts...)
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err, named: true}
	}
	return c, nil
}

// callError is the exit error of a failed API call.
func callError(err error) error {
	var apiErr *client.Error
	switch {
	case errors.Is(err, client.ErrQuotaExhausted) && errors.As(err, &apiErr):
		return &exitError{code: ExitQuota, err: describe(apiErr), named: true}
	case errors.As(err, &apiErr):
		return &exitError{code: statusCode(apiErr.Status), err: describe(apiErr), named: true, answered: apiErr.Field == "bot"}
	case errors.Is(err, client.ErrInvalidArgument):
		return &exitError{code: ExitUsage, err: err, named: true}
	}
	return &exitError{code: ExitUnavailable, err: err, named: true}
}

// statusCode is the exit code of an API error status.
func statusCode(status int) int {
	switch {
	case status >= 500:
		return ExitUnavailable
	case status == 409 || status == 429:
		return ExitFailed
	}
	return ExitUsage
}

// describe is an API error with what a caller can do about it.
func describe(e *client.Error) error {
	var more []string
	if e.ProcessQueryKey != "" && !strings.Contains(e.Message, e.ProcessQueryKey) { // said once is enough
		more = append(more, "the first message's key: "+e.ProcessQueryKey)
	}
	switch {
	case errors.Is(e, client.ErrQuotaExhausted):
		// Retry-After is capped; the reset day is what counts.
		if day := e.ResetsOn.Format(time.DateOnly); !e.ResetsOn.IsZero() && !strings.Contains(e.Message, day) {
			more = append(more, "DingTalk counts afresh on "+day)
		}
	case e.Retryable():
		if e.RetryAfter > 0 {
			more = append(more, "retry after "+e.RetryAfter.Round(time.Second).String())
		} else {
			more = append(more, "retry later")
		}
	}
	if e.RequestID != "" {
		more = append(more, "request "+e.RequestID)
	}
	if len(more) == 0 {
		return e
	}
	return fmt.Errorf("%w (%s)", e, strings.Join(more, "; "))
}
