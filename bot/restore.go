package bot

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// The restore command: "restore" here or, for a recall admin writing
// one-to-one, "restore in <chat>"; an admin adds "for <bot>" to undo what
// "recall ... for <bot>" took.

// runRestore re-sends, in their original order, the messages the chat's
// last recall took, if it ran within RestoreWindow and was not restored yet.
// The failure reports about the chat may go then.
func (b *Bot) runRestore(ctx context.Context, req Request) (Reply, error) {
	t, err := b.target(ctx, req, false)
	if err != nil {
		return Reply{}, err
	}
	last, found, restored, err := b.lastRecall(ctx, t.id)
	if err != nil {
		return Reply{}, err
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
		return failed(b.render(templates.NothingToRestore, templates.RestoreData{Chat: t.label}, req.Log)), nil
	case b.now().Sub(last.At) > b.cfg.RestoreWindow:
		return failed(b.render(templates.RestoreTooLate, templates.RestoreData{Chat: t.label, Window: b.span(b.cfg.RestoreWindow)}, req.Log)), nil
	}
	// One restore per recall, also when two arrive at once or on two replicas.
	if _, first, err := b.states.PutStateIfAbsent(ctx, "restore:"+last.ID+":"+t.id, req.Event.StaffID, b.cfg.RestoreWindow+time.Minute); err != nil {
		return Reply{}, fmt.Errorf("claim a restore: %w", err)
	} else if !first {
		return failed(b.render(templates.NothingToRestore, templates.RestoreData{Chat: t.label}, req.Log)), nil
	}
	slices.SortStableFunc(items, func(x, y store.AuditItem) int { return x.SentAt.Compare(y.SentAt) })
	entry := store.AuditEntry{Action: store.ActionRestore, Source: store.SourceCommand, StaffID: req.Event.StaffID,
		Nick: req.Event.Nick, ChatID: t.id, Request: actor(req).Request, Ref: last.ID, At: b.now()}
	data := templates.RestoreData{Chat: t.label, Total: len(items)}
	for _, it := range items {
		var ttl time.Duration
		if !it.ExpiresAt.IsZero() {
			ttl = it.ExpiresAt.Sub(it.SentAt) // a self-cleaning message cleans itself again
		}
		var m store.Message
		var err error
		if it.Code == CodeTombstoned {
			m, err = b.restoreCard(ctx, it, ttl, req.Log) // back in place, under its own key
		} else {
			m, err = b.sender.send(ctx, Outgoing{Kind: it.Kind, ChatID: it.ChatID, Message: dingtalk.Message{MsgKey: it.MsgKey, MsgParam: it.MsgParam}, Tag: it.Tag, TTL: ttl})
		}
		it.Result, it.NewKey = store.ResultResent, m.Key
		if err != nil && m.Key == "" {
			f := failureOf(err)
			it.Result, it.Code, it.Reason = store.ResultNotSent, f.Code, f.Message
			data.Failures = append(data.Failures, templates.Failure{Preview: previewParam(it.MsgParam), Reason: b.tpl.ExplainWith(f.Code, f.Message, b.codeData())})
		} else {
			data.Resent++
		}
		entry.Items = append(entry.Items, it)
	}
	if err := b.audit.AddAudit(ctx, entry); err != nil {
		req.Log.WithError(err).Error("could not write the audit entry of a restore")
	}
	req.Log.WithFields(logrus.Fields{"target": t.id, "resent": data.Resent, "of": data.Total, "ref": last.ID}).Info("restore")
	b.resolveReports(ctx, t.id, req.Log)
	reply := b.withFailures(b.render(templates.RestoreDone, data, req.Log), data.Failures, t)
	reply.Failed, reply.Quiet = len(data.Failures) > 0, len(data.Failures) == 0
	return reply, nil
}

// previewParam is the preview of raw message parameters.
func previewParam(param string) string { return Preview(store.Message{MsgParam: param}, 40) }
