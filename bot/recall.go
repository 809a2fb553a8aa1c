package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// The recall command family: "recall N", "recall preview N", "recall
// confirm", "recall since", "recall tag", "recall retry" and "recall log",
// here or, for a recall admin writing one-to-one, "in <chat>".

// ConfirmWindow is how long a "recall N" above RECALL_CONFIRM_OVER waits for
// "recall confirm".
const ConfirmWindow = 2 * time.Minute

// auditLookback is how many of a chat's newest audit entries retry and
// restore look through for its last recall.
const auditLookback = 50

// auditShown is how many audit entries "recall log" shows.
const auditShown = 10

// runRecall runs recall and its subcommands.
func (b *Bot) runRecall(ctx context.Context, req Request) (Reply, error) {
	cmd := req.Command
	if cmd.Sub == SubConfirm {
		return b.confirm(ctx, req)
	}
	t, err := b.target(ctx, req, cmd.Sub == SubLog)
	if err != nil {
		return Reply{}, err
	}
	if quoting(req) {
		return b.recallQuoted(ctx, req, t)
	}
	if picking(req) && !req.Delegated {
		if reply, ok, err := b.pick(ctx, req, t); ok || err != nil {
			return reply, err
		}
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

// actor is the audit actor of a command.
func actor(req Request) Actor {
	what := strings.TrimSpace(req.Event.Text)
	if quoting(req) {
		what += " (quoting a message)"
	}
	return Actor{Source: store.SourceCommand, StaffID: req.Event.StaffID, Nick: req.Event.Nick, Request: what, Reason: req.Command.Reason}
}

// recall runs sel and replies with the summary; asked is N for "recall N",
// 0 for the other selections.
func (b *Bot) recall(ctx context.Context, req Request, t target, sel Selection, asked int) (Reply, error) {
	out, err := b.recaller.recall(ctx, sel, actor(req))
	if err != nil {
		return Reply{}, fmt.Errorf("recall before reaching DingTalk: %w", err)
	}
	req.Log.WithFields(logrus.Fields{"target": t.id, "asked": asked, "recalled": len(out.Recalled), "failed": len(out.Failed), "too_old": len(out.TooOld), "in_flight": len(out.InFlight), "audit": out.AuditID}).Info("recall")
	data := b.recallData(out, asked, t.label)
	empty := b.emptyData(t, sel, asked)
	data.Window, data.Tag = empty.Window, empty.Tag
	if data.Found == 0 {
		return failed(b.render(templates.RecallNothing, data, req.Log)), nil
	}
	reply := b.withFailures(b.render(templates.RecallDone, data, req.Log), data.Failures, t)
	switch {
	case len(data.Failures) > 0 || data.TooOld > 0:
		reply.Failed = true
	case asked == 0 || data.Found >= asked:
		reply.Quiet = true // it took all that was asked, as the person sees
	}
	return reply, nil
}

// failed marks reply as the answer to a command that did not do what was
// asked.
func failed(reply Reply) Reply {
	reply.Failed = true
	return reply
}

// withFailures marks reply as a report of failures in t when there are
// any, so that it stays until they are resolved.
func (b *Bot) withFailures(reply Reply, failures []templates.Failure, t target) Reply {
	if len(failures) > 0 {
		reply.FailuresIn = t.id
	}
	return reply
}

// recallData summarises an outcome for the recall replies.
func (b *Bot) recallData(out Outcome, asked int, label string) templates.RecallData {
	// Recalled counts the selected messages: those found already recalled
	// (Gone) were not selected.
	data := templates.RecallData{Asked: asked, Found: len(out.Selected) - len(out.TooOld), Recalled: len(out.Recalled) - len(out.Gone),
		TooOld: len(out.TooOld), MaxAge: b.span(b.cfg.MaxAge), Chat: label, InFlight: len(out.InFlight)}
	for _, m := range out.Selected {
		if f, failed := out.Failed[m.Key]; failed {
			data.Failures = append(data.Failures, templates.Failure{Preview: Preview(m, 40), Reason: b.tpl.ExplainWith(f.Code, f.Message, b.codeData())})
		}
	}
	return data
}

// pending is a recall waiting for "recall confirm": exactly the messages
// its preview showed.
type pending struct {
	// ID tells this pending recall from a later one of the same person in
	// the same chat (its preview card names it).
	ID    string   `json:"id,omitempty"`
	Chat  string   `json:"chat"`
	Label string   `json:"label"`
	Asked int      `json:"asked"`
	Tag   string   `json:"tag,omitempty"`
	Keys  []string `json:"keys"`
	// Bot is the bot whose messages these are, when it is not the one
	// keeping the pending recall ("recall ... for <bot>").
	Bot string `json:"bot,omitempty"`
}

// pendingKey is where the pending recall of a person in a chat is kept.
func pendingKey(ev Event) string {
	_, here := ev.here()
	return "confirm:" + here + ":" + ev.StaffID
}

// cancelPending drops the sender's pending recall in this chat, if any.
func (b *Bot) cancelPending(ctx context.Context, ev Event, log logrus.FieldLogger) {
	if ev.StaffID == "" {
		return
	}
	if err := b.states.DeleteState(ctx, pendingKey(ev)); err != nil {
		log.WithError(err).Warn("could not cancel a pending recall")
	}
}

// preview replies what sel would take in t; asked is N of "recall N".
func (b *Bot) preview(ctx context.Context, req Request, t target, sel Selection, asked int) (Reply, error) {
	msgs, err := b.recaller.preview(ctx, sel)
	if err != nil {
		return Reply{}, fmt.Errorf("preview a recall: %w", err)
	}
	if len(msgs) == 0 {
		return failed(b.render(templates.RecallNothing, b.emptyData(t, sel, asked), req.Log)), nil
	}
	return b.render(templates.Preview, b.previewData(msgs, t, sel, asked), req.Log), nil
}

// recallOrAsk recalls sel at once when it takes at most RECALL_CONFIRM_OVER
// messages; above that it replies the preview and keeps exactly the
// previewed messages pending for "recall confirm".
func (b *Bot) recallOrAsk(ctx context.Context, req Request, t target, sel Selection, asked int) (Reply, error) {
	if sel.Last > 0 && sel.Last <= b.cfg.ConfirmOver {
		return b.recall(ctx, req, t, sel, asked)
	}
	msgs, err := b.recaller.preview(ctx, sel)
	if err != nil {
		return Reply{}, fmt.Errorf("preview a recall: %w", err)
	}
	if len(msgs) <= b.cfg.ConfirmOver {
		return b.recall(ctx, req, t, sel, asked)
	}
	keeper, owner := b.keeper(req)
	p := pending{ID: newID(), Chat: t.id, Label: t.label, Asked: asked, Tag: sel.Tag, Keys: keysOf(msgs), Bot: owner}
	raw, _ := json.Marshal(p)
	if err := keeper.states.SetState(ctx, pendingKey(req.Event), string(raw), ConfirmWindow); err != nil {
		return Reply{}, fmt.Errorf("keep a recall pending: %w", err)
	}
	data := b.previewData(msgs, t, sel, asked)
	data.Confirm, data.Within = true, b.span(ConfirmWindow)
	return b.withPreviewCard(req, p, data, b.render(templates.Preview, data, req.Log)), nil
}

// previewData describes msgs (newest first) for the preview reply.
func (b *Bot) previewData(msgs []store.Message, t target, sel Selection, asked int) templates.PreviewData {
	data := templates.PreviewData{Asked: asked, Tag: clip(sel.Tag), Count: len(msgs), Chat: t.label,
		From: clock(msgs[len(msgs)-1].SentAt), To: clock(msgs[0].SentAt)}
	if sel.Since > 0 {
		data.Since = b.span(sel.Since)
	}
	for _, m := range msgs {
		data.Lines = append(data.Lines, Preview(m, 40))
	}
	return data
}

// emptyData is the data of the reply when sel takes nothing.
func (b *Bot) emptyData(t target, sel Selection, asked int) templates.RecallData {
	data := templates.RecallData{Asked: asked, Chat: t.label, Tag: clip(sel.Tag), MaxAge: b.span(b.cfg.MaxAge)}
	if sel.Since > 0 {
		data.Window = b.span(sel.Since)
	}
	return data
}

// confirm runs the sender's pending recall in this chat, if it is still
// pending.
func (b *Bot) confirm(ctx context.Context, req Request) (Reply, error) {
	if req.Event.StaffID == "" {
		return failed(b.render(templates.NothingToConfirm, nil, req.Log)), nil
	}
	raw, ok, err := b.states.TakeState(ctx, pendingKey(req.Event))
	if err != nil {
		return Reply{}, fmt.Errorf("read a pending recall: %w", err)
	}
	var p pending
	if !ok || json.Unmarshal([]byte(raw), &p) != nil || len(p.Keys) == 0 {
		return failed(b.render(templates.NothingToConfirm, nil, req.Log)), nil
	}
	if p.Bot != "" {
		// Asked "for <bot>": that bot recalls its own messages.
		owner, ok := b.fleetBot(p.Bot)
		if !ok {
			return failed(b.render(templates.NothingToConfirm, nil, req.Log)), nil
		}
		req.Delegated, req.Via = true, b.cfg.Name
		return owner.confirmPending(ctx, req, p)
	}
	return b.confirmPending(ctx, req, p)
}

// confirmPending recalls what the pending recall p previewed.
func (b *Bot) confirmPending(ctx context.Context, req Request, p pending) (Reply, error) {
	// Exactly what the preview showed: messages sent since are not taken.
	reply, err := b.recall(ctx, req, target{id: p.Chat, label: p.Label}, Selection{ChatID: p.Chat, Keys: p.Keys}, len(p.Keys))
	if err == nil {
		b.closePreview(ctx, p.ID, templates.CardDoneTitle, reply.Text, req.Log)
	}
	return reply, err
}

// lastRecall finds the newest recall a person or the API made that touched
// chat (not a ttl or guard clean-up), and whether a restore already undid it.
func (b *Bot) lastRecall(ctx context.Context, chat string) (entry store.AuditEntry, found, restored bool, err error) {
	entries, err := b.audit.AuditLog(ctx, chat, auditLookback)
	if err != nil {
		return store.AuditEntry{}, false, false, fmt.Errorf("read the audit log: %w", err)
	}
	undone := make(map[string]bool)
	for _, e := range entries {
		switch {
		case e.Action == store.ActionRestore:
			undone[e.Ref] = true
		case e.Action == store.ActionRecall && (e.Source == store.SourceCommand || e.Source == store.SourceAPI):
			return e, true, undone[e.ID], nil
		}
	}
	return store.AuditEntry{}, false, false, nil
}

// retry recalls again the messages of t that failed in its last recall.
// When none fails any more, the earlier failure reports about t may go.
func (b *Bot) retry(ctx context.Context, req Request, t target) (Reply, error) {
	last, found, _, err := b.lastRecall(ctx, t.id)
	if err != nil {
		return Reply{}, err
	}
	var keys []string
	for _, it := range last.Items {
		if found && it.Result == store.ResultFailed && it.ChatID == t.id && it.Code != CodeNotTracked {
			keys = append(keys, it.Key)
		}
	}
	if len(keys) == 0 {
		return failed(b.render(templates.NothingToRetry, templates.RecallData{Chat: t.label}, req.Log)), nil
	}
	out, err := b.recaller.recall(ctx, Selection{ChatID: t.id, Keys: keys}, actor(req))
	if err != nil {
		return Reply{}, fmt.Errorf("retry before reaching DingTalk: %w", err)
	}
	data := b.recallData(out, 0, t.label)
	data.Found = len(keys)
	for _, k := range keys {
		if f, failed := out.Failed[k]; failed && f.Code == CodeNotTracked {
			data.Failures = append(data.Failures, templates.Failure{Preview: k, Reason: f.Message})
		}
	}
	req.Log.WithFields(logrus.Fields{"target": t.id, "retried": len(keys), "recalled": len(out.Recalled)}).Info("recall retry")
	if len(data.Failures) == 0 {
		b.resolveReports(ctx, t.id, req.Log)
	}
	reply := b.withFailures(b.render(templates.RetryDone, data, req.Log), data.Failures, t)
	reply.Failed, reply.Quiet = len(data.Failures) > 0, len(data.Failures) == 0
	return reply, nil
}

// showLog replies the last entries of t's audit log.
func (b *Bot) showLog(ctx context.Context, req Request, t target) (Reply, error) {
	entries, err := b.audit.AuditLog(ctx, t.id, auditLookback)
	if err != nil {
		return Reply{}, fmt.Errorf("read the audit log: %w", err)
	}
	data := templates.AuditData{Chat: t.label}
	for _, e := range entries {
		if e.Action == store.ActionSend {
			continue // posts of other tools: the API's audit lists them
		}
		if len(data.Entries) == auditShown {
			break
		}
		line := templates.AuditLine{When: clock(e.At), Action: e.Action, Source: e.Source, Who: e.Nick, Request: e.Request}
		if line.Who == "" {
			line.Who = e.StaffID
		}
		for _, it := range e.Items {
			switch it.Result {
			case store.ResultRecalled, store.ResultResent:
				line.Done++
			default:
				line.Failed++
			}
		}
		data.Entries = append(data.Entries, line)
	}
	if len(data.Entries) == 0 {
		return b.render(templates.AuditEmpty, data, req.Log), nil
	}
	return b.render(templates.AuditLog, data, req.Log), nil
}
