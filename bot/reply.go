package bot

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// Request is one command to run: the event that carried it and the parsed
// command.
type Request struct {
	Event   Event
	Command Command
	Log     logrus.FieldLogger
	// Delegated marks a command another bot of the fleet received and
	// handed over ("for <bot>"): its reply goes out through that bot, so
	// it carries no card whose buttons would come back to this one. Via
	// names that bot.
	Delegated bool
	Via       string
}

// Reply is a command's answer: its text and the template it came from.
type Reply struct {
	Text     string
	Template string
	// FailuresIn is the chat whose failed recalls (or re-sends) the reply
	// lists, "" when it lists none. Such a reply is not recalled after
	// ReplyTTL with the others: it stays until a "recall retry" there
	// recalls everything or a "restore" runs there, or about LedgerTTL.
	FailuresIn string
	// Quiet marks a reply that only confirms what the person sees happen
	// (a recall, retry or restore that did all it was asked): when the bot
	// acknowledges with reactions only (AckReaction), the done reaction says
	// it and the reply is not sent.
	Quiet bool
	// Failed marks a reply to a command that did not do what was asked:
	// nothing to recall, restore or confirm, recalls that failed, a quoted
	// message the bot cannot recall.
	Failed bool
	// Card, when set, is sent instead of Text (a preview card with Confirm
	// and Cancel); should the card not go out, Text does.
	Card *CardContent
}

// Succeeded reports whether the command did what was asked, which picks
// the done reaction over the failed one: not Failed, and neither refused,
// invalid nor unavailable (Outcome).
func (r Reply) Succeeded() bool { return !r.Failed && r.Outcome() == "ok" }

// Outcome classifies the reply for metrics: ok, refused, invalid (bad
// input) or unavailable (the store was down).
func (r Reply) Outcome() string {
	switch r.Template {
	case templates.RefuseRecall, templates.RefuseAdmin:
		return "refused"
	case templates.StoreDown:
		return "unavailable"
	case templates.NotText, templates.MissingChat, templates.MissingTag, templates.BadDuration, templates.MissingDuration,
		templates.OutOfRange, templates.BadNumber, templates.NotWhole, templates.UnknownCommand, templates.DidYouMean,
		templates.OnlyOneToOne, templates.UnknownChat, templates.AmbiguousChat, templates.QuoteNotMine, templates.QuotePick, templates.QuoteUntracked:
		return "invalid"
	}
	return "ok"
}

// Errors a command returns for errorReply to answer.
var (
	// errNotText is a message that is no text (a picture, a file).
	errNotText = errors.New("not a text message")
	// errOnlyOneToOne is "in <chat>" typed in a group.
	errOnlyOneToOne = errors.New(`"in <chat>" works only one-to-one`)
	// Refusals.
	errNotAllowedHere = &refusal{templates.RefuseRecall, "not allowed to recall in this chat"}
	errAdminOnly      = &refusal{templates.RefuseAdmin, "this command is for recall admins"}
	errAdminElsewhere = &refusal{templates.RefuseAdmin, "acting in another chat is for recall admins"}
	errAdminOtherBot  = &refusal{templates.RefuseAdmin, "acting on another bot's messages is for recall admins"}
)

// refusal is a command the sender may not run: the refusal's template and
// why, for the log.
type refusal struct {
	template string
	why      string
}

// Error says why the command was refused.
func (r *refusal) Error() string { return "refused: " + r.why }

// chatError is a chat named with "in <chat>" that the ledger does not know
// (store.ErrNotFound) or that several chats' titles match
// (store.ErrAmbiguous).
type chatError struct {
	chat string
	err  error
	// ledger is the ledger that was searched (a fleet's peer's, for "for
	// <bot>"): the reply lists its chats. Nil for the bot's own.
	ledger store.Ledger
}

// Error names the chat and the problem.
func (e *chatError) Error() string { return "chat " + e.chat + ": " + e.err.Error() }

// Unwrap returns store.ErrNotFound or store.ErrAmbiguous.
func (e *chatError) Unwrap() error { return e.err }

// maxKnownChats is the most chats the reply to an unknown chat lists.
const maxKnownChats = 10

// handle runs the command in ev and acknowledges it in the chat it came
// from (the group, or the sender's one-to-one chat with the bot): with a
// reply, with reactions on the person's message, or both (AckStyle).
func (b *Bot) handle(ctx context.Context, ev Event) {
	log := b.log.WithFields(logrus.Fields{"chat": ev.ConversationID, "user": ev.StaffID, "msg_id": ev.MsgID})
	if ev.RequestID != "" {
		log = log.WithField("request_id", ev.RequestID)
	}
	kind, here := ev.here()
	if here == "" {
		log.Warn("one-to-one message from a sender without staff id: no chat to reply in")
		return
	}
	reacted := b.startAck(ctx, ev, log)
	if ev.Group && ev.Title != "" {
		if err := b.ledger.SetTitle(ctx, ev.ConversationID, store.KindGroup, ev.Title); err != nil {
			log.WithError(err).Warn("could not remember the chat title")
		}
	}
	name, reply := b.respond(ctx, ev, log)
	b.obs.Command(name, reply.Outcome())
	b.finishAck(ctx, ev, reacted, kind, here, reply, log)
}

// respond parses ev's command, runs it and returns the command's name for
// the metrics (recall, recall_since, ..., "unknown" when none parsed) and
// the reply.
func (b *Bot) respond(ctx context.Context, ev Event, log logrus.FieldLogger) (string, Reply) {
	req := Request{Event: ev, Log: log}
	err := errNotText
	if ev.Textual {
		req.Command, err = b.reg.Parse(ev.Text, b.cfg.RecallMax)
	}
	if err != nil || req.Command.Sub != SubConfirm {
		b.cancelPending(ctx, ev, log) // anything but "recall confirm" cancels
	}
	b.cancelPick(ctx, req) // anything but "recall <number>" cancels
	var argErr *ArgError
	name := "unknown"
	switch {
	case errors.As(err, &argErr):
		name = argErr.Command
	case err == nil:
		name = req.Command.Name
		if req.Command.Sub != "" {
			name += "_" + req.Command.Sub // recall_preview, recall_confirm, ...
		}
		if quoting(req) {
			name += "_quote" // recall_quote, recall_preview_quote
		}
		req.Log = log.WithField("command", req.Command.Name)
		var reply Reply
		run := b.commands[req.Command.Name]
		if name := req.Command.Bot; name != "" && name != b.cfg.Name {
			run = func(ctx context.Context, req Request) (Reply, error) { return b.delegate(ctx, req, name) }
		}
		if reply, err = run(ctx, req); err == nil {
			return name, reply
		}
	}
	return name, b.errorReply(ctx, req, err)
}

// errorReply is the one place where what went wrong becomes a reply: text
// that did not parse, a refusal, an unknown chat, or a store that could not
// be reached (any other error).
func (b *Bot) errorReply(ctx context.Context, req Request, err error) Reply {
	log, ev := req.Log, req.Event
	var (
		unknown *UnknownError
		argErr  *ArgError
		refused *refusal
		chatErr *chatError
	)
	switch {
	case errors.Is(err, errNotText):
		return b.render(templates.NotText, b.helpData(""), log)
	case errors.As(err, &unknown) && unknown.Suggestion != "":
		return b.render(templates.DidYouMean, templates.ErrorData{Arg: clip(unknown.Text), Suggestion: clip(unknown.Suggestion)}, log)
	case errors.As(err, &unknown):
		return b.render(templates.UnknownCommand, b.helpData(clip(unknown.Text)), log)
	case errors.As(err, &argErr):
		return b.render(argTemplate(argErr.Err), templates.ErrorData{Command: argErr.Command, Arg: clip(argErr.Arg), Max: argErr.Max}, log)
	case errors.As(err, &refused):
		if req.Command.Chat != "" {
			log = log.WithField("target", req.Command.Chat)
		}
		log.Warn("refused: " + refused.why)
		return b.render(refused.template, templates.ErrorData{Nick: ev.Nick, Command: req.Command.Name, GroupAdmins: b.cfg.Policy.GroupAdmins}, log)
	case errors.Is(err, errOnlyOneToOne):
		return b.render(templates.OnlyOneToOne, templates.ErrorData{Command: req.Command.Name}, log)
	case errors.As(err, &chatErr):
		if reply, ok := b.chatErrorReply(ctx, req, chatErr); ok {
			return reply
		}
	}
	log.WithError(err).Error("command failed: the store is unavailable")
	return b.render(templates.StoreDown, nil, log)
}

// argTemplate is the reply to an argument the parser refused with err.
func argTemplate(err error) string {
	switch {
	case errors.Is(err, ErrMissingChat):
		return templates.MissingChat
	case errors.Is(err, ErrMissingTag):
		return templates.MissingTag
	case errors.Is(err, ErrBadDuration):
		return templates.BadDuration
	case errors.Is(err, ErrMissingDuration):
		return templates.MissingDuration
	case errors.Is(err, ErrOutOfRange):
		return templates.OutOfRange
	case errors.Is(err, ErrNotWhole):
		return templates.NotWhole
	}
	return templates.BadNumber
}

// chatErrorReply answers a chat named with "in <chat>" that is unknown,
// listing up to maxKnownChats chats the bot knows, or ambiguous, saying how
// many chats share the title. It reports false when the ledger cannot list
// the chats.
func (b *Bot) chatErrorReply(ctx context.Context, req Request, e *chatError) (Reply, bool) {
	ledger := b.ledger
	if e.ledger != nil {
		ledger = e.ledger
	}
	chats, err := ledger.Chats(ctx)
	if err != nil {
		return Reply{}, false
	}
	data := templates.ErrorData{Command: req.Command.Name, Chat: clip(e.chat)}
	if errors.Is(e, store.ErrAmbiguous) {
		for _, c := range chats {
			if strings.EqualFold(c.Title, e.chat) {
				data.Matches++
			}
		}
		return b.render(templates.AmbiguousChat, data, req.Log), true
	}
	for i, c := range chats {
		if i == maxKnownChats {
			data.More = len(chats) - i
			break
		}
		data.Known = append(data.Known, templates.ChatLine{ID: c.ID, Title: c.Title})
	}
	return b.render(templates.UnknownChat, data, req.Log), true
}

// render executes a reply template; a failure (which New's check of the
// templates makes unlikely) becomes a plain fallback rather than silence.
func (b *Bot) render(name string, data any, log logrus.FieldLogger) Reply {
	text, err := b.tpl.Render(name, data)
	if err != nil {
		log.WithError(err).Error("could not render a reply")
		text = "dingrecall: " + name
	}
	return Reply{Text: text, Template: name}
}

// sendReply sends reply to the chat the command came from. It is recalled
// after ReplyTTL, unless it reports failures: then it is kept (see
// keepTTL) until they are resolved.
func (b *Bot) sendReply(ctx context.Context, kind store.Kind, here string, reply Reply, log logrus.FieldLogger) {
	if reply.Card != nil && b.sendCardReply(ctx, kind, here, reply, log) {
		return
	}
	ttl := b.cfg.ReplyTTL
	keep := reply.FailuresIn != "" && ttl > 0
	if keep {
		ttl = b.keepTTL()
	}
	m, err := b.sender.send(ctx, Outgoing{Kind: kind, ChatID: here, Message: dingtalk.Text(fitReply(reply.Text)), TTL: ttl, Reply: true})
	switch {
	case err != nil && m.Key == "":
		log.WithError(err).Error("could not send the reply")
	case err == nil && keep:
		if _, err := b.states.AddEvent(ctx, reportsKey(reply.FailuresIn), m.Key, b.keepTTL()); err != nil {
			log.WithError(err).Warn("could not remember a failure report; it is recalled after its TTL only")
		}
	}
}

// keepTTL is how long a reply that reports failures stays unless they are
// resolved: about LedgerTTL, but recalled before DingTalk's MaxAge passes,
// and never sooner than ReplyTTL.
func (b *Bot) keepTTL() time.Duration {
	base := min(b.cfg.LedgerTTL, b.cfg.MaxAge)
	return max(b.cfg.ReplyTTL, base-min(time.Minute, base/10))
}

// reportsKey names the failure reports about a chat in States.
func reportsKey(chatID string) string { return "failure-reports:" + chatID }

// resolveReports lets the failure reports about chatID go: they are
// recalled after ReplyTTL from now, with the reply that resolved them.
func (b *Bot) resolveReports(ctx context.Context, chatID string, log logrus.FieldLogger) {
	if b.cfg.ReplyTTL <= 0 {
		return // replies are kept anyway
	}
	reports, err := b.states.Events(ctx, reportsKey(chatID), b.keepTTL())
	if err != nil {
		log.WithError(err).Warn("could not read the failure reports to let go")
		return
	}
	due := b.now().Add(b.cfg.ReplyTTL)
	for _, r := range reports {
		m, err := b.ledger.Get(ctx, r.Member)
		if err != nil {
			continue // recalled or forgotten already, or the store is down: it goes with its TTL
		}
		if !m.Reply || (!m.ExpiresAt.IsZero() && !m.ExpiresAt.After(due)) {
			continue
		}
		m.ExpiresAt, m.Claim = due, ""
		if err := b.ledger.Record(ctx, m); err != nil {
			log.WithError(err).Warn("could not let a failure report go; it is recalled after its TTL")
		}
	}
}
