package redis

import (
	"embed"
	"strings"
	"unicode"

	goredis "github.com/redis/go-redis/v9"
)

// luaFiles holds the scripts of the Redis ledger and deduper.
//
//go:embed lua/*.lua
var luaFiles embed.FS

// The ledger's scripts, each lua/common.lua followed by its body; see
// lua/common.lua for the arguments they share.
var (
	recordScript   = ledgerScript("record")
	listScript     = ledgerScript("list")
	newestScript   = ledgerScript("newest")
	claimScript    = ledgerScript("claim")
	removeScript   = ledgerScript("remove")
	failScript     = ledgerScript("fail")
	releaseScript  = ledgerScript("release")
	byTagScript    = ledgerScript("bytag")
	dueScript      = ledgerScript("due")
	setTitleScript = ledgerScript("settitle")
	chatsScript    = ledgerScript("chats")
	findChatScript = ledgerScript("findchat")
	inFlightScript = ledgerScript("inflight")
	renewScript    = ledgerScript("renew")
	reserveScript  = ledgerScript("reserve")
	commitScript   = ledgerScript("commit")
	dropScript     = ledgerScript("drop")
	pendingScript  = ledgerScript("pending")
	settleScript   = ledgerScript("settle")
	dedupeScript   = goredis.NewScript(lua("dedupe"))
)

// lua returns the source of lua/<name>.lua.
func lua(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("store/redis: missing embedded script: " + err.Error())
	}
	return string(b)
}

// ledgerScript returns the ledger script name with the common prelude.
func ledgerScript(name string) *goredis.Script {
	return goredis.NewScript(lua("common") + "\n" + lua(name))
}

// fold returns s case-folded so that two strings fold alike exactly when
// strings.EqualFold reports them equal: each rune becomes the smallest rune
// of its simple case-folding orbit.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
