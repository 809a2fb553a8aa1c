package alertmanager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dropin/alertmanager"
	"github.com/dingrecall/dingrecall/store"
)

const (
	groupKey = `{}/{severity="page"}:{alertname="DiskFull"}`
	chat     = "cidOps=="
)

var start = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

// alert is an alert of the DiskFull group on instance.
func alert(instance, status string) alertmanager.Alert {
	a := alertmanager.Alert{
		Status: status, Labels: alertmanager.KV{"alertname": "DiskFull", "instance": instance, "severity": "page"},
		Annotations: alertmanager.KV{"summary": "disk 91% on " + instance}, StartsAt: start,
		Fingerprint: fmt.Sprintf("fp-%s", instance),
	}
	if status == alertmanager.StatusResolved {
		a.EndsAt = start.Add(time.Hour)
	}
	return a
}

// notification is a payload of the DiskFull group with alerts.
func notification(alerts ...alertmanager.Alert) alertmanager.Payload {
	status := alertmanager.StatusResolved
	for _, a := range alerts {
		if a.Status == alertmanager.StatusFiring {
			status = alertmanager.StatusFiring
		}
	}
	return alertmanager.Payload{
		Version: "4", GroupKey: groupKey, Status: status, Receiver: "ops",
		GroupLabels: alertmanager.KV{"alertname": "DiskFull"}, CommonLabels: alertmanager.KV{"alertname": "DiskFull", "severity": "page"},
		ExternalURL: "http://127.0.0.1:9093", Alerts: alerts,
	}
}

// rig is a receiver on fakes.
type rig struct {
	t      *testing.T
	bot    *fakeBot
	states *fakeStates
	clock  *clock
	recv   *alertmanager.Receiver
}

func newRig(t *testing.T) *rig {
	t.Helper()
	c := &clock{t: start}
	r := &rig{t: t, bot: &fakeBot{}, states: newStates(c.Now), clock: c}
	recv, err := alertmanager.NewReceiver(r.bot, r.states, alertmanager.Config{RetryWindow: 5 * time.Minute, Lang: "en", Now: c.Now})
	require.NoError(t, err)
	r.recv = recv
	return r
}

func route(mode alertmanager.Resolved) alertmanager.Route {
	r := alertmanager.Route{Name: "ops", ConversationID: chat, Resolved: mode}
	if mode == alertmanager.ResolvedRecallNotify {
		r.NoticeTTL = time.Hour
	}
	return r
}

func (r *rig) handle(rt alertmanager.Route, p alertmanager.Payload) alertmanager.Result {
	r.t.Helper()
	res, err := r.recv.Handle(context.Background(), rt, p)
	require.NoError(r.t, err)
	return res
}

// text is a message's markdown text.
func text(t *testing.T, m *sentMsg) string {
	t.Helper()
	var p struct{ Title, Text string }
	require.NoError(t, json.Unmarshal([]byte(m.Message.MsgParam), &p))
	return p.Title + "\n" + p.Text
}

func TestFiringPostsOneTaggedMessage(t *testing.T) {
	r := newRig(t)
	res := r.handle(route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing"), alert("db-4", "firing")))
	require.Len(t, r.bot.all(), 1)
	m := r.bot.all()[0]
	assert.Equal(t, "key-1", res.Posted)
	assert.False(t, res.Retry)
	assert.Equal(t, store.KindGroup, m.Kind)
	assert.Equal(t, chat, m.ChatID)
	assert.Equal(t, dingtalk.MsgKeyMarkdown, m.Message.MsgKey)
	assert.Equal(t, alertmanager.Tag("ops", groupKey), m.Tag)
	assert.Regexp(t, `^am:ops:[0-9a-f]{16}$`, m.Tag)
	assert.Zero(t, m.TTL)
	body := text(t, m)
	assert.Contains(t, body, "[FIRING:2] DiskFull")
	assert.Contains(t, body, "disk 91% on db-3")
	assert.Contains(t, body, "disk 91% on db-4")
}

func TestRetryWithinTheWindowPostsNothing(t *testing.T) {
	r := newRig(t)
	p := notification(alert("db-3", "firing"))
	first := r.handle(route(alertmanager.ResolvedRecall), p)
	r.clock.Advance(4*time.Minute + 59*time.Second)
	res := r.handle(route(alertmanager.ResolvedRecall), p)
	assert.True(t, res.Retry)
	assert.Equal(t, first.Posted, res.Posted, "answers with the message posted the first time")
	assert.Len(t, r.bot.all(), 1)
	assert.Len(t, r.bot.recalls, 1, "only the first notification looked for an earlier message")
}

func TestReminderAfterTheWindowReplacesTheMessage(t *testing.T) {
	r := newRig(t)
	p := notification(alert("db-3", "firing"))
	r.handle(route(alertmanager.ResolvedRecall), p)
	r.clock.Advance(4 * time.Hour) // repeat_interval
	res := r.handle(route(alertmanager.ResolvedRecall), p)
	assert.False(t, res.Retry)
	assert.Equal(t, []string{"key-1"}, res.Recalled)
	assert.Equal(t, "key-2", res.Posted)
	live := r.bot.live()
	require.Len(t, live, 1, "one current message per group")
	assert.Equal(t, "key-2", live[0].Key)
	assert.Equal(t, store.SourceAlertmanager, r.bot.actors[1].Source)
	assert.Contains(t, r.bot.actors[1].Request, "alertmanager ops: group")
}

func TestChangedGroupReplacesAtOnce(t *testing.T) {
	r := newRig(t)
	r.handle(route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing")))
	r.clock.Advance(30 * time.Second) // group_interval
	res := r.handle(route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing"), alert("db-4", "firing")))
	assert.Equal(t, []string{"key-1"}, res.Recalled)
	live := r.bot.live()
	require.Len(t, live, 1)
	assert.Contains(t, text(t, live[0]), "[FIRING:2]")
}

func TestOtherGroupsAreLeftAlone(t *testing.T) {
	r := newRig(t)
	r.handle(route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing")))
	other := notification(alert("web-1", "firing"))
	other.GroupKey = `{}:{alertname="HighLatency"}`
	r.handle(route(alertmanager.ResolvedRecall), other)
	assert.Len(t, r.bot.live(), 2)
	assert.NotEqual(t, r.bot.all()[0].Tag, r.bot.all()[1].Tag)
}

func TestResolvedModes(t *testing.T) {
	tests := []struct {
		mode       alertmanager.Resolved
		liveAfter  []string // tags of the live messages once all resolved
		noticeTTL  time.Duration
		wantNotice bool
	}{
		{alertmanager.ResolvedRecall, nil, 0, false},
		{alertmanager.ResolvedNotify, []string{alertmanager.Tag("ops", groupKey), alertmanager.NoticeTag("ops", groupKey)}, 0, true},
		{alertmanager.ResolvedRecallNotify, []string{alertmanager.NoticeTag("ops", groupKey)}, time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			r := newRig(t)
			rt := route(tt.mode)
			r.handle(rt, notification(alert("db-3", "firing")))
			r.clock.Advance(time.Minute)
			res := r.handle(rt, notification(alert("db-3", "resolved")))
			var tags []string
			for _, m := range r.bot.live() {
				tags = append(tags, m.Tag)
			}
			assert.Equal(t, tt.liveAfter, tags)
			assert.Empty(t, res.Posted, "no alert fires")
			if !tt.wantNotice {
				assert.Empty(t, res.Notice)
				assert.Equal(t, []string{"key-1"}, res.Recalled)
				return
			}
			notice := r.bot.all()[1]
			assert.Equal(t, notice.Key, res.Notice)
			assert.Equal(t, tt.noticeTTL, notice.TTL)
			assert.Contains(t, text(t, notice), "[RESOLVED:1] DiskFull")
			assert.Contains(t, text(t, notice), "db-3")

			// Alertmanager's retry of the resolved notification, and a
			// later repeat of it, announce nothing again.
			r.handle(rt, notification(alert("db-3", "resolved")))
			r.clock.Advance(time.Hour)
			r.handle(rt, notification(alert("db-3", "resolved")))
			assert.Len(t, r.bot.all(), 2)
		})
	}
}

func TestPartlyResolvedGroup(t *testing.T) {
	r := newRig(t)
	rt := route(alertmanager.ResolvedRecallNotify)
	r.handle(rt, notification(alert("db-3", "firing"), alert("db-4", "firing")))
	r.clock.Advance(time.Minute)
	res := r.handle(rt, notification(alert("db-3", "resolved"), alert("db-4", "firing")))
	assert.Equal(t, []string{"key-1"}, res.Recalled)
	live := r.bot.live()
	require.Len(t, live, 2)
	firing, notice := live[0], live[1]
	assert.Contains(t, text(t, firing), "[FIRING:1]")
	assert.NotContains(t, text(t, firing), "db-3")
	assert.Contains(t, text(t, notice), "[RESOLVED:1]")
	assert.Contains(t, text(t, notice), "db-3")
	assert.NotContains(t, text(t, notice), "db-4")

	// Then the rest resolves: only db-4 is announced.
	r.clock.Advance(time.Minute)
	r.handle(rt, notification(alert("db-3", "resolved"), alert("db-4", "resolved")))
	last := r.bot.all()[len(r.bot.all())-1]
	assert.Contains(t, text(t, last), "db-4")
	assert.NotContains(t, text(t, last), "db-3")
	for _, m := range r.bot.live() {
		assert.Equal(t, alertmanager.NoticeTag("ops", groupKey), m.Tag, "only notices are left")
	}
}

func TestResolvedWithoutARecordIsAnnounced(t *testing.T) {
	r := newRig(t)
	res := r.handle(route(alertmanager.ResolvedNotify), notification(alert("db-3", "resolved")))
	assert.NotEmpty(t, res.Notice, "a restart lost the record: announce rather than stay silent")
}

func TestFailedPostIsRetriedOnce(t *testing.T) {
	r := newRig(t)
	rt := route(alertmanager.ResolvedRecall)
	p := notification(alert("db-3", "firing"))
	r.bot.sendErrs = []error{fmt.Errorf("send: %w: system.error", bot.ErrDingTalk)}
	_, err := r.recv.Handle(context.Background(), rt, p)
	require.ErrorIs(t, err, bot.ErrDingTalk)
	assert.Empty(t, r.bot.all())

	r.clock.Advance(10 * time.Second) // Alertmanager's retry
	res := r.handle(rt, p)
	assert.False(t, res.Retry)
	assert.Len(t, r.bot.all(), 1)
	r.clock.Advance(10 * time.Second)
	r.handle(rt, p)
	assert.Len(t, r.bot.all(), 1, "posted exactly once")
}

func TestFailedNoticeIsRetriedWithoutThePost(t *testing.T) {
	r := newRig(t)
	rt := route(alertmanager.ResolvedRecallNotify)
	r.handle(rt, notification(alert("db-3", "firing"), alert("db-4", "firing")))
	r.clock.Advance(time.Minute)
	p := notification(alert("db-3", "resolved"), alert("db-4", "firing"))
	r.bot.sendErrs = []error{nil, fmt.Errorf("send: %w: timeout", bot.ErrDingTalk)}
	_, err := r.recv.Handle(context.Background(), rt, p)
	require.Error(t, err, "the notice failed: Alertmanager must retry")
	require.Len(t, r.bot.all(), 2, "the replaced group message went out")

	r.clock.Advance(5 * time.Second)
	res := r.handle(rt, p)
	assert.True(t, res.Retry)
	assert.Equal(t, "key-2", res.Posted)
	assert.Equal(t, "key-3", res.Notice)
	all := r.bot.all()
	require.Len(t, all, 3, "the retry posted the notice only")
	assert.Contains(t, text(t, all[2]), "[RESOLVED:1]")
	r.clock.Advance(5 * time.Second)
	r.handle(rt, p)
	assert.Len(t, r.bot.all(), 3)
}

func TestLostRecordStillKeepsOneMessage(t *testing.T) {
	r := newRig(t)
	rt := route(alertmanager.ResolvedRecall)
	p := notification(alert("db-3", "firing"))
	r.states.failSet = true
	r.handle(rt, p) // posted; the record could not be saved
	r.clock.Advance(5 * time.Second)
	r.handle(rt, p) // so a retry posts again, replacing the first
	live := r.bot.live()
	assert.Len(t, live, 1, "the ledger's tag still finds the group's message")
}

func TestConcurrentNotificationIsBusy(t *testing.T) {
	r := newRig(t)
	gidLock := "am-lock:ops:" + alertmanager.Tag("ops", groupKey)[len("am:ops:"):]
	_, _, err := r.states.PutStateIfAbsent(context.Background(), gidLock, "someone", time.Minute)
	require.NoError(t, err)
	_, err = r.recv.Handle(context.Background(), route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing")))
	assert.ErrorIs(t, err, alertmanager.ErrBusy)
	assert.Empty(t, r.bot.all())
}

func TestStoreDown(t *testing.T) {
	r := newRig(t)
	r.states.failAll = true
	_, err := r.recv.Handle(context.Background(), route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing")))
	assert.ErrorIs(t, err, errStoreDown)
	assert.Empty(t, r.bot.all())
}

func TestRecallErrorPostsNothing(t *testing.T) {
	r := newRig(t)
	r.bot.recallErr = fmt.Errorf("select messages: %w", errStoreDown)
	_, err := r.recv.Handle(context.Background(), route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing")))
	assert.ErrorIs(t, err, errStoreDown)
	assert.Empty(t, r.bot.all())
}

func TestFailedRecallIsReportedAndTriedAgain(t *testing.T) {
	r := newRig(t)
	rt := route(alertmanager.ResolvedRecall)
	r.handle(rt, notification(alert("db-3", "firing")))
	r.bot.failKeys = map[string]store.Failure{"key-1": {Code: "system.error", Message: "unknown system error"}}
	r.clock.Advance(time.Minute)
	res := r.handle(rt, notification(alert("db-3", "firing"), alert("db-4", "firing")))
	assert.Equal(t, map[string]store.Failure{"key-1": {Code: "system.error", Message: "unknown system error"}}, res.Failed)
	assert.Equal(t, "key-2", res.Posted, "the new state of the group is shown all the same")
	r.bot.failKeys = nil
	r.clock.Advance(time.Minute)
	res = r.handle(rt, notification(alert("db-4", "firing")))
	assert.ElementsMatch(t, []string{"key-1", "key-2"}, res.Recalled)
	assert.Len(t, r.bot.live(), 1)
}

func TestDuplicateGuardKeepsTheMessageInTheChat(t *testing.T) {
	r := newRig(t)
	r.bot.sendErrs = []error{&bot.DuplicateError{Key: "key-earlier"}}
	res := r.handle(route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing")))
	assert.Equal(t, "key-earlier", res.Posted)
}

func TestBurstGuardAsksForARetry(t *testing.T) {
	r := newRig(t)
	r.bot.sendErrs = []error{&bot.BurstError{RetryAfter: 30 * time.Second, Limit: 20}}
	_, err := r.recv.Handle(context.Background(), route(alertmanager.ResolvedRecall), notification(alert("db-3", "firing")))
	var burst *bot.BurstError
	assert.ErrorAs(t, err, &burst)
}
