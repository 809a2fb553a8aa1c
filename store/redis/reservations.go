package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// TakeNewestWithInFlight claims the free messages among the newest n and
// returns them with those in flight, in one script; see store.Ledger.
func (r *Ledger) TakeNewestWithInFlight(ctx context.Context, chatID string, n int) (taken, inFlight []store.Message, err error) {
	if n <= 0 {
		return nil, nil, begin(ctx, "take newest")
	}
	token := store.NewClaimToken()
	taken, inFlight, err = r.inFlight(ctx, "take newest", chatID, n, 1, token)
	for i := range taken {
		taken[i].Claim = token
	}
	return taken, inFlight, err
}

// NewestWithInFlight returns what TakeNewestWithInFlight would, claiming
// nothing; see store.Ledger.
func (r *Ledger) NewestWithInFlight(ctx context.Context, chatID string, n int) (free, inFlight []store.Message, err error) {
	if n <= 0 {
		return nil, nil, begin(ctx, "newest")
	}
	return r.inFlight(ctx, "newest", chatID, n, 0, "")
}

// inFlight runs the inflight script and decodes its two lists.
func (r *Ledger) inFlight(ctx context.Context, op, chatID string, n, take int, token string) (free, busy []store.Message, err error) {
	if err := begin(ctx, op); err != nil {
		return nil, nil, err
	}
	v, err := r.run(ctx, inFlightScript, chatID, n, take, token)
	if err != nil {
		return nil, nil, redisErr(op, err)
	}
	lists, _ := v.([]any)
	if len(lists) != 2 {
		return nil, nil, redisErr(op, fmt.Errorf("unexpected reply %v", v))
	}
	if free, err = decodeMessages(lists[0]); err != nil {
		return nil, nil, redisErr(op, err)
	}
	if busy, err = decodeMessages(lists[1]); err != nil {
		return nil, nil, redisErr(op, err)
	}
	return free, busy, nil
}

// decodeMessages decodes a list of messages as the scripts return them.
func decodeMessages(v any) ([]store.Message, error) {
	rows, _ := v.([]any)
	if len(rows) == 0 {
		return nil, nil
	}
	out := make([]store.Message, 0, len(rows))
	for _, row := range rows {
		f, _ := row.([]any)
		m, err := decodeMessage(f)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Renew extends the live claims that claim holds on the keys, in one
// script that names their hashes in KEYS; see store.Ledger.
func (r *Ledger) Renew(ctx context.Context, claim string, keys ...string) error {
	const op = "renew"
	if err := begin(ctx, op); err != nil {
		return err
	}
	if claim == "" {
		return redisErr(op, fmt.Errorf("%w: empty claim", store.ErrInvalid))
	}
	if len(keys) == 0 {
		return nil
	}
	all := make([]string, 0, len(r.keys)+len(keys))
	all = append(all, r.keys...)
	for _, k := range keys {
		all = append(all, r.prefix+"m:"+k)
	}
	if err := renewScript.Run(ctx, r.c, all, r.argv(claim)...).Err(); err != nil {
		return redisErr(op, unavailable(err))
	}
	return nil
}

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
	body, err := json.Marshal(res)
	if err != nil {
		return redisErr(op, err)
	}
	return r.exec(ctx, op, reserveScript, res.ID, res.ReservedAt.UnixMilli(), body)
}

// Commit drops the reservation and records m in one script; see
// store.Ledger.
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
	return r.exec(ctx, op, commitScript, append([]any{id}, recordArgs(m)...)...)
}

// Drop forgets the reservation; see store.Ledger.
func (r *Ledger) Drop(ctx context.Context, id string) error {
	return r.exec(ctx, "drop", dropScript, id)
}

// Pending returns the reservations made before olderThan (to the
// millisecond) that no settler holds, oldest first; see store.Ledger. It
// forgets those that are TTL old.
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
	v, err := r.run(ctx, pendingScript, before, limit)
	if err != nil {
		return nil, redisErr(op, err)
	}
	rows, _ := v.([]any)
	var out []store.Reservation
	for _, row := range rows {
		res, err := decodeReservation(row)
		if err != nil {
			return nil, redisErr(op, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// SettlePending takes the reservation for settlement; see store.Ledger.
func (r *Ledger) SettlePending(ctx context.Context, id string) (store.Reservation, bool, error) {
	const op = "settle"
	if err := begin(ctx, op); err != nil {
		return store.Reservation{}, false, err
	}
	v, err := r.run(ctx, settleScript, id)
	if err != nil {
		return store.Reservation{}, false, redisErr(op, err)
	}
	if str(v) == "" {
		return store.Reservation{}, false, nil
	}
	res, err := decodeReservation(v)
	if err != nil {
		return store.Reservation{}, false, redisErr(op, err)
	}
	return res, true, nil
}

// decodeReservation decodes a reservation as the scripts return it.
func decodeReservation(v any) (store.Reservation, error) {
	var res store.Reservation
	if err := json.Unmarshal([]byte(str(v)), &res); err != nil {
		return store.Reservation{}, fmt.Errorf("bad reservation: %w", err)
	}
	return res, nil
}
