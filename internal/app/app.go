// Package app is dingrecall's server: it reads the settings, builds the
// DingTalk client, the store STORE names, the bot and the HTTP router, starts
// the sandbox when no app key is set, and runs them all under one supervisor
// until its context ends.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/handlers"
	"github.com/dingrecall/dingrecall/metrics"
	"github.com/dingrecall/dingrecall/sandbox"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/templates"
)

// Version is dingrecall's version, sent as the Stream mode user agent.
const Version = "0.1.0"

// autoRecallInterval is how often expired messages are looked for.
const autoRecallInterval = time.Second

// HTTP server limits; the write deadline is writeTimeout.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// workBudget is how long an admitted API send or recall of a bot allowed
// qps calls a second may run, detached from its caller
// (bot.Config.WorkBudget): the longest one is a recall of RECALL_MAX keys
// in batches of 20 at qps calls a second, doubled for retries, plus a
// margin for the ledger, the checks of lapsed claims and a send.
func workBudget(cfg config, qps int) time.Duration {
	batches := (cfg.RecallMax + dingtalk.MaxKeysPerCall - 1) / dingtalk.MaxKeysPerCall
	qps = max(qps, 1)
	seconds := (batches + qps - 1) / qps
	return 2*time.Duration(seconds)*time.Second + 45*time.Second
}

// writeTimeout is the HTTP write deadline: the work budget of the longest
// synchronous API call, that of the slowest bot, and time to write its
// answer.
func writeTimeout(cfg config) time.Duration {
	slowest := 0
	for _, b := range cfg.bots() {
		if slowest == 0 || b.QPS < slowest {
			slowest = b.QPS
		}
	}
	if slowest == 0 { // the sandbox
		slowest = cfg.QPS
	}
	return workBudget(cfg, slowest) + 15*time.Second
}

// Option changes how Run runs; tests use it.
type Option func(*options)

// options are what Options set.
type options struct {
	now func() time.Time
	// reload, when set, replaces SIGHUP as the ROUTES_FILE reload request.
	reload <-chan struct{}
	// redisPrefix, when set, replaces the Redis ledger's key prefix, so
	// that tests sharing one Redis keep apart.
	redisPrefix string
	// lease, when set, replaces store.DefaultLease as the ledger's claim
	// lease (tests of long recalls).
	lease time.Duration
}

// WithClock runs the app on the clock now instead of the wall clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Run starts the app on ln (or, when ln is nil, on LISTEN_ADDR) with the
// settings getenv reads, and serves until ctx ends. Then it shuts down
// gracefully: it stops taking requests, finishes the queued and running
// commands (cancelling them once SHUTDOWN_TIMEOUT has passed), saves the
// ledger a last time and returns. Run never returns while a goroutine it
// started still runs. Run closes ln.
func Run(ctx context.Context, ln net.Listener, getenv func(string) string, opts ...Option) (err error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	closeLn := func() {
		if ln != nil {
			_ = ln.Close()
		}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		closeLn()
		return err
	}
	log := newLogger(cfg)
	sup := newSupervisor(log, cfg.ShutdownWait)
	// Whatever way Run returns, everything started so far is stopped first.
	defer sup.shutdown()
	sup.onStop("listener", func(context.Context) error { closeLn(); return nil })
	gin.SetMode(gin.ReleaseMode)
	return run(ctx, cfg, ln, log, sup, o)
}

// run builds and starts the parts, registering each with sup, and serves
// until ctx ends or the server fails.
func run(ctx context.Context, cfg config, ln net.Listener, log *logrus.Logger, sup *supervisor, o options) error {
	var fake *dingtalktest.Server
	generatedToken := false
	if cfg.Sandbox {
		var err error
		if fake, generatedToken, err = startSandbox(&cfg, log); err != nil {
			return err
		}
		sup.onStop("sandbox fake DingTalk", func(context.Context) error { fake.Close(); return nil })
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
			return fmt.Errorf("LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
		}
		sup.onStop("listener", func(context.Context) error { _ = ln.Close(); return nil })
	}
	tpl, err := templates.Load(cfg.Lang, bot.TemplateNames()...)
	if err != nil {
		return err
	}
	mx := metrics.New()
	st, err := openStore(cfg, log, o.now, o.redisPrefix, o.lease)
	if err != nil {
		return err
	}
	sup.onStop("store", func(context.Context) error { return st.close() })
	if st.migrate != nil {
		sup.spawn("store layout migration", ctx, st.migrate)
	}
	ledger := st.ledger
	if cfg.Sandbox {
		// The page's chats are known by name from the start, as a real
		// bot's groups become known from their first callback.
		for _, g := range sandbox.Groups() {
			if err := ledger.SetTitle(ctx, g.ConversationID, store.KindGroup, g.Title); err != nil {
				return fmt.Errorf("sandbox chats: %w", err)
			}
		}
	}
	for _, w := range cfg.BotsWarnings {
		log.Warn("BOTS_FILE: " + w)
	}

	// While a shared store is down, callbacks are de-duplicated in this
	// process, so commands still run and can say that the store is down.
	local, err := memory.NewDeduper(memory.DeduperOptions{Now: o.now})
	if err != nil {
		return err
	}
	sup.onStop("local de-duplication", func(context.Context) error { return local.Close() })
	mx.WatchLedger(ledgerSize(ledger))
	fleet, runs, err := startBots(ctx, fleetDeps{cfg: cfg, st: st, tpl: tpl, mx: mx, local: local, log: log, sup: sup, o: o})
	if err != nil {
		return err
	}

	router := handlers.New(handlers.Deps{
		Callbacks: callbacks(runs), APIToken: cfg.APIToken, RecallMax: cfg.RecallMax, MaxTTL: maxTTL(cfg.LedgerTTL),
		Bot: fleet, Ready: fleetReady(runs),
		Now: o.now, Log: log, Metrics: mx, MetricsHandler: mx.Handler(),
	})
	table, err := startDropins(ctx, cfg, router, fleet, st.states, fleet, sup, log, o)
	if err != nil {
		return err
	}
	if cfg.Sandbox {
		sandbox.Register(router, sandbox.Deps{
			Fake: fake, AppSecret: cfg.AppSecret, APIToken: cfg.APIToken, Log: log, Stream: cfg.CallbackMode == "stream",
			Self: func() string { return loopbackURL(ln.Addr()) }, Alerts: sandboxAlerts(table),
		})
	}
	srv := &http.Server{
		Handler:           router,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout(cfg),
		IdleTimeout:       idleTimeout,
		ErrorLog:          httpErrorLog(log),
	}
	serveErr := make(chan error, 1)
	served := make(chan struct{})
	go func() { defer close(served); serveErr <- srv.Serve(ln) }()
	// Registered last, so stopped first: no new requests while the rest
	// winds down.
	sup.onStop("http server", func(stopCtx context.Context) error {
		err := srv.Shutdown(stopCtx)
		if err != nil {
			_ = srv.Close()
		}
		<-served
		return err
	})
	log.WithFields(logrus.Fields{"addr": ln.Addr().String(), "sandbox": cfg.Sandbox, "lang": cfg.Lang, "store": cfg.Store}).Info("dingrecall listening")
	if cfg.Sandbox {
		sandboxBanner(log.Out, cfg, ln.Addr(), generatedToken)
	}

	select {
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing queued and running commands")
	return nil
}

// The fleet is what the HTTP handlers call, and a bot takes its callbacks.
var (
	_ handlers.Bot      = (*bot.Fleet)(nil)
	_ handlers.Acceptor = (*bot.Bot)(nil)
)

// checkCredentials fetches an access token once at start-up, so a wrong app
// key or secret shows in the log at once rather than at the first reply;
// hint says which settings to check.
func checkCredentials(ctx context.Context, client *dingtalk.Client, hint string, log logrus.FieldLogger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.CheckCredentials(ctx); err != nil {
		if ctx.Err() != nil {
			return // shutting down
		}
		log.WithError(err).Error("DingTalk did not issue an access token: " + hint)
		return
	}
	log.Info("DingTalk accepted the app credentials")
}

// maxTTL is the longest "ttl" an API send may have: the message must still
// be in the ledger, and within DingTalk's 24 hours, when it falls due.
func maxTTL(ledgerTTL time.Duration) time.Duration {
	return min(ledgerTTL, 24*time.Hour) - time.Second
}

// robotCodeOption sets the robot code when one is configured.
func robotCodeOption(code string) dingtalk.Option {
	if code == "" {
		return func(*dingtalk.Client) error { return nil }
	}
	return dingtalk.WithRobotCode(code)
}

// newLogger builds the app's logger from LOG_LEVEL and LOG_FORMAT.
func newLogger(cfg config) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(cfg.LogLevel)
	if cfg.LogFormat == "text" {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	} else {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	return log
}
