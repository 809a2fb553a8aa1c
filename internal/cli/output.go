package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/dingrecall/dingrecall/client"
)

// written is the exit error of a failed write to stdout: the work is done
// but its answer is lost.
func written(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitFailed, err: fmt.Errorf("writing the answer: %w", err)}
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	return written(json.NewEncoder(w).Encode(v))
}

// printRecall writes what a recall did: a line a key, then a count.
func printRecall(w io.Writer, res *client.RecallResult) error {
	var b strings.Builder
	recalled := make(map[string]bool, len(res.Recalled))
	for _, k := range res.Recalled {
		recalled[k] = true
	}
	for _, k := range res.Selected {
		switch reason, failed := res.Failed[k]; {
		case res.DryRun:
			fmt.Fprintf(&b, "would recall %s\n", k)
		case failed:
			fmt.Fprintf(&b, "failed %s: %s\n", k, reason)
		case recalled[k]:
			fmt.Fprintf(&b, "recalled %s\n", k)
		}
	}
	// Named keys the server did not hold are failed without being selected.
	for _, k := range slices.Sorted(maps.Keys(res.Failed)) {
		if !slices.Contains(res.Selected, k) {
			fmt.Fprintf(&b, "failed %s: %s\n", k, res.Failed[k])
		}
	}
	switch {
	case res.DryRun:
		fmt.Fprintf(&b, "dry run: %d selected, nothing recalled\n", len(res.Selected))
	case len(res.Selected) == 0 && len(res.Failed) == 0:
		b.WriteString("nothing to recall\n")
	default:
		fmt.Fprintf(&b, "%d selected, %d recalled, %d failed\n", len(res.Selected), len(res.Recalled), len(res.Failed))
	}
	if res.ResetsOn != "" {
		fmt.Fprintf(&b, "DingTalk's monthly API quota is used up; it starts again on %s\n", res.ResetsOn)
	}
	_, err := io.WriteString(w, b.String())
	return written(err)
}

// defaultBot is the name the API gives the server's default bot.
const defaultBot = "default"

// otherBot reports whether name is a bot other than the default one (an
// empty name, from a server without several bots, is the default).
func otherBot(name string) bool { return name != "" && name != defaultBot }

// printMessages writes a chat's messages as a table, with a BOT column
// after the key when any of them is not the default bot's.
func printMessages(w io.Writer, chat string, msgs []client.TrackedMessage) error {
	if len(msgs) == 0 {
		_, err := fmt.Fprintf(w, "nothing held for %s\n", chat)
		return written(err)
	}
	bots := slices.ContainsFunc(msgs, func(m client.TrackedMessage) bool { return otherBot(m.Bot) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if bots {
		fmt.Fprint(tw, "KEY\tBOT\tSENT\tTAG\tCONTENT\tNOTE\n")
	} else {
		fmt.Fprint(tw, "KEY\tSENT\tTAG\tCONTENT\tNOTE\n")
	}
	for _, m := range msgs {
		var notes []string
		if m.Reply {
			notes = append(notes, "command reply")
		}
		if !m.ExpiresAt.IsZero() {
			notes = append(notes, "auto-recall at "+m.ExpiresAt.UTC().Format(time.RFC3339))
		}
		if m.Failure != "" {
			notes = append(notes, "last recall failed: "+m.Failure)
		}
		fmt.Fprintf(tw, "%s\t", m.ProcessQueryKey)
		if bots {
			fmt.Fprintf(tw, "%s\t", orDash(m.Bot))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.SentAt.UTC().Format(time.RFC3339),
			orDash(m.Tag), content(m.MsgKey, m.MsgParam), strings.Join(notes, "; "))
	}
	return written(tw.Flush())
}

// printAudit writes audit entries, each with its messages below it; an
// entry of a bot other than the default one says "for BOT" after the chat.
func printAudit(w io.Writer, entries []client.AuditEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "no audit entries")
		return written(err)
	}
	var b strings.Builder
	for _, e := range entries {
		where := ""
		if e.ConversationID != "" {
			where = " in " + e.ConversationID
		}
		if otherBot(e.Bot) {
			where += " for " + e.Bot
		}
		fmt.Fprintf(&b, "%s %s by %s%s: %s\n", e.At.UTC().Format(time.RFC3339), e.Action, who(e), where, orDash(e.Request))
		for _, it := range e.Items {
			fmt.Fprintf(&b, "  %s %s", it.Result, it.ProcessQueryKey)
			if c := content(it.MsgKey, it.MsgParam); c != "" {
				fmt.Fprintf(&b, " %s", c)
			}
			if it.Reason != "" {
				fmt.Fprintf(&b, ": %s", it.Reason)
			}
			if it.NewKey != "" {
				fmt.Fprintf(&b, " (now %s)", it.NewKey)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return written(err)
}

// who names whoever acted in an audit entry.
func who(e client.AuditEntry) string {
	switch {
	case e.Source != "command":
		return e.Source
	case e.Nick != "" && e.StaffID != "":
		return fmt.Sprintf("%s (%s)", e.Nick, e.StaffID)
	case e.StaffID != "":
		return e.StaffID
	}
	return "command"
}

// maxContent is how many characters of a message content shows.
const maxContent = 50

// content is a quoted one-line start of a message: its title, or its text;
// empty when the message has neither (a key the server did not hold).
func content(msgKey, msgParam string) string {
	var param map[string]any
	_ = json.Unmarshal([]byte(msgParam), &param)
	text := msgKey
	for _, field := range []string{"title", "content", "text"} {
		if s, ok := param[field].(string); ok && strings.TrimSpace(s) != "" {
			text = s
			break
		}
	}
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return ""
	}
	if utf8.RuneCountInString(text) > maxContent {
		text = string([]rune(text)[:maxContent-1]) + "…"
	}
	return fmt.Sprintf("%q", text)
}

// orDash is s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
