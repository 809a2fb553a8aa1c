package app

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/botsfile"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dropin/alertmanager"
	"github.com/dingrecall/dingrecall/store/redis"
	"github.com/dingrecall/dingrecall/templates"
)

// config is the app's settings, read from the environment (interface.md).
type config struct {
	AppKey       string
	AppSecret    string
	RobotCode    string
	APIBase      string
	CoolAppCode  string
	ListenAddr   string
	CallbackMode string
	Admins       string
	Users        string
	GroupAdmins  bool
	RecallMax    int
	ReplyTTL     time.Duration
	LedgerTTL    time.Duration
	LedgerPerCh  int
	APIToken     string
	Store        string
	RedisURL     string
	// RedisCluster reads RedisURL as a cluster seed list (REDIS_CLUSTER).
	RedisCluster bool
	// RedisMaster, when set, reads RedisURL as the Sentinels' addresses
	// and names the master they watch (REDIS_SENTINEL_MASTER).
	RedisMaster  string
	StoreFile    string
	StoreEvery   time.Duration
	LogLevel     logrus.Level
	LogFormat    string
	Lang         string
	Workers      int
	QueueSize    int
	QPS          int
	ShutdownWait time.Duration
	ConfirmOver  int
	MaxAge       time.Duration
	RestoreWin   time.Duration
	AuditTTL     time.Duration
	DupWindow    time.Duration
	BurstLimit   int
	BurstRecall  bool
	RoutesFile   string
	AlertRetry   time.Duration
	AckStyle     bot.AckStyle
	// RecallMode is RECALL_MODE: recall or tombstone.
	RecallMode string
	// CardTemplate is CARD_TEMPLATE_ID: the team's card template, empty for
	// DingTalk's built-in card.
	CardTemplate string
	// CardButtons is CARD_BUTTONS: cards carry buttons, and their clicks
	// come over a Stream mode connection.
	CardButtons bool

	// MonthlyQuota is DINGTALK_MONTHLY_QUOTA: the default bot's metered
	// calls per calendar month, 0 when unknown.
	MonthlyQuota int64
	// BotsFile is BOTS_FILE, and FileBots the bots it lists (read at
	// start-up); BotsWarnings are its warnings, logged once the logger is
	// up.
	BotsFile     string
	FileBots     []botsfile.Bot
	BotsWarnings []string
	// cardButtonsSet is true when CARD_BUTTONS was given: then it holds
	// for every bot; otherwise each bot has buttons when its callback mode
	// brings a Stream connection anyway.
	cardButtonsSet bool

	// Sandbox is true when neither DINGTALK_APP_KEY nor BOTS_FILE is set:
	// the app runs against an in-process fake DingTalk.
	Sandbox bool
}

// loadConfig reads and validates the settings. Every bad value is reported,
// one line per variable.
func loadConfig(getenv func(string) string) (config, error) {
	p := &envParser{getenv: getenv}
	c := config{
		AppKey:       p.str("DINGTALK_APP_KEY", ""),
		AppSecret:    p.str("DINGTALK_APP_SECRET", ""),
		RobotCode:    p.str("DINGTALK_ROBOT_CODE", ""),
		APIBase:      p.baseURL("DINGTALK_API_BASE", dingtalk.DefaultBaseURL),
		CoolAppCode:  p.str("DINGTALK_COOL_APP_CODE", ""),
		ListenAddr:   p.str("LISTEN_ADDR", ":8080"),
		CallbackMode: p.oneOf("CALLBACK_MODE", "http", "http", "stream", "both"),
		Admins:       p.staffIDs("RECALL_ADMINS"),
		Users:        p.staffIDs("RECALL_USERS"),
		GroupAdmins:  p.boolean("RECALL_GROUP_ADMINS", true),
		RecallMax:    p.integer("RECALL_MAX", 100, 1, 100000),
		ReplyTTL:     p.duration("REPLY_TTL", time.Minute, 0, 24*time.Hour),
		LedgerTTL:    p.duration("LEDGER_TTL", 24*time.Hour, time.Second, 30*24*time.Hour),
		LedgerPerCh:  p.integer("LEDGER_PER_CHAT", 1000, 1, 1000000),
		APIToken:     p.str("API_TOKEN", ""),
		Store:        p.oneOf("STORE", "memory", "memory", "redis"),
		RedisURL:     p.str("REDIS_URL", ""),
		RedisCluster: p.boolean("REDIS_CLUSTER", false),
		RedisMaster:  p.str("REDIS_SENTINEL_MASTER", ""),
		StoreFile:    p.str("STORE_FILE", ""),
		StoreEvery:   p.duration("STORE_FILE_INTERVAL", 5*time.Second, 100*time.Millisecond, time.Hour),
		LogFormat:    p.oneOf("LOG_FORMAT", "json", "json", "text"),
		Lang:         p.oneOf("BOT_LANG", "en", templates.Languages...),
		Workers:      p.integer("WORKERS", 4, 1, 256),
		QueueSize:    p.integer("QUEUE_SIZE", 256, 1, 100000),
		QPS:          p.integer("DINGTALK_QPS", dingtalk.DefaultQPS, 1, 10000),
		ShutdownWait: p.duration("SHUTDOWN_TIMEOUT", 30*time.Second, time.Second, time.Hour),
		ConfirmOver:  p.integer("RECALL_CONFIRM_OVER", 20, 1, 100000),
		MaxAge:       p.duration("RECALL_MAX_AGE", 24*time.Hour, time.Minute, 24*time.Hour),
		RestoreWin:   p.duration("RESTORE_WINDOW", 10*time.Minute, 0, 24*time.Hour),
		AuditTTL:     p.duration("AUDIT_TTL", 720*time.Hour, time.Minute, 10*365*24*time.Hour),
		DupWindow:    p.duration("DUPLICATE_WINDOW", 30*time.Second, 0, 24*time.Hour),
		BurstLimit:   p.integer("BURST_LIMIT", 20, 0, 100000),
		BurstRecall:  p.boolean("BURST_AUTO_RECALL", false),
		RoutesFile:   p.str("ROUTES_FILE", ""),
		AlertRetry:   p.duration("ALERT_RETRY_WINDOW", alertmanager.DefaultRetryWindow, minRetryWindow, maxRetryWindow),
		AckStyle:     bot.AckStyle(p.oneOf("ACK_STYLE", string(bot.AckReaction), ackStyles()...)),
		RecallMode:   p.oneOf("RECALL_MODE", "recall", "recall", "tombstone"),
		CardTemplate: p.str("CARD_TEMPLATE_ID", ""),
		MonthlyQuota: int64(p.integer("DINGTALK_MONTHLY_QUOTA", 0, 0, 1<<40)),
		BotsFile:     p.str("BOTS_FILE", ""),
	}
	c.LogLevel = p.level("LOG_LEVEL", logrus.InfoLevel)
	switch {
	case c.Store != "redis" && c.RedisCluster:
		p.fail("REDIS_CLUSTER", "applies to STORE=redis only")
	case c.Store != "redis" && c.RedisMaster != "":
		p.fail("REDIS_SENTINEL_MASTER", "applies to STORE=redis only")
	case c.Store == "redis" && c.RedisURL == "":
		p.fail("REDIS_URL", "is required when STORE=redis (for example redis://127.0.0.1:6379/0)")
	case c.Store == "redis" && !p.bad["REDIS_CLUSTER"]:
		var te *redis.TopologyError
		if err := c.redisTarget().Validate(); errors.As(err, &te) {
			name := map[string]string{"URL": "REDIS_URL", "SentinelMaster": "REDIS_SENTINEL_MASTER"}[te.Setting]
			p.fail(name, "%s", te.Reason)
		}
	}
	switch {
	case c.Store == "redis" && c.StoreFile != "":
		p.fail("STORE_FILE", "applies to STORE=memory only; Redis keeps the ledger itself")
	case c.StoreFile != "":
		// Checked here so the mistake is reported with the others, before
		// anything starts.
		if dir := filepath.Dir(c.StoreFile); !isDir(dir) {
			p.fail("STORE_FILE", "is %q: directory %s does not exist", c.StoreFile, dir)
		}
	}
	if c.ReplyTTL >= c.LedgerTTL {
		p.fail("REPLY_TTL", "is %v: want less than LEDGER_TTL (%v), or replies leave the ledger before they are recalled", c.ReplyTTL, c.LedgerTTL)
	}
	c.Sandbox = c.AppKey == "" && c.BotsFile == ""
	// Clicks come over Stream mode: on by default where a Stream connection
	// is there anyway (and in the sandbox, whose fake takes it in process).
	c.CardButtons = p.boolean("CARD_BUTTONS", c.CallbackMode != "http" || c.Sandbox)
	c.cardButtonsSet = strings.TrimSpace(getenv("CARD_BUTTONS")) != ""
	if c.BotsFile != "" {
		bots, warnings, err := botsfile.Load(c.BotsFile, botsfile.Defaults{QPS: c.QPS, CallbackMode: c.CallbackMode})
		c.FileBots, c.BotsWarnings = bots, warnings
		var bad *botsfile.Error
		switch {
		case errors.As(err, &bad):
			for _, problem := range bad.Problems {
				p.fail("BOTS_FILE", "%s: %s", bad.Source, problem)
			}
		case err != nil:
			p.fail("BOTS_FILE", "%v", err)
		case c.AppKey != "" && slices.ContainsFunc(bots, func(b botsfile.Bot) bool { return b.Name == bot.DefaultBot }):
			p.fail("BOTS_FILE", "%s: names a bot %q, which DINGTALK_APP_KEY defines already: rename it, or unset DINGTALK_APP_KEY", c.BotsFile, bot.DefaultBot)
		case c.AppKey != "" && slices.ContainsFunc(bots, func(b botsfile.Bot) bool { return b.AppKey == c.AppKey }):
			p.fail("BOTS_FILE", "%s: gives a bot the app key of DINGTALK_APP_KEY (the bot %q): each bot is its own DingTalk app", c.BotsFile, bot.DefaultBot)
		}
		if c.AppKey == "" {
			// Without DINGTALK_APP_KEY there is no default bot for these
			// to describe: say so rather than drop them.
			for _, name := range []string{"DINGTALK_ROBOT_CODE", "DINGTALK_COOL_APP_CODE", "DINGTALK_MONTHLY_QUOTA"} {
				if strings.TrimSpace(getenv(name)) != "" {
					p.fail(name, "describes the bot of DINGTALK_APP_KEY, which is unset: with BOTS_FILE alone, set it on a bot in the file")
				}
			}
		}
	}
	if c.Sandbox && strings.TrimSpace(getenv("BURST_LIMIT")) == "" {
		// The page posts up to 50 at once, enough to try "recall confirm"
		// (over RECALL_CONFIRM_OVER) without waiting out the burst guard.
		c.BurstLimit = sandboxBurstLimit
	}
	switch {
	case c.AppKey != "" && c.AppSecret == "":
		p.fail("DINGTALK_APP_SECRET", "is required when DINGTALK_APP_KEY is set")
	case c.AppKey == "" && c.AppSecret != "":
		p.fail("DINGTALK_APP_KEY", "is required when DINGTALK_APP_SECRET is set (unset both for sandbox mode)")
	}
	return c, p.err()
}

// bots are the bots to serve: the default one of DINGTALK_APP_KEY and the
// other single-app settings (or of the sandbox), then BOTS_FILE's.
func (c config) bots() []botsfile.Bot {
	var out []botsfile.Bot
	if c.AppKey != "" {
		robot := c.RobotCode
		if robot == "" {
			robot = c.AppKey
		}
		out = append(out, botsfile.Bot{
			Name: bot.DefaultBot, AppKey: c.AppKey, AppSecret: c.AppSecret, RobotCode: robot, CoolAppCode: c.CoolAppCode,
			QPS: c.QPS, MonthlyQuota: c.MonthlyQuota, CallbackMode: c.CallbackMode,
		})
	}
	return append(out, c.FileBots...)
}

// cardButtons is whether bot b's cards carry buttons: CARD_BUTTONS when
// set, else whether b's callback mode brings a Stream connection anyway
// (always in the sandbox, whose fake takes it in process).
func (c config) cardButtons(b botsfile.Bot) bool {
	if c.cardButtonsSet || c.Sandbox {
		return c.CardButtons
	}
	return b.CallbackMode != botsfile.ModeHTTP
}

// isDir reports whether path names an existing directory.
func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// ackStyles are the values ACK_STYLE takes.
func ackStyles() []string {
	out := make([]string, len(bot.AckStyles))
	for i, a := range bot.AckStyles {
		out[i] = string(a)
	}
	return out
}

// sandboxBurstLimit is BURST_LIMIT's default in sandbox mode: well above
// RECALL_CONFIRM_OVER's default and the page's largest post.
const sandboxBurstLimit = 200

// envParser reads typed variables and collects one error line per bad one.
type envParser struct {
	getenv func(string) string
	errs   []string
	bad    map[string]bool // the variables reported
}

// fail records a bad variable.
func (p *envParser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, name+" "+fmt.Sprintf(format, args...))
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[name] = true
}

// err joins the recorded problems.
func (p *envParser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return errors.New("bad configuration:\n  " + strings.Join(p.errs, "\n  "))
}

// str reads a string, trimmed, or def when unset.
func (p *envParser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

// oneOf reads a string that must be one of allowed (case-insensitive).
func (p *envParser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, "is %q: want one of %s", v, strings.Join(allowed, ", "))
	return def
}

// integer reads a whole number within [lo, hi].
func (p *envParser) integer(name string, def, lo, hi int) int {
	raw := p.str(name, "")
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		p.fail(name, "is %q: want a whole number", raw)
		return def
	}
	if n < lo || n > hi {
		p.fail(name, "is %d: want %d to %d", n, lo, hi)
		return def
	}
	return n
}

// duration reads a Go duration ("60s", "10m", "24h") within [lo, hi]; a bare
// "0" is zero.
func (p *envParser) duration(name string, def, lo, hi time.Duration) time.Duration {
	raw := p.str(name, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		p.fail(name, "is %q: want a duration such as 60s, 10m or 24h", raw)
		return def
	}
	if d < lo || d > hi {
		p.fail(name, "is %v: want %v to %v", d, lo, hi)
		return def
	}
	return d
}

// boolean reads exactly true or false; anything else (yes, 1, on) is a
// mistake to report rather than guess at.
func (p *envParser) boolean(name string, def bool) bool {
	raw := p.str(name, "")
	switch raw {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(name, "is %q: want true or false", raw)
	return def
}

// staffIDs reads a list of DingTalk staff IDs separated by commas or blanks.
// A character no staff ID has (";", quotes, slashes) is reported, since the
// list would otherwise be taken apart in a way nobody meant.
func (p *envParser) staffIDs(name string) string {
	raw := p.str(name, "")
	for _, id := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if i := strings.IndexFunc(id, func(r rune) bool { return !isStaffIDRune(r) }); i >= 0 {
			bad, _ := utf8.DecodeRuneInString(id[i:])
			p.fail(name, "holds %q, which has %q: staff IDs are letters, digits, '-', '_', '.' and '@', separated by commas or blanks", id, bad)
		}
	}
	return raw
}

// isStaffIDRune reports whether r may appear in a DingTalk staff ID.
func isStaffIDRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.@$", r)
}

// baseURL reads an absolute http or https URL.
func (p *envParser) baseURL(name, def string) string {
	raw := p.str(name, def)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, "is %q: want an absolute http or https URL such as %s", raw, def)
		return def
	}
	return raw
}

// level reads a logrus level.
func (p *envParser) level(name string, def logrus.Level) logrus.Level {
	raw := p.str(name, "")
	if raw == "" {
		return def
	}
	l, err := logrus.ParseLevel(raw)
	if err != nil {
		p.fail(name, "is %q: want debug, info, warn or error", raw)
		return def
	}
	return l
}

// redisTarget is the Redis that REDIS_URL, REDIS_CLUSTER and
// REDIS_SENTINEL_MASTER name.
func (c config) redisTarget() redis.Target {
	return redis.Target{URL: c.RedisURL, Cluster: c.RedisCluster, SentinelMaster: c.RedisMaster}
}
