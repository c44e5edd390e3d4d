package e2e

import (
	"context"
	"fmt"
	"image/color"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// screenProbe reads pixels of the decoded remote screen in the technician's
// page: it draws the video's current frame into a canvas at its own size.
const screenProbe = `(() => {
  const v = document.getElementById('screen');
  if (!v || !v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0);
  return { w: c.width, h: c.height, px: %s.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data)) };
})()`

type probe struct {
	W, H int
	Px   [][]int
}

// pixels reads the given points of the remote screen as the browser shows it.
func pixels(t *testing.T, tab context.Context, pts [][2]int) *probe {
	t.Helper()
	js := fmt.Sprintf(screenProbe, fmt.Sprint(pointsJS(pts)))
	var p *probe
	harness.Do(t, tab, "read the screen", chromedp.Evaluate(js, &p))
	return p
}

func pointsJS(pts [][2]int) string {
	var b strings.Builder
	b.WriteString("[")
	for i, p := range pts {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "[%d,%d]", p[0], p[1])
	}
	b.WriteString("]")
	return b.String()
}

func near(got []int, want color.RGBA) bool {
	d := func(a int, b uint8) int {
		if a > int(b) {
			return a - int(b)
		}
		return int(b) - a
	}
	return len(got) >= 3 && d(got[0], want.R) < 48 && d(got[1], want.G) < 48 && d(got[2], want.B) < 48
}

// waitScreen waits until every point shows its colour.
func waitScreen(t *testing.T, tab context.Context, pts [][2]int, want func(x, y int) color.RGBA, what string) {
	t.Helper()
	deadline := time.Now().Add(harness.Timeout)
	var last *probe
	for time.Now().Before(deadline) {
		if p := pixels(t, tab, pts); p != nil {
			last = p
			ok := len(p.Px) == len(pts)
			for i, pt := range pts {
				ok = ok && near(p.Px[i], want(pt[0], pt[1]))
			}
			if ok {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var state string
	chromedp.Run(tab, chromedp.Evaluate(`JSON.stringify({status: document.getElementById('status').textContent, stats: window.peerdeskStats || null, ice: window.peerdeskICE || null})`, &state)) //nolint:errcheck // diagnostics only
	t.Fatalf("%s: the browser never showed the expected pixels; last read %+v; page: %s", what, last, state)
}

// samplePoints are block centres spread over the screen.
func samplePoints(w, h int) [][2]int {
	var pts [][2]int
	for _, fx := range []int{1, 7, 19, 33} {
		for _, fy := range []int{2, 11, 21} {
			x, y := fx*xclient.PatternCell+xclient.PatternCell/2, fy*xclient.PatternCell+xclient.PatternCell/2
			if x < w && y < h {
				pts = append(pts, [2]int{x, y})
			}
		}
	}
	return pts
}

func waitEvent(t *testing.T, win *xclient.Window, what string, match func(xclient.Event) bool) xclient.Event {
	t.Helper()
	timeout := time.After(harness.Timeout)
	for {
		select {
		case ev := <-win.Events():
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("the X window never received %s", what)
		}
	}
}

// TestSupportByCodeScreen is the headline journey, from a code to a live,
// controlled screen: a technician makes a code; the one-time support agent
// the portal hands out for it (the real binary with its trailer) runs on an
// X display; the end user allows the session on their page in the browser;
// the technician's page shows the remote screen, checked by the pixels of a
// known pattern; a click and typed text in the page arrive in an X window;
// the coordinator stops and the screen keeps streaming; the end user ends
// the session, the agent exits and leaves nothing behind.
func TestSupportByCodeScreen(t *testing.T) {
	netns.NowhereLink(t) // the real agent binary needs a network to exist
	const W, H = 1280, 800
	display := xclient.StartXvfb(t, W, H)
	win := xclient.OpenWindow(t, display, 0, 0, W, H)
	if err := win.DrawPattern(); err != nil {
		t.Fatal(err)
	}

	c := harness.StartCoordinator(t)
	v := c.LoginViewer(t, c.AddTechnician(t, "alice"))
	code, err := v.Coordinator().CreateCode(ctx(t), wire.CodeRequest{})
	if err != nil {
		t.Fatal(err)
	}

	// The end user runs the one-time agent the portal gave them.
	scratch := t.TempDir()
	env := []string{"DISPLAY=" + display, "TMPDIR=" + scratch, "BROWSER=true"}
	if os.Getenv("PEERDESK_TEST_LOG") == "debug" {
		env = append(env, "PEERDESK_LOG_LEVEL=debug")
	}
	agent := harness.StartPath(t, env, c.SupportBinary(t, code.Code))
	line := agent.WaitLine(t, "your page:")
	userPage := strings.TrimSpace(line[strings.Index(line, "http://"):])

	// The technician's local session page.
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: v, Listen: "127.0.0.1:0", Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })

	b := harness.StartBrowser(t)
	user := b.Ctx
	tech := b.NewTab(t)
	harness.Do(t, user, "open the end user's page", chromedp.Navigate(userPage), chromedp.WaitVisible(`#waiting`, chromedp.ByQuery))

	session := waitSession(t, v, code.Code)
	harness.Do(t, tech, "open the session page",
		chromedp.Navigate(ui.URL()),
		chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
		chromedp.Navigate(ui.Base()+"/session/"+session),
		chromedp.WaitVisible(`#screen`, chromedp.ByQuery),
	)

	// Consent, as a person gives it.
	var ask string
	harness.Do(t, user, "see the question", chromedp.WaitVisible(`#allow`, chromedp.ByQuery), chromedp.Text(`#ask`, &ask, chromedp.ByQuery))
	if !strings.Contains(ask, "alice") || !strings.Contains(ask, "see and control") {
		t.Fatalf("consent question = %q", ask)
	}
	harness.Do(t, user, "allow", chromedp.Click(`#allow`, chromedp.ByQuery))

	pts := samplePoints(W, H)
	waitScreen(t, tech, pts, xclient.PatternColor, "first frames")
	var indicator string
	harness.Do(t, user, "see the indicator", chromedp.WaitVisible(`#indicator`, chromedp.ByQuery), chromedp.Text(`#indicator`, &indicator, chromedp.ByQuery))
	if !strings.Contains(indicator, "alice") {
		t.Fatalf("indicator = %q", indicator)
	}

	// A click and typed text in the browser arrive in the X window.
	clickX, clickY := 300, 200
	harness.Do(t, tech, "click on the remote screen", chromedp.ActionFunc(func(ctx context.Context) error {
		var pos []float64
		js := fmt.Sprintf(`(() => { const v = document.getElementById('screen'); const r = v.getBoundingClientRect();
		  const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
		  return [r.left + (r.width - v.videoWidth * s) / 2 + (%d + 0.5) * s, r.top + (r.height - v.videoHeight * s) / 2 + (%d + 0.5) * s]; })()`, clickX, clickY)
		if err := chromedp.Evaluate(js, &pos).Do(ctx); err != nil {
			return err
		}
		return chromedp.MouseClickXY(pos[0], pos[1]).Do(ctx)
	}))
	ev := waitEvent(t, win, "the click", func(e xclient.Event) bool { return e.Kind == "button" && e.Down })
	if ev.Button != 1 || abs(ev.X-clickX) > 2 || abs(ev.Y-clickY) > 2 {
		t.Fatalf("click arrived as %+v, want button 1 at (%d,%d)", ev, clickX, clickY)
	}
	harness.Do(t, tech, "type", chromedp.Focus(`#screen`, chromedp.ByQuery), chromedp.KeyEvent("hi"))
	for _, k := range []string{"h", "i"} {
		waitEvent(t, win, "key "+k, func(e xclient.Event) bool { return e.Kind == "key" && e.Down && e.Keysym == k })
	}

	// O3: the coordinator stops; the screen keeps streaming.
	c.Stop()
	red := color.RGBA{220, 20, 40, 255}
	if err := win.Fill(red); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, tech, pts, func(int, int) color.RGBA { return red }, "after the coordinator stopped")

	// The end user ends the session; the one-time agent exits and leaves
	// nothing behind.
	harness.Do(t, user, "end the session", chromedp.Click(`#end`, chromedp.ByQuery))
	var status string
	harness.Do(t, tech, "see the session end", chromedp.WaitVisible(`//div[@id="status"][contains(., "ended")]`, chromedp.BySearch), chromedp.Text(`#status`, &status, chromedp.ByQuery))
	if code := agent.Wait(t); code != 0 {
		t.Fatalf("the support agent exited with %d:\n%s", code, agent.Stderr())
	}
	left, err := os.ReadDir(scratch)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("the one-time agent left %d files behind in its temporary directory", len(left))
	}
}

// waitSession waits for the support session code opened.
func waitSession(t testing.TB, v *viewer.Viewer, code string) string {
	t.Helper()
	deadline := time.Now().Add(harness.Timeout)
	for time.Now().Before(deadline) {
		board, err := v.Coordinator().Board(ctx(t))
		if err == nil {
			for _, s := range board.Sessions {
				if s.Code == code && s.State == "open" {
					return s.ID
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no session opened with code %s", code)
	return ""
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
