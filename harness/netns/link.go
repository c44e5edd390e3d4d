//go:build linux

package netns

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// NowhereLink gives the test's namespace an interface with an address but
// no route anywhere, as every real machine has a network. tsnet pauses its
// control client while no interface but loopback is up, so the real
// binaries need one to join the overlay (in-process nodes do not: tsnet
// exempts tests), and Chromium gathers WebRTC candidates — TURN relays
// included — only when one is up. It is removed when the test ends.
func NowhereLink(t testing.TB) {
	t.Helper()
	if !Inside() {
		t.Fatal("netns: NowhereLink may only be used inside the test's own namespace")
	}
	name := "pdnowhere0"
	for _, args := range [][]string{
		{"link", "add", name, "type", "veth", "peer", "name", name + "p"},
		{"link", "set", name, "arp", "off"},
		{"addr", "add", "10.254.253.1/24", "dev", name},
		{"link", "set", name + "p", "up"},
		{"link", "set", name, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "link", "del", name).Run() //nolint:errcheck // best effort
			t.Fatalf("netns: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
			t.Errorf("%v", fmt.Errorf("netns: removing %s: %v: %s", name, err, out))
		}
	})
}
