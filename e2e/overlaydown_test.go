package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/supportpack"
	"github.com/peerdesk/peerdesk/wire"
)

// supportBinaryFor makes a one-time agent with the trailer cfg, as the
// portal would (a wrong pin or an address nothing answers included).
func supportBinaryFor(t *testing.T, cfg wire.SupportConfig) string {
	t.Helper()
	exe, err := os.Open(filepath.Join(harness.Binaries(t), "peerdesk-agent"))
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	path := filepath.Join(t.TempDir(), "peerdesk-support-"+cfg.Code)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supportpack.Write(f, exe, cfg); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOverlayDownSaysWhy (issue 12): when the one-time agent cannot reach
// the help desk or its overlay cannot come up, it says why in words — on
// the end user's page, on its terminal, and (once it has joined, over
// HTTPS) on the technician's session row; the viewer says it on its
// terminal. Each case is made for real: a pin that is not the
// coordinator's, an address nothing answers, a coordinator whose clock
// runs two days ahead (its certificates are not valid yet here), and a
// machine with no network interface but loopback (this test's namespace
// has no other link).
func TestOverlayDownSaysWhy(t *testing.T) {
	harness.Begin(t)
	b := harness.StartBrowser(t)

	// agentSays runs the one-time agent with cfg and checks that its page
	// and its terminal say reason's words.
	agentSays := func(t *testing.T, cfg wire.SupportConfig, reason node.Reason) *harness.Process {
		t.Helper()
		opener := harness.NewOpener(t)
		agent := harness.StartPath(t, append([]string{"TMPDIR=" + t.TempDir()}, opener.Env()...), supportBinaryFor(t, cfg))
		words := reason.Words()
		agent.WaitLine(t, words)
		var shown string
		tab := b.NewTab(t)
		harness.Do(t, tab, "open the user's page", chromedp.Navigate(opener.Next(t)),
			chromedp.WaitVisible(`#network`, chromedp.ByQuery), chromedp.Text(`#network`, &shown, chromedp.ByQuery))
		if !strings.Contains(shown, words) {
			t.Errorf("the user's page says %q, want %q", shown, words)
		}
		return agent
	}

	t.Run("pin mismatch", func(t *testing.T) {
		c := harness.StartCoordinator(t)
		code := newCode(t, c)
		agentSays(t, wire.SupportConfig{Code: code, CoordinatorURL: c.URL(), Pin: strings.Repeat("ab", 32)}, node.ReasonPinMismatch)
	})
	t.Run("unreachable", func(t *testing.T) {
		agentSays(t, wire.SupportConfig{Code: "123456", CoordinatorURL: "https://127.0.0.1:9", Pin: strings.Repeat("ab", 32)}, node.ReasonUnreachable)
	})
	t.Run("clock skew", func(t *testing.T) {
		clock := harness.NewClock()
		clock.Advance(48 * time.Hour)
		c := harness.StartCoordinator(t, harness.WithClock(clock))
		code := newCode(t, c)
		agentSays(t, wire.SupportConfig{Code: code, CoordinatorURL: c.URL(), Pin: c.Pin()}, node.ReasonClockSkew)
	})
	t.Run("no network", func(t *testing.T) {
		// Joined over HTTPS on loopback; the overlay cannot come up.
		c := harness.StartCoordinator(t)
		code := newCode(t, c)
		agentSays(t, wire.SupportConfig{Code: code, CoordinatorURL: c.URL(), Pin: c.Pin()}, node.ReasonNoInterface)
		wait.ForErr(t, "the session row to say why", func() error {
			board, err := c.Desk().Board(desk.Caller{User: "root", Role: policy.RoleAdmin, IP: "127.0.0.1"})
			if err != nil {
				return err
			}
			for _, s := range board.Sessions {
				if s.Code == code && s.Overlay == wire.OverlayNoNetwork {
					return nil
				}
			}
			return fmt.Errorf("the board holds %+v", board.Sessions)
		})
		// The viewer, on the same machine, says it on its terminal.
		tech := c.AddTechnician(t, "tim")
		vstate := t.TempDir()
		if out, err := harness.RunInput(t, nil, harness.Password+"\n", "peerdesk-viewer", "login", "-state", vstate,
			"-coordinator", c.URL(), "-pin", c.Pin(), "-user", tech); err != nil {
			t.Fatalf("peerdesk-viewer login: %v\n%s", err, out)
		}
		ui := harness.Start(t, nil, "peerdesk-viewer", "ui", "-state", vstate, "-listen", "127.0.0.1:0")
		wait.For(t, "the viewer to say why on its terminal", func() bool { return strings.Contains(ui.Stderr(), node.ReasonNoInterface.Words()) })
	})
}

// newCode makes a support code on c's desk.
func newCode(t *testing.T, c *harness.Coordinator) string {
	t.Helper()
	code, err := c.Desk().GenerateCode(desk.Caller{User: "root", Role: policy.RoleAdmin, IP: "127.0.0.1"}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	return code.Code
}
