package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/agent/power"
	"github.com/peerdesk/peerdesk/coordinator/web"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// recorder is the agent's power runner in tests: it records what the
// agent would run instead of rebooting the test machine.
type recorder struct {
	mu   sync.Mutex
	runs [][]string
}

func (r *recorder) Run(_ context.Context, argv []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, argv)
	return nil
}
func (r *recorder) Registry(context.Context, power.RegChange) error { return nil }
func (r *recorder) RegistryValueExists(string, string) (bool, error) {
	return false, nil
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.runs)
}

func (r *recorder) ran(argv ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.runs, func(a []string) bool { return slices.Equal(a, argv) })
}

// TestPowerFromTools (U2, I2): a senior technician opens a machine's Tools
// page in their viewer, sees its system information read peer to peer, and
// reboots it; an emergency reboot without the confirmation is refused by
// the agent; a technician's viewer gets no power grant at all. The machine
// is an unattended server: its consent rules ask nobody (on an attended
// one, a power action waits for its user's answer, L5).
func TestPowerFromTools(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t)
	c := harness.StartCoordinator(t)
	runs := &recorder{}
	a := c.EnrollAgent(t, "server-7", func(cfg *agent.Config) { cfg.PowerRunner, cfg.Unattended = runs, true })
	sam := c.LoginViewer(t, c.AddUser(t, "sam", policy.RoleSenior))
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: sam, Listen: strings.TrimPrefix(web.DefaultViewerURL, "http://"), Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })

	tab := harness.StartBrowser(t).Ctx
	var facts, steps, refusal string
	harness.Do(t, tab, "open the tools page and reboot",
		chromedp.Navigate(ui.URL()),
		chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
		chromedp.Navigate(ui.Base()+"/device/"+a.DeviceID()+"/tools"),
		chromedp.WaitVisible(`#facts`, chromedp.ByQuery),
		chromedp.Text(`#facts`, &facts, chromedp.ByQuery),
		chromedp.SetValue(`#action`, string(wire.PowerReboot), chromedp.ByQuery),
		chromedp.Click(`#power`, chromedp.ByQuery),
		chromedp.WaitVisible(`#steps`, chromedp.ByQuery),
		chromedp.Text(`#steps`, &steps, chromedp.ByQuery),
	)
	if !strings.Contains(facts, "Agent\ntest") || !strings.Contains(facts, "Kernel") { // the harness agent's version, read from it
		t.Errorf("system information shown: %q", facts)
	}
	if !strings.Contains(steps, "systemctl reboot") {
		t.Errorf("steps shown: %q", steps)
	}
	wait.ForErr(t, "the agent to reboot", func() error {
		if runs.ran("systemctl", "reboot") {
			return nil
		}
		return fmt.Errorf("it ran %v", runs)
	})
	harness.Do(t, tab, "emergency reboot without confirming",
		chromedp.SetValue(`#action`, string(wire.PowerRebootEmergency), chromedp.ByQuery),
		chromedp.Click(`#power`, chromedp.ByQuery),
		chromedp.WaitVisible(`#error`, chromedp.ByQuery),
		chromedp.Text(`#error`, &refusal, chromedp.ByQuery),
	)
	if !strings.Contains(refusal, "confirm") {
		t.Errorf("emergency reboot without confirmation: %q", refusal)
	}
	if runs.ran("systemctl", "reboot", "--force") {
		t.Error("an unconfirmed emergency reboot ran")
	}

	// A technician may connect but not power-cycle: no grant.
	tina := c.LoginViewer(t, c.AddTechnician(t, "tina"))
	if _, err := tina.Power(ctx(t), a.DeviceID(), wire.PowerRequest{Action: wire.PowerReboot}); !harness.IsCode(err, wire.CodeForbidden) {
		t.Fatalf("a technician's reboot: %v, want %s", err, wire.CodeForbidden)
	}
}
