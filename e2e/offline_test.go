package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// TestOfflineByConstruction (O2): the whole journey — coordinator, agent and
// viewer as the real binaries, with their production logging and probing
// paths — runs in a namespace whose only way out is a blackhole interface,
// and not one packet heads for a non-local address. The detector is shown
// to work first: deliberate attempts (UDP, TCP, DNS) are caught.
func TestOfflineByConstruction(t *testing.T) {
	harness.Begin(t)
	harness.Binaries(t) // build before watching: the go tool is not under test
	bh, err := netns.NewBlackhole("pdhole0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bh.Close(); err != nil {
			t.Error(err)
		}
	})

	// The detector sees what it must.
	if c, err := net.Dial("udp", "192.0.2.1:9"); err == nil {
		c.Write([]byte("x"))
		c.Close()
	}
	d := net.Dialer{Timeout: 300 * time.Millisecond}
	if c, err := d.Dial("tcp", "198.51.100.7:443"); err == nil {
		c.Close()
	}
	lctx, cancel := context.WithTimeout(context.Background(), time.Second)
	net.DefaultResolver.LookupHost(lctx, "peerdesk-offline-probe.example") //nolint:errcheck // expected to fail
	cancel()
	wait.For(t, "the blackhole to see the deliberate UDP, TCP and DNS attempts", func() bool {
		var udp, tcp, dns bool
		for _, a := range bh.Attempts() {
			s := a.String()
			udp = udp || s == "udp 192.0.2.1:9"
			tcp = tcp || s == "tcp 198.51.100.7:443"
			dns = dns || strings.HasSuffix(s, ":53")
		}
		return udp && tcp && dns
	})
	bh.Reset()

	// The journey, with real binaries.
	data := t.TempDir()
	coord, url, pin := startCoordinatorProcess(t, data)
	admin := adminclient.New(data + "/" + coordinator.SocketName)
	if err := admin.AddUser(ctx(t), "alice", harness.Password, "technician"); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx(t), 0, "offline")
	if err != nil {
		t.Fatal(err)
	}
	agentDir, viewerDir := t.TempDir(), t.TempDir()
	if _, err := harness.Run(t, nil, "peerdesk-agent", "enroll", "-state", agentDir, "-coordinator", url, "-token", tok.Token, "-hostname", "offline-pc"); err != nil {
		t.Fatal(err)
	}
	agent := harness.Start(t, nil, "peerdesk-agent", "run", "-state", agentDir, "-heartbeat", "1s", "-log-level", "debug")
	env := []string{"PEERDESK_PASSWORD=" + harness.Password}
	if _, err := harness.Run(t, env, "peerdesk-viewer", "login", "-state", viewerDir, "-coordinator", url, "-pin", pin, "-user", "alice"); err != nil {
		t.Fatal(err)
	}
	var device string
	err = wait.Until(harness.Timeout, func() error {
		out, err := harness.Run(t, nil, "peerdesk-viewer", "machines", "-state", viewerDir)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 5 && f[1] == "offline-pc" && f[3] == "true" && f[4] != "" {
				device = f[0]
				return nil
			}
		}
		return fmt.Errorf("the viewer lists:\n%s", out)
	})
	if err != nil {
		t.Fatalf("the agent never showed online with an overlay address: %v; agent log:\n%s", err, agent.Stderr())
	}
	out, err := harness.Run(t, nil, "peerdesk-viewer", "sysinfo", "-state", viewerDir, device)
	if err != nil || !strings.Contains(out, `"hostname"`) {
		t.Fatalf("sysinfo: %v\n%s", err, out)
	}
	// The nodes idle: periodic probes would show up now. The span is one
	// period of the overlay's peer heartbeat (magicsock's
	// heartbeatInterval, 3 s), which re-probes every endpoint it knows.
	wait.Holds(t, 3*time.Second, "no packet for a non-local address while the nodes idle", func() bool {
		if got := bh.Attempts(); len(got) > 0 {
			t.Logf("the product tried to reach non-local addresses: %v", got)
			return false
		}
		return true
	})
	agent.Stop(t)
	coord.Stop(t)

	if got := bh.Attempts(); len(got) > 0 {
		t.Fatalf("the product tried to reach non-local addresses: %v", got)
	}
}
