package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dingrecall/dingrecall/store"
)

// A reservation lives in its chat's keys ({P:c:<chat>}:r and :q), so that
// Commit drops it and records the message in one script; the small index
// {P:r} (ID by time, ID to chat) finds it by ID and lists the pending ones
// oldest first. The index is written first and dropped last, and Pending
// checks every entry against its chat.

// Reserve stores r, its time kept to the millisecond; see store.Ledger.
func (r *Ledger) Reserve(ctx context.Context, res store.Reservation) error {
	const op = "reserve"
	if err := begin(ctx, op); err != nil {
		return err
	}
	if err := res.Validate(); err != nil {
		return redisErr(op, err)
	}
	if res.ReservedAt.IsZero() {
		res.ReservedAt = r.now()
	}
	res.ReservedAt = res.ReservedAt.Truncate(time.Millisecond).UTC()
	if err := r.reserve(ctx, res, ""); err != nil {
		return redisErr(op, err)
	}
	return nil
}

// reserve indexes and stores res with a settlement lease ("" for none).
func (r *Ledger) reserve(ctx context.Context, res store.Reservation, lease string) error {
	body, err := json.Marshal(res)
	if err != nil {
		return err
	}
	at := res.ReservedAt.UnixMilli()
	now := r.now().UnixMilli()
	if at <= now-r.ttl {
		// Already TTL old: it replaces, and so drops, any under its ID.
		return r.drop(ctx, res.ID)
	}
	idx := &call{s: resIndexScript, keys: r.k.reservations(), args: []any{res.ID, res.ChatID, at}}
	if err := batch(ctx, r.c, []*call{idx}, nil); err != nil {
		return err
	}
	calls := []*call{r.chatCall(res.ChatID, now, reserveScript, res.ID, at, body, lease)}
	if old := str(idx.result()); old != "" && old != res.ChatID {
		calls = append(calls, r.chatCall(old, now, unreserveScript, res.ID))
	}
	return batch(ctx, r.c, calls, nil)
}

// Commit drops the reservation and records m in one script when m goes to
// the reservation's chat; see store.Ledger.
func (r *Ledger) Commit(ctx context.Context, id string, m store.Message) error {
	const op = "commit"
	if err := begin(ctx, op); err != nil {
		return err
	}
	if id == "" {
		return redisErr(op, fmt.Errorf("%w: empty reservation id", store.ErrInvalid))
	}
	if err := m.Validate(); err != nil {
		return redisErr(op, err)
	}
	return r.record(ctx, op, id, m, "")
}

// Drop forgets the reservation; see store.Ledger.
func (r *Ledger) Drop(ctx context.Context, id string) error {
	const op = "drop"
	if err := begin(ctx, op); err != nil {
		return err
	}
	if err := r.drop(ctx, id); err != nil {
		return redisErr(op, err)
	}
	return nil
}

// drop forgets reservation id: from its chat, then from the index.
func (r *Ledger) drop(ctx context.Context, id string) error {
	chat, err := r.c.HGet(ctx, r.k.reservations()[1], id).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return unavailable(err)
	}
	if chat != "" {
		if _, err := r.run(ctx, chat, unreserveScript, id); err != nil {
			return err
		}
	}
	return batch(ctx, r.c, []*call{{s: resUnindexScript, keys: r.k.reservations(), args: []any{id, chat}}}, nil)
}

// Pending returns the reservations made before olderThan (to the
// millisecond) that no settler holds, oldest first; see store.Ledger. It
// reads the index a page at a time, checks each page against the chats in
// one pipeline, and forgets those that are TTL old.
func (r *Ledger) Pending(ctx context.Context, olderThan time.Time, limit int) ([]store.Reservation, error) {
	const op = "pending"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	// Reservation times are truncated to the millisecond, so "before
	// olderThan" is "before olderThan rounded up".
	before := olderThan.UnixMilli()
	if olderThan.After(time.UnixMilli(before)) {
		before++
	}
	var out []store.Reservation
	type stale struct{ id, chat string }
	var gone []stale
	for from := 0; limit <= 0 || len(out) < limit; from += page {
		v, err := resPageScript.Run(ctx, r.c, r.k.reservations(), before, from, page).Slice()
		if err != nil {
			return nil, redisErr(op, unavailable(err))
		}
		type item struct{ id, chat string }
		var items []item
		order := []string{}
		groups := map[string][]int{}
		for i := 0; i+2 < len(v); i += 3 {
			it := item{id: str(v[i]), chat: str(v[i+1])}
			if it.chat == "" {
				gone = append(gone, stale{it.id, ""})
				continue
			}
			if _, ok := groups[it.chat]; !ok {
				order = append(order, it.chat)
			}
			groups[it.chat] = append(groups[it.chat], len(items))
			items = append(items, it)
		}
		now := r.now().UnixMilli()
		calls := make([]*call, len(order))
		for i, chat := range order {
			args := []any{}
			for _, j := range groups[chat] {
				args = append(args, items[j].id)
			}
			calls[i] = r.chatCall(chat, now, pendingScript, args...)
		}
		if len(calls) > 0 {
			if err := batch(ctx, r.c, calls, nil); err != nil {
				return nil, redisErr(op, err)
			}
		}
		got := make([]string, len(items))
		for i, chat := range order {
			rows, _ := calls[i].result().([]any)
			if len(rows) != len(groups[chat]) {
				return nil, redisErr(op, fmt.Errorf("unexpected reply %v", calls[i].result()))
			}
			for j, row := range rows {
				got[groups[chat][j]] = str(row)
			}
		}
		for i, g := range got {
			switch g {
			case "gone":
				gone = append(gone, stale{items[i].id, items[i].chat})
			case "held":
			default:
				if limit > 0 && len(out) == limit {
					continue
				}
				res, err := decodeReservation(g)
				if err != nil {
					return nil, redisErr(op, err)
				}
				out = append(out, res)
			}
		}
		if len(v)/3 < page {
			break
		}
	}
	if len(gone) > 0 {
		calls := make([]*call, len(gone))
		for i, g := range gone {
			calls[i] = &call{s: resUnindexScript, keys: r.k.reservations(), args: []any{g.id, g.chat}}
		}
		_ = batch(ctx, r.c, calls, nil) // best effort: checked again next time
	}
	return out, nil
}

// SettlePending takes the reservation for settlement; see store.Ledger.
func (r *Ledger) SettlePending(ctx context.Context, id string) (store.Reservation, bool, error) {
	const op = "settle"
	if err := begin(ctx, op); err != nil {
		return store.Reservation{}, false, err
	}
	chat, err := r.c.HGet(ctx, r.k.reservations()[1], id).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Reservation{}, false, nil
	}
	if err != nil {
		return store.Reservation{}, false, redisErr(op, unavailable(err))
	}
	v, err := r.run(ctx, chat, settleScript, id)
	if err != nil {
		return store.Reservation{}, false, redisErr(op, err)
	}
	switch s := str(v); s {
	case "held":
		return store.Reservation{}, false, nil
	case "gone", "":
		_ = batch(ctx, r.c, []*call{{s: resUnindexScript, keys: r.k.reservations(), args: []any{id, chat}}}, nil)
		return store.Reservation{}, false, nil
	default:
		res, err := decodeReservation(s)
		if err != nil {
			return store.Reservation{}, false, redisErr(op, err)
		}
		return res, true, nil
	}
}

// decodeReservation decodes a reservation as the scripts return it.
func decodeReservation(s string) (store.Reservation, error) {
	var res store.Reservation
	if err := json.Unmarshal([]byte(s), &res); err != nil {
		return store.Reservation{}, fmt.Errorf("bad reservation: %w", err)
	}
	return res, nil
}
