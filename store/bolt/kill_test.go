package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/store"
	"github.com/dingrecall/dingrecall/store/bolt"
)

// The child process of TestKillSafety is this test binary run again with
// these variables set: the database's path and what to do.
const (
	childPathEnv = "DINGRECALL_BOLT_KILL_PATH"
	childModeEnv = "DINGRECALL_BOLT_KILL_MODE"
)

// killTotal is how many operations the child attempts; killAfter how many
// acknowledgements the parent reads before it kills the child.
const (
	killTotal   = 3000
	killAfter   = 150
	killWorkers = 4
)

// killKey is the key of the i-th message of the test.
func killKey(i int) string { return fmt.Sprintf("key-%04d", i) }

// killMessage is the i-th message, sent now.
func killMessage(i int) store.Message {
	return store.Message{Key: killKey(i), Kind: store.KindGroup, ChatID: fmt.Sprintf("cid-%d", i%7), MsgKey: "sampleText",
		MsgParam: `{"content":"` + killKey(i) + `"}`, SentAt: time.Now()}
}

// TestKillSafety runs a child process that changes the ledger and prints a
// line for each change the ledger acknowledged, kills it with SIGKILL
// after some lines, reopens the database and checks that every
// acknowledged change is there: records (and sends written ahead as
// reservations) are kept, removals are not undone.
func TestKillSafety(t *testing.T) {
	if path := os.Getenv(childPathEnv); path != "" {
		runKillChild(path, os.Getenv(childModeEnv))
		return
	}
	tests := []struct {
		mode    string
		prepare func(t *testing.T, path string)
		check   func(t *testing.T, l *bolt.Ledger, acks []string)
	}{
		{"record", nil, func(t *testing.T, l *bolt.Ledger, acks []string) {
			for _, a := range acks {
				_, err := l.Get(t.Context(), strings.TrimPrefix(a, "recorded "))
				assert.NoError(t, err, "acknowledged %s", a)
			}
		}},
		{"send", nil, func(t *testing.T, l *bolt.Ledger, acks []string) {
			pending, err := l.Pending(t.Context(), time.Now().Add(time.Hour), 0)
			require.NoError(t, err)
			reserved := map[string]bool{}
			for _, r := range pending {
				reserved[r.ID] = true
			}
			committed := map[string]bool{}
			for _, a := range acks {
				if k, ok := strings.CutPrefix(a, "committed "); ok {
					committed[k] = true
					_, err := l.Get(t.Context(), k)
					assert.NoError(t, err, "acknowledged %s", a)
				}
			}
			for _, a := range acks {
				id, ok := strings.CutPrefix(a, "reserved ")
				if !ok {
					continue
				}
				// Its commit may have reached the disk without being
				// acknowledged before the kill: then it is tracked.
				_, err := l.Get(t.Context(), "key-"+strings.TrimPrefix(id, "res-"))
				assert.True(t, reserved[id] || err == nil, "an acknowledged reservation is pending or committed: %s", id)
			}
			assert.LessOrEqual(t, len(pending), killWorkers, "at most one send in flight per worker was cut short")
		}},
		{"remove", func(t *testing.T, path string) {
			l, err := bolt.Open(path, bolt.Options{})
			require.NoError(t, err)
			var wg sync.WaitGroup
			for w := range 16 {
				wg.Go(func() {
					for i := w; i < killTotal; i += 16 {
						assert.NoError(t, l.Record(t.Context(), killMessage(i)))
					}
				})
			}
			wg.Wait()
			require.NoError(t, l.Close())
		}, func(t *testing.T, l *bolt.Ledger, acks []string) {
			for _, a := range acks {
				_, err := l.Get(t.Context(), strings.TrimPrefix(a, "removed "))
				assert.ErrorIs(t, err, store.ErrNotFound, "acknowledged %s: no ghost", a)
			}
			// Each worker's last removal may have reached the disk without
			// being acknowledged before the kill.
			assert.LessOrEqual(t, l.Len(), killTotal-len(acks))
			assert.GreaterOrEqual(t, l.Len(), killTotal-len(acks)-killWorkers, "nothing but what was asked went")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			if tt.prepare != nil {
				tt.prepare(t, path)
			}
			acks := killChild(t, path, tt.mode)
			require.GreaterOrEqual(t, len(acks), killAfter)
			t.Logf("%d acknowledgements read before and after the kill", len(acks))
			l := open(t, path, bolt.Options{})
			tt.check(t, l, acks)
		})
	}
}

// killChild starts the child in mode, kills it with SIGKILL by PID after
// killAfter acknowledgements and returns every acknowledgement it printed.
func killChild(t *testing.T, path, mode string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillSafety$")
	cmd.Env = append(os.Environ(), childPathEnv+"="+path, childModeEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	t.Cleanup(func() { kill(); _ = cmd.Wait() })

	var acks []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "recorded ") && !strings.HasPrefix(line, "reserved ") &&
			!strings.HasPrefix(line, "committed ") && !strings.HasPrefix(line, "removed ") {
			continue
		}
		acks = append(acks, line)
		if len(acks) == killAfter {
			kill()
		}
	}
	require.True(t, killed, "the child stopped by itself after %d acknowledgements", len(acks))
	err = cmd.Wait()
	require.Error(t, err, "the child was killed")
	return acks
}

// runKillChild is the child: killWorkers goroutines change the ledger at
// path and print each acknowledged change, then it waits to be killed.
func runKillChild(path, mode string) {
	l, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var mu sync.Mutex
	ack := func(what, id string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(os.Stdout, what, id) // os.Stdout is unbuffered
	}
	var wg sync.WaitGroup
	for w := range killWorkers {
		wg.Go(func() {
			for i := w; i < killTotal; i += killWorkers {
				m := killMessage(i)
				switch mode {
				case "record":
					if l.Record(ctx, m) == nil {
						ack("recorded", m.Key)
					}
				case "send":
					id := "res-" + fmt.Sprintf("%04d", i)
					if l.Reserve(ctx, store.Reservation{ID: id, Kind: m.Kind, ChatID: m.ChatID, MsgParam: m.MsgParam}) != nil {
						continue
					}
					ack("reserved", id)
					if l.Commit(ctx, id, m) == nil {
						ack("committed", m.Key)
					}
				case "remove":
					if l.Remove(ctx, m.Key) == nil {
						ack("removed", m.Key)
					}
				}
			}
		})
	}
	wg.Wait()
	select {} // wait to be killed
}
