package bot

import (
	"context"
	"errors"
	"sync"
)

// Pool errors.
var (
	// ErrBusy means the queue is full; the caller should ask DingTalk to
	// deliver again later (HTTP 503).
	ErrBusy = errors.New("worker queue is full")
	// ErrClosed means the pool is shutting down.
	ErrClosed = errors.New("worker pool is closed")
)

// pool runs jobs on a bounded number of workers with a bounded queue. Every
// accepted job runs, also during shutdown.
type pool struct {
	jobs chan func(context.Context)
	ctx  context.Context
	wg   sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

// newPool starts workers that take jobs from a queue of the given size.
// Jobs run with ctx, which should outlive the HTTP server so that work
// accepted before shutdown finishes.
func newPool(ctx context.Context, workers, queue int) *pool {
	p := &pool{jobs: make(chan func(context.Context), queue), ctx: ctx}
	for range max(1, workers) {
		p.wg.Go(func() {
			for job := range p.jobs {
				job(p.ctx)
			}
		})
	}
	return p
}

// submit queues job, or fails with ErrBusy when the queue is full and
// ErrClosed after close.
func (p *pool) submit(job func(context.Context)) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.jobs <- job:
		return nil
	default:
		return ErrBusy
	}
}

// queued is the number of jobs waiting for a worker.
func (p *pool) queued() int { return len(p.jobs) }

// close stops taking jobs and waits until every accepted one has run, or
// until ctx ends.
func (p *pool) close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.jobs)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
