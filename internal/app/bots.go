package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/botsfile"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
	"github.com/dingrecall/dingrecall/handlers"
	"github.com/dingrecall/dingrecall/metrics"
	"github.com/dingrecall/dingrecall/quota"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/scoped"
	"github.com/dingrecall/dingrecall/templates"
)

// botRun is one bot of the fleet and the parts it runs with.
type botRun struct {
	spec   botsfile.Bot
	client *dingtalk.Client
	bot    *bot.Bot
	// stream is the bot's Stream mode connection, nil when it has none.
	stream *stream.Client
}

// fleetDeps are what startBots builds the bots from.
type fleetDeps struct {
	cfg   config
	st    stores
	tpl   *templates.Set
	mx    *metrics.Metrics
	local store.Deduper
	log   *logrus.Logger
	sup   *supervisor
	o     options
	// ban is the IP ban backoff every bot's client shares: DingTalk bans
	// the address, not the app.
	ban *dingtalk.BanGate
}

// startBots builds every bot of cfg.bots() (its DingTalk client with its
// own credentials and rate limit, its view of the shared store, its worker
// pool, auto-recall, settlement and Stream connection), registers each
// part with the supervisor and returns the fleet.
func startBots(ctx context.Context, d fleetDeps) (*bot.Fleet, []botRun, error) {
	fleet := bot.NewFleet(botNames(d.cfg)...)
	d.ban = dingtalk.NewBanGate()
	var runs []botRun
	for _, spec := range d.cfg.bots() {
		r, err := startBot(ctx, d, fleet, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("bot %s: %w", spec.Name, err)
		}
		runs = append(runs, r)
	}
	// The queue depth is that of every bot's pool.
	d.mx.WatchQueue(func() int {
		n := 0
		for _, r := range runs {
			n += r.bot.Queued()
		}
		return n
	})
	return fleet, runs, nil
}

// startBot builds and starts one bot.
func startBot(ctx context.Context, d fleetDeps, fleet *bot.Fleet, spec botsfile.Bot) (botRun, error) {
	cfg, log := d.cfg, d.log.WithField("bot", spec.Name)
	obs := d.mx.Bot(spec.Name)
	// built is the bot once built; the governor warns through it.
	var built atomic.Pointer[bot.Bot]
	gov := quota.New(quota.Config{
		Bot: spec.Name, Limit: spec.MonthlyQuota, States: d.st.states, Now: d.o.now, Observer: obs, Log: log,
		Warn: func(ctx context.Context, used, limit int64) error {
			b := built.Load()
			if b == nil {
				return errors.New("the bot is still starting") // tried again
			}
			return b.WarnQuota(ctx, used, limit)
		},
	})
	// The count is flushed to the shared store every second. Registered
	// before the workers, it stops after them: the calls of the commands
	// that finish during shutdown are counted in its last flush.
	d.sup.spawn("quota governor of bot "+spec.Name, context.WithoutCancel(ctx), gov.Run)
	clientOpts := []dingtalk.Option{dingtalk.WithBaseURL(cfg.APIBase), robotCodeOption(spec.RobotCode),
		dingtalk.WithQPS(spec.QPS), dingtalk.WithLogger(log), dingtalk.WithObserver(obs),
		dingtalk.WithMeter(gov), dingtalk.WithClock(d.o.now), dingtalk.WithBanGate(d.ban)}
	if d.st.limiter != nil {
		// Replicas on one Redis share DingTalk's per-app limit.
		clientOpts = append(clientOpts, dingtalk.WithLimiter(d.st.limiter(spec.AppKey, spec.QPS)))
	}
	client, err := dingtalk.NewClient(spec.AppKey, spec.AppSecret, clientOpts...)
	if err != nil {
		return botRun{}, err
	}
	v := scoped.New(spec.Name, d.st.ledger, d.st.audit, d.st.states, d.st.dedup)
	b, err := bot.New(bot.Deps{
		DingTalk: client, Cards: client, Ledger: v.Ledger, Deduper: v.Dedup, LocalDeduper: scoped.NewDeduper(spec.Name, d.local),
		Audit: v.Audit, States: v.States,
		Templates: d.tpl, Log: log, Observer: obs, Now: d.o.now, Fleet: fleet,
	}, bot.Config{
		Name:            spec.Name,
		RecallMax:       cfg.RecallMax,
		ConfirmOver:     cfg.ConfirmOver,
		ReplyTTL:        cfg.ReplyTTL,
		LedgerTTL:       cfg.LedgerTTL,
		MaxAge:          cfg.MaxAge,
		RestoreWindow:   cfg.RestoreWin,
		Policy:          bot.NewPolicy(cfg.Admins, cfg.Users, cfg.GroupAdmins),
		CoolAppCode:     spec.CoolAppCode,
		DuplicateWindow: cfg.DupWindow,
		BurstLimit:      cfg.BurstLimit,
		BurstAutoRecall: cfg.BurstRecall,
		Workers:         cfg.Workers,
		QueueSize:       cfg.QueueSize,
		AutoRecallEvery: autoRecallInterval,
		Ack:             cfg.AckStyle,
		CardTemplate:    cfg.CardTemplate,
		CardButtons:     cfg.cardButtons(spec),
		RecallMode:      cfg.RecallMode,
		Lease:           d.o.lease,
		WorkBudget:      workBudget(cfg, spec.QPS),
	})
	if err != nil {
		return botRun{}, err
	}
	if err := fleet.Add(b); err != nil {
		_ = b.Close(ctx)
		return botRun{}, err
	}
	built.Store(b)
	// Work accepted before shutdown runs to the end: Close cancels it only
	// when the shutdown timeout has passed, and waits for the workers.
	d.sup.onStop("workers of bot "+spec.Name, func(stopCtx context.Context) error {
		if err := b.Close(stopCtx); err != nil {
			return fmt.Errorf("SHUTDOWN_TIMEOUT passed: %w", err)
		}
		return nil
	})
	d.sup.spawn("auto-recall of bot "+spec.Name, context.WithoutCancel(ctx), b.RunAutoRecall)
	// Reservations that a crash (of this process or another replica) left
	// behind are settled at start and then every lease.
	d.sup.spawn("settlement of bot "+spec.Name, context.WithoutCancel(ctx), b.RunSettler)

	sc, err := newStreamClient(spec.CallbackMode, cfg.cardButtons(spec), client, b, d.mx, obs)
	if err != nil {
		return botRun{}, err
	}
	if sc != nil {
		d.sup.spawn("stream mode of bot "+spec.Name, context.WithoutCancel(ctx), func(c context.Context) {
			if err := sc.Run(c); err != nil {
				log.WithError(err).Error("stream mode stopped")
			}
		})
	}
	if !cfg.Sandbox {
		d.sup.spawn("credential check of bot "+spec.Name, ctx, func(c context.Context) { checkCredentials(c, client, credentialsHint(cfg, spec), log) })
	}
	return botRun{spec: spec, client: client, bot: b, stream: sc}, nil
}

// credentialsHint names the settings that hold a bot's credentials.
func credentialsHint(cfg config, spec botsfile.Bot) string {
	if spec.Name == bot.DefaultBot && cfg.AppKey != "" {
		return "check DINGTALK_APP_KEY, DINGTALK_APP_SECRET and DINGTALK_API_BASE"
	}
	return fmt.Sprintf("check appKey and appSecret of bot %s in BOTS_FILE, and DINGTALK_API_BASE", spec.Name)
}

// callbacks are the HTTP callback endpoints of the bots whose callbacks
// come by HTTP (callbackMode http or both).
func callbacks(runs []botRun) []handlers.Callback {
	out := []handlers.Callback{}
	for _, r := range runs {
		if r.spec.CallbackMode != botsfile.ModeStream {
			out = append(out, handlers.Callback{Name: r.spec.Name, AppSecret: r.spec.AppSecret, Bot: r.bot})
		}
	}
	return out
}

// fleetReady is the readiness check of the bots in stream or both mode:
// each has its Stream connection up. Nil when no bot needs one.
func fleetReady(runs []botRun) func() error {
	var checks []botRun
	for _, r := range runs {
		if r.stream != nil && r.spec.CallbackMode != botsfile.ModeHTTP {
			checks = append(checks, r)
		}
	}
	if len(checks) == 0 {
		return nil
	}
	return func() error {
		var down []string
		for _, r := range checks {
			if !r.stream.Connected() {
				down = append(down, r.spec.Name)
			}
		}
		if len(down) > 0 {
			return errors.New("no Stream mode connection to DingTalk is up for bot " + strings.Join(down, ", "))
		}
		return nil
	}
}
