package bot

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// Quote to recall: a person quotes one of the bot's messages and says
// "recall" (or "recall N", "recall preview [N]") to recall exactly that
// message (and the N-1 the bot sent before it in that chat). The quoted
// message is found by the key of a quoted card (originalProcessQueryKey),
// else among the bot's tracked messages in the chat by send time: those sent
// within QuoteWindow of the quoted message's createdAt. When several are,
// the quoted words pick one if they match exactly one of them; otherwise the
// bot lists them and the person says "recall <number>" (or quotes again).
// The list is kept in States, so that any replica takes the pick.

// QuoteWindow is how close to the quoted message's createdAt (DingTalk's
// send time) one of the bot's messages must have been sent to be taken for
// it. The ledger keeps its own send time, taken when DingTalk answered the
// send call, so the two differ by that call's latency and any skew between
// the clocks: a few hundred milliseconds as a rule.
const QuoteWindow = 3 * time.Second

// maxQuoteList is the most messages a list of candidates shows: those sent
// closest to the quoted message.
const maxQuoteList = 10

// quotePick is a list of candidates waiting for "recall <number>".
type quotePick struct {
	Chat  string   `json:"chat"`
	Label string   `json:"label"`
	Keys  []string `json:"keys"` // as numbered in the list
	Asked int      `json:"asked"`
	// Bot is the bot whose messages these are, when it is not the one
	// keeping the list (a quoted "recall for <bot>").
	Bot string `json:"bot,omitempty"`
}

// quotePickKey is where the list of a person in a chat is kept, by the bot
// typed to (Bot.keeper).
func quotePickKey(ev Event) string {
	_, here := ev.here()
	return "quote-pick:" + here + ":" + ev.StaffID
}

// quoting reports whether req is a recall of the message quoted with it:
// "recall [N]" or "recall preview [N]" said while quoting, in this chat.
func quoting(req Request) bool {
	cmd := req.Command
	return req.Event.Quote != nil && cmd.Name == CmdRecall && cmd.Chat == "" && (cmd.Sub == "" || cmd.Sub == SubPreview)
}

// picking reports whether req may pick from a list: "recall N" with N
// typed, here, quoting nothing and naming no bot.
func picking(req Request) bool {
	cmd := req.Command
	return req.Event.Quote == nil && cmd.Name == CmdRecall && cmd.Sub == "" && cmd.Chat == "" && cmd.Bot == "" && !cmd.DefaultN && req.Event.StaffID != ""
}

// cancelPick drops the sender's list in this chat unless req may pick from
// it.
func (b *Bot) cancelPick(ctx context.Context, req Request) {
	if req.Event.StaffID == "" || picking(req) {
		return
	}
	if err := b.states.DeleteState(ctx, quotePickKey(req.Event)); err != nil {
		req.Log.WithError(err).Warn("could not cancel a list of quoted candidates")
	}
}

// recallQuoted runs "recall [N]" or "recall preview [N]" on the message
// quoted in t, which the sender may recall in.
func (b *Bot) recallQuoted(ctx context.Context, req Request, t target) (Reply, error) {
	q := *req.Event.Quote
	data := templates.QuoteData{Asked: req.Command.N, Window: b.span(QuoteWindow), Kept: b.span(b.cfg.LedgerTTL)}
	if byBot, known := q.ByBot(); known && !byBot {
		req.Log.WithField("quoted", q.MsgID).Info("recall: the quoted message is not the bot's")
		return failed(b.render(templates.QuoteNotMine, data, req.Log)), nil
	}
	if q.ProcessQueryKey == "" && q.CreatedAt.IsZero() {
		data.Unknown = true
		return failed(b.render(templates.QuoteUntracked, data, req.Log)), nil
	}
	found, more, err := b.findQuoted(ctx, t.id, q.ProcessQueryKey, q.CreatedAt, q.Texts)
	if err != nil {
		return Reply{}, err
	}
	req.Log.WithFields(logrus.Fields{"quoted": q.MsgID, "by_key": q.ProcessQueryKey != "", "found": len(found) + more}).Info("recall: quoted message looked up")
	switch len(found) {
	case 0:
		return failed(b.render(templates.QuoteUntracked, data, req.Log)), nil
	case 1:
		return b.recallFrom(ctx, req, t, found[0], req.Command.N, req.Command.Sub == SubPreview)
	}
	keeper, owner := b.keeper(req)
	p := quotePick{Chat: t.id, Label: t.label, Keys: keysOf(found), Asked: req.Command.N, Bot: owner}
	raw, _ := json.Marshal(p)
	if err := keeper.states.SetState(ctx, quotePickKey(req.Event), string(raw), ConfirmWindow); err != nil {
		return Reply{}, fmt.Errorf("keep a list of quoted candidates: %w", err)
	}
	data.More, data.Within = more, b.span(ConfirmWindow)
	for i, m := range found {
		data.Lines = append(data.Lines, templates.QuoteLine{N: i + 1, When: clock(m.SentAt), Preview: Preview(m, 40)})
	}
	return b.render(templates.QuoteChoose, data, req.Log), nil
}

// findQuoted looks for the quoted message among the tracked messages of
// chat: exactly the one with key when there is a key; else those sent
// within QuoteWindow of at, narrowed to the one whose words are the quoted
// words when exactly one is. It returns at most maxQuoteList of them, those
// sent closest to at, in the order sent, and how many more there were.
func (b *Bot) findQuoted(ctx context.Context, chat, key string, at time.Time, words []string) ([]store.Message, int, error) {
	if key != "" {
		m, err := b.ledger.Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, 0, nil
		case err != nil:
			return nil, 0, fmt.Errorf("look up the quoted message: %w", err)
		case m.ChatID != chat:
			return nil, 0, nil
		}
		return []store.Message{m}, 0, nil
	}
	all, err := b.ledger.List(ctx, chat, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("look up the quoted message: %w", err)
	}
	var near []store.Message
	for _, m := range all {
		if d := m.SentAt.Sub(at); d >= -QuoteWindow && d <= QuoteWindow {
			near = append(near, m)
		}
	}
	if len(near) > 1 && len(words) > 0 {
		same := slices.DeleteFunc(slices.Clone(near), func(m store.Message) bool { return !saysSame(m, words) })
		if len(same) == 1 {
			return same, 0, nil
		}
	}
	more := 0
	if len(near) > maxQuoteList {
		slices.SortStableFunc(near, func(x, y store.Message) int { return cmp.Compare(gap(x.SentAt, at), gap(y.SentAt, at)) })
		near, more = near[:maxQuoteList], len(near)-maxQuoteList
	}
	slices.SortStableFunc(near, func(x, y store.Message) int { return x.SentAt.Compare(y.SentAt) })
	return near, more, nil
}

// gap is how far apart two times are.
func gap(x, y time.Time) time.Duration {
	if d := x.Sub(y); d >= 0 {
		return d
	}
	return y.Sub(x)
}

// saysSame reports whether one of m's words (the content of a text, the
// title or text of a markdown) is one of words, blanks aside.
func saysSame(m store.Message, words []string) bool {
	var p struct {
		Content string `json:"content"`
		Title   string `json:"title"`
		Text    string `json:"text"`
	}
	if json.Unmarshal([]byte(m.MsgParam), &p) != nil {
		return false
	}
	for _, mine := range []string{p.Content, p.Title, p.Text} {
		mine = squash(mine)
		if mine != "" && slices.ContainsFunc(words, func(w string) bool { return squash(w) == mine }) {
			return true
		}
	}
	return false
}

// squash collapses every run of blanks in s to one space and trims it.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// recallFrom recalls (or, for preview, shows) m and the n-1 messages the
// bot sent before it in t (its own replies aside).
func (b *Bot) recallFrom(ctx context.Context, req Request, t target, m store.Message, n int, preview bool) (Reply, error) {
	keys := []string{m.Key}
	if n > 1 {
		all, err := b.ledger.List(ctx, t.id, 0)
		if err != nil {
			return Reply{}, fmt.Errorf("list the messages before the quoted one: %w", err)
		}
		// Newest first: what follows m was sent before it. When m has gone
		// since it was found, only m is asked for, and the recall says it
		// is not tracked.
		if i := slices.IndexFunc(all, func(x store.Message) bool { return x.Key == m.Key }); i >= 0 {
			for _, x := range all[i+1:] {
				if len(keys) == n {
					break
				}
				if !x.Reply {
					keys = append(keys, x.Key)
				}
			}
		}
	}
	sel := Selection{ChatID: t.id, Keys: keys}
	if !preview {
		return b.recallOrAsk(ctx, req, t, sel, n)
	}
	msgs, err := b.recaller.preview(ctx, sel)
	if err != nil {
		return Reply{}, fmt.Errorf("preview a recall: %w", err)
	}
	if len(msgs) == 0 {
		return failed(b.render(templates.RecallNothing, b.emptyData(t, sel, n), req.Log)), nil
	}
	data := b.previewData(msgs, t, sel, n)
	data.Quoted = true
	return b.render(templates.Preview, data, req.Log), nil
}

// pick runs "recall <number>" on the sender's list in t, if there is one:
// it recalls the message with that number (and the N-1 before it, for a
// list made by "recall N"). It reports false when there is no list.
func (b *Bot) pick(ctx context.Context, req Request, t target) (Reply, bool, error) {
	raw, ok, err := b.states.TakeState(ctx, quotePickKey(req.Event))
	if err != nil {
		return Reply{}, false, fmt.Errorf("read a list of quoted candidates: %w", err)
	}
	var p quotePick
	if !ok || json.Unmarshal([]byte(raw), &p) != nil || len(p.Keys) == 0 || p.Chat != t.id {
		return Reply{}, false, nil
	}
	if p.Bot != "" {
		// A quoted "recall for <bot>": that bot recalls its own message.
		owner, ok := b.fleetBot(p.Bot)
		if !ok {
			return Reply{}, false, nil
		}
		req.Delegated, req.Via = true, b.cfg.Name
		return owner.pickFrom(ctx, req, p)
	}
	return b.pickFrom(ctx, req, p)
}

// pickFrom recalls the candidate req's number picks from the list p of
// b's messages.
func (b *Bot) pickFrom(ctx context.Context, req Request, p quotePick) (Reply, bool, error) {
	n := req.Command.N
	if n > len(p.Keys) {
		// Kept for another try: a number that picks nothing cancels nothing.
		keeper, _ := b.keeper(req)
		raw, _ := json.Marshal(p)
		if err := keeper.states.SetState(ctx, quotePickKey(req.Event), string(raw), ConfirmWindow); err != nil {
			req.Log.WithError(err).Warn("could not keep a list of quoted candidates")
		}
		return failed(b.render(templates.QuotePick, templates.QuoteData{Count: len(p.Keys), Arg: fmt.Sprint(n)}, req.Log)), true, nil
	}
	m, err := b.ledger.Get(ctx, p.Keys[n-1])
	switch {
	case errors.Is(err, store.ErrNotFound):
		data := templates.QuoteData{Asked: p.Asked, Window: b.span(QuoteWindow), Kept: b.span(b.cfg.LedgerTTL)}
		return failed(b.render(templates.QuoteUntracked, data, req.Log)), true, nil
	case err != nil:
		return Reply{}, false, fmt.Errorf("look up the picked message: %w", err)
	}
	reply, err := b.recallFrom(ctx, req, target{id: p.Chat, label: p.Label}, m, max(p.Asked, 1), false)
	return reply, true, err
}
