// Command dingrecall runs a DingTalk chat-ops bot that records every message
// it sends and lets authorised people recall them: "recall 3" in a group,
// "recall 5 in <chat>" from a one-to-one chat, or POST /api/v1/recall.
// The server itself is package internal/app; this file reads the arguments,
// wires the signals and turns the outcome into an exit code.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dingrecall/dingrecall/internal/app"
)

// usage is what "dingrecall help" prints.
const usage = `usage: dingrecall              serve (settings come from the environment; see README.md)
       dingrecall healthcheck  exit 0 if the local /healthz answers 200
`

func main() {
	switch args := os.Args[1:]; {
	case len(args) == 0:
	case len(args) == 1 && args[0] == "healthcheck":
		os.Exit(app.Healthcheck(os.Getenv))
	case len(args) == 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help"):
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "dingrecall: unknown arguments %q\n%s", args, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, nil, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "dingrecall:", err)
		stop()
		os.Exit(1)
	}
}
