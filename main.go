// Command dingrecall runs a DingTalk chat-ops bot that records every message
// it sends and lets authorised people recall them: "recall 3" in a group,
// "recall 5 in <chat>" from a one-to-one chat, or POST /api/v1/recall.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
	"github.com/dingrecall/dingrecall/dingtalk/stream"
	"github.com/dingrecall/dingrecall/handlers"
	"github.com/dingrecall/dingrecall/metrics"
	"github.com/dingrecall/dingrecall/sandbox"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/templates"
)

// usage is what "dingrecall help" prints.
const usage = `usage: dingrecall              serve (settings come from the environment; see README.md)
       dingrecall healthcheck  exit 0 if the local /healthz answers 200
`

func main() {
	switch args := os.Args[1:]; {
	case len(args) == 0:
	case len(args) == 1 && args[0] == "healthcheck":
		os.Exit(healthcheck(os.Getenv))
	case len(args) == 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help"):
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "dingrecall: unknown arguments %q\n%s", args, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "dingrecall:", err)
		os.Exit(1)
	}
}

// version is dingrecall's version, sent as the Stream mode user agent.
const version = "0.1.0"

// autoRecallInterval is how often expired messages are looked for.
const autoRecallInterval = time.Second

// run starts the app and serves until ctx ends, then shuts down gracefully:
// it stops taking requests, finishes the queued and running commands, and
// returns.
func run(ctx context.Context, getenv func(string) string) error {
	return runWith(ctx, getenv, time.Now)
}

// runWith is run on the clock now, which tests set.
func runWith(ctx context.Context, getenv func(string) string, now func() time.Time) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	gin.SetMode(gin.ReleaseMode)
	generatedToken := false

	var fake *dingtalktest.Server
	if cfg.Sandbox {
		var generated bool
		if fake, generated, err = startSandbox(&cfg, log); err != nil {
			return err
		}
		defer fake.Close()
		generatedToken = generated
	}
	tpl, err := templates.Load(cfg.Lang, bot.TemplateNames()...)
	if err != nil {
		return err
	}
	mx := metrics.New()
	client, err := dingtalk.NewClient(cfg.AppKey, cfg.AppSecret,
		dingtalk.WithBaseURL(cfg.APIBase), robotCodeOption(cfg.RobotCode),
		dingtalk.WithQPS(cfg.QPS), dingtalk.WithLogger(log), dingtalk.WithObserver(mx))
	if err != nil {
		return err
	}
	st, err := openStore(cfg, log, now)
	if err != nil {
		return err
	}
	defer st.close()
	ledger := st.ledger

	sender := bot.NewSender(client, ledger, cfg.CoolAppCode, now, log)
	recaller := bot.NewRecaller(client, ledger, bot.RecallerOptions{Log: log, Observer: mx, Audit: st.audit, MaxAge: cfg.MaxAge, Now: now})
	b := bot.New(bot.Config{
		RecallMax:     cfg.RecallMax,
		ReplyTTL:      cfg.ReplyTTL,
		Policy:        bot.NewPolicy(cfg.Admins, cfg.Users, cfg.GroupAdmins),
		Observer:      mx,
		ConfirmOver:   cfg.ConfirmOver,
		RestoreWindow: cfg.RestoreWin,
		Audit:         st.audit,
		States:        st.states,
		Now:           now,
	}, ledger, sender, recaller, tpl, log)
	guard := bot.NewGuard(bot.GuardConfig{
		DuplicateWindow: cfg.DupWindow, BurstLimit: cfg.BurstLimit, BurstAutoRecall: cfg.BurstRecall, ReplyTTL: cfg.ReplyTTL,
	}, sender, ledger, st.states, recaller, tpl, now, log)
	mx.WatchLedger(ledgerSize(ledger))

	// Work accepted before shutdown runs to the end: its context is cancelled
	// only when the shutdown timeout has passed.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	pool := bot.NewPool(workCtx, cfg.Workers, cfg.QueueSize)
	mx.WatchQueue(pool.Queued)
	auto := bot.NewAutoRecaller(ledger, recaller, now, log)
	var bg sync.WaitGroup
	autoCtx, stopAuto := context.WithCancel(workCtx)
	defer stopAuto()
	bg.Go(func() { auto.Run(autoCtx, workCtx, autoRecallInterval) })
	var persisted sync.WaitGroup
	persistCtx, stopPersist := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPersist()
	if st.persist != nil {
		persisted.Go(func() { st.persist(persistCtx) })
	}

	intake := bot.NewIntake(b, pool, st.dedup, now, log)
	streamClient, err := newStreamClient(cfg, client, intake, mx)
	if err != nil {
		return err
	}
	streamCtx, stopStream := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStream()
	var streaming sync.WaitGroup
	if streamClient != nil {
		streaming.Go(func() {
			if err := streamClient.Run(streamCtx); err != nil {
				log.WithError(err).Error("stream mode stopped")
			}
		})
	}

	router := handlers.New(handlers.Deps{
		AppSecret: cfg.AppSecret, APIToken: cfg.APIToken, RecallMax: cfg.RecallMax, MaxTTL: maxTTL(cfg.LedgerTTL),
		Intake: intake, Guard: guard, Recaller: recaller, Audit: st.audit, Ledger: ledger,
		DisableCallback: cfg.CallbackMode == "stream", Ready: streamReady(streamClient),
		Now: now, Log: log, Metrics: mx, MetricsHandler: mx.Handler(),
	})
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	if cfg.Sandbox {
		sandbox.Register(router, sandbox.Deps{
			Fake: fake, AppSecret: cfg.AppSecret, APIToken: cfg.APIToken, Log: log, Stream: cfg.CallbackMode == "stream",
			Self: func() string { return loopbackURL(ln.Addr()) },
		})
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.WithFields(logrus.Fields{"addr": ln.Addr().String(), "sandbox": cfg.Sandbox, "lang": cfg.Lang, "store": cfg.Store}).Info("dingrecall listening")
	if cfg.Sandbox {
		sandboxBanner(log.Out, cfg, ln.Addr(), generatedToken)
	} else {
		go checkCredentials(ctx, client, log)
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing queued and running commands")
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.WithError(err).Warn("http server did not stop cleanly")
	}
	stopStream() // no more callbacks from the socket; what it queued still runs
	streaming.Wait()
	if err := pool.Close(shutCtx); err != nil {
		log.WithError(err).Error("shutdown timeout: some commands did not finish")
	}
	stopAuto()
	bg.Wait()
	stopPersist() // the last save, after every command has settled
	persisted.Wait()
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// checkCredentials fetches an access token once at start-up, so a wrong app
// key or secret shows in the log at once rather than at the first reply.
func checkCredentials(ctx context.Context, client *dingtalk.Client, log logrus.FieldLogger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.CheckCredentials(ctx); err != nil {
		log.WithError(err).Error("DingTalk did not issue an access token: check DINGTALK_APP_KEY, DINGTALK_APP_SECRET and DINGTALK_API_BASE")
		return
	}
	log.Info("DingTalk accepted the app credentials")
}

// healthcheck is "dingrecall healthcheck": it asks the running app's
// /healthz on LISTEN_ADDR's port and exits 0 when it answers 200. The
// container image uses it, having no curl.
func healthcheck(getenv func(string) string) int {
	addr := getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck: LISTEN_ADDR:", err)
		return 1
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}

// newStreamClient builds the Stream mode client for CALLBACK_MODE stream or
// both (nil for http). Its callbacks take the same intake as HTTP ones; a
// callback the pool cannot take is acknowledged with 500 so that DingTalk
// delivers it again.
func newStreamClient(cfg config, client *dingtalk.Client, intake *bot.Intake, mx *metrics.Metrics) (*stream.Client, error) {
	if cfg.CallbackMode == "http" {
		return nil, nil
	}
	handle := func(ctx context.Context, cb *dingtalk.Callback) error {
		outcome, err := intake.Accept(ctx, cb, "")
		mx.Callback(outcome)
		return err
	}
	c, err := stream.New(client, handle, stream.WithObserver(mx), stream.WithUA("dingrecall/"+version))
	if err != nil {
		return nil, fmt.Errorf("stream mode: %w", err)
	}
	return c, nil
}

// streamReady is the readiness check of stream mode: a connection is up.
// Without a stream client there is nothing to check.
func streamReady(c *stream.Client) func() error {
	if c == nil {
		return nil
	}
	return func() error {
		if !c.Connected() {
			return errors.New("no Stream mode connection to DingTalk is up")
		}
		return nil
	}
}

// redisLog passes go-redis's messages to logrus at warning level.
type redisLog struct{ log logrus.FieldLogger }

// Printf logs one go-redis message.
func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.WithField("component", "redis").Warnf(format, v...)
}

// stores are the parts of the store STORE names.
type stores struct {
	ledger store.Ledger
	dedup  store.Deduper
	audit  store.Audit
	states store.States
	// persist is the STORE_FILE saver to run, nil when there is none.
	persist func(context.Context)
	close   func() error
}

// openStore builds the ledger, de-duplicator, audit log and states STORE
// names; for the memory store with STORE_FILE it loads the file.
func openStore(cfg config, log logrus.FieldLogger, now func() time.Time) (stores, error) {
	if cfg.Store == "redis" {
		// go-redis's own messages (failed dials while Redis is down) go
		// through our logger, in LOG_FORMAT, instead of plain stderr.
		redis.SetLogger(redisLog{log})
		r, err := store.OpenRedis(cfg.RedisURL, store.RedisOptions{TTL: cfg.LedgerTTL, PerChat: cfg.LedgerPerCh, Now: now})
		if err != nil {
			return stores{}, fmt.Errorf("REDIS_URL: %w", err)
		}
		return stores{ledger: r, dedup: r.Deduper(), audit: r.Audit(cfg.AuditTTL), states: r.States(), close: r.Close}, nil
	}
	m := store.NewMemory(store.MemoryOptions{TTL: cfg.LedgerTTL, PerChat: cfg.LedgerPerCh, Now: now})
	audit := store.NewMemoryAudit(cfg.AuditTTL, now)
	s := stores{
		ledger: m,
		dedup:  store.NewMemoryDeduper(store.MemoryDeduperOptions{Now: now}),
		audit:  audit,
		states: store.NewMemoryStates(now),
		close:  func() error { return nil },
	}
	if cfg.StoreFile == "" {
		return s, nil
	}
	file := store.NewFile(cfg.StoreFile, m, audit)
	n, err := file.Load()
	if err != nil {
		return stores{}, fmt.Errorf("STORE_FILE: %w", err)
	}
	// Save once now: a path that cannot be written stops start-up instead of
	// failing quietly at every interval.
	if err := file.Save(); err != nil {
		return stores{}, fmt.Errorf("STORE_FILE: %w", err)
	}
	log.WithFields(logrus.Fields{"file": cfg.StoreFile, "messages": n}).Info("ledger loaded")
	s.persist = func(ctx context.Context) { file.Persist(ctx, cfg.StoreEvery, log) }
	return s, nil
}

// ledgerSize counts the tracked messages for the metrics: cheaply for the
// memory ledger; for others by summing the chats, which walks every chat,
// so that count is taken at most every ledgerSizeEvery and reused between.
func ledgerSize(ledger store.Ledger) func(context.Context) (int, error) {
	if m, ok := ledger.(interface{ Len() int }); ok {
		return func(context.Context) (int, error) { return m.Len(), nil }
	}
	var mu sync.Mutex
	var last int
	var lastErr error
	var at time.Time
	return func(ctx context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if !at.IsZero() && time.Since(at) < ledgerSizeEvery {
			return last, lastErr
		}
		chats, err := ledger.Chats(ctx)
		n := 0
		for _, c := range chats {
			n += c.Count
		}
		last, lastErr, at = n, err, time.Now()
		return n, err
	}
}

// ledgerSizeEvery is how often a shared ledger is counted for the metrics.
const ledgerSizeEvery = time.Minute

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

// startSandbox starts the in-process fake DingTalk and points cfg at it, so
// nothing can reach the real DingTalk. It generates an API token unless one
// is set, and reports whether it did.
func startSandbox(cfg *config, log logrus.FieldLogger) (*dingtalktest.Server, bool, error) {
	secret, err := randomHex(16)
	if err != nil {
		return nil, false, err
	}
	fake := dingtalktest.New(dingtalktest.WithCredentials("sandbox-app-key", "sandbox-"+secret))
	cfg.AppKey, cfg.AppSecret, cfg.RobotCode, cfg.APIBase = fake.AppKey(), fake.AppSecret(), fake.RobotCode(), fake.URL()
	if cfg.Admins == "" && cfg.Users == "" {
		// The simulator's people: ops-lead may recall anywhere, oncall here.
		cfg.Admins, cfg.Users = "ops-lead", "oncall"
	}
	generated := false
	if cfg.APIToken == "" {
		if cfg.APIToken, err = randomHex(16); err != nil {
			fake.Close()
			return nil, false, err
		}
		generated = true
	}
	fields := logrus.Fields{"fake_dingtalk": fake.URL(), "app_secret": cfg.AppSecret}
	if generated {
		fields["api_token"] = cfg.APIToken
	}
	log.WithFields(fields).Warn("SANDBOX MODE: DINGTALK_APP_KEY is unset, so dingrecall talks to an in-process fake DingTalk; nothing reaches the real one")
	return fake, generated, nil
}

// loopbackURL is the http URL of a listening address, with "localhost" for
// an unspecified host such as ":8080".
func loopbackURL(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("http://localhost:%d", tcp.Port)
	}
	return "http://" + addr.String()
}

// sandboxBanner prints, as plain text that pastes into a shell, how to try
// the sandbox listening on addr.
func sandboxBanner(w io.Writer, cfg config, addr net.Addr, generatedToken bool) {
	base := loopbackURL(addr)
	token, tokenNote := "$API_TOKEN", "as set in API_TOKEN"
	if generatedToken {
		token, tokenNote = cfg.APIToken, cfg.APIToken+" (generated; set API_TOKEN to choose one)"
	}
	h := http.Header{}
	dingtalk.SignHeader(h, cfg.AppSecret, time.Now())
	recallHow := fmt.Sprintf(`Recall it as a group admin would (a signed callback, valid for an hour; change msgId to send it again):
  curl -s -X POST %[1]s/dingtalk/callback -H 'timestamp: %[2]s' -H 'sign: %[3]s' -H 'Content-Type: application/json' -d '{"conversationId":"cidSandbox==","conversationType":"2","conversationTitle":"sandbox","senderStaffId":"sandbox-owner","senderNick":"Sandbox Owner","isAdmin":true,"msgId":"sandbox-msg-1","msgtype":"text","text":{"content":" recall 1"}}'`,
		base, h.Get(dingtalk.HeaderTimestamp), h.Get(dingtalk.HeaderSign))
	if cfg.CallbackMode == "stream" {
		recallHow = "Stream mode: callbacks arrive over the fake's WebSocket, so type commands (recall 1) in the chat simulator above."
	}
	fmt.Fprintf(w, `
dingrecall SANDBOX MODE: DINGTALK_APP_KEY is unset, so it talks to an in-process fake DingTalk.
  app secret: %[1]s
  API token:  %[2]s

Open the chat simulator in a browser:  %[3]s/sandbox
  (recall admins: %[6]s; recall users: %[7]s; group admins may recall: %[8]t)

Send a message through the bot:
  curl -s -X POST %[3]s/api/v1/messages -H "Authorization: Bearer %[4]s" -H 'Content-Type: application/json' -d '{"conversationId":"cidSandbox==","text":"hello from the sandbox"}'
List what the bot tracks there:
  curl -s -H "Authorization: Bearer %[4]s" %[3]s/api/v1/conversations/cidSandbox==/messages
%[5]s
`, cfg.AppSecret, tokenNote, base, token, recallHow, orNone(cfg.Admins), orNone(cfg.Users), cfg.GroupAdmins)
}

// orNone is list, or "none" when it is empty.
func orNone(list string) string {
	if strings.TrimSpace(list) == "" {
		return "none"
	}
	return list
}

// randomHex returns n random bytes as hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
