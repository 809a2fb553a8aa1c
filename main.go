// Command dingrecall runs a DingTalk chat-ops bot that records every message
// it sends and lets authorised people recall them: "recall 3" in a group,
// "recall 5 in <chat>" from a one-to-one chat, POST /api/v1/recall, or
// "dingrecall recall --tag deploy-42" from a pipeline. The server is package
// internal/app and the command line package internal/cli; this file wires
// the signals and turns the outcome into an exit code.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dingrecall/dingrecall/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
