package e2e

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/agent/state"

	"github.com/peerdesk/peerdesk/coordinator/web"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// TestMonitorSwitch (R1): a machine with two monitors side by side (RandR
// monitors on Xvfb). The technician picks each in the page's monitor list
// and then "All", and the page shows each; a click on the right monitor
// lands on the right monitor's pixels.
//
// The agent is the real binary: input goes through robotgo, which keeps
// one X connection per process, and an in-process agent would bind the
// test process to this test's Xvfb (with -count=2 the next run's Xvfb
// takes the same display number and Xlib ends the process on the dead
// connection; harness.WithInput).
func TestMonitorSwitch(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t) // the real agent binary needs a network to exist
	const W, H, half = 1280, 720, 640
	display := xclient.StartXvfb(t, W, H)
	win := xclient.OpenWindow(t, display, 0, 0, W, H)
	red, blue := color.RGBA{200, 30, 30, 255}, color.RGBA{30, 60, 210, 255}
	if err := win.FillRect(image.Rect(0, 0, half, H), red); err != nil {
		t.Fatal(err)
	}
	if err := win.FillRect(image.Rect(half, 0, W, H), blue); err != nil {
		t.Fatal(err)
	}
	rr := xclient.NewRandR(t, display)
	rr.SetMonitor("LEFT", image.Rect(0, 0, half, H))
	rr.SetMonitor("RIGHT", image.Rect(half, 0, W, H))

	c := harness.StartCoordinator(t)
	v := c.LoginViewer(t, c.AddTechnician(t, "erin"))
	dir := t.TempDir()
	if _, err := harness.Run(t, nil, "peerdesk-agent", "enroll", "-state", dir, "-coordinator", c.URL(), "-token", c.Token(t, 0), "-hostname", "two-screens"); err != nil {
		t.Fatal(err)
	}
	st, err := state.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	device := st.DeviceID
	agent := harness.Start(t, nil, "peerdesk-agent", "run", "-state", dir, "-heartbeat", "1s", "-display", display, "-unattended")
	wait.ForErr(t, "the agent to answer peer calls", func() error {
		_, err := try(func(c context.Context) (wire.Inventory, error) { return v.SysInfo(c, device) })
		return err
	})
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: v, Listen: strings.TrimPrefix(web.DefaultViewerURL, "http://"), Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })
	tech := harness.StartBrowser(t).Ctx
	var options []string
	harness.Do(t, tech, "open the machine's page on the viewer",
		chromedp.Navigate(ui.URL()),
		chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
		chromedp.Navigate(web.DefaultViewerURL+"/device/"+device),
		chromedp.WaitVisible(`#screen`, chromedp.ByQuery),
	)
	// Xvfb's own output is a monitor too, the whole screen and primary:
	// the session starts there.
	split := func(x, _ int) color.RGBA {
		if x < half {
			return red
		}
		return blue
	}
	both := [][2]int{{40, 40}, {600, 680}, {680, 40}, {1240, 680}}
	waitVideo(t, tech, W, H, "the primary monitor")
	waitScreen(t, tech, both, split, "the primary monitor")
	harness.Do(t, tech, "read the monitor list", chromedp.Evaluate(`Array.from(document.querySelectorAll('#monitor option')).map(o => o.textContent)`, &options))
	want := []string{"1: screen 1280×720 (primary)", "2: LEFT 640×720", "3: RIGHT 640×720", "All"}
	if strings.Join(options, "|") != strings.Join(want, "|") {
		t.Fatalf("the monitor list is %q, want %q", options, want)
	}

	pts := [][2]int{{40, 40}, {600, 40}, {320, 360}, {40, 680}, {600, 680}}
	pick(t, tech, "1")
	waitVideo(t, tech, half, H, "the left monitor")
	waitScreen(t, tech, pts, func(int, int) color.RGBA { return red }, "the left monitor")
	pick(t, tech, "2")
	waitScreen(t, tech, pts, func(int, int) color.RGBA { return blue }, "the right monitor")
	// A click at (100, 200) of the right monitor is (740, 200) of the screen.
	harness.Do(t, tech, "click on the right monitor", clickRemote(100, 200))
	ev := waitEvent(t, win, "the click", func(e xclient.Event) bool { return e.Kind == "button" && e.Down })
	if abs(ev.X-(half+100)) > 2 || abs(ev.Y-200) > 2 {
		t.Fatalf("the click on the right monitor arrived at (%d,%d), want (%d,200)", ev.X, ev.Y, half+100)
	}

	pick(t, tech, "-1")
	waitVideo(t, tech, W, H, "all monitors")
	waitScreen(t, tech, both, split, "all monitors")

	// The toolbar: Ctrl-Alt-Del arrives as the three keys, then End
	// session ends it on both sides.
	harness.Do(t, tech, "press Ctrl-Alt-Del on the toolbar", chromedp.Click(`#cad`, chromedp.ByQuery))
	for _, k := range []string{"Control_L", "Alt_L", "Delete"} {
		waitEvent(t, win, k, func(e xclient.Event) bool { return e.Kind == "key" && e.Down && e.Keysym == k })
	}
	if strings.Contains(agent.Stderr(), "screen session ended") {
		t.Fatalf("the agent's session ended before End; agent log:\n%s", agent.Stderr())
	}
	var status string
	harness.Do(t, tech, "end the session on the toolbar",
		chromedp.Click(`#end`, chromedp.ByQuery),
		chromedp.WaitVisible(`//*[@id="status" and starts-with(normalize-space(), "You ended the session.")]`, chromedp.BySearch),
		chromedp.Text(`#status`, &status, chromedp.ByQuery))
	// The agent's own record of the session's end (agent/screen's
	// handler logs it as the session is let go).
	if err := wait.Until(harness.Timeout, func() error {
		if strings.Contains(agent.Stderr(), "screen session ended") {
			return nil
		}
		return errors.New("not ended")
	}); err != nil {
		t.Fatalf("the page says %q but the agent's session is still live; agent log:\n%s", status, agent.Stderr())
	}
}

// pick chooses a monitor in the page's list, as a person does with the
// select (which fires change).
func pick(t *testing.T, tab context.Context, value string) {
	t.Helper()
	harness.Do(t, tab, "pick monitor "+value,
		chromedp.SetValue(`#monitor`, value, chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById('monitor').dispatchEvent(new Event('change'))`, nil))
}

// waitVideo waits until the page's video has the given size.
func waitVideo(t *testing.T, tab context.Context, w, h int, what string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			var state string
			chromedp.Run(tab, chromedp.Evaluate(`JSON.stringify({w: document.getElementById('screen').videoWidth, h: document.getElementById('screen').videoHeight, status: document.getElementById('status').textContent})`, &state)) //nolint:errcheck // diagnostics only
			t.Logf("the page: %s", state)
		}
	}()
	harness.Do(t, tab, what+": wait for a "+fmt.Sprint(w, "x", h)+" picture",
		chromedp.Poll(fmt.Sprintf(`(() => { const v = document.getElementById('screen'); return v.videoWidth === %d && v.videoHeight === %d; })()`, w, h), nil,
			chromedp.WithPollingTimeout(harness.Timeout)))
}

// clickRemote clicks the page's video at remote pixel (x, y).
func clickRemote(x, y int) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var pos []float64
		js := fmt.Sprintf(`(() => { const v = document.getElementById('screen'); const r = v.getBoundingClientRect();
		  const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
		  return [r.left + (r.width - v.videoWidth * s) / 2 + (%d + 0.5) * s, r.top + (r.height - v.videoHeight * s) / 2 + (%d + 0.5) * s]; })()`, x, y)
		if err := chromedp.Evaluate(js, &pos).Do(ctx); err != nil {
			return err
		}
		return chromedp.MouseClickXY(pos[0], pos[1]).Do(ctx)
	})
}
