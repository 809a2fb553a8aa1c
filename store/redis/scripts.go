package redis

import (
	"context"
	"embed"
	"errors"
	"strings"
	"unicode"

	goredis "github.com/redis/go-redis/v9"
)

// luaFiles holds the scripts of the Redis ledger and deduper.
//
//go:embed lua/*.lua
var luaFiles embed.FS

// The per-chat scripts, each lua/chat.lua followed by its body: they are
// passed the keys of one chat (keys.chat) and touch nothing else.
var (
	recordScript    = chatScript("record")
	removeScript    = chatScript("remove")
	getScript       = chatScript("get")
	listScript      = chatScript("list")
	newestScript    = chatScript("newest")
	inFlightScript  = chatScript("inflight")
	claimScript     = chatScript("claim")
	failScript      = chatScript("fail")
	releaseScript   = chatScript("release")
	renewScript     = chatScript("renew")
	pickScript      = chatScript("pick")
	infoScript      = chatScript("info")
	setTitleScript  = chatScript("settitle")
	deferScript     = chatScript("defer")
	reserveScript   = chatScript("reserve")
	unreserveScript = chatScript("unreserve")
	settleScript    = chatScript("settle")
	pendingScript   = chatScript("pending")
)

// The scripts on one key of an index, or on the reservation index.
var (
	dedupeScript     = goredis.NewScript(lua("dedupe"))
	dirDelSource     = lua("dirdel")
	dirDelScript     = goredis.NewScript(dirDelSource)
	tagPageScript    = goredis.NewScript(lua("tagpage"))
	resIndexScript   = goredis.NewScript(lua("resindex"))
	resUnindexScript = goredis.NewScript(lua("resunindex"))
	resPageScript    = goredis.NewScript(lua("respage"))
)

// lua returns the source of lua/<name>.lua.
func lua(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("store/redis: missing embedded script: " + err.Error())
	}
	return string(b)
}

// chatScript returns the per-chat script name with the chat prelude.
func chatScript(name string) *goredis.Script {
	return goredis.NewScript(lua("chat") + "\n" + lua(name))
}

// call is one script run of a batch.
type call struct {
	s    *goredis.Script
	keys []string
	args []any
	cmd  *goredis.Cmd
}

// result is the call's reply, nil for a Lua false.
func (c *call) result() any {
	v, err := c.cmd.Result()
	if err != nil {
		return nil
	}
	return v
}

// batch runs the calls, and the plain commands plain adds (nil for none),
// in one pipeline: go-redis sends each to the node that owns its keys, in
// parallel over a cluster's masters. Scripts go by EVALSHA; those a node
// does not know yet (a new or failed-over node) are sent again in full. A
// failed command fails the batch, marked store.ErrUnavailable.
func batch(ctx context.Context, c goredis.UniversalClient, calls []*call, plain func(goredis.Pipeliner)) error {
	if len(calls) == 1 && plain == nil {
		cl := calls[0]
		cl.cmd = cl.s.Run(ctx, c, cl.keys, cl.args...)
		if err := cl.cmd.Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return unavailable(err)
		}
		return nil
	}
	var plainCmds []goredis.Cmder
	cmds, _ := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, cl := range calls {
			cl.cmd = cl.s.EvalSha(ctx, p, cl.keys, cl.args...)
		}
		if plain != nil {
			plain(p)
		}
		return nil
	})
	if len(cmds) > len(calls) {
		plainCmds = cmds[len(calls):]
	}
	var again []*call
	for _, cl := range calls {
		if e := cl.cmd.Err(); e != nil && isNoScript(e) {
			again = append(again, cl)
		}
	}
	if len(again) > 0 {
		_, _ = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, cl := range again {
				cl.cmd = cl.s.Eval(ctx, p, cl.keys, cl.args...)
			}
			return nil
		})
	}
	for _, cl := range calls {
		if e := cl.cmd.Err(); e != nil && !errors.Is(e, goredis.Nil) {
			return unavailable(e)
		}
	}
	for _, cmd := range plainCmds {
		if e := cmd.Err(); e != nil && !errors.Is(e, goredis.Nil) {
			return unavailable(e)
		}
	}
	return nil
}

// isNoScript reports whether err is Redis's NOSCRIPT answer to EVALSHA, as
// go-redis's own Script.Run tells it.
func isNoScript(err error) bool {
	return errors.Is(err, goredis.ErrNoScript) || goredis.HasErrorPrefix(err, "NOSCRIPT")
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
