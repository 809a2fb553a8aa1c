package app

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/bot"
	"github.com/dingrecall/dingrecall/dropin/alertmanager"
	"github.com/dingrecall/dingrecall/dropin/routes"
	"github.com/dingrecall/dingrecall/dropin/webhook"
	"github.com/dingrecall/dingrecall/sandbox"
	"github.com/dingrecall/dingrecall/store"
)

// The fleet is what the drop-ins post and recall through, and what keeps
// their audit entries (each in its bot's log).
var (
	_ alertmanager.Bot     = (*bot.Fleet)(nil)
	_ alertmanager.Auditor = (*bot.Fleet)(nil)
)

// The sandbox's built-in routes, in force when sandbox mode runs without
// ROUTES_FILE: a custom robot webhook into deploys and an Alertmanager
// receiver into ops-alerts, the page's chats.
const (
	sandboxWebhookToken = "sandbox-robot"
	sandboxAlertRoute   = "sandbox"
	sandboxAlertChat    = "cidSandboxOps=="
	sandboxRoutes       = `
webhooks:
  - name: sandbox
    token: ` + sandboxWebhookToken + `
    conversationId: cidSandboxDeploy==
    tag: webhook
alertmanager:
  - name: ` + sandboxAlertRoute + `
    conversationId: ` + sandboxAlertChat + `
    resolved: recall+notify
    noticeTTL: 1m
`
)

// openRoutes reads ROUTES_FILE; in sandbox mode without one it takes the
// built-in routes. It returns nil when there are no routes: then
// /robot/send and /alertmanager/<name> answer 404.
func openRoutes(cfg config) (*routes.Table, error) {
	opts := routes.Options{MaxTTL: maxTTL(cfg.LedgerTTL), Lang: cfg.Lang, Bots: botNames(cfg)}
	switch {
	case cfg.RoutesFile != "":
		return routes.Open(cfg.RoutesFile, opts)
	case cfg.Sandbox:
		set, err := routes.Parse("sandbox routes", []byte(sandboxRoutes), ".", opts)
		if err != nil {
			return nil, err
		}
		return routes.Fixed(set), nil
	}
	return nil, nil
}

// botNames are the names of the bots cfg serves.
func botNames(cfg config) []string {
	var names []string
	for _, b := range cfg.bots() {
		names = append(names, b.Name)
	}
	return names
}

// startDropins loads the routes and, when there are any, serves the custom
// robot webhook and the Alertmanager receiver on r, and reloads
// ROUTES_FILE on SIGHUP (or on o.reload) until ctx ends.
func startDropins(ctx context.Context, cfg config, r *gin.Engine, b alertmanager.Bot, states store.States, audit alertmanager.Auditor, sup *supervisor, log logrus.FieldLogger, o options) (*routes.Table, error) {
	table, err := openRoutes(cfg)
	if err != nil || table == nil {
		return nil, err
	}
	recv, err := alertmanager.NewReceiver(b, states, alertmanager.Config{RetryWindow: cfg.AlertRetry, Lang: cfg.Lang, Now: o.now, Log: log, Audit: audit})
	if err != nil {
		return nil, err
	}
	webhook.Register(r, webhook.Deps{Routes: table, Sender: b, Audit: audit, Now: o.now, Log: log})
	alertmanager.Register(r, alertmanager.Deps{Routes: table, Receiver: recv, APIToken: cfg.APIToken, Log: log})
	logRoutes(log, table, "routes loaded")
	if table.Path() == "" {
		return table, nil
	}
	var hup chan os.Signal
	if o.reload == nil {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		sup.onStop("SIGHUP handler", func(context.Context) error { signal.Stop(hup); return nil })
	}
	sup.spawn("ROUTES_FILE reloader", ctx, func(c context.Context) { watchRoutes(c, table, o.reload, hup, log) })
	return table, nil
}

// watchRoutes reloads table at each request (a value on reload, or a
// SIGHUP on hup) until ctx ends. A file with mistakes leaves the routes in
// force and logs why.
func watchRoutes(ctx context.Context, table *routes.Table, reload <-chan struct{}, hup <-chan os.Signal, log logrus.FieldLogger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
		case <-hup:
		}
		err := table.Reload()
		var bad *routes.Error
		switch {
		case err == nil:
			logRoutes(log, table, "ROUTES_FILE reloaded")
		case errors.As(err, &bad):
			log.WithFields(logrus.Fields{"file": table.Path(), "mistakes": bad.Problems}).Error("ROUTES_FILE not reloaded: the routes in force stay")
		default:
			log.WithError(err).Error("ROUTES_FILE not reloaded: the routes in force stay")
		}
	}
}

// logRoutes logs the names of the routes in force (never a token).
func logRoutes(log logrus.FieldLogger, table *routes.Table, msg string) {
	hooks, receivers := table.Current().Names()
	file := table.Path()
	if file == "" {
		file = "built-in (sandbox)"
	}
	log.WithFields(logrus.Fields{"file": file, "webhooks": hooks, "alertmanager": receivers}).Info(msg)
}

// sandboxAlerts is the Alertmanager route the sandbox page fires its sample
// alert through: the built-in one, or the first of ROUTES_FILE; nil when
// there is none.
func sandboxAlerts(table *routes.Table) *sandbox.AlertRoute {
	if table == nil {
		return nil
	}
	_, names := table.Current().Names()
	if len(names) == 0 {
		return nil
	}
	r, _ := table.Receiver(names[0])
	return &sandbox.AlertRoute{Name: r.Name, ConversationID: r.ConversationID}
}

// WithRoutesReload reloads ROUTES_FILE at each value on reload instead of
// on SIGHUP.
func WithRoutesReload(reload <-chan struct{}) Option {
	return func(o *options) { o.reload = reload }
}

// retryWindowBounds bound ALERT_RETRY_WINDOW.
const (
	minRetryWindow = time.Second
	maxRetryWindow = 24 * time.Hour
)
