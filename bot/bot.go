package bot

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// Config is the bot's behaviour.
type Config struct {
	// RecallMax is the largest N one command may recall (RECALL_MAX).
	RecallMax int
	// ReplyTTL has command replies recalled after it; 0 keeps them (REPLY_TTL).
	ReplyTTL time.Duration
	// Policy says who may recall where.
	Policy Policy
	// Observer is told of every command and recall; nil for none.
	Observer Observer
}

// Observer is told what the bot does, for metrics. Its methods must be safe
// for concurrent use and quick.
type Observer interface {
	// Command is told of every command: its name ("unknown" when none
	// parsed) and outcome (ok, refused, invalid, unavailable).
	Command(name, outcome string)
	// Recall is told of every recall's count of recalled and failed keys.
	Recall(recalled, failed int)
}

// nopObserver is the Observer of a bot without one.
type nopObserver struct{}

func (nopObserver) Command(string, string) {}
func (nopObserver) Recall(int, int)        {}

// Bot answers chat commands.
type Bot struct {
	cfg      Config
	ledger   store.Ledger
	sender   *Sender
	recaller *Recaller
	tpl      *templates.Set
	reg      *Registry
	log      logrus.FieldLogger
	obs      Observer
}

// Request is one command to run: the event that carried it and the parsed
// command.
type Request struct {
	Event   Event
	Command Command
	Log     logrus.FieldLogger
}

// New builds a bot. tpl must define TemplateNames().
func New(cfg Config, ledger store.Ledger, sender *Sender, recaller *Recaller, tpl *templates.Set, log logrus.FieldLogger) *Bot {
	obs := cfg.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	return &Bot{cfg: cfg, ledger: ledger, sender: sender, recaller: recaller, tpl: tpl, reg: DefaultRegistry(), log: log, obs: obs}
}

// TemplateNames lists the templates the bot needs beyond templates.Names: a
// summary of every command and an explanation of every DingTalk error code
// it may report.
func TemplateNames() []string {
	var names []string
	for _, s := range DefaultRegistry().Specs() {
		for _, u := range s.Usages {
			names = append(names, u.Summary)
		}
	}
	codes := append(dingtalk.SeedCodes[:len(dingtalk.SeedCodes):len(dingtalk.SeedCodes)],
		dingtalk.CodeQPSLimitAppAndAPI, dingtalk.CodeQPSLimitAPI, dingtalk.CodeOrgQuota,
		dingtalk.CodeInvalidAuthentication, dingtalk.CodeInvalidClient, dingtalk.CodeTransport)
	for _, c := range codes {
		names = append(names, templates.CodeName(c))
	}
	return names
}

// Handle runs the command in ev and replies in the chat it came from: the
// group, or the sender's one-to-one chat with the bot.
func (b *Bot) Handle(ctx context.Context, ev Event) {
	log := b.log.WithFields(logrus.Fields{"chat": ev.ConversationID, "user": ev.StaffID, "msg_id": ev.MsgID})
	if ev.Group && ev.Title != "" {
		if err := b.ledger.SetTitle(ctx, ev.ConversationID, store.KindGroup, ev.Title); err != nil {
			log.WithError(err).Warn("could not remember the chat title")
		}
	}
	kind, here := ev.here()
	if here == "" {
		log.Warn("one-to-one message from a sender without staff id: no chat to reply in")
		return
	}
	name, reply := b.respond(ctx, ev, log)
	b.obs.Command(name, reply.Outcome())
	if _, err := b.sender.Send(ctx, Outgoing{Kind: kind, ChatID: here, Message: dingtalk.Text(reply.Text), TTL: b.cfg.ReplyTTL, Reply: true}); err != nil {
		log.WithError(err).Error("could not send the reply")
	}
}

// respond parses ev's command, runs it and returns the command's name
// ("unknown" when there is none) and the reply.
func (b *Bot) respond(ctx context.Context, ev Event, log logrus.FieldLogger) (string, Reply) {
	if !ev.Textual {
		return "unknown", b.render(templates.NotText, b.helpData(""), log)
	}
	cmd, err := b.reg.Parse(ev.Text, b.cfg.RecallMax)
	var argErr *ArgError
	switch {
	case errors.Is(err, ErrMissingChat):
		return CmdRecall, b.render(templates.MissingChat, nil, log)
	case errors.As(err, &argErr) && errors.Is(err, ErrOutOfRange):
		return CmdRecall, b.render(templates.OutOfRange, templates.ErrorData{Arg: argErr.Arg, Max: b.cfg.RecallMax}, log)
	case errors.As(err, &argErr):
		return CmdRecall, b.render(templates.BadNumber, templates.ErrorData{Arg: argErr.Arg, Max: b.cfg.RecallMax}, log)
	case err != nil:
		return "unknown", b.render(templates.UnknownCommand, b.helpData(strings.TrimSpace(ev.Text)), log)
	}
	spec, _ := b.reg.Lookup(cmd.Name)
	log = log.WithField("command", cmd.Name)
	return cmd.Name, spec.Run(b, ctx, Request{Event: ev, Command: cmd, Log: log})
}

// Reply is a command's answer: its text and the template it came from.
type Reply struct {
	Text     string
	Template string
}

// Outcome classifies the reply for metrics: ok, refused, invalid (bad
// input) or unavailable (the store was down).
func (r Reply) Outcome() string {
	switch r.Template {
	case templates.RefuseRecall, templates.RefuseAdmin:
		return "refused"
	case templates.StoreDown:
		return "unavailable"
	case templates.NotText, templates.MissingChat, templates.OutOfRange, templates.BadNumber,
		templates.UnknownCommand, templates.OnlyOneToOne, templates.UnknownChat, templates.AmbiguousChat:
		return "invalid"
	}
	return "ok"
}

// render executes a reply template; a failure (which the start-up check
// makes unlikely) becomes a plain fallback rather than silence.
func (b *Bot) render(name string, data any, log logrus.FieldLogger) Reply {
	text, err := b.tpl.Render(name, data)
	if err != nil {
		log.WithError(err).Error("could not render a reply")
		text = "dingrecall: " + name
	}
	return Reply{Text: text, Template: name}
}

// helpData is the data of the help reply in the bot's language.
func (b *Bot) helpData(typed string) templates.HelpData {
	d := templates.HelpData{Max: b.cfg.RecallMax, Text: typed}
	for _, s := range b.reg.Specs() {
		for _, u := range s.Usages {
			d.Commands = append(d.Commands, templates.HelpLine{Usage: u.Text[b.tpl.Lang()], Summary: b.render(u.Summary, nil, b.log).Text})
		}
	}
	return d
}

// runHelp answers help.
func (b *Bot) runHelp(_ context.Context, req Request) Reply {
	return b.render(templates.Help, b.helpData(""), req.Log)
}

// runChats lists the chats with recallable messages and how many, for
// recall admins.
func (b *Bot) runChats(ctx context.Context, req Request) Reply {
	if !b.cfg.Policy.IsAdmin(req.Event.StaffID) {
		req.Log.Warn("refused: chats is for recall admins")
		return b.render(templates.RefuseAdmin, templates.ErrorData{Nick: req.Event.Nick}, req.Log)
	}
	chats, err := b.ledger.Chats(ctx)
	if err != nil {
		req.Log.WithError(err).Error("could not list chats")
		return b.render(templates.StoreDown, nil, req.Log)
	}
	var d templates.ChatsData
	for _, c := range chats {
		// Count what "recall N" could take: not the bot's own replies.
		recallable, err := b.ledger.Newest(ctx, c.ID, c.Count)
		if err != nil {
			req.Log.WithError(err).Error("could not count a chat's messages")
			return b.render(templates.StoreDown, nil, req.Log)
		}
		if len(recallable) > 0 {
			d.Chats = append(d.Chats, templates.ChatLine{ID: c.ID, Title: c.Title, Count: len(recallable)})
		}
	}
	if len(d.Chats) == 0 {
		return b.render(templates.ChatsEmpty, nil, req.Log)
	}
	return b.render(templates.Chats, d, req.Log)
}

// runRecall recalls the newest N messages here, or in another chat for a
// recall admin writing one-to-one.
func (b *Bot) runRecall(ctx context.Context, req Request) Reply {
	ev, cmd, log := req.Event, req.Command, req.Log
	_, chatID := ev.here()
	label := ""
	if cmd.Chat != "" {
		if ev.Group {
			return b.render(templates.OnlyOneToOne, nil, log)
		}
		if !b.cfg.Policy.IsAdmin(ev.StaffID) {
			log.WithField("target", cmd.Chat).Warn("refused: recall in another chat is for recall admins")
			return b.render(templates.RefuseAdmin, templates.ErrorData{Nick: ev.Nick}, log)
		}
		chat, err := b.ledger.FindChat(ctx, cmd.Chat)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return b.render(templates.UnknownChat, templates.ErrorData{Chat: cmd.Chat}, log)
		case errors.Is(err, store.ErrAmbiguous):
			return b.render(templates.AmbiguousChat, templates.ErrorData{Chat: cmd.Chat, Matches: b.countTitle(ctx, cmd.Chat)}, log)
		case err != nil:
			log.WithError(err).Error("could not look up the chat")
			return b.render(templates.StoreDown, nil, log)
		}
		chatID, label = chat.ID, chat.Title
		if label == "" {
			label = chat.ID
		}
	} else if !b.cfg.Policy.MayRecallHere(ev) {
		log.Warn("refused: not allowed to recall in this chat")
		return b.render(templates.RefuseRecall, templates.ErrorData{Nick: ev.Nick, GroupAdmins: b.cfg.Policy.GroupAdmins}, log)
	}
	out, err := b.recaller.Recall(ctx, Selection{ChatID: chatID, Last: cmd.N})
	if err != nil {
		log.WithError(err).Error("recall failed before reaching DingTalk")
		return b.render(templates.StoreDown, nil, log)
	}
	data := templates.RecallData{Asked: cmd.N, Found: len(out.Selected), Recalled: len(out.Recalled), Chat: label}
	log.WithFields(logrus.Fields{"target": chatID, "asked": cmd.N, "recalled": len(out.Recalled), "failed": len(out.Failed)}).Info("recall")
	if data.Found == 0 {
		return b.render(templates.RecallNothing, data, log)
	}
	for _, m := range out.Selected {
		if reason, failed := out.Failed[m.Key]; failed {
			data.Failures = append(data.Failures, templates.Failure{Preview: Preview(m, 40), Reason: b.tpl.Explain(reason)})
		}
	}
	return b.render(templates.RecallDone, data, log)
}

// countTitle counts the chats titled title, for the ambiguity reply.
func (b *Bot) countTitle(ctx context.Context, title string) int {
	chats, err := b.ledger.Chats(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range chats {
		if strings.EqualFold(c.Title, title) {
			n++
		}
	}
	return n
}

// Preview is the first line of a message's content, cut to at most n
// characters: the text of sampleText, the title of sampleMarkdown, else the
// raw parameters.
func Preview(m store.Message, n int) string {
	var p struct {
		Content string `json:"content"`
		Title   string `json:"title"`
		Text    string `json:"text"`
	}
	text := m.MsgParam
	if json.Unmarshal([]byte(m.MsgParam), &p) == nil {
		for _, s := range []string{p.Content, p.Title, p.Text} {
			if strings.TrimSpace(s) != "" {
				text = s
				break
			}
		}
	}
	text, _, _ = strings.Cut(strings.TrimSpace(text), "\n")
	if utf8.RuneCountInString(text) > n {
		r := []rune(text)
		text = string(r[:n-1]) + "…"
	}
	return text
}
