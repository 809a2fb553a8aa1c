package bot

import (
	"context"

	"github.com/dingrecall/dingrecall/templates"
)

// The help command: "help" (also empty text) lists every command, generated
// from the registry in the bot's language.

// runHelp answers help.
func (b *Bot) runHelp(_ context.Context, req Request) (Reply, error) {
	return b.render(templates.Help, b.helpData(""), req.Log), nil
}

// helpData is the data of the help reply in the bot's language; typed is
// what was typed, for the reply to an unknown command.
func (b *Bot) helpData(typed string) templates.HelpData {
	d := templates.HelpData{Max: b.cfg.RecallMax, Text: typed}
	for _, peer := range b.peers() {
		d.Bots = append(d.Bots, peer.cfg.Name)
	}
	for _, s := range b.reg.Specs() {
		for _, u := range s.Usages {
			d.Commands = append(d.Commands, templates.HelpLine{Usage: u.Text[b.tpl.Lang()], Summary: b.render(u.Summary, nil, b.log).Text})
		}
	}
	return d
}
