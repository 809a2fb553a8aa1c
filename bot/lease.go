package bot

import (
	"context"
	"sync"
	"time"

	"github.com/dingrecall/dingrecall/store"
)

// holding keeps a recall's claims alive while it works: every renewEvery
// it renews them (store.Ledger.Renew), so that a recall that takes longer
// than a claim lease is never taken over by another one, while the claims
// of a holder that died lapse within a lease.
type holding struct {
	r    *recaller
	ctx  context.Context
	quit chan struct{}
	done chan struct{}

	mu     sync.Mutex
	claims map[string][]string // claim → keys
}

// hold starts renewing the claims added to the holding until stop.
func (r *recaller) hold(ctx context.Context) *holding {
	h := &holding{r: r, ctx: context.WithoutCancel(ctx), quit: make(chan struct{}), done: make(chan struct{}), claims: make(map[string][]string)}
	go h.run()
	return h
}

// add renews the claims on msgs from now on.
func (h *holding) add(msgs []store.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for claim, keys := range byClaim(msgs) {
		h.claims[claim] = append(h.claims[claim], keys...)
	}
}

// stop ends the renewals and waits until none is under way.
func (h *holding) stop() {
	close(h.quit)
	<-h.done
}

// run renews every renewEvery until stop.
func (h *holding) run() {
	defer close(h.done)
	t := time.NewTicker(h.r.renewEvery)
	defer t.Stop()
	for {
		select {
		case <-h.quit:
			return
		case <-t.C:
			h.renew()
		}
	}
}

// renew extends every claim held. A failure is logged: the claims then
// lapse at the end of their lease, and another recall may take the
// messages after checking them with DingTalk.
func (h *holding) renew() {
	h.mu.Lock()
	claims := make(map[string][]string, len(h.claims))
	for c, keys := range h.claims {
		claims[c] = keys
	}
	h.mu.Unlock()
	for claim, keys := range claims {
		ctx, cancel := context.WithTimeout(h.ctx, h.r.renewEvery)
		err := h.r.ledger.Renew(ctx, claim, keys...)
		cancel()
		if err != nil {
			h.r.log.WithError(err).WithField("keys", len(keys)).Warn("could not renew the claims of a recall under way")
		}
	}
}
