package memory

import (
	"runtime"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"
)

// janitor reclaims a go-cache's expired entries every interval. It stands
// in for go-cache's own janitor, which nothing but the garbage collector
// can stop: Close stops this one at once.
type janitor struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// startJanitor starts a janitor on c for owner, the value that holds c. It
// runs until Stop or, failing that, until owner is unreachable: the
// goroutine holds c but not owner, so an owner that is dropped without
// Close is still collected, and its janitor stopped, as go-cache's own
// janitor would be. c, and its eviction callback, must not reference owner.
func startJanitor[T any](owner *T, c *cache.Cache, every time.Duration) *janitor {
	j := &janitor{stop: make(chan struct{}), done: make(chan struct{})}
	go j.run(c, every)
	runtime.AddCleanup(owner, (*janitor).signal, j)
	return j
}

// run deletes c's expired entries every interval until stopped.
func (j *janitor) run(c *cache.Cache, every time.Duration) {
	defer close(j.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			c.DeleteExpired()
		}
	}
}

// signal tells the janitor to stop, without waiting.
func (j *janitor) signal() {
	j.once.Do(func() { close(j.stop) })
}

// Stop stops the janitor and waits until it has. It may be called more
// than once.
func (j *janitor) Stop() {
	j.signal()
	<-j.done
}
