// Package quota is the monthly quota governor of one bot (DingTalk app).
// DingTalk meters an organisation's API calls per calendar month and
// refuses more once the quota is spent (errcode 90020), so the governor
// counts every metered call, shares the count with the other replicas
// through the store, warns once when 80 % of the bot's quota is used and
// reports the quota exhausted at 100 %, so that the bot can stop its
// optional calls before DingTalk stops all of them.
//
// Counting is local and cheap (Metered); Flush adds the local count to the
// shared counter of the month in store.States and reads back the total,
// which Run does every second. Months are calendar months in China
// Standard Time (UTC+8), as DingTalk's.
package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/store"
)

// The governor is the DingTalk client's quota meter.
var _ dingtalk.Meter = (*Governor)(nil)

// Zone is the time zone of DingTalk's calendar months, UTC+8.
var Zone = dingtalk.QuotaZone

// The governor's tunables.
const (
	// WarnPercent is the share of the limit, in percent, at which the bot
	// is warned.
	WarnPercent = 80
	// DefaultInterval is how often Run flushes.
	DefaultInterval = time.Second
	// KeyTTL is how long a month's shared counter and warning mark are
	// kept after their last write: past the month's end, so that a late
	// flush of the month still finds its counter.
	KeyTTL = 40 * 24 * time.Hour
	// Retries is how many times Flush tries to add to a counter that other
	// replicas keep changing before it keeps the count for the next flush.
	Retries = 8
	// WarnRetry is how long a replica waits before it tries again a
	// warning Warn could not give, and WarnAttempts how many times in a
	// month it tries at most: a warning that cannot reach any admin must
	// not spend the quota it warns of.
	WarnRetry    = time.Minute
	WarnAttempts = 5
	// lastFlushTimeout bounds the flush Run makes when it stops.
	lastFlushTimeout = 5 * time.Second
)

// ErrContended means Flush could not add to the shared counter in Retries
// tries because other replicas changed it each time; the count is kept for
// the next flush.
var ErrContended = errors.New("quota: shared counter contended")

// Observer is told the figures for metrics; every method must be cheap and
// safe for concurrent use.
type Observer interface {
	// QuotaUsed is the month's total after each flush.
	QuotaUsed(used int64)
	// QuotaLimit is the limit, once, when the governor is made.
	QuotaLimit(limit int64)
	// QuotaWarned is called when this replica warned of the quota.
	QuotaWarned()
}

// Config configures a Governor.
type Config struct {
	// Bot names the bot; it is part of the shared keys.
	Bot string
	// Limit is the bot's metered calls per calendar month; 0 (or less)
	// means unknown: the governor only counts, never warns and is never
	// exhausted.
	Limit int64
	// States holds the shared counters; nil counts for this process only.
	States store.States
	// Now is the clock (time.Now).
	Now func() time.Time
	// Warn is called when the month's total reaches WarnPercent of Limit:
	// once per bot and month across replicas when it returns nil (given,
	// or nobody to give it to). An error means nobody got the warning: the
	// month's mark is taken back, so that a replica tries again after
	// WarnRetry, up to WarnAttempts times a month on each replica. nil
	// warns nobody (the Observer still hears of it).
	Warn func(ctx context.Context, used, limit int64) error
	// Observer is told the figures; nil for none.
	Observer Observer
	// Log receives store failures (logrus.StandardLogger() when nil).
	Log logrus.FieldLogger
	// Interval is how often Run flushes (DefaultInterval when 0).
	Interval time.Duration
}

// Governor counts one bot's metered calls per month; see the package doc.
// It is safe for concurrent use.
type Governor struct {
	cfg Config

	mu sync.Mutex
	// deltas are the calls counted here and not yet added to the shared
	// counter, by month ("2006-01"); flushing those a flush is adding.
	deltas, flushing map[string]int64
	// month and shared are the month of the last flush and its total then.
	month  string
	shared int64
	// warned is the month whose warning is decided (given here or by
	// another replica).
	warned string
	// failing is set while flushes fail, so that a failure is logged once.
	failing bool
	// refused is the month in which DingTalk itself refused for the spent
	// quota (Refused, or another replica's, read from the shared counter);
	// "" when it has not. refusedShared is whether the shared counter
	// says so already.
	refused       string
	refusedShared bool
	// warnMonth, warnTries and warnAfter pace the tries of a warning Warn
	// could not give: the month, how many tries failed in it, and when the
	// next may be.
	warnMonth string
	warnTries int
	warnAfter time.Time
}

// New returns the governor of cfg.Bot.
func New(cfg Config) *Governor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	cfg.Limit = max(cfg.Limit, 0)
	cfg.Log = cfg.Log.WithFields(logrus.Fields{"component": "quota", "bot": cfg.Bot})
	if cfg.Observer != nil {
		cfg.Observer.QuotaLimit(cfg.Limit)
	}
	return &Governor{cfg: cfg, deltas: map[string]int64{}, flushing: map[string]int64{}}
}

// monthOf is the calendar month of t in Zone, "2006-01".
func monthOf(t time.Time) string { return t.In(Zone).Format("2006-01") }

// CounterKey is the States key of bot's shared counter of a month
// ("2006-01").
func CounterKey(bot, month string) string { return "quota:" + bot + ":" + month }

// WarnedKey is the States key that marks bot's warning of a month as given.
func WarnedKey(bot, month string) string { return "quota-warned:" + bot + ":" + month }

// Metered counts one metered DingTalk call (of any API; api names it). It
// never touches the store.
func (g *Governor) Metered(_ context.Context, _ string) {
	m := monthOf(g.cfg.Now())
	g.mu.Lock()
	g.deltas[m]++
	g.mu.Unlock()
}

// Used is this month's count: the shared total at the last flush plus the
// calls counted here since.
func (g *Governor) Used() int64 {
	m := monthOf(g.cfg.Now())
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.used(m)
}

// used is month m's count; g.mu is held.
func (g *Governor) used(m string) int64 {
	used := g.deltas[m] + g.flushing[m]
	if g.month == m {
		used += g.shared
	}
	return used
}

// Limit is the monthly limit, 0 when unknown.
func (g *Governor) Limit() int64 { return g.cfg.Limit }

// Exhausted reports whether this month's count has reached a known limit,
// or DingTalk itself refused a call this month for the spent quota
// (Refused): the organisation's quota is shared with its other apps, so
// DingTalk may refuse before the count says so, or with no limit set.
func (g *Governor) Exhausted() bool {
	m := monthOf(g.cfg.Now())
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused == m || (g.cfg.Limit > 0 && g.used(m) >= g.cfg.Limit)
}

// Refused records that DingTalk refused a call for the organisation's
// spent monthly quota: the governor is exhausted until the month ends, and
// the next flush marks the month's shared counter so, which makes the
// other replicas' governors exhausted too.
func (g *Governor) Refused() {
	m := monthOf(g.cfg.Now())
	g.mu.Lock()
	if g.refused != m {
		g.refused, g.refusedShared = m, false
	}
	g.mu.Unlock()
}

// ResetsOn is when the count starts again from zero: the start of next
// month in Zone.
func (g *Governor) ResetsOn() time.Time { return dingtalk.QuotaResetsOn(g.cfg.Now()) }

// Flush adds the calls counted here to the shared counters of their months
// and reads back this month's total, then warns if it is due. A count it
// could not add (the store failed, or stayed contended) is kept for the
// next flush and the error returned: counts are never lost.
func (g *Governor) Flush(ctx context.Context) error {
	now := monthOf(g.cfg.Now())
	g.mu.Lock()
	deltas := g.deltas
	g.deltas = map[string]int64{}
	for m, d := range deltas {
		g.flushing[m] += d
	}
	share := g.refused == now && !g.refusedShared
	g.mu.Unlock()
	if _, ok := deltas[now]; !ok {
		deltas[now] = 0 // read this month's total even with nothing to add
	}

	var errs []error
	known := false
	for month, d := range deltas {
		var t int64
		var refused bool
		var err error
		if g.cfg.States != nil {
			t, refused, err = g.add(ctx, month, d, share && month == now)
		}
		g.mu.Lock()
		g.flushing[month] -= d
		if g.flushing[month] == 0 {
			delete(g.flushing, month)
		}
		switch {
		case err != nil:
			errs = append(errs, err)
			g.deltas[month] += d
		case g.cfg.States == nil:
			// This process's count only: the total is the one kept here,
			// for the latest month.
			if month > g.month {
				g.month, g.shared = month, 0
			}
			if month == g.month {
				g.shared += d
			}
			known = known || month == now
		case month == now:
			known = true
			if refused && g.refused <= now { // a later month's refusal stays
				g.refused, g.refusedShared = now, true
			}
			// Another flush may have read a newer total meanwhile: keep
			// the larger, as a month's total only grows.
			if g.month != now || t > g.shared {
				g.month, g.shared = now, t
			}
		}
		g.mu.Unlock()
	}
	err := errors.Join(errs...)
	g.logResult(err)
	if !known {
		return err
	}
	g.mu.Lock()
	total := g.shared
	g.mu.Unlock()
	if g.cfg.Observer != nil {
		g.cfg.Observer.QuotaUsed(total)
	}
	if werr := g.maybeWarn(ctx, now, total); werr != nil {
		err = errors.Join(err, werr)
	}
	return err
}

// logResult logs the first of a run of failed flushes, and the recovery.
func (g *Governor) logResult(err error) {
	g.mu.Lock()
	was := g.failing
	g.failing = err != nil
	g.mu.Unlock()
	switch {
	case err != nil && !was:
		g.cfg.Log.WithError(err).Warn("quota: could not share the count of metered calls; keeping it for the next try")
	case err == nil && was:
		g.cfg.Log.Info("quota: sharing the count of metered calls again")
	}
}

// refusedMark follows the count in a shared counter whose month DingTalk
// refused a call in for the spent quota: "1234 refused".
const refusedMark = " refused"

// counterValue is a shared counter's value: the count, and the mark when
// DingTalk refused.
func counterValue(n int64, refused bool) string {
	v := strconv.FormatInt(n, 10)
	if refused {
		v += refusedMark
	}
	return v
}

// add adds d to the month's shared counter in States, marking it refused
// when refuse is set, and returns its new total and whether it is marked.
// A value that is not a number (never written so) counts as zero.
func (g *Governor) add(ctx context.Context, month string, d int64, refuse bool) (int64, bool, error) {
	key := CounterKey(g.cfg.Bot, month)
	for range Retries {
		cur, stored, err := g.cfg.States.PutStateIfAbsent(ctx, key, counterValue(d, refuse), KeyTTL)
		if err != nil {
			return 0, false, fmt.Errorf("quota %s: read %s: %w", g.cfg.Bot, month, err)
		}
		if stored {
			return d, refuse, nil
		}
		count, marked := strings.CutSuffix(cur, refusedMark)
		n, perr := strconv.ParseInt(count, 10, 64)
		if perr != nil || n < 0 {
			g.cfg.Log.WithField("month", month).Warn("quota: the shared count is not a number; counting from zero")
			n = 0
		}
		if d == 0 && (marked || !refuse) {
			return n, marked, nil
		}
		swapped, err := g.cfg.States.CompareAndSwapState(ctx, key, cur, counterValue(n+d, marked || refuse), KeyTTL)
		if err != nil {
			return 0, false, fmt.Errorf("quota %s: add to %s: %w", g.cfg.Bot, month, err)
		}
		if swapped {
			return n + d, marked || refuse, nil
		}
	}
	return 0, false, fmt.Errorf("quota %s: add to %s: %w", g.cfg.Bot, month, ErrContended)
}

// maybeWarn warns of the month's quota when total reached WarnPercent of
// the limit and no replica has yet: the first to mark the month's
// warning in the store warns.
func (g *Governor) maybeWarn(ctx context.Context, month string, total int64) error {
	limit := g.cfg.Limit
	if limit <= 0 || total*100 < limit*WarnPercent {
		return nil
	}
	g.mu.Lock()
	decided := g.warned == month || (g.warnMonth == month && (g.warnTries >= WarnAttempts || g.cfg.Now().Before(g.warnAfter)))
	g.mu.Unlock()
	if decided {
		return nil
	}
	first := true
	if g.cfg.States != nil {
		_, stored, err := g.cfg.States.PutStateIfAbsent(ctx, WarnedKey(g.cfg.Bot, month), strconv.FormatInt(total, 10), KeyTTL)
		if err != nil {
			return fmt.Errorf("quota %s: mark the warning of %s: %w", g.cfg.Bot, month, err) // tried again next flush
		}
		first = stored
	}
	g.mu.Lock()
	if g.warned == month {
		first = false // a concurrent flush of this replica decided
	}
	g.warned = month
	g.mu.Unlock()
	if !first {
		return nil
	}
	g.cfg.Log.WithFields(logrus.Fields{"used": total, "limit": limit}).Warn("quota: most of the month's DingTalk API quota is used")
	if g.cfg.Warn != nil {
		if err := g.cfg.Warn(ctx, total, limit); err != nil {
			g.warnFailed(ctx, month, err)
			return nil
		}
	}
	if g.cfg.Observer != nil {
		g.cfg.Observer.QuotaWarned()
	}
	return nil
}

// warnFailed takes back the month's warning mark after Warn failed, so
// that this replica tries again after WarnRetry (or another replica that
// has not seen the mark yet), unless it has tried WarnAttempts times. A
// try DingTalk's IP ban held back does not count: the next waits for the
// ban to end.
func (g *Governor) warnFailed(ctx context.Context, month string, err error) {
	after := g.cfg.Now().Add(WarnRetry)
	var apiErr *dingtalk.APIError
	banned := errors.Is(err, dingtalk.ErrBanned)
	if banned && errors.As(err, &apiErr) && apiErr.Until.After(after) {
		after = apiErr.Until
	}
	g.mu.Lock()
	if g.warnMonth != month {
		g.warnMonth, g.warnTries = month, 0
	}
	if !banned {
		g.warnTries++
	}
	tries := g.warnTries
	g.warnAfter = after
	g.warned = ""
	g.mu.Unlock()
	log := g.cfg.Log.WithError(err).WithField("tries", tries)
	if tries >= WarnAttempts {
		log.Error("quota: nobody could be warned of the quota; giving up for this month")
		return
	}
	if g.cfg.States != nil {
		if derr := g.cfg.States.DeleteState(context.WithoutCancel(ctx), WarnedKey(g.cfg.Bot, month)); derr != nil {
			log.WithField("unmark_error", derr.Error()).Warn("quota: nobody could be warned of the quota, and the mark stays: no replica tries again")
			return
		}
	}
	log.WithField("next_try", after.Format(time.RFC3339)).Warn("quota: nobody could be warned of the quota; trying again later")
}

// Run flushes every Interval until ctx ends, then flushes once more (with
// a short deadline of its own), so that a stopping replica leaves its
// count behind.
func (g *Governor) Run(ctx context.Context) {
	t := time.NewTicker(g.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastFlushTimeout)
			defer cancel()
			_ = g.Flush(last) // a failure is logged
			return
		case <-t.C:
			_ = g.Flush(ctx)
		}
	}
}
