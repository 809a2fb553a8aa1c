package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/bolt"
	"github.com/dingrecall/dingrecall/store/memory"
	"github.com/dingrecall/dingrecall/store/redis"
)

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
	// migrate puts the store's key layout in place, to run beside the app
	// from start-up until it is done; nil when there is nothing to do.
	migrate func(context.Context)
	// limiter returns an app's DingTalk rate limit shared by the replicas
	// on this store; nil for the client's own (memory stores: one
	// process).
	limiter func(appKey string, qps int) dingtalk.Limiter
	close   func() error
}

// openStore builds the ledger, de-duplicator, audit log and states STORE
// names, with lease as the ledger's claim lease (0 for
// store.DefaultLease). For the memory store with STORE_FILE, the ledger and
// audit log are the durable store/bolt database in that file (a JSON file
// of older versions is migrated), loaded at start; the de-duplicator and
// states stay in memory. STORE_FILE_INTERVAL is accepted but no longer
// used. With STORE=redis the keys start with prefix (redis.DefaultPrefix
// when empty).
func openStore(cfg config, log logrus.FieldLogger, now func() time.Time, prefix string, lease time.Duration) (stores, error) {
	if cfg.Store == "redis" {
		// go-redis's own messages (failed dials while Redis is down) go
		// through our logger, in LOG_FORMAT, instead of plain stderr.
		goredis.SetLogger(redisLog{log})
		r, err := redis.OpenTarget(cfg.redisTarget(), redis.Options{
			Prefix: prefix, TTL: cfg.LedgerTTL, PerChat: cfg.LedgerPerCh, ByTagMax: cfg.RecallMax, AuditTTL: cfg.AuditTTL, Lease: lease, Now: now,
		})
		if err != nil {
			return stores{}, fmt.Errorf("REDIS_URL: %w", err)
		}
		return stores{
			ledger: r, dedup: r.Deduper(), audit: r.Audit(cfg.AuditTTL), states: r.States(), close: r.Close,
			migrate: func(ctx context.Context) { migrateRedis(ctx, r, log) },
			limiter: func(appKey string, qps int) dingtalk.Limiter { return r.Limiter(appKey, qps) },
		}, nil
	}
	// closers close the stores built so far (the memory stores' janitors,
	// the database), the last built first; an error path closes them
	// before it returns.
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (stores, error) {
		_ = closeAll() // only the stores built so far, which close cleanly
		return stores{}, err
	}
	dedup, err := memory.NewDeduper(memory.DeduperOptions{Now: now})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, dedup.Close)
	states, err := memory.NewStates(memory.StatesOptions{Now: now})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, states.Close)
	if cfg.StoreFile != "" {
		// Start-up has no deadline of its own; opening reads one local
		// file (and migrates it once from JSON).
		b, err := bolt.Open(cfg.StoreFile, bolt.Options{
			TTL: cfg.LedgerTTL, PerChat: cfg.LedgerPerCh, AuditTTL: cfg.AuditTTL, Lease: lease, Now: now, Log: log,
		})
		if err != nil {
			return fail(fmt.Errorf("STORE_FILE: %w", err))
		}
		closers = append(closers, b.Close)
		log.WithFields(logrus.Fields{"file": cfg.StoreFile, "messages": b.Len()}).Info("ledger loaded")
		return stores{ledger: b, dedup: dedup, audit: b.Audit(), states: states, close: closeAll}, nil
	}
	m, err := memory.New(memory.Options{TTL: cfg.LedgerTTL, PerChat: cfg.LedgerPerCh, Lease: lease, Now: now})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, m.Close)
	audit, err := memory.NewAudit(memory.AuditOptions{TTL: cfg.AuditTTL, Now: now})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, audit.Close)
	return stores{ledger: m, dedup: dedup, audit: audit, states: states, close: closeAll}, nil
}

// migrateRedis runs the Redis ledger's layout migration until it is done
// (Redis down, or another replica migrating, is tried again after a
// growing pause), and logs what it moved. The ledger reports itself not
// ready (/readyz) until then.
func migrateRedis(ctx context.Context, r *redis.Ledger, log logrus.FieldLogger) {
	wait := time.Second
	for {
		rep, err := r.Migrate(ctx)
		switch {
		case err == nil:
			if rep.Ran && rep != (redis.MigrationReport{Ran: true}) {
				log.WithFields(logrus.Fields{
					"messages": rep.Messages, "expired": rep.Expired, "titles": rep.Titles, "reservations": rep.Reservations,
					"audit_entries": rep.AuditEntries, "states": rep.States,
				}).Info("redis: moved the ledger from the single-tag key layout")
			}
			return
		case ctx.Err() != nil:
			return
		case errors.Is(err, redis.ErrMigrating):
			log.Info("redis: another replica is moving the ledger to the new key layout; waiting")
		default:
			log.WithError(err).Warn("redis: could not check or move the ledger's key layout; trying again")
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
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

// The Redis ledger keeps the auto-recall retry schedule itself (the bot
// looks for this method), so replicas share it and it outlives restarts.
var _ interface {
	DeferDue(ctx context.Context, keys []string, base, max time.Duration) (map[string]time.Time, error)
} = (*redis.Ledger)(nil)
