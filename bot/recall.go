package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// ConfirmWindow is how long a "recall N" above RECALL_CONFIRM_OVER waits for
// "recall confirm".
const ConfirmWindow = 2 * time.Minute

// auditLookback is how many of a chat's newest audit entries retry and
// restore look through for its last recall.
const auditLookback = 50

// pending is a recall waiting for "recall confirm": exactly the messages
// its preview showed.
type pending struct {
	Chat  string   `json:"chat"`
	Label string   `json:"label"`
	Asked int      `json:"asked"`
	Tag   string   `json:"tag,omitempty"`
	Keys  []string `json:"keys"`
}

// pendingKey is where the pending recall of a person in a chat is kept.
func pendingKey(ev Event) string {
	_, here := ev.here()
	return "confirm:" + here + ":" + ev.StaffID
}

// cancelPending drops the sender's pending recall in this chat, if any.
func (b *Bot) cancelPending(ctx context.Context, ev Event, log logrus.FieldLogger) {
	if ev.StaffID == "" || b.cfg.States == nil {
		return
	}
	if err := b.cfg.States.DeleteState(ctx, pendingKey(ev)); err != nil {
		log.WithError(err).Warn("could not cancel a pending recall")
	}
}

// preview replies what sel would take in t; asked is N of "recall N".
func (b *Bot) preview(ctx context.Context, req Request, t target, sel Selection, asked int) Reply {
	msgs, err := b.recaller.Preview(ctx, sel)
	if err != nil {
		req.Log.WithError(err).Error("could not preview a recall")
		return b.render(templates.StoreDown, nil, req.Log)
	}
	if len(msgs) == 0 {
		return b.render(templates.RecallNothing, b.emptyData(t, sel, asked), req.Log)
	}
	return b.render(templates.Preview, b.previewData(msgs, t, sel, asked), req.Log)
}

// recallOrAsk recalls sel at once when it takes at most RECALL_CONFIRM_OVER
// messages; above that it replies the preview and keeps exactly the
// previewed messages pending for "recall confirm".
func (b *Bot) recallOrAsk(ctx context.Context, req Request, t target, sel Selection, asked int) Reply {
	if sel.Last > 0 && sel.Last <= b.cfg.ConfirmOver {
		return b.recall(ctx, req, t, sel, asked)
	}
	log := req.Log
	msgs, err := b.recaller.Preview(ctx, sel)
	if err != nil {
		log.WithError(err).Error("could not preview a recall")
		return b.render(templates.StoreDown, nil, log)
	}
	if len(msgs) <= b.cfg.ConfirmOver {
		return b.recall(ctx, req, t, sel, asked)
	}
	p := pending{Chat: t.id, Label: t.label, Asked: asked, Tag: sel.Tag, Keys: keysOf(msgs)}
	raw, _ := json.Marshal(p)
	if err := b.cfg.States.SetState(ctx, pendingKey(req.Event), string(raw), ConfirmWindow); err != nil {
		log.WithError(err).Error("could not keep a recall pending")
		return b.render(templates.StoreDown, nil, log)
	}
	data := b.previewData(msgs, t, sel, asked)
	data.Confirm, data.Within = true, b.span(ConfirmWindow)
	return b.render(templates.Preview, data, log)
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
	data := templates.RecallData{Asked: asked, Chat: t.label, Tag: clip(sel.Tag), MaxAge: b.span(b.recaller.opts.MaxAge)}
	if sel.Since > 0 {
		data.Window = b.span(sel.Since)
	}
	return data
}

// span formats a duration for replies in the bot's language: 2m, 1h30m,
// 45s, or in Chinese 2分钟, 1小时30分钟, 45秒.
func (b *Bot) span(d time.Duration) string { return spanIn(b.tpl.Lang(), d) }

// spanIn formats a duration in lang.
func spanIn(lang string, d time.Duration) string {
	if lang == "zh" {
		d = d.Round(time.Second)
		var out strings.Builder
		for _, u := range []struct {
			d    time.Duration
			name string
		}{{time.Hour, "小时"}, {time.Minute, "分钟"}, {time.Second, "秒"}} {
			if n := d / u.d; n > 0 {
				fmt.Fprintf(&out, "%d%s", n, u.name)
				d -= n * u.d
			}
		}
		if out.Len() == 0 {
			return "0秒"
		}
		return out.String()
	}
	return span(d)
}

// span formats a duration: 2m, 1h30m, 45s.
func span(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// clock formats a message time for replies.
func clock(t time.Time) string { return t.Local().Format("01-02 15:04:05") }

// confirm runs the sender's pending recall in this chat, if it is still
// pending.
func (b *Bot) confirm(ctx context.Context, req Request) Reply {
	log := req.Log
	if req.Event.StaffID == "" {
		return b.render(templates.NothingToConfirm, nil, log)
	}
	raw, ok, err := b.cfg.States.TakeState(ctx, pendingKey(req.Event))
	if err != nil {
		log.WithError(err).Error("could not read a pending recall")
		return b.render(templates.StoreDown, nil, log)
	}
	var p pending
	if !ok || json.Unmarshal([]byte(raw), &p) != nil || len(p.Keys) == 0 {
		return b.render(templates.NothingToConfirm, nil, log)
	}
	// Exactly what the preview showed: messages sent since are not taken.
	return b.recall(ctx, req, target{id: p.Chat, label: p.Label}, Selection{ChatID: p.Chat, Keys: p.Keys}, len(p.Keys))
}

// lastRecall finds the newest recall a person or the API made that touched
// chat (not a ttl or guard clean-up), and whether a restore already undid it.
func (b *Bot) lastRecall(ctx context.Context, chat string) (store.AuditEntry, bool, bool, error) {
	entries, err := b.cfg.Audit.AuditLog(ctx, chat, auditLookback)
	if err != nil {
		return store.AuditEntry{}, false, false, err
	}
	restored := make(map[string]bool)
	for _, e := range entries {
		switch {
		case e.Action == store.ActionRestore:
			restored[e.Ref] = true
		case e.Action == store.ActionRecall && (e.Source == store.SourceCommand || e.Source == store.SourceAPI):
			return e, true, restored[e.ID], nil
		}
	}
	return store.AuditEntry{}, false, false, nil
}

// retry recalls again the messages of t that failed in its last recall.
func (b *Bot) retry(ctx context.Context, req Request, t target) Reply {
	log := req.Log
	last, found, _, err := b.lastRecall(ctx, t.id)
	if err != nil {
		log.WithError(err).Error("could not read the audit log")
		return b.render(templates.StoreDown, nil, log)
	}
	var keys []string
	for _, it := range last.Items {
		if found && it.Result == store.ResultFailed && it.ChatID == t.id && it.Reason != ReasonNotTracked {
			keys = append(keys, it.Key)
		}
	}
	if len(keys) == 0 {
		return b.render(templates.NothingToRetry, templates.RecallData{Chat: t.label}, log)
	}
	by := actor(req)
	out, err := b.recaller.Recall(ctx, Selection{ChatID: t.id, Keys: keys}, by)
	if err != nil {
		log.WithError(err).Error("retry failed before reaching DingTalk")
		return b.render(templates.StoreDown, nil, log)
	}
	data := b.recallData(out, 0, t.label)
	data.Found = len(keys)
	for _, k := range keys {
		if reason, failed := out.Failed[k]; failed && reason == ReasonNotTracked {
			data.Failures = append(data.Failures, templates.Failure{Preview: k, Reason: reason})
		}
	}
	log.WithFields(logrus.Fields{"target": t.id, "retried": len(keys), "recalled": len(out.Recalled)}).Info("recall retry")
	return b.render(templates.RetryDone, data, log)
}

// showLog replies the last entries of t's audit log.
func (b *Bot) showLog(ctx context.Context, req Request, t target) Reply {
	log := req.Log
	entries, err := b.cfg.Audit.AuditLog(ctx, t.id, 10)
	if err != nil {
		log.WithError(err).Error("could not read the audit log")
		return b.render(templates.StoreDown, nil, log)
	}
	data := templates.AuditData{Chat: t.label}
	for _, e := range entries {
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
		return b.render(templates.AuditEmpty, data, log)
	}
	return b.render(templates.AuditLog, data, log)
}

// runRestore re-sends, in their original order, the messages the chat's
// last recall took, if it ran within RestoreWindow and was not restored yet.
func (b *Bot) runRestore(ctx context.Context, req Request) Reply {
	log := req.Log
	t, refusal := b.target(ctx, req, false)
	if refusal != nil {
		return *refusal
	}
	last, found, restored, err := b.lastRecall(ctx, t.id)
	if err != nil {
		log.WithError(err).Error("could not read the audit log")
		return b.render(templates.StoreDown, nil, log)
	}
	// Items are newest first: walk them backwards so that messages sent in
	// the same instant keep their order through the stable sort below.
	var items []store.AuditItem
	for _, it := range slices.Backward(last.Items) {
		if it.Result == store.ResultRecalled && it.ChatID == t.id {
			items = append(items, it)
		}
	}
	switch {
	case !found || restored || len(items) == 0:
		return b.render(templates.NothingToRestore, templates.RestoreData{Chat: t.label}, log)
	case b.cfg.Now().Sub(last.At) > b.cfg.RestoreWindow:
		return b.render(templates.RestoreTooLate, templates.RestoreData{Chat: t.label, Window: b.span(b.cfg.RestoreWindow)}, log)
	}
	// One restore per recall, also when two arrive at once or on two replicas.
	if _, first, err := b.cfg.States.PutStateIfAbsent(ctx, "restore:"+last.ID+":"+t.id, req.Event.StaffID, b.cfg.RestoreWindow+time.Minute); err != nil {
		log.WithError(err).Error("could not claim a restore")
		return b.render(templates.StoreDown, nil, log)
	} else if !first {
		return b.render(templates.NothingToRestore, templates.RestoreData{Chat: t.label}, log)
	}
	slices.SortStableFunc(items, func(x, y store.AuditItem) int { return x.SentAt.Compare(y.SentAt) })
	entry := store.AuditEntry{Action: store.ActionRestore, Source: store.SourceCommand, StaffID: req.Event.StaffID,
		Nick: req.Event.Nick, ChatID: t.id, Request: actor(req).Request, Ref: last.ID, At: b.cfg.Now()}
	data := templates.RestoreData{Chat: t.label, Total: len(items)}
	for _, it := range items {
		var ttl time.Duration
		if !it.ExpiresAt.IsZero() {
			ttl = it.ExpiresAt.Sub(it.SentAt) // a self-cleaning message cleans itself again
		}
		m, err := b.sender.Send(ctx, Outgoing{Kind: it.Kind, ChatID: it.ChatID, Message: dingtalk.Message{MsgKey: it.MsgKey, MsgParam: it.MsgParam}, Tag: it.Tag, TTL: ttl})
		it.Result, it.NewKey = store.ResultResent, m.Key
		if err != nil && m.Key == "" {
			it.Result, it.Reason = store.ResultNotSent, err.Error()
			data.Failures = append(data.Failures, templates.Failure{Preview: previewParam(it.MsgParam), Reason: b.tpl.Explain(reasonOf(err))})
		} else {
			data.Resent++
		}
		entry.Items = append(entry.Items, it)
	}
	if err := b.cfg.Audit.AddAudit(ctx, entry); err != nil {
		log.WithError(err).Error("could not write the audit entry of a restore")
	}
	log.WithFields(logrus.Fields{"target": t.id, "resent": data.Resent, "of": data.Total, "ref": last.ID}).Info("restore")
	return b.render(templates.RestoreDone, data, log)
}

// previewParam is the preview of raw message parameters.
func previewParam(param string) string { return Preview(store.Message{MsgParam: param}, 40) }

// reasonOf is the DingTalk code and message of a send error, else its text.
func reasonOf(err error) string {
	var apiErr *dingtalk.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Reason()
	}
	return err.Error()
}
