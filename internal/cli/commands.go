package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/dingrecall/dingrecall/client"
)

// maxStdin is the most a command reads from stdin: the API takes no body
// over 1 MiB.
const maxStdin = 1 << 20

// withServer adds the server flags to flags.
func withServer(env Env, flags ...ucli.Flag) []ucli.Flag {
	return append(flags, serverFlags(env)...)
}

// jsonFlag is --json.
func jsonFlag() ucli.Flag {
	return &ucli.BoolFlag{Name: "json", Usage: "print the answer as one line of JSON"}
}

// sendCommand is "dingrecall send".
func sendCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "send",
		Usage:     "post a message through dingrecall and print its key",
		UsageText: "dingrecall send (-c CONVERSATION | -u STAFF_ID) [flags] (TEXT... | -)",
		Description: `Posts TEXT (the arguments joined by spaces, or stdin with "-") to a chat
and prints the processQueryKey dingrecall recorded it under, or the whole
answer with --json. Tag it to recall everything a job posted at once.
With --bot (or $DINGRECALL_BOT) it goes out through that bot of a server
with several (its BOTS_FILE); without, through the server's default bot.

Exit codes: 0 sent; 1 refused as a duplicate (the first key is printed) or
by the burst guard; 2 usage error or a field the server refused (an
unknown --bot among them); 3 server not reached, or DingTalk refused (502),
was down or banned the server's address for 5 minutes; 4 DingTalk's monthly
API quota is used up (the reset date is printed).

Examples:
  dingrecall send -c cidAbC123== --tag deploy-42 "deploying v1.2.3 to prod"
  git log -1 --format=%B | dingrecall send -c cidAbC123== --tag deploy-42 -
  dingrecall send -c cidAbC123== --ttl 10m "maintenance: db-1 restarts now"
  dingrecall send -u 0420506555 --json "your build is done"
  dingrecall send -c cidAbC123== --markdown "Release" "**v1.2.3** is out"
  dingrecall send --bot alerts -c cidAbC123== "disk 91% on db-1"`,
		Flags: withServer(env,
			&ucli.StringFlag{Name: "conversation", Aliases: []string{"c"}, Usage: "the group or private chat's conversation ID"},
			&ucli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "a staff ID: send one-to-one (chat type oto)"},
			&ucli.StringFlag{Name: "chat-type", Usage: "group, private or oto (default: group, or oto with --user)"},
			&ucli.StringFlag{Name: "tag", Aliases: []string{"t"}, Usage: "a label to recall the message by later"},
			&ucli.DurationFlag{Name: "ttl", Usage: "recall the message by itself after this long, such as 10m (under 24h)"},
			&ucli.StringFlag{Name: "markdown", Usage: "send TEXT as markdown, with this title"},
			botFlag(env, "send through this bot of the server's BOTS_FILE (default: the server's default bot)"),
			jsonFlag(),
		),
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			text, err := messageText(cmd.Args().Slice(), env.Stdin)
			if err != nil {
				return err
			}
			m := client.Message{
				ConversationID: cmd.String("conversation"), UserID: cmd.String("user"),
				ChatType: client.ChatType(cmd.String("chat-type")), Tag: cmd.String("tag"), TTL: cmd.Duration("ttl"),
			}
			if m.UserID != "" && m.ChatType == "" {
				m.ChatType = client.ChatOTO
			}
			if title := cmd.String("markdown"); cmd.IsSet("markdown") {
				m.Markdown = &client.Markdown{Title: title, Text: text}
			} else {
				m.Text = text
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			sent, err := c.Send(ctx, m)
			if err != nil {
				return callError(err)
			}
			if cmd.Bool("json") {
				return printJSON(env.Stdout, sent)
			}
			_, err = fmt.Fprintln(env.Stdout, sent.ProcessQueryKey)
			return written(err)
		},
	}
}

// messageText is the text of a send: its arguments joined, or stdin for
// "-", without the trailing newline.
func messageText(args []string, stdin io.Reader) (string, error) {
	var text string
	switch {
	case len(args) == 0:
		return "", usageError(`no text: give it as arguments, or "-" to read stdin`)
	case len(args) == 1 && args[0] == "-":
		raw, err := readStdin(stdin)
		if err != nil {
			return "", err
		}
		text = strings.TrimRight(raw, "\r\n")
	default:
		text = strings.Join(args, " ")
	}
	if strings.TrimSpace(text) == "" {
		return "", usageError("the text is empty")
	}
	return text, nil
}

// readStdin reads stdin, at most maxStdin bytes.
func readStdin(stdin io.Reader) (string, error) {
	if stdin == nil {
		return "", usageError("no stdin to read")
	}
	raw, err := io.ReadAll(io.LimitReader(stdin, maxStdin+1))
	switch {
	case err != nil:
		return "", usageError("reading stdin: %w", err)
	case len(raw) > maxStdin:
		return "", usageError("stdin is over %d bytes", maxStdin)
	}
	return string(raw), nil
}

// recallCommand is "dingrecall recall".
func recallCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "recall",
		Usage:     "recall messages by tag, key, count or age",
		UsageText: "dingrecall recall (--tag TAG | --last N | --keys K1,K2 | --since 10m) [-c CONVERSATION | -u STAFF_ID] [--dry-run] [flags]",
		Description: `Recalls the messages one selection takes, and prints each key with what
happened to it ("recalled KEY", or "failed KEY: reason"; with --dry-run,
"would recall KEY") and a count. Give exactly one of --tag, --last, --keys
and --since. --last, --keys and --since need the chat (-c, or -u for a
one-to-one chat); --tag without one takes every chat. One call takes at most
the server's RECALL_MAX messages, the newest first; run it again for more.
A bot takes only what it sent: --bot (or $DINGRECALL_BOT) names the bot of
a server with several; without, the server's default bot.

Exit codes: 0 all recalled (or the dry run answered); 1 some keys failed
(DingTalk's quota refusal or IP ban among the reasons); 2 usage error or a
field the server refused (an unknown --bot among them); 3 server not reached
or 5xx; 4 DingTalk's monthly API quota is used up.

Examples:
  dingrecall recall --tag deploy-42 --dry-run
  dingrecall recall --tag deploy-42
  dingrecall recall -c cidAbC123== --last 3
  dingrecall recall -c cidAbC123== --since 15m --json
  dingrecall recall -c cidAbC123== --keys key1,key2
  dingrecall recall -c cidAbC123== --keys - < keys.txt   # one key a line
  dingrecall recall --bot deploys --tag deploy-42`,
		Flags: withServer(env,
			&ucli.StringFlag{Name: "tag", Aliases: []string{"t"}, Usage: "the messages sent with this tag"},
			&ucli.IntFlag{Name: "last", Aliases: []string{"n"}, Usage: "the newest N messages of the chat (not the bot's command replies)"},
			&ucli.StringSliceFlag{Name: "keys", Aliases: []string{"k"}, Usage: `these processQueryKeys (comma-separated or repeated; "-" reads them from stdin)`},
			&ucli.DurationFlag{Name: "since", Usage: "what was sent to the chat in the last DURATION, such as 10m (1s to 24h)"},
			&ucli.StringFlag{Name: "conversation", Aliases: []string{"c"}, Usage: "the chat's conversation ID"},
			&ucli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "a staff ID: the one-to-one chat with this person"},
			&ucli.BoolFlag{Name: "dry-run", Usage: "only print what would be recalled"},
			botFlag(env, "recall what this bot of the server's BOTS_FILE sent (default: the server's default bot)"),
			jsonFlag(),
		),
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			if cmd.Args().Present() {
				return usageError("recall takes no arguments, got %q (keys go in --keys)", cmd.Args().Slice())
			}
			sel, err := selection(cmd, env.Stdin)
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			recall := c.Recall
			if cmd.Bool("dry-run") {
				recall = c.DryRun
			}
			res, err := recall(ctx, sel)
			if err != nil {
				return callError(err)
			}
			if cmd.Bool("json") {
				err = printJSON(env.Stdout, res)
			} else {
				err = printRecall(env.Stdout, res)
			}
			if err != nil {
				return err
			}
			if !res.Complete() {
				return &exitError{code: ExitFailed, err: errReported}
			}
			return nil
		},
	}
}

// selection is the recall selection of cmd's flags.
func selection(cmd *ucli.Command, stdin io.Reader) (client.Selection, error) {
	sel := client.Selection{ConversationID: cmd.String("conversation"), UserID: cmd.String("user")}
	var given []string
	for _, name := range []string{"tag", "last", "keys", "since"} {
		if cmd.IsSet(name) {
			given = append(given, "--"+name)
		}
	}
	switch len(given) {
	case 0:
		return sel, usageError("say what to recall: give one of --tag, --last, --keys and --since")
	case 1:
	default:
		return sel, usageError("give only one of --tag, --last, --keys and --since, got %s", strings.Join(given, " and "))
	}
	sel.Tag, sel.Last, sel.Since = cmd.String("tag"), cmd.Int("last"), cmd.Duration("since")
	switch given[0] {
	case "--tag":
		if strings.TrimSpace(sel.Tag) == "" {
			return sel, usageError("--tag is empty")
		}
	case "--last":
		if sel.Last < 1 {
			return sel, usageError("--last wants a number from 1, got %d", sel.Last)
		}
	case "--since":
		if sel.Since <= 0 {
			return sel, usageError("--since wants a duration such as 10m, got %v", sel.Since)
		}
	case "--keys":
		keys, err := keyList(cmd.StringSlice("keys"), stdin)
		if err != nil {
			return sel, err
		}
		sel.Keys = keys
	}
	return sel, nil
}

// keyList is the keys of --keys, read from stdin (whitespace-separated)
// when it is "-".
func keyList(flag []string, stdin io.Reader) ([]string, error) {
	if len(flag) == 1 && flag[0] == "-" {
		raw, err := readStdin(stdin)
		if err != nil {
			return nil, err
		}
		flag = strings.Fields(raw)
	}
	var keys []string
	for _, k := range flag {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, usageError("--keys names no key")
	}
	return keys, nil
}

// listCommand is "dingrecall list".
func listCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "list",
		Usage:     "list the messages dingrecall holds for a chat",
		UsageText: "dingrecall list (-c CONVERSATION | -u STAFF_ID) [--bot BOT] [--limit N] [--json]",
		Description: `Lists the messages the server holds for one chat (those it can still
recall), newest first: key, time sent, tag, the start of the content, and
notes (a command reply, when a TTL recalls it, why its last recall failed).
Without --bot (or $DINGRECALL_BOT) it lists every bot's messages, with a BOT
column when any is not the default bot's; with it, that bot's only.

Exit codes: 0 listed; 2 usage error or refused (an unknown --bot among
them); 3 server not reached or 5xx.

Examples:
  dingrecall list -c cidAbC123==
  dingrecall list -c cidAbC123== --limit 5 --json | jq -r '.[].processQueryKey'
  dingrecall list -u 0420506555
  dingrecall list -c cidAbC123== --bot alerts`,
		Flags: withServer(env,
			&ucli.StringFlag{Name: "conversation", Aliases: []string{"c"}, Usage: "the chat's conversation ID"},
			&ucli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "a staff ID: the one-to-one chat with this person"},
			&ucli.IntFlag{Name: "limit", Aliases: []string{"n"}, Usage: "at most this many (default: all)"},
			botFlag(env, "only this bot's messages (default: every bot's)"),
			jsonFlag(),
		),
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			if cmd.Args().Present() {
				return usageError("list takes no arguments, got %q", cmd.Args().Slice())
			}
			chat, err := oneChat(cmd)
			if err != nil {
				return err
			}
			if cmd.IsSet("limit") && cmd.Int("limit") < 1 {
				return usageError("--limit wants a number from 1, got %d", cmd.Int("limit"))
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			msgs, err := c.Messages(ctx, chat, cmd.Int("limit"))
			if err != nil {
				return callError(err)
			}
			if cmd.Bool("json") {
				return printJSON(env.Stdout, msgs)
			}
			return printMessages(env.Stdout, chat, msgs)
		},
	}
}

// oneChat is the chat of -c or -u, which must be given alone.
func oneChat(cmd *ucli.Command) (string, error) {
	conv, user := cmd.String("conversation"), cmd.String("user")
	switch {
	case conv != "" && user != "":
		return "", usageError("give -c or -u, not both")
	case conv == "" && user == "":
		return "", usageError("which chat? give -c CONVERSATION or -u STAFF_ID")
	case conv != "":
		return conv, nil
	}
	return user, nil
}

// auditCommand is "dingrecall audit".
func auditCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "audit",
		Usage:     "show the audit log of recalls and restores",
		UsageText: "dingrecall audit [-c CONVERSATION] [--bot BOT] [--limit N] [--json]",
		Description: `Prints the audit log, newest first: when, what (recall or restore), who
(a person, the API, a TTL or the burst guard), what was asked and each
message with its result. Without -c, every chat. Without --bot (or
$DINGRECALL_BOT), every bot's entries; an entry of a bot other than the
default one says "for BOT".

Exit codes: 0 printed; 2 usage error or refused (an unknown --bot among
them); 3 server not reached or 5xx.

Examples:
  dingrecall audit --limit 10
  dingrecall audit -c cidAbC123== --json
  dingrecall audit --bot deploys --limit 5`,
		Flags: withServer(env,
			&ucli.StringFlag{Name: "conversation", Aliases: []string{"c"}, Usage: "only entries concerning this chat (a staff ID for a one-to-one chat)"},
			&ucli.IntFlag{Name: "limit", Aliases: []string{"n"}, Usage: "at most this many entries, 1 to 1000 (default 50)"},
			botFlag(env, "only this bot's entries (default: every bot's)"),
			jsonFlag(),
		),
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			if cmd.Args().Present() {
				return usageError("audit takes no arguments, got %q", cmd.Args().Slice())
			}
			if cmd.IsSet("limit") && cmd.Int("limit") < 1 {
				return usageError("--limit wants a number from 1, got %d", cmd.Int("limit"))
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			entries, err := c.Audit(ctx, cmd.String("conversation"), cmd.Int("limit"))
			if err != nil {
				return callError(err)
			}
			if cmd.Bool("json") {
				return printJSON(env.Stdout, entries)
			}
			return printAudit(env.Stdout, entries)
		},
	}
}
