package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/coordinator/web"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/viewer/webui"
)

// TestAccessConnect (U6, R1 unattended): a technician finds an unattended
// machine in the dashboard's Access view, opens its panel, presses Connect
// and — after confirming on their own viewer page, which was reached from
// another site — sees its screen, with nobody at the machine to ask.
func TestAccessConnect(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t) // Chromium gathers WebRTC candidates only with a network
	const W, H = 1024, 768
	display := xclient.StartXvfb(t, W, H)
	win := xclient.OpenWindow(t, display, 0, 0, W, H)
	if err := win.DrawPattern(); err != nil {
		t.Fatal(err)
	}
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "front-desk-pc", harness.WithDisplay(display, true)) // unattended: consent off
	v := c.LoginViewer(t, c.AddTechnician(t, "dave"))
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: v, Listen: strings.TrimPrefix(web.DefaultViewerURL, "http://"), Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })

	tech := harness.StartBrowser(t, harness.TrustSPKI(c.SPKIPin(t))).Ctx
	harness.Do(t, tech, "open the viewer, log in to the dashboard, find the machine and connect",
		chromedp.Navigate(ui.URL()),
		chromedp.WaitVisible(`#sessions`, chromedp.ByQuery),
		chromedp.Navigate(c.URL()+"/login"),
		chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="user"]`, "dave", chromedp.ByQuery),
		chromedp.SendKeys(`input[name="password"]`, harness.Password, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Log in"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[normalize-space()="Support"]`, chromedp.BySearch), // technicians land on Support
		chromedp.Navigate(c.URL()+"/machines"),
		chromedp.WaitVisible(`#q`, chromedp.ByQuery),
		chromedp.SendKeys(`#q`, "front-desk", chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Search"]`, chromedp.BySearch),
		// The results page, not the list it replaces (which says "1
		// machine" too): only the server's answer carries the query in the
		// search box's value attribute (typing sets the property).
		chromedp.WaitVisible(`//input[@id="q" and @value="front-desk"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//p[@id="shown" and starts-with(normalize-space(), "1 machine ")]`, chromedp.BySearch),
		chromedp.Click(`//tr[@id="machine-`+a.DeviceID()+`"]//a`, chromedp.BySearch),
		chromedp.WaitVisible(`#panel #connect`, chromedp.ByQuery),
		chromedp.Click(`#panel #connect`, chromedp.ByQuery),
		chromedp.WaitVisible(`#screen`, chromedp.ByQuery),
		chromedp.WaitVisible(`#connect`, chromedp.ByQuery), // the viewer's own confirmation
		chromedp.Click(`#connect`, chromedp.ByQuery),
	)
	waitScreen(t, tech, samplePoints(W, H), xclient.PatternColor, "connect from the Access view")

	// The session's stats name the agent's H.264 encoder (issue 15 item 3):
	// the Linux agent's is the OpenH264 it links, with no preferred one
	// passed over (Media Foundation is Windows'). The toolbar's fps shows
	// it as its title.
	var enc, title string
	err = wait.Until(harness.Timeout, func() error {
		harness.Do(t, tech, "read the session's stats", chromedp.Evaluate(`(window.peerdeskStats && window.peerdeskStats.encoder) || ''`, &enc),
			chromedp.Evaluate(`document.getElementById('fps').title`, &title))
		if !strings.HasPrefix(enc, "OpenH264 2.") || strings.Contains(enc, "(not ") || title != "Encoder: "+enc {
			return fmt.Errorf("stats name encoder %q, the toolbar %q", enc, title)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for the session's stats to name the encoder: %v", err)
	}
}
