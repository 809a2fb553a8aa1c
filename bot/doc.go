// Package bot is dingrecall's domain: it parses chat commands, decides who
// may recall where, recalls the bot's messages through the DingTalk client,
// keeps the ledger in step, and writes the replies. Every message the bot
// sends goes through its one Sender, which records the key DingTalk returns.
package bot
