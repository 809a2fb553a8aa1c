package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Healthcheck is "dingrecall healthcheck": it asks the running app's
// /healthz on LISTEN_ADDR's port and returns 0 when it answers 200, else
// 1 with the reason written to stderr. The container image uses it, having
// no curl.
func Healthcheck(getenv func(string) string, stderr io.Writer) int {
	addr := getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck: LISTEN_ADDR:", err)
		return 1
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}
