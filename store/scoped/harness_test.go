package scoped_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dingrecall/dingrecall/store"
)

// noiseKey is the key (or reservation or audit ID) of the copy another
// bot writes of what the bot under test writes.
func noiseKey(k string) string {
	if k == "" {
		return ""
	}
	return "zz-" + k
}

// harness runs the conformance suite on a bot's view while another bot
// (noise) writes a copy of everything into the same store, in the same
// chats, with the same tags and titles: the suite's exact expectations
// then fail if the view shows anything of the other bot. It also checks
// that everything the view returns carries the bot, and clears Bot so
// that the suite's comparisons hold.
type harness struct {
	t     *testing.T
	bot   string
	v     store.Ledger
	noise store.Ledger
}

var _ store.Ledger = (*harness)(nil)

func (h *harness) msgs(ms []store.Message) []store.Message {
	for i := range ms {
		assert.Equal(h.t, h.bot, ms[i].Bot, "bot of message %s", ms[i].Key)
		ms[i].Bot = ""
	}
	return ms
}

func (h *harness) copyMsg(m store.Message) store.Message {
	m.Key = noiseKey(m.Key)
	return m
}

func (h *harness) Record(ctx context.Context, m store.Message) error {
	if err := h.v.Record(ctx, m); err != nil {
		return err
	}
	return h.noise.Record(ctx, h.copyMsg(m))
}

func (h *harness) Get(ctx context.Context, key string) (store.Message, error) {
	m, err := h.v.Get(ctx, key)
	if err != nil {
		return m, err
	}
	return h.msgs([]store.Message{m})[0], nil
}

func (h *harness) List(ctx context.Context, chatID string, limit int) ([]store.Message, error) {
	ms, err := h.v.List(ctx, chatID, limit)
	return h.msgs(ms), err
}

func (h *harness) Newest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	ms, err := h.v.Newest(ctx, chatID, n)
	return h.msgs(ms), err
}

func (h *harness) TakeNewest(ctx context.Context, chatID string, n int) ([]store.Message, error) {
	ms, err := h.v.TakeNewest(ctx, chatID, n)
	return h.msgs(ms), err
}

func (h *harness) Claim(ctx context.Context, keys []string) ([]store.Message, error) {
	ms, err := h.v.Claim(ctx, keys)
	return h.msgs(ms), err
}

func (h *harness) Remove(ctx context.Context, keys ...string) error {
	return h.v.Remove(ctx, keys...)
}

func (h *harness) Fail(ctx context.Context, claim string, failures map[string]store.Failure) error {
	return h.v.Fail(ctx, claim, failures)
}

func (h *harness) Release(ctx context.Context, claim string, keys ...string) error {
	return h.v.Release(ctx, claim, keys...)
}

func (h *harness) ByTag(ctx context.Context, tag string) ([]store.Message, error) {
	ms, err := h.v.ByTag(ctx, tag)
	return h.msgs(ms), err
}

func (h *harness) Due(ctx context.Context, now time.Time, limit int) ([]store.Message, error) {
	ms, err := h.v.Due(ctx, now, limit)
	return h.msgs(ms), err
}

func (h *harness) SetTitle(ctx context.Context, chatID string, kind store.Kind, title string) error {
	if err := h.v.SetTitle(ctx, chatID, kind, title); err != nil {
		return err
	}
	return h.noise.SetTitle(ctx, chatID, kind, title)
}

func (h *harness) Chats(ctx context.Context) ([]store.Chat, error) {
	cs, err := h.v.Chats(ctx)
	for i := range cs {
		assert.Equal(h.t, h.bot, cs[i].Bot, "bot of chat %s", cs[i].ID)
		cs[i].Bot = ""
	}
	return cs, err
}

func (h *harness) FindChat(ctx context.Context, idOrTitle string) (store.Chat, error) {
	c, err := h.v.FindChat(ctx, idOrTitle)
	if err == nil {
		assert.Equal(h.t, h.bot, c.Bot, "bot of chat %s", c.ID)
		c.Bot = ""
	}
	return c, err
}

func (h *harness) Ping(ctx context.Context) error { return h.v.Ping(ctx) }

func (h *harness) TakeNewestWithInFlight(ctx context.Context, chatID string, n int) ([]store.Message, []store.Message, error) {
	a, b, err := h.v.TakeNewestWithInFlight(ctx, chatID, n)
	return h.msgs(a), h.msgs(b), err
}

func (h *harness) NewestWithInFlight(ctx context.Context, chatID string, n int) ([]store.Message, []store.Message, error) {
	a, b, err := h.v.NewestWithInFlight(ctx, chatID, n)
	return h.msgs(a), h.msgs(b), err
}

func (h *harness) Renew(ctx context.Context, claim string, keys ...string) error {
	return h.v.Renew(ctx, claim, keys...)
}

func (h *harness) Reserve(ctx context.Context, r store.Reservation) error {
	if err := h.v.Reserve(ctx, r); err != nil {
		return err
	}
	r.ID = noiseKey(r.ID)
	return h.noise.Reserve(ctx, r)
}

func (h *harness) Commit(ctx context.Context, id string, m store.Message) error {
	if err := h.v.Commit(ctx, id, m); err != nil {
		return err
	}
	return h.noise.Commit(ctx, noiseKey(id), h.copyMsg(m))
}

func (h *harness) Drop(ctx context.Context, id string) error { return h.v.Drop(ctx, id) }

func (h *harness) res(r store.Reservation) store.Reservation {
	assert.Equal(h.t, h.bot, r.Bot, "bot of reservation %s", r.ID)
	r.Bot = ""
	return r
}

func (h *harness) Pending(ctx context.Context, olderThan time.Time, limit int) ([]store.Reservation, error) {
	rs, err := h.v.Pending(ctx, olderThan, limit)
	for i := range rs {
		rs[i] = h.res(rs[i])
	}
	return rs, err
}

func (h *harness) SettlePending(ctx context.Context, id string) (store.Reservation, bool, error) {
	r, ok, err := h.v.SettlePending(ctx, id)
	if ok {
		r = h.res(r)
	}
	return r, ok, err
}

// auditHarness is harness for the audit log.
type auditHarness struct {
	t     *testing.T
	bot   string
	v     store.Audit
	noise store.Audit
}

func (h *auditHarness) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if err := h.v.AddAudit(ctx, e); err != nil {
		return err
	}
	e.ID = noiseKey(e.ID)
	return h.noise.AddAudit(ctx, e)
}

func (h *auditHarness) AuditLog(ctx context.Context, chatID string, limit int) ([]store.AuditEntry, error) {
	es, err := h.v.AuditLog(ctx, chatID, limit)
	for i := range es {
		assert.Equal(h.t, h.bot, es[i].Bot, "bot of entry %s", es[i].ID)
		es[i].Bot = ""
	}
	return es, err
}
