package alertmanager_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/store"
)

// sentMsg is one message the fake bot posted.
type sentMsg struct {
	bot.Outgoing
	Key      string
	Recalled bool
}

// fakeBot posts and recalls like the bot does, from a ledger of its own:
// a recall by tag takes the live messages with the tag in the chat.
type fakeBot struct {
	mu      sync.Mutex
	msgs    []*sentMsg
	recalls []bot.Selection
	actors  []bot.Actor
	// sendErrs are returned by the next sends, one each.
	sendErrs []error
	// recallErr is returned by every recall; failKeys fail one by one.
	recallErr error
	failKeys  map[string]store.Failure
}

func (b *fakeBot) Send(_ context.Context, o bot.Outgoing) (store.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sendErrs) > 0 {
		err := b.sendErrs[0]
		b.sendErrs = b.sendErrs[1:]
		if err != nil {
			return store.Message{}, err
		}
	}
	m := &sentMsg{Outgoing: o, Key: fmt.Sprintf("key-%d", len(b.msgs)+1)}
	b.msgs = append(b.msgs, m)
	return store.Message{Key: m.Key, Kind: o.Kind, ChatID: o.ChatID, MsgKey: o.Message.MsgKey, MsgParam: o.Message.MsgParam, Tag: o.Tag}, nil
}

func (b *fakeBot) Recall(_ context.Context, sel bot.Selection, by bot.Actor) (bot.Outcome, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recalls = append(b.recalls, sel)
	b.actors = append(b.actors, by)
	if b.recallErr != nil {
		return bot.Outcome{}, b.recallErr
	}
	out := bot.Outcome{Failed: map[string]store.Failure{}}
	for _, m := range b.msgs {
		if m.Recalled || m.Tag != sel.Tag || (sel.ChatID != "" && m.ChatID != sel.ChatID) {
			continue
		}
		if reason, ok := b.failKeys[m.Key]; ok {
			out.Failed[m.Key] = reason
			continue
		}
		m.Recalled = true
		out.Recalled = append(out.Recalled, m.Key)
	}
	return out, nil
}

// live returns the messages not recalled.
func (b *fakeBot) live() []*sentMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*sentMsg
	for _, m := range b.msgs {
		if !m.Recalled {
			out = append(out, m)
		}
	}
	return out
}

// all returns every message posted.
func (b *fakeBot) all() []*sentMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.msgs)
}

// fakeStates is store.States in memory on a test clock.
type fakeStates struct {
	mu     sync.Mutex
	now    func() time.Time
	values map[string]stateValue
	// failSet fails SetState.
	failSet bool
	// failAll fails every call.
	failAll bool
}

type stateValue struct {
	v   string
	exp time.Time
}

var errStoreDown = fmt.Errorf("%w: redis: connection refused", store.ErrUnavailable)

func newStates(now func() time.Time) *fakeStates {
	return &fakeStates{now: now, values: map[string]stateValue{}}
}

func (s *fakeStates) PutStateIfAbsent(_ context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAll {
		return "", false, errStoreDown
	}
	if cur, ok := s.values[key]; ok && s.now().Before(cur.exp) {
		return cur.v, false, nil
	}
	s.values[key] = stateValue{value, s.now().Add(ttl)}
	return value, true, nil
}

func (s *fakeStates) SetState(_ context.Context, key, value string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAll || s.failSet {
		return errStoreDown
	}
	s.values[key] = stateValue{value, s.now().Add(ttl)}
	return nil
}

func (s *fakeStates) DeleteState(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAll {
		return errStoreDown
	}
	delete(s.values, key)
	return nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
