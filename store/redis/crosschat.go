package redis

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// entry is one member of the tag or due index.
type entry struct {
	chat, key, member string
	score             float64
	shard             int
}

// picked is what pick.lua said of an entry: the message, or "busy",
// "skip" or "gone".
type picked struct {
	m      store.Message
	status string
}

// pick checks entries against their chats with pick.lua, mode 't' (tag)
// or 'd' (due), one script per chat in one pipeline.
func (r *Ledger) pick(ctx context.Context, mode, tag string, entries []entry) ([]picked, error) {
	order := []string{}
	groups := map[string][]int{}
	for i, e := range entries {
		if _, ok := groups[e.chat]; !ok {
			order = append(order, e.chat)
		}
		groups[e.chat] = append(groups[e.chat], i)
	}
	now := r.now().UnixMilli()
	calls := make([]*call, len(order))
	for i, chat := range order {
		args := []any{mode, tag}
		for _, j := range groups[chat] {
			args = append(args, entries[j].key)
		}
		calls[i] = r.chatCall(chat, now, pickScript, args...)
	}
	if err := batch(ctx, r.c, calls, nil); err != nil {
		return nil, err
	}
	out := make([]picked, len(entries))
	for i, chat := range order {
		rows, _ := calls[i].result().([]any)
		if len(rows) != len(groups[chat]) {
			return nil, fmt.Errorf("unexpected reply %v", calls[i].result())
		}
		for j, row := range rows {
			at := groups[chat][j]
			if s, ok := row.(string); ok {
				out[at].status = s
				continue
			}
			m, err := decodeMessage(chat, row)
			if err != nil {
				return nil, err
			}
			out[at].m = m
		}
	}
	return out, nil
}

// ByTag returns the unclaimed non-reply messages with the tag, newest
// first, at most Options.ByTagMax of them; see store.Ledger. It reads the
// tag's index a page at a time (each page capped in its script), checks
// each entry against its chat, and drops the stale ones.
func (r *Ledger) ByTag(ctx context.Context, tag string) ([]store.Message, error) {
	const op = "by tag"
	if err := begin(ctx, op); err != nil || tag == "" {
		return nil, err
	}
	tk := r.k.tag(tag)
	cut := r.now().UnixMilli() - r.ttl
	n := min(page, r.byTagMax)
	var out []store.Message
	var stale []any
	for from := 0; len(out) < r.byTagMax; from += n {
		v, err := tagPageScript.Run(ctx, r.c, []string{tk}, cut, from, n).Slice()
		if err != nil {
			return nil, redisErr(op, unavailable(err))
		}
		entries := make([]entry, 0, len(v)/2)
		for i := 0; i+1 < len(v); i += 2 {
			mem := str(v[i])
			chat, key, ok := splitMember(mem)
			if !ok {
				stale = append(stale, mem)
				continue
			}
			entries = append(entries, entry{chat: chat, key: key, member: mem})
		}
		got, err := r.pick(ctx, "t", tag, entries)
		if err != nil {
			return nil, redisErr(op, err)
		}
		for i, p := range got {
			switch {
			case p.status == "gone":
				stale = append(stale, entries[i].member)
			case p.status == "" && len(out) < r.byTagMax:
				out = append(out, p.m)
			}
		}
		if len(v)/2 < n {
			break
		}
	}
	if len(stale) > 0 {
		_ = r.c.ZRem(ctx, tk, stale...).Err() // best effort: they are checked again
	}
	return out, nil
}

// Due returns the unclaimed messages due for automatic recall at now,
// earliest first; see store.Ledger. A message whose automatic recall
// failed (DeferDue) is due again only at its next attempt. The due index
// is sharded: Due merges its shards a page at a time, checks each entry
// against its chat and drops the stale ones.
func (r *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]store.Message, error) {
	const op = "due"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	want := limit
	if want <= 0 {
		want = math.MaxInt
	}
	until := strconv.FormatInt(now.UnixMilli(), 10)
	offset := make([]int, dueShards)
	done := make([]bool, dueShards)
	var out []store.Message
	stale := map[int][]any{}
	for len(out) < want && slices.Contains(done, false) {
		n := page
		if want-len(out) < page {
			n = want - len(out) + 16
		}
		cmds := make([]*goredis.ZSliceCmd, dueShards)
		_, _ = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for s := range dueShards {
				if !done[s] {
					cmds[s] = p.ZRangeByScoreWithScores(ctx, r.k.dueShard(s), &goredis.ZRangeBy{Min: "-inf", Max: until, Offset: int64(offset[s]), Count: int64(n)})
				}
			}
			return nil
		})
		bound := math.Inf(1)
		read := make([][]goredis.Z, dueShards)
		for s, c := range cmds {
			if c == nil {
				continue
			}
			zs, err := c.Result()
			if err != nil {
				return nil, redisErr(op, unavailable(err))
			}
			read[s] = zs
			if len(zs) == n {
				bound = min(bound, zs[len(zs)-1].Score)
			}
		}
		// Entries up to bound are in order across shards; those after it
		// are read again with the next page.
		var entries []entry
		for s, zs := range read {
			used := 0
			for _, z := range zs {
				if z.Score > bound {
					break
				}
				used++
				mem := str(z.Member)
				chat, key, ok := splitMember(mem)
				if !ok {
					stale[s] = append(stale[s], mem)
					continue
				}
				entries = append(entries, entry{chat: chat, key: key, member: mem, score: z.Score, shard: s})
			}
			offset[s] += used
			if cmds[s] != nil && len(zs) < n && used == len(zs) {
				done[s] = true
			}
		}
		slices.SortFunc(entries, func(a, b entry) int {
			if c := cmp.Compare(a.score, b.score); c != 0 {
				return c
			}
			return cmp.Compare(a.member, b.member)
		})
		got, err := r.pick(ctx, "d", "", entries)
		if err != nil {
			return nil, redisErr(op, err)
		}
		for i, p := range got {
			switch {
			case p.status == "gone":
				stale[entries[i].shard] = append(stale[entries[i].shard], entries[i].member)
			case p.status == "" && len(out) < want:
				out = append(out, p.m)
			}
		}
	}
	if len(stale) > 0 {
		_, _ = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for s, ms := range stale {
				p.ZRem(ctx, r.k.dueShard(s), ms...)
			}
			return nil
		})
	}
	return out, nil
}

// DeferDue postpones the automatic recall of TTL messages whose recall
// just failed: the ledger counts one more failure for each key and makes
// it due again at now plus base doubled for every failure before this one
// (base, 2×base, 4×base, …), never more than max. Due leaves the message
// out until then, on every replica and across restarts, since the due
// index's score is the next attempt; recording the key again starts the
// count over. Keys not tracked, or without ExpiresAt, are ignored. It
// returns when each deferred key is next due. It fails with ErrInvalid
// unless 0 < base <= max.
func (r *Ledger) DeferDue(ctx context.Context, keys []string, base, max time.Duration) (map[string]time.Time, error) {
	const op = "defer due"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if base <= 0 || max < base {
		return nil, redisErr(op, fmt.Errorf("%w: want 0 < base <= max, have %v and %v", store.ErrInvalid, base, max))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	chats, calls, err := r.eachChat(ctx, keys, deferScript)
	if err != nil {
		return nil, redisErr(op, err)
	}
	now := r.now()
	out := map[string]time.Time{}
	_, err = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, chat := range chats {
			rows, _ := calls[chat].result().([]any)
			for i := 0; i+1 < len(rows); i += 2 {
				key := str(rows[i])
				failures, _ := rows[i+1].(int64)
				wait := base
				for f := int64(1); f < failures && wait < max; f++ {
					wait *= 2
				}
				next := now.Add(min(wait, max))
				out[key] = next
				p.ZAddXX(ctx, r.k.due(key), goredis.Z{Score: float64(next.UnixMilli()), Member: member(chat, key)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, redisErr(op, unavailable(err))
	}
	return out, nil
}

// chatInfo is what info.lua says of a chat.
type chatInfo struct {
	kind, title, fold string
	count             int
	newest            float64
}

// infos runs info.lua on the chats in one pipeline.
func (r *Ledger) infos(ctx context.Context, chats []string) ([]chatInfo, error) {
	now := r.now().UnixMilli()
	calls := make([]*call, len(chats))
	for i, c := range chats {
		calls[i] = r.chatCall(c, now, infoScript)
	}
	if err := batch(ctx, r.c, calls, nil); err != nil {
		return nil, err
	}
	out := make([]chatInfo, len(chats))
	for i, c := range calls {
		f, _ := c.result().([]any)
		if len(f) != 5 {
			return nil, fmt.Errorf("chat %q: unexpected reply %v", chats[i], c.result())
		}
		n, _ := f[3].(int64)
		out[i] = chatInfo{kind: str(f[0]), title: str(f[1]), fold: str(f[2]), count: int(n)}
		if s := str(f[4]); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("chat %q: bad activity score: %w", chats[i], err)
			}
			out[i].newest = v
		}
	}
	return out, nil
}

// Chats returns the chats with tracked messages, most recently active
// first; see store.Ledger. It reads the sharded chat list a page at a time
// and counts a page of chats in one pipeline (one round trip per node, not
// per chat). A listed chat whose score is TTL old is dropped from the list
// when it has no message left, else its score is brought up to date (a
// chat is not relisted on every record).
func (r *Ledger) Chats(ctx context.Context) ([]store.Chat, error) {
	const op = "chats"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	cut := float64(r.now().UnixMilli() - r.ttl)
	offset := make([]int64, activeShards)
	done := make([]bool, activeShards)
	var all []store.ActiveChat[float64]
	// Fixes to the list wait for the end of the walk, which goes by rank.
	var fix []func(goredis.Pipeliner)
	type listed struct {
		chat  string
		score float64
		shard int
	}
	for slices.Contains(done, false) {
		cmds := make([]*goredis.ZSliceCmd, activeShards)
		_, _ = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for s := range activeShards {
				if !done[s] {
					cmds[s] = p.ZRevRangeWithScores(ctx, r.k.activeShard(s), offset[s], offset[s]+page-1)
				}
			}
			return nil
		})
		var ids []listed
		for s, c := range cmds {
			if c == nil {
				continue
			}
			got, err := c.Result()
			if err != nil {
				return nil, redisErr(op, unavailable(err))
			}
			for _, z := range got {
				ids = append(ids, listed{chat: str(z.Member), score: z.Score, shard: s})
			}
			offset[s] += int64(len(got))
			done[s] = len(got) < page
		}
		for chunk := range slices.Chunk(ids, page) {
			names := make([]string, len(chunk))
			for i, l := range chunk {
				names[i] = l.chat
			}
			infos, err := r.infos(ctx, names)
			if err != nil {
				return nil, redisErr(op, err)
			}
			for i, in := range infos {
				l := chunk[i]
				switch {
				case in.count > 0:
					all = append(all, store.ActiveChat[float64]{
						Chat:   store.Chat{ID: l.chat, Kind: store.Kind(in.kind), Title: in.title, Count: in.count},
						Newest: in.newest,
					})
					if l.score <= cut {
						fix = append(fix, func(p goredis.Pipeliner) {
							p.ZAddGT(ctx, r.k.activeShard(l.shard), goredis.Z{Score: in.newest, Member: l.chat})
						})
					}
				case l.score <= cut:
					fix = append(fix, func(p goredis.Pipeliner) { p.ZRem(ctx, r.k.activeShard(l.shard), l.chat) })
				}
			}
		}
	}
	r.clean(ctx, fix)
	return store.ByActivity(all), nil
}

// SetTitle remembers the title of a chat; see store.Ledger.
func (r *Ledger) SetTitle(ctx context.Context, chatID string, kind store.Kind, title string) error {
	const op = "set title"
	if err := begin(ctx, op); err != nil {
		return err
	}
	switch {
	case chatID == "":
		return redisErr(op, fmt.Errorf("%w: empty chat id", store.ErrInvalid))
	case !kind.Valid():
		return redisErr(op, fmt.Errorf("%w: unknown chat kind %q", store.ErrInvalid, kind))
	}
	f := fold(title)
	if title == "" {
		f = ""
	}
	v, err := r.run(ctx, chatID, setTitleScript, string(kind), title, f)
	if err != nil {
		return redisErr(op, err)
	}
	old := str(v)
	_, err = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if old != "" && old != f {
			p.SRem(ctx, r.k.fold(old), chatID)
		}
		if f != "" {
			p.SAdd(ctx, r.k.fold(f), chatID)
		}
		return nil
	})
	if err != nil {
		return redisErr(op, unavailable(err))
	}
	return nil
}

// FindChat returns the chat with the ID or, failing that, the title; see
// store.Ledger. Titles are found through the set of chats per case-folded
// title, each checked against the chat's own info.
func (r *Ledger) FindChat(ctx context.Context, idOrTitle string) (store.Chat, error) {
	const op = "find chat"
	if err := begin(ctx, op); err != nil {
		return store.Chat{}, err
	}
	notFound := fmt.Errorf("redis ledger: find chat %q: %w", idOrTitle, store.ErrNotFound)
	if idOrTitle == "" {
		return store.Chat{}, notFound
	}
	in, err := r.infos(ctx, []string{idOrTitle})
	if err != nil {
		return store.Chat{}, redisErr(op, err)
	}
	if c := in[0]; c.count > 0 || c.title != "" {
		return store.Chat{ID: idOrTitle, Kind: store.Kind(c.kind), Title: c.title, Count: c.count}, nil
	}
	f := fold(idOrTitle)
	ids, err := r.c.SMembers(ctx, r.k.fold(f)).Result()
	if err != nil {
		return store.Chat{}, redisErr(op, unavailable(err))
	}
	if len(ids) == 0 {
		return store.Chat{}, notFound
	}
	slices.Sort(ids)
	infos, err := r.infos(ctx, ids)
	if err != nil {
		return store.Chat{}, redisErr(op, err)
	}
	var found []store.Chat
	var stale []any
	for i, in := range infos {
		if in.fold != f || in.title == "" {
			stale = append(stale, ids[i])
			continue
		}
		found = append(found, store.Chat{ID: ids[i], Kind: store.Kind(in.kind), Title: in.title, Count: in.count})
	}
	if len(stale) > 0 {
		_ = r.c.SRem(ctx, r.k.fold(f), stale...).Err() // best effort
	}
	switch len(found) {
	case 0:
		return store.Chat{}, notFound
	case 1:
		return found[0], nil
	}
	return store.Chat{}, fmt.Errorf("redis ledger: find chat %q: %w: %d chats have this title", idOrTitle, store.ErrAmbiguous, len(found))
}
