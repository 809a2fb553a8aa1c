package bot

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// Acknowledgements: how the bot tells a person it took their command
// (ACK_STYLE). With reactions, it puts dingtalk.EmotionWorking on the
// person's message as soon as a worker picks the command up, and when the
// command is done replaces it with dingtalk.EmotionDone or
// dingtalk.EmotionFailed (Reply.Succeeded); the reply message is then sent
// only when it has something to read (Reply.Quiet is false). Whenever
// DingTalk refuses a reaction the bot falls back to the reply.

// AckStyle is how the bot acknowledges commands (ACK_STYLE).
type AckStyle string

// The acknowledgement styles.
const (
	// AckReply answers every command with a reply message and puts no
	// reaction.
	AckReply AckStyle = "reply"
	// AckReaction puts the working reaction on the command and replaces it
	// with the done or failed one; a reply is sent only when there is
	// something to read (failures, previews, lists, refusals, help), or when
	// DingTalk refuses a reaction.
	AckReaction AckStyle = "reaction"
	// AckBoth puts the reactions and sends every reply.
	AckBoth AckStyle = "both"
)

// AckStyles lists the acknowledgement styles, for validating ACK_STYLE.
var AckStyles = []AckStyle{AckReaction, AckReply, AckBoth}

// Reactor puts reactions on a person's message and takes them off;
// *dingtalk.Client has it.
type Reactor interface {
	ReplyEmotion(ctx context.Context, conversationID, msgID string, e dingtalk.Emotion) error
	RecallEmotion(ctx context.Context, conversationID, msgID string, e dingtalk.Emotion) error
}

var _ Reactor = (*dingtalk.Client)(nil)

// reacting reports whether the bot acknowledges with reactions.
func (b *Bot) reacting() bool { return b.cfg.Ack == AckReaction || b.cfg.Ack == AckBoth }

// startAck puts the working reaction on ev's message when the bot
// acknowledges with reactions, and reports whether it is there. A refusal is
// logged; the command is then acknowledged by its reply.
func (b *Bot) startAck(ctx context.Context, ev Event, log logrus.FieldLogger) bool {
	if !b.reacting() || ev.MsgID == "" || ev.ConversationID == "" {
		return false
	}
	if err := b.reactor.ReplyEmotion(ctx, ev.ConversationID, ev.MsgID, dingtalk.EmotionWorking); err != nil {
		reactionFailed(log, err, dingtalk.EmotionWorking)
		return false
	}
	return true
}

// reactionFailed logs that reaction e was not made: DingTalk refused it,
// or the quota governor stopped it (the monthly quota is spent, so
// reactions, optional calls, stop; the one reply costs no more calls than
// the reactions would have).
func reactionFailed(log logrus.FieldLogger, err error, e dingtalk.Emotion) {
	if errors.Is(err, dingtalk.ErrOptionalCallStopped) {
		log.Info("no " + e.Text + " reaction: the monthly API quota is spent; answering with a reply instead")
		return
	}
	log.WithError(err).Warn("DingTalk refused the " + e.Text + " reaction; answering with a reply instead")
}

// finishAck acknowledges the end of ev's command: with the working reaction
// there (reacted), it takes it off and puts the done or failed one, and
// sends the reply unless it is quiet and the bot acknowledges with reactions
// only. When the done or failed reaction is refused, the reply is sent.
func (b *Bot) finishAck(ctx context.Context, ev Event, reacted bool, kind store.Kind, here string, reply Reply, log logrus.FieldLogger) {
	send := !reacted || b.cfg.Ack != AckReaction || !reply.Quiet
	if reacted {
		if err := b.reactor.RecallEmotion(ctx, ev.ConversationID, ev.MsgID, dingtalk.EmotionWorking); err != nil {
			log.WithError(err).Warn("could not take the working reaction off")
		}
		e := dingtalk.EmotionDone
		if !reply.Succeeded() {
			e = dingtalk.EmotionFailed
		}
		if err := b.reactor.ReplyEmotion(ctx, ev.ConversationID, ev.MsgID, e); err != nil {
			reactionFailed(log, err, e)
			send = true
		}
	}
	if send {
		b.sendReply(ctx, kind, here, reply, log)
	}
}
