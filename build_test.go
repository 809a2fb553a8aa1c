package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStaticBuildAndHealthcheck builds the binary as the Dockerfile does
// (CGO_ENABLED=0, -trimpath, -ldflags "-s -w"), starts it in sandbox mode and
// runs its healthcheck subcommand, which is the image's HEALTHCHECK.
func TestStaticBuildAndHealthcheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "dingrecall")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	file, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	require.NoError(t, err, "%s", file)
	require.Contains(t, string(file), "CGO_ENABLED=0", "the binary is static")

	// The binary is told its port, so this one test picks a free port and
	// lets go of it; every in-process test hands the app its listener.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := probe.Addr().String()
	require.NoError(t, probe.Close())
	env := append(os.Environ(), "LISTEN_ADDR="+addr, "DINGTALK_APP_KEY=", "LOG_LEVEL=error")
	check := func() error {
		hc := exec.Command(bin, "healthcheck")
		hc.Env = env
		return hc.Run()
	}
	require.Error(t, check(), "healthcheck fails while nothing listens")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := exec.CommandContext(ctx, bin)
	app.Env = env
	require.NoError(t, app.Start())
	t.Cleanup(func() { cancel(); _ = app.Wait() })
	require.Eventually(t, func() bool { return check() == nil }, 20*time.Second, 50*time.Millisecond)
}
