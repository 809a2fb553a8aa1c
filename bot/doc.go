// Package bot is dingrecall's domain: it parses chat commands, decides who
// may recall where, recalls the bot's messages through the DingTalk client,
// keeps the ledger in step, and writes the replies. New builds a Bot from
// its dependencies and settings, with all its parts: the one sender every
// message goes out by (it records the key DingTalk returns), the recall
// engine, the guards of API sends, the worker pool, the TTL auto-recall and
// the intake of callbacks.
//
// Files: parse.go reads commands; recall.go, restore.go, chats.go and
// help.go carry out the command families, and quote.go the recall of a
// quoted message; reply.go runs a command, turns what went wrong into a
// reply (in one place) and sends it; ack.go acknowledges commands with
// reactions on the person's message (ACK_STYLE); recaller.go,
// sender.go, guard.go, pool.go, autorecall.go and intake.go are the parts.
// Interactive cards: card.go (cards on the one send path and their
// records), card_layout.go (the templates' data), card_click.go (button
// clicks), card_confirm.go (the preview card of a large recall) and
// card_tombstone.go (RECALL_MODE=tombstone and restoring cards in place).
package bot
