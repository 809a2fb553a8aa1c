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
	// ConfirmOver is the largest N "recall N" takes without asking for
	// "recall confirm" (RECALL_CONFIRM_OVER).
	ConfirmOver int
	// RestoreWindow is how long after a recall "restore" may undo it
	// (RESTORE_WINDOW).
	RestoreWindow time.Duration
	// Audit is the audit log "recall retry", "recall log" and "restore" read.
	Audit store.Audit
	// States keeps pending confirmations, shared by replicas.
	States store.States
	// Now is the clock; nil for time.Now.
	Now func() time.Time
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ConfirmOver <= 0 {
		cfg.ConfirmOver = cfg.RecallMax
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
	if ev.RequestID != "" {
		log = log.WithField("request_id", ev.RequestID)
	}
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
	if _, err := b.sender.Send(ctx, Outgoing{Kind: kind, ChatID: here, Message: dingtalk.Text(fitReply(reply.Text)), TTL: b.cfg.ReplyTTL, Reply: true}); err != nil {
		log.WithError(err).Error("could not send the reply")
	}
}

// respond parses ev's command, runs it and returns the command's name
// (recall, recall_since, ..., "unknown" when there is none) and the reply.
func (b *Bot) respond(ctx context.Context, ev Event, log logrus.FieldLogger) (string, Reply) {
	var cmd Command
	var err error
	if ev.Textual {
		cmd, err = b.reg.Parse(ev.Text, b.cfg.RecallMax)
	}
	if !ev.Textual || err != nil || cmd.Sub != SubConfirm {
		b.cancelPending(ctx, ev, log) // anything but "recall confirm" cancels
	}
	switch {
	case !ev.Textual:
		return "unknown", b.render(templates.NotText, b.helpData(""), log)
	case err != nil:
		return b.parseError(err, ev, log)
	}
	spec, _ := b.reg.Lookup(cmd.Name)
	log = log.WithField("command", cmd.Name)
	name := cmd.Name
	if cmd.Sub != "" {
		name += "_" + cmd.Sub // recall_preview, recall_confirm, ... for the metrics
	}
	return name, spec.Run(b, ctx, Request{Event: ev, Command: cmd, Log: log})
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
	case templates.NotText, templates.MissingChat, templates.MissingTag, templates.BadDuration, templates.OutOfRange, templates.BadNumber,
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

// runRecall runs recall and its subcommands, here or, for a recall admin
// writing one-to-one, in another chat.
func (b *Bot) runRecall(ctx context.Context, req Request) Reply {
	cmd := req.Command
	if cmd.Sub == SubConfirm {
		return b.confirm(ctx, req)
	}
	t, refusal := b.target(ctx, req, cmd.Sub == SubLog)
	if refusal != nil {
		return *refusal
	}
	switch cmd.Sub {
	case SubPreview:
		return b.preview(ctx, req, t, Selection{ChatID: t.id, Last: cmd.N}, cmd.N)
	case SubRetry:
		return b.retry(ctx, req, t)
	case SubLog:
		return b.showLog(ctx, req, t)
	case SubSince:
		return b.recallOrAsk(ctx, req, t, Selection{ChatID: t.id, Since: cmd.Since, Max: b.cfg.RecallMax}, 0)
	case SubTag:
		return b.recallOrAsk(ctx, req, t, Selection{ChatID: t.id, Tag: cmd.Tag, Max: b.cfg.RecallMax}, 0)
	}
	return b.recallOrAsk(ctx, req, t, Selection{ChatID: t.id, Last: cmd.N}, cmd.N)
}

// target is the chat a command acts on.
type target struct {
	id    string
	label string // the title or ID named with "in <chat>", empty for here
}

// target resolves where a command acts and whether the sender may act
// there: here for recall users, group admins and recall admins; another
// chat ("in <chat>") only for recall admins writing one-to-one. adminOnly
// commands are for recall admins everywhere. A refusal or a lookup problem
// comes back as the reply to send.
func (b *Bot) target(ctx context.Context, req Request, adminOnly bool) (target, *Reply) {
	ev, cmd, log := req.Event, req.Command, req.Log
	refuse := func(name string, data any) (target, *Reply) {
		r := b.render(name, data, log)
		return target{}, &r
	}
	if cmd.Chat == "" {
		_, here := ev.here()
		switch {
		case adminOnly && !b.cfg.Policy.IsAdmin(ev.StaffID):
			log.Warn("refused: this command is for recall admins")
			return refuse(templates.RefuseAdmin, templates.ErrorData{Nick: ev.Nick})
		case !b.cfg.Policy.MayRecallHere(ev):
			log.Warn("refused: not allowed to recall in this chat")
			return refuse(templates.RefuseRecall, templates.ErrorData{Nick: ev.Nick, GroupAdmins: b.cfg.Policy.GroupAdmins})
		}
		return target{id: here}, nil
	}
	if ev.Group {
		return refuse(templates.OnlyOneToOne, nil)
	}
	if !b.cfg.Policy.IsAdmin(ev.StaffID) {
		log.WithField("target", cmd.Chat).Warn("refused: acting in another chat is for recall admins")
		return refuse(templates.RefuseAdmin, templates.ErrorData{Nick: ev.Nick})
	}
	chat, err := b.ledger.FindChat(ctx, cmd.Chat)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse(templates.UnknownChat, templates.ErrorData{Chat: clip(cmd.Chat)})
	case errors.Is(err, store.ErrAmbiguous):
		return refuse(templates.AmbiguousChat, templates.ErrorData{Chat: clip(cmd.Chat), Matches: b.countTitle(ctx, cmd.Chat)})
	case err != nil:
		log.WithError(err).Error("could not look up the chat")
		return refuse(templates.StoreDown, nil)
	}
	label := chat.Title
	if label == "" {
		label = chat.ID
	}
	return target{id: chat.ID, label: label}, nil
}

// actor is the audit actor of a command.
func actor(req Request) Actor {
	return Actor{Source: store.SourceCommand, StaffID: req.Event.StaffID, Nick: req.Event.Nick, Request: strings.TrimSpace(req.Event.Text)}
}

// recall runs sel and replies with the summary; asked is N for "recall N",
// 0 for the other selections.
func (b *Bot) recall(ctx context.Context, req Request, t target, sel Selection, asked int) Reply {
	log := req.Log
	out, err := b.recaller.Recall(ctx, sel, actor(req))
	if err != nil {
		log.WithError(err).Error("recall failed before reaching DingTalk")
		return b.render(templates.StoreDown, nil, log)
	}
	log.WithFields(logrus.Fields{"target": t.id, "asked": asked, "recalled": len(out.Recalled), "failed": len(out.Failed), "too_old": len(out.TooOld), "audit": out.AuditID}).Info("recall")
	data := b.recallData(out, asked, t.label)
	empty := b.emptyData(t, sel, asked)
	data.Window, data.Tag = empty.Window, empty.Tag
	if data.Found == 0 {
		return b.render(templates.RecallNothing, data, log)
	}
	return b.render(templates.RecallDone, data, log)
}

// recallData summarises an outcome for the recall replies.
func (b *Bot) recallData(out Outcome, asked int, label string) templates.RecallData {
	data := templates.RecallData{Asked: asked, Found: len(out.Selected) - len(out.TooOld), Recalled: len(out.Recalled),
		TooOld: len(out.TooOld), MaxAge: b.span(b.recaller.opts.MaxAge), Chat: label}
	for _, m := range out.Selected {
		if reason, failed := out.Failed[m.Key]; failed {
			data.Failures = append(data.Failures, templates.Failure{Preview: Preview(m, 40), Reason: b.tpl.Explain(reason)})
		}
	}
	return data
}

// maxEcho is the most characters of what someone typed a reply repeats.
const maxEcho = 80

// clip shortens what someone typed for echoing it in a reply.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxEcho {
		return s
	}
	return string([]rune(s)[:maxEcho-1]) + "…"
}

// maxReplyRunes keeps a reply's msgParam within DingTalk's 15,000 bytes
// (3 bytes a character at worst, plus the JSON around it).
const maxReplyRunes = 4900

// fitReply cuts a reply that DingTalk would refuse as too large.
func fitReply(text string) string {
	if utf8.RuneCountInString(text) <= maxReplyRunes {
		return text
	}
	return string([]rune(text)[:maxReplyRunes-1]) + "…"
}

// parseError is the reply to text that did not parse, with the command it
// was meant for.
func (b *Bot) parseError(err error, ev Event, log logrus.FieldLogger) (string, Reply) {
	var argErr *ArgError
	if !errors.As(err, &argErr) {
		return "unknown", b.render(templates.UnknownCommand, b.helpData(clip(strings.TrimSpace(ev.Text))), log)
	}
	data := templates.ErrorData{Arg: clip(argErr.Arg), Max: b.cfg.RecallMax}
	name := templates.BadNumber
	switch {
	case errors.Is(err, ErrMissingChat):
		name = templates.MissingChat
	case errors.Is(err, ErrMissingTag):
		name = templates.MissingTag
	case errors.Is(err, ErrBadDuration):
		name = templates.BadDuration
	case errors.Is(err, ErrOutOfRange):
		name = templates.OutOfRange
	}
	cmd := CmdRecall
	if word, _ := splitWord(normalise(ev.Text)); b.isRestore(word) {
		cmd = CmdRestore
	}
	return cmd, b.render(name, data, log)
}

// isRestore reports whether word invokes restore.
func (b *Bot) isRestore(word string) bool {
	s, ok := b.reg.words[fold(strings.TrimLeft(word, "/／"))]
	return ok && s.Name == CmdRestore
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
