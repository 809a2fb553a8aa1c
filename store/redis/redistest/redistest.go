// Package redistest gives tests a Redis of each topology the ledger runs
// on: one node, a 3-master Redis Cluster and a master with a replica
// watched by a Sentinel, all on loopback. Each comes from the environment
// when set (REDIS_URL, REDIS_CLUSTER_URL, REDIS_SENTINEL_URL with
// REDIS_SENTINEL_MASTER: .ci/run starts them once for every package), else
// it is started for the test from the installed redis-server and stopped,
// by PID, when the test ends. Without redis-server the test is skipped,
// unless DINGRECALL_REQUIRE_REDIS=1, which makes it fail instead.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The environment variables that name servers started outside the test.
const (
	// EnvSingle is one node's URL.
	EnvSingle = "REDIS_URL"
	// EnvCluster is a cluster's seed URL, redis://host:port?addr=host:port….
	EnvCluster = "REDIS_CLUSTER_URL"
	// EnvSentinel lists the Sentinels, in the same form.
	EnvSentinel = "REDIS_SENTINEL_URL"
	// EnvSentinelMaster is the master's name the Sentinels know.
	EnvSentinelMaster = "REDIS_SENTINEL_TEST_MASTER"
	// EnvRequire=1 makes a missing Redis fail the test instead of skip it.
	EnvRequire = "DINGRECALL_REQUIRE_REDIS"
)

// unavailable skips tb, or fails it under DINGRECALL_REQUIRE_REDIS=1.
func unavailable(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatalf("%s=1 but %s", EnvRequire, why)
	}
	tb.Skipf("%s: skipping (install redis-server, or see README)", why)
}

// NeedServer skips tb (or fails it, under DINGRECALL_REQUIRE_REDIS=1)
// unless redis-server is installed, for a test that starts its own.
func NeedServer(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(tb, "redis-server is not installed")
	}
}

// Single returns the URL of one Redis node: REDIS_URL, checked to answer,
// or a redis-server started for tb.
func Single(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(EnvSingle); u != "" {
		o, err := goredis.ParseURL(u)
		if err != nil {
			unavailable(tb, fmt.Sprintf("REDIS_URL is invalid: %v", err))
		}
		c := goredis.NewClient(o)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.Ping(ctx).Err(); err != nil {
			unavailable(tb, fmt.Sprintf("Redis at REDIS_URL is unreachable: %v", err))
		}
		return u
	}
	NeedServer(tb)
	port := FreePort(tb)
	Start(tb, "single", "--port", strconv.Itoa(port))
	return "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
}

// Cluster returns the seed URL of a Redis Cluster: REDIS_CLUSTER_URL, or
// a 3-master cluster started for tb.
func Cluster(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(EnvCluster); u != "" {
		return u
	}
	NeedServer(tb)
	return StartCluster(tb, 3).URL()
}

// Sentinel returns the URL of the Sentinels and the master's name:
// REDIS_SENTINEL_URL and REDIS_SENTINEL_MASTER, or a master, a replica and
// a Sentinel started for tb.
func Sentinel(tb testing.TB) (url, master string) {
	tb.Helper()
	if u := os.Getenv(EnvSentinel); u != "" && os.Getenv(EnvSentinelMaster) != "" {
		return u, os.Getenv(EnvSentinelMaster)
	}
	NeedServer(tb)
	s := StartSentinel(tb)
	return s.URL(), s.Master
}

// FreePort returns a loopback port that was free a moment ago, with its
// cluster bus port (port + 10000) free too.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port
	}
	tb.Fatal("no free port pair")
	return 0
}

// Process is a redis-server (or Sentinel) a test started.
type Process struct {
	// Port is its loopback port.
	Port int
	// Dir is its working directory.
	Dir string
	cmd *exec.Cmd
}

// Addr is host:port.
func (p *Process) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// Client returns a client of this one node, closed when tb ends.
func (p *Process) Client(tb testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: p.Addr()})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop kills the process by its PID and waits for it; stopping twice is
// fine.
func (p *Process) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Start runs redis-server with args (which must name --port) in a
// directory of its own, without persistence, bound to loopback, waits
// until it answers PING and stops it when tb ends. name labels its
// directory.
func Start(tb testing.TB, name string, args ...string) *Process {
	tb.Helper()
	dir, err := os.MkdirTemp("", "redistest-"+name+"-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	port := 0
	for i, a := range args {
		if a == "--port" && i+1 < len(args) {
			port, _ = strconv.Atoi(args[i+1])
		}
	}
	all := append([]string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}, args...)
	return run(tb, dir, port, "redis-server", all...)
}

// run starts a server process and waits for its PING.
func run(tb testing.TB, dir string, port int, bin string, args ...string) *Process {
	tb.Helper()
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &Process{Port: port, Dir: dir, cmd: cmd}
	tb.Cleanup(p.Stop)
	c := goredis.NewClient(&goredis.Options{Addr: p.Addr(), MaxRetries: -1})
	defer c.Close()
	if err := waitFor(10*time.Second, func() error { return c.Ping(context.Background()).Err() }); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "log"))
		tb.Fatalf("%s on port %d did not start: %v\n%s", bin, port, err, out)
	}
	return p
}

// waitFor polls check every 20 ms until it returns nil or d has passed,
// and returns its last error.
func waitFor(d time.Duration, check func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ClusterServers is a Redis Cluster a test started.
type ClusterServers struct {
	// Nodes are its masters.
	Nodes []*Process
}

// URL is the cluster's seed URL, listing every node.
func (c *ClusterServers) URL() string {
	u := "redis://" + c.Nodes[0].Addr()
	for i, n := range c.Nodes[1:] {
		if i == 0 {
			u += "?"
		} else {
			u += "&"
		}
		u += "addr=" + n.Addr()
	}
	return u
}

// StartCluster starts masters redis-servers with cluster mode on, joins
// them with redis-cli --cluster create (no replicas), waits until every
// node reports the cluster ok and stops them when tb ends.
func StartCluster(tb testing.TB, masters int) *ClusterServers {
	tb.Helper()
	cs := &ClusterServers{}
	addrs := make([]string, 0, masters)
	for i := range masters {
		port := FreePort(tb)
		p := Start(tb, "cluster"+strconv.Itoa(i), "--port", strconv.Itoa(port),
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		cs.Nodes = append(cs.Nodes, p)
		addrs = append(addrs, p.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range cs.Nodes {
		c := goredis.NewClient(&goredis.Options{Addr: n.Addr()})
		err := waitFor(20*time.Second, func() error {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)) {
				return fmt.Errorf("cluster not ready: %s", firstLine(info))
			}
			return nil
		})
		_ = c.Close()
		if err != nil {
			tb.Fatalf("cluster node %s: %v", n.Addr(), err)
		}
	}
	return cs
}

// firstLine is s up to its first line break.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// SentinelServers is a master, its replica and a Sentinel watching them.
type SentinelServers struct {
	// Master is the name the Sentinel knows the master by.
	Master string
	// Primary and Replica are the two data nodes, as started (a failover
	// swaps their roles).
	Primary, Replica *Process
	// Sentinel is the Sentinel.
	Sentinel *Process
}

// URL is the Sentinel's URL in the cluster form the ledger reads.
func (s *SentinelServers) URL() string { return "redis://" + s.Sentinel.Addr() }

// StartSentinel starts a master, a replica of it and one Sentinel (quorum
// 1, a node is down after one second), waits until the replica is in sync
// and the Sentinel knows it, and stops them when tb ends.
func StartSentinel(tb testing.TB) *SentinelServers {
	tb.Helper()
	s := &SentinelServers{Master: "dingrecall"}
	mp := FreePort(tb)
	s.Primary = Start(tb, "primary", "--port", strconv.Itoa(mp))
	s.Replica = Start(tb, "replica", "--port", strconv.Itoa(FreePort(tb)), "--replicaof", "127.0.0.1", strconv.Itoa(mp))
	sp := FreePort(tb)
	dir, err := os.MkdirTemp("", "redistest-sentinel-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor %s 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds %s 1000\n"+
		"sentinel failover-timeout %s 5000\n"+
		"sentinel parallel-syncs %s 1\n", sp, dir, s.Master, mp, s.Master, s.Master, s.Master)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	s.Sentinel = run(tb, dir, sp, "redis-server", path, "--sentinel")
	if err := s.WaitReplicated(tb, 20*time.Second); err != nil {
		tb.Fatal(err)
	}
	return s
}

// WaitReplicated waits until the Sentinel knows a replica of the master
// that is in sync with it (so that a failover can promote it).
func (s *SentinelServers) WaitReplicated(tb testing.TB, d time.Duration) error {
	tb.Helper()
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.Sentinel.Addr()})
	defer sc.Close()
	return waitFor(d, func() error {
		reps, err := sc.Replicas(context.Background(), s.Master).Result()
		if err != nil {
			return err
		}
		for _, r := range reps {
			if strings.Contains(r["flags"], "slave") && !strings.Contains(r["flags"], "down") &&
				!strings.Contains(r["flags"], "disconnected") && r["master-link-status"] == "ok" {
				return nil
			}
		}
		return fmt.Errorf("no replica in sync yet: %v", reps)
	})
}
