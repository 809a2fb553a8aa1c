package app

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// The two apps of BOTS_FILE in the several-bots tests, beside the fake's
// default app (the bot "default", from DINGTALK_APP_KEY).
const (
	alertsKey, alertsSecret, alertsRobot    = "dingalerts", "alerts-secret-0123456789", "robot-alerts"
	deploysKey, deploysSecret, deploysRobot = "dingdeploys", "deploys-secret-0123456789", "robot-deploys"
)

// fleetFake is a fake DingTalk that knows the default app and the alerts
// and deploys apps, on clk when it is not nil.
func fleetFake(t *testing.T, clk *testClock) *dingtalktest.Server {
	opts := []dingtalktest.Option{
		dingtalktest.WithApp(alertsKey, alertsSecret, alertsRobot),
		dingtalktest.WithApp(deploysKey, deploysSecret, deploysRobot),
	}
	if clk != nil {
		opts = append(opts, dingtalktest.WithClock(clk.Now))
	}
	return dingtalktest.NewTest(t, opts...)
}

// botsFile writes a BOTS_FILE with the alerts and deploys bots; extra is
// appended to each bot's entry (a YAML flow mapping's fields).
func botsFile(t *testing.T, alertsExtra, deploysExtra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bots.yaml")
	text := fmt.Sprintf(`bots:
  - {name: alerts, appKey: %s, appSecret: %s, robotCode: %s%s}
  - {name: deploys, appKey: %s, appSecret: %s, robotCode: %s%s}
`, alertsKey, alertsSecret, alertsRobot, alertsExtra, deploysKey, deploysSecret, deploysRobot, deploysExtra)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// sendAs sends n texts into conv through the bot called name.
func (a *testApp) sendAs(name, conv string, n int) []string {
	a.t.Helper()
	return a.send(conv, n, map[string]any{"bot": name})
}

// commandTo posts a callback to bot name's path, signed with secret, and
// returns the reply the bot sends for it.
func (a *testApp) commandTo(name, secret string, body map[string]any) dingtalktest.Message {
	a.t.Helper()
	before := len(a.fake.Sent())
	status, out := a.do(http.MethodPost, "/dingtalk/callback/"+name, body, signed(secret, a.now()))
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	return a.replyAfter(before)
}

// recalledKeys are those of keys the fake has recalled.
func recalledKeys(fake *dingtalktest.Server, keys []string) []string {
	var out []string
	for _, k := range keys {
		if m, ok := fake.Message(k); ok && m.Recalled {
			out = append(out, k)
		}
	}
	return out
}

func TestSeveralBotsCallbacksAreVerifiedWithTheirOwnSecret(t *testing.T) {
	fake := fleetFake(t, nil)
	a := startApp(t, fake, map[string]string{"BOTS_FILE": botsFile(t, "", "")})
	cases := []struct {
		name, path, secret string
		want               int
	}{
		{"alerts with its secret", "/dingtalk/callback/alerts", alertsSecret, http.StatusOK},
		{"deploys with its secret", "/dingtalk/callback/deploys", deploysSecret, http.StatusOK},
		{"default by name", "/dingtalk/callback/default", fake.AppSecret(), http.StatusOK},
		{"default on the plain path", "/dingtalk/callback", fake.AppSecret(), http.StatusOK},
		{"alerts signed with deploys' secret", "/dingtalk/callback/alerts", deploysSecret, http.StatusUnauthorized},
		{"deploys signed with the default secret", "/dingtalk/callback/deploys", fake.AppSecret(), http.StatusUnauthorized},
		{"plain path signed with alerts' secret", "/dingtalk/callback", alertsSecret, http.StatusUnauthorized},
		{"a bot that is not there", "/dingtalk/callback/nobody", alertsSecret, http.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out := a.do(http.MethodPost, c.path, a.callbackBody("help", nil), signed(c.secret, a.now()))
			assert.Equal(t, c.want, status, "%v", out)
		})
	}
}

func TestSeveralBotsInOneGroupEachRecallsOnlyItsOwn(t *testing.T) {
	fake := fleetFake(t, nil)
	a := startApp(t, fake, map[string]string{"BOTS_FILE": botsFile(t, "", "")})
	alerts := a.sendAs("alerts", group, 5)
	deploys := a.sendAs("deploys", group, 5)
	mine := a.send(group, 2, nil) // the default bot

	for _, k := range alerts {
		m, _ := fake.Message(k)
		assert.Equal(t, alertsRobot, m.RobotCode, "sent by the alerts robot")
	}
	reply := a.commandTo("alerts", alertsSecret, a.callbackBody("recall 3", nil))
	assert.Equal(t, alertsRobot, reply.RobotCode, "the reply goes out through the bot asked")
	assert.ElementsMatch(t, alerts[2:], recalledKeys(fake, alerts), "alerts' three newest")
	assert.Empty(t, recalledKeys(fake, deploys), "deploys' messages are newer, and untouched")
	assert.Empty(t, recalledKeys(fake, mine))

	reply = a.commandTo("deploys", deploysSecret, a.callbackBody("recall 3", nil))
	assert.Equal(t, deploysRobot, reply.RobotCode)
	assert.ElementsMatch(t, deploys[2:], recalledKeys(fake, deploys))
	assert.ElementsMatch(t, alerts[2:], recalledKeys(fake, alerts), "alerts' untouched by deploys")

	// The listing filters by bot, and without one shows every bot's.
	status, out := a.api(http.MethodGet, "/conversations/"+group+"/messages?bot=alerts", nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	var listed []string
	for _, m := range out["messages"].([]any) {
		mm := m.(map[string]any)
		assert.Equal(t, "alerts", mm["bot"])
		if mm["reply"] != true {
			listed = append(listed, mm["processQueryKey"].(string))
		}
	}
	assert.ElementsMatch(t, alerts[:2], listed)
	present := map[string]bool{}
	for _, m := range a.all(group) {
		present[m["bot"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"alerts": true, "deploys": true, "default": true}, present, "without bot, every bot's messages")
	status, out = a.api(http.MethodGet, "/conversations/"+group+"/messages?bot=nobody", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "bot", out["error"].(map[string]any)["field"])

	// The API recalls one bot's messages; a key of another bot is not its.
	status, out = a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "keys": []string{mine[0], alerts[0]}, "bot": "alerts"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Equal(t, []any{alerts[0]}, out["recalled"])
	assert.Equal(t, "dingrecall.notTracked", out["failedCodes"].(map[string]any)[mine[0]])
	assert.Empty(t, recalledKeys(fake, mine))

	// The audit log keeps the bot of every entry and filters by it.
	for _, e := range a.auditEntries("?bot=deploys") {
		assert.Equal(t, "deploys", e["bot"])
	}
	seen := map[string]bool{}
	for _, e := range a.auditEntries("") {
		seen[e["bot"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"alerts": true, "deploys": true}, seen, "recalls were made by alerts and deploys")
}

// all returns every tracked message of conv, replies included.
func (a *testApp) all(conv string) []map[string]any {
	a.t.Helper()
	status, out := a.api(http.MethodGet, "/conversations/"+conv+"/messages", nil)
	require.Equal(a.t, http.StatusOK, status, "%v", out)
	var msgs []map[string]any
	for _, m := range out["messages"].([]any) {
		msgs = append(msgs, m.(map[string]any))
	}
	return msgs
}

func TestSeveralBotsAnAdminNamesTheBot(t *testing.T) {
	fake := fleetFake(t, nil)
	a := startApp(t, fake, map[string]string{"BOTS_FILE": botsFile(t, "", "")})
	deploys := a.sendAs("deploys", group, 4)
	alerts := a.sendAs("alerts", group, 2)
	oneToOne := func(text, staff string) map[string]any {
		return a.callbackBody(text, func(b map[string]any) {
			b["conversationType"], b["conversationId"], b["senderStaffId"] = "1", "cidOneToOne==", staff
			delete(b, "conversationTitle")
		})
	}
	// A person who is no admin may not.
	reply := a.command(oneToOne("recall 2 in "+group+" for deploys", "staff-1001"))
	assert.Empty(t, recalledKeys(fake, deploys), replyText(t, reply))

	// An admin, one-to-one with the default bot, recalls deploys' newest
	// two, naming the group by the title the default bot has seen (the
	// deploys bot only posts there).
	a.command(a.callbackBody("help", nil))
	reply = a.command(oneToOne("recall 2 in ops-alerts for deploys", "staff-admin"))
	assert.Equal(t, fake.RobotCode(), reply.RobotCode, "the default bot answers")
	assert.Contains(t, replyText(t, reply), "2")
	assert.ElementsMatch(t, deploys[2:], recalledKeys(fake, deploys))
	assert.Empty(t, recalledKeys(fake, alerts), "alerts' messages stay though they are newer")
	// In a group, naming the bot is for admins too, and acts on this chat.
	reply = a.commandTo("alerts", alertsSecret, a.callbackBody("recall 1 for deploys", nil))
	assert.Len(t, recalledKeys(fake, deploys), 2, replyText(t, reply))
	reply = a.commandTo("alerts", alertsSecret, a.callbackBody("recall 1 for deploys", func(b map[string]any) { b["senderStaffId"] = "staff-admin" }))
	assert.ElementsMatch(t, deploys[1:], recalledKeys(fake, deploys), replyText(t, reply))
	assert.Equal(t, alertsRobot, reply.RobotCode)
}

func TestSeveralBotsEachGetsItsFullRate(t *testing.T) {
	fake := fleetFake(t, nil)
	file := filepath.Join(t.TempDir(), "ledger.db")
	// The messages are sent fast, then the app restarts on the same
	// STORE_FILE with each bot allowed 5 calls a second per API, as the
	// fake allows each app.
	a := startApp(t, fake, map[string]string{"BOTS_FILE": botsFile(t, ", qps: 100", ", qps: 100"), "STORE_FILE": file})
	alerts := a.sendAs("alerts", group, 100)
	deploys := a.sendAs("deploys", group, 100)
	require.NoError(t, a.stop())
	fake.SetAppQPSLimit(alertsKey, 5)
	fake.SetAppQPSLimit(deploysKey, 5)
	a = startApp(t, fake, map[string]string{"BOTS_FILE": botsFile(t, ", qps: 5", ", qps: 5"), "STORE_FILE": file, "RECALL_MAX": "200"})
	var wg sync.WaitGroup
	for _, c := range []struct {
		name string
		keys []string
	}{{"alerts", alerts}, {"deploys", deploys}} {
		wg.Go(func() {
			status, out := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "keys": c.keys, "bot": c.name})
			assert.Equal(t, http.StatusOK, status, "%v", out)
			assert.Len(t, out["recalled"], len(c.keys), "%v", out["failed"])
		})
	}
	wg.Wait()
	var at []time.Time
	perApp := map[string]int{}
	for _, c := range fake.Calls() {
		if c.Path == dingtalk.PathGroupRecall {
			assert.Empty(t, c.Code, "DingTalk refused a call: %+v", c)
			perApp[c.AppKey]++
			at = append(at, c.At)
		}
	}
	assert.Equal(t, map[string]int{alertsKey: 5, deploysKey: 5}, perApp)
	// Each bot spent its own second's worth at once: more than 5 calls
	// (one app's limit) fell within one second, which a limit shared by
	// the bots would never allow, and DingTalk refused none.
	slices.SortFunc(at, time.Time.Compare)
	most := 0
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < time.Second; j++ {
			n++
		}
		most = max(most, n)
	}
	assert.Greater(t, most, 5)
}

func TestSeveralBotsQuotaGovernor(t *testing.T) {
	fake := fleetFake(t, nil)
	// deploys may make 30 metered calls a month.
	a := startApp(t, fake, map[string]string{"BOTS_FILE": botsFile(t, "", ", monthlyQuota: 30"), "ACK_STYLE": "reaction"})
	warnings := func() []string {
		var out []string
		for _, m := range fake.Sent() {
			if m.RobotCode == deploysRobot && slices.Contains(m.UserIDs, "staff-admin") {
				out = append(out, replyText(t, m))
			}
		}
		return out
	}
	// A token, and 24 sends: 25 calls, over 80 %.
	a.sendAs("deploys", group, 24)
	require.Eventually(t, func() bool { return len(warnings()) == 1 }, 10*time.Second, 20*time.Millisecond, "the admin was never warned")
	assert.Contains(t, warnings()[0], "deploys")
	assert.Contains(t, warnings()[0], "of its 30 DingTalk API calls")
	require.Eventually(t, func() bool {
		return value(a.scrape(), "dingrecall_quota_warnings_total", map[string]string{"bot": "deploys"}) == 1
	}, 5*time.Second, 20*time.Millisecond)

	// Past 100 %: optional calls (the reaction that acknowledges a command)
	// stop, sends and recalls go on.
	keys := a.sendAs("deploys", group, 6)
	require.Eventually(t, func() bool {
		return value(a.scrape(), "dingrecall_quota_used_calls", map[string]string{"bot": "deploys"}) >= 30
	}, 10*time.Second, 20*time.Millisecond)
	status, out := a.do(http.MethodPost, "/dingtalk/callback/deploys", a.callbackBody("recall 2", func(b map[string]any) { b["msgId"] = "over-quota" }), signed(deploysSecret, a.now()))
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Eventually(t, func() bool { return len(recalledKeys(fake, keys)) == 2 }, 10*time.Second, 20*time.Millisecond, "recalls go on")
	assert.ElementsMatch(t, keys[4:], recalledKeys(fake, keys))
	for _, c := range fake.CallsByApp(deploysKey) {
		assert.NotContains(t, c.Path, "emotion", "no reaction once the quota is spent")
	}
	require.Eventually(t, func() bool {
		return value(a.scrape(), "dingrecall_dingtalk_optional_calls_stopped_total", map[string]string{"bot": "deploys", "api": "/v1.0/robot/emotion/reply"}) >= 1
	}, 5*time.Second, 20*time.Millisecond)
	assert.Len(t, warnings(), 1, "one warning a month")

	// The other bots have no quota set and go on as before.
	a.commandTo("alerts", alertsSecret, a.callbackBody("recall 1", func(b map[string]any) { b["msgId"] = "alerts-1" }))
	assert.NotEmpty(t, a.reactionsOnFake("alerts-1"))
}

// reactionsOnFake are the reactions the fake shows on msgID, waiting a
// moment for them.
func (a *testApp) reactionsOnFake(msgID string) []string {
	var shown []string
	require.Eventually(a.t, func() bool {
		shown = a.fake.ReactionsShown(msgID)
		return len(shown) > 0
	}, 5*time.Second, 10*time.Millisecond)
	return shown
}

func TestSeveralBotsDingTalkQuotaRefusal(t *testing.T) {
	fake := fleetFake(t, nil)
	a := startApp(t, fake, map[string]string{"BOTS_FILE": botsFile(t, "", "")})
	keys := a.sendAs("alerts", group, 2)
	// DingTalk refuses the recall: the organisation's quota is spent.
	fake.FailCallWith(dingtalk.PathGroupRecall, 1, http.StatusForbidden, dingtalk.CodeOrgQuota, "api count limit for org")
	reply := replyText(t, a.commandTo("alerts", alertsSecret, a.callbackBody("recall 1", nil)))
	resets := dingtalk.QuotaResetsOn(time.Now()).Format("2006-01-02")
	assert.Contains(t, reply, "monthly DingTalk API quota is used up; it starts again on "+resets)
	assert.Empty(t, recalledKeys(fake, keys))
	assert.Equal(t, 1.0, value(a.scrape(), "dingrecall_dingtalk_quota_refusals_total", map[string]string{"bot": "alerts"}))
	assert.Equal(t, float64(dingtalk.QuotaResetsOn(time.Now()).Unix()), value(a.scrape(), "dingrecall_dingtalk_quota_resets_at_seconds", map[string]string{"bot": "alerts"}))
	// The API's recall names the code and the reset day.
	fake.FailCallWith(dingtalk.PathGroupRecall, 1, http.StatusForbidden, dingtalk.CodeOrgQuota, "api count limit for org")
	status, out := a.api(http.MethodPost, "/recall", map[string]any{"conversationId": group, "keys": keys[:1], "bot": "alerts"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Equal(t, dingtalk.CodeOrgQuota, out["failedCodes"].(map[string]any)[keys[0]])
	assert.Equal(t, resets, out["resetsOn"])

	// An API send refused the same way answers 503 with the reset day.
	fake.SetOrgQuota(alertsKey, 0)
	status, out = a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "x", "bot": "alerts"})
	assert.Equal(t, http.StatusServiceUnavailable, status, "%v", out)
	e := out["error"].(map[string]any)
	assert.Equal(t, "dingtalk_quota_exhausted", e["code"])
	assert.Equal(t, resets, e["resetsOn"])
	// Another bot of another app goes on.
	assert.Len(t, a.sendAs("deploys", group, 1), 1)
}

func TestSeveralBotsBanPageBacksOff(t *testing.T) {
	clk := &testClock{t: time.Now()}
	fake := fleetFake(t, clk)
	a := startAppAt(t, fake, map[string]string{"BOTS_FILE": botsFile(t, "", "")}, clk.Now)
	// Every bot has its token cached (the start-up check fetches them in
	// the background; a send waits for it): the ban page goes to deploys'
	// send, not to a token call.
	a.send(group, 1, nil)
	a.sendAs("alerts", group, 1)
	a.sendAs("deploys", group, 1)
	fake.ServeBanPage(1)
	send := func() (int, map[string]any) {
		return a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "x", "bot": "deploys"})
	}
	status, out := send()
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", out)
	assert.Equal(t, "dingtalk_ip_banned", out["error"].(map[string]any)["code"])
	calls := len(fake.CallsByApp(deploysKey))
	// Within the 5 minutes nothing is sent to DingTalk at all.
	clk.Advance(4 * time.Minute)
	status, out = send()
	assert.Equal(t, http.StatusServiceUnavailable, status, "%v", out)
	assert.Contains(t, out["error"].(map[string]any)["message"], "for 60 more seconds", "the answer says what is left")
	assert.Equal(t, calls, len(fake.CallsByApp(deploysKey)), "no call during the backoff")
	assert.Equal(t, 1.0, value(a.scrape(), "dingrecall_dingtalk_ban_backoffs_total", map[string]string{"bot": "deploys"}))
	// DingTalk bans the address, not the app: the other bots hold back
	// too.
	others := len(fake.CallsByApp(alertsKey))
	status, out = a.api(http.MethodPost, "/messages", map[string]any{"conversationId": group, "text": "x", "bot": "alerts"})
	assert.Equal(t, http.StatusServiceUnavailable, status, "%v", out)
	assert.Equal(t, others, len(fake.CallsByApp(alertsKey)))
	clk.Advance(61 * time.Second)
	assert.Len(t, a.sendAs("deploys", group, 1), 1, "calls resume after 5 minutes")
	assert.Len(t, a.sendAs("alerts", group, 1), 1)
}

func TestSeveralBotsOverStream(t *testing.T) {
	fake := fleetFake(t, nil)
	a := startApp(t, fake, map[string]string{"BOTS_FILE": botsFile(t, ", callbackMode: stream", ", callbackMode: stream")})
	a.waitReady(http.StatusOK)
	require.Eventually(t, func() bool {
		return len(fake.ConnectionsOf(alertsKey)) == 1 && len(fake.ConnectionsOf(deploysKey)) == 1
	}, 10*time.Second, 20*time.Millisecond, "one connection per bot")
	alerts := a.sendAs("alerts", group, 3)
	deploys := a.sendAs("deploys", group, 3)
	pushTo := func(appKey, text string) dingtalktest.Message {
		before := len(fake.Sent())
		body := a.callbackBody(text, func(b map[string]any) { delete(b, "robotCode") })
		_, err := fake.PushCallback(fake.ConnectionsOf(appKey)[0].ID, body)
		require.NoError(t, err)
		return a.replyAfter(before)
	}
	reply := pushTo(deploysKey, "recall 2")
	assert.Equal(t, deploysRobot, reply.RobotCode)
	assert.ElementsMatch(t, deploys[1:], recalledKeys(fake, deploys))
	assert.Empty(t, recalledKeys(fake, alerts))
	reply = pushTo(alertsKey, "recall 1")
	assert.Equal(t, alertsRobot, reply.RobotCode)
	assert.Equal(t, alerts[2:], recalledKeys(fake, alerts))
	// Stream bots take no HTTP callbacks.
	status, _ := a.do(http.MethodPost, "/dingtalk/callback/alerts", a.callbackBody("help", nil), signed(alertsSecret, a.now()))
	assert.Equal(t, http.StatusNotFound, status)
}

func TestSeveralBotsFileMistakesStopStartUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bots.yaml")
	require.NoError(t, os.WriteFile(path, []byte("bots:\n  - {name: default, appKey: k, appSecret: s}\n  - {name: Bad, appKey: k2}\n"), 0o600))
	_, err := loadConfig(func(k string) string {
		return map[string]string{"BOTS_FILE": path, "DINGTALK_APP_KEY": "x", "DINGTALK_APP_SECRET": "y"}[k]
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BOTS_FILE")
	assert.Contains(t, err.Error(), `name: is "Bad"`)
	assert.Contains(t, err.Error(), "appSecret: is required")
	assert.NotContains(t, err.Error(), "appSecret: s")

	// Without DINGTALK_APP_KEY, BOTS_FILE alone is no sandbox.
	require.NoError(t, os.WriteFile(path, []byte("bots:\n  - {name: default, appKey: k, appSecret: s}\n"), 0o600))
	cfg, err := loadConfig(func(k string) string { return map[string]string{"BOTS_FILE": path}[k] })
	require.NoError(t, err)
	assert.False(t, cfg.Sandbox)
	assert.Equal(t, []string{"default"}, botNames(cfg))
	// A bot named default beside DINGTALK_APP_KEY is one too many.
	_, err = loadConfig(func(k string) string {
		return map[string]string{"BOTS_FILE": path, "DINGTALK_APP_KEY": "x", "DINGTALK_APP_SECRET": "y"}[k]
	})
	require.ErrorContains(t, err, `names a bot "default", which DINGTALK_APP_KEY defines already`)
	assert.True(t, strings.HasPrefix(err.Error(), "bad configuration"))
	// The default bot's app key again, under another name, is a mistake.
	require.NoError(t, os.WriteFile(path, []byte("bots:\n  - {name: other, appKey: k, appSecret: s}\n"), 0o600))
	_, err = loadConfig(func(k string) string {
		return map[string]string{"BOTS_FILE": path, "DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "y"}[k]
	})
	require.ErrorContains(t, err, "gives a bot the app key of DINGTALK_APP_KEY")
	// The default bot's settings without DINGTALK_APP_KEY are no bot's.
	_, err = loadConfig(func(k string) string {
		return map[string]string{"BOTS_FILE": path, "DINGTALK_MONTHLY_QUOTA": "100", "DINGTALK_ROBOT_CODE": "r"}[k]
	})
	require.ErrorContains(t, err, "DINGTALK_MONTHLY_QUOTA describes the bot of DINGTALK_APP_KEY, which is unset")
	require.ErrorContains(t, err, "DINGTALK_ROBOT_CODE describes the bot")
}
