package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/xclient"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

// TestSupportRequestReversePath: the end user asks for help on their
// (enrolled) agent's page and reads the code out; the technician types it
// into their session page and, once the user allows it, sees the screen.
func TestSupportRequestReversePath(t *testing.T) {
	harness.Begin(t)
	// Chromium gathers WebRTC candidates (TURN included) only when a
	// non-loopback interface is up, as on any real machine.
	netns.NowhereLink(t)
	const W, H = 1024, 768
	display := xclient.StartXvfb(t, W, H)
	win := xclient.OpenWindow(t, display, 0, 0, W, H)
	if err := win.DrawPattern(); err != nil {
		t.Fatal(err)
	}
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "pc-7", harness.WithDisplay(display, false))
	v := c.LoginViewer(t, c.AddTechnician(t, "bob"))
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: v, Listen: "127.0.0.1:0", Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })
	b := harness.StartBrowser(t)
	user, tech := b.Ctx, b.NewTab(t)

	var code string
	harness.Do(t, user, "ask for help",
		chromedp.Navigate(a.UI().URL()),
		chromedp.Click(`#askhelp`, chromedp.ByQuery),
		chromedp.WaitVisible(`#code`, chromedp.ByQuery),
		chromedp.Text(`#code`, &code, chromedp.ByQuery),
	)
	if len(strings.TrimSpace(code)) != 6 {
		t.Fatalf("code = %q", code)
	}
	harness.Do(t, tech, "enter the code",
		chromedp.Navigate(ui.URL()),
		chromedp.SendKeys(`#code`, code, chromedp.ByQuery),
		chromedp.Click(`#redeem`, chromedp.ByQuery),
		chromedp.WaitVisible(`#screen`, chromedp.ByQuery),
	)
	harness.Do(t, user, "allow", chromedp.WaitVisible(`#allow`, chromedp.ByQuery), chromedp.Click(`#allow`, chromedp.ByQuery))
	waitScreen(t, tech, samplePoints(W, H), xclient.PatternColor, "reverse path")
	c.WaitAudit(t, "support.code.redeem", audit.OK, func(r audit.Record) bool { return r.Actor == "bob" })
}

// TestConsentDenied: no page is showing when the technician connects, so
// the agent brings the end user's page up in their browser with a
// one-time URL; the user declines; the technician's page says so and
// shows nothing.
func TestConsentDenied(t *testing.T) {
	harness.Begin(t)
	display := xclient.StartXvfb(t, 800, 600)
	c := harness.StartCoordinator(t)
	opener := harness.NewOpener(t)
	a := c.EnrollAgent(t, "pc-8", harness.WithDisplay(display, false), harness.WithOpener(opener))
	v := c.LoginViewer(t, c.AddTechnician(t, "carol"))
	ui, err := webui.Start(ctx(t), webui.Config{Viewer: v, Listen: "127.0.0.1:0", Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })
	b := harness.StartBrowser(t)
	user, tech := b.Ctx, b.NewTab(t)
	harness.Do(t, tech, "connect", chromedp.Navigate(ui.URL()), chromedp.Navigate(ui.Base()+"/device/"+a.DeviceID()), chromedp.WaitVisible(`#screen`, chromedp.ByQuery))
	var ask string
	harness.Do(t, user, "open the page the agent brought up", chromedp.Navigate(opener.Next(t)), chromedp.WaitVisible(`#deny`, chromedp.ByQuery), chromedp.Text(`#ask`, &ask, chromedp.ByQuery))
	if !strings.HasPrefix(ask, "carol asks to see your screen") || !strings.HasSuffix(ask, "(pc-8)") {
		t.Errorf("consent question = %q", ask)
	}
	harness.Do(t, user, "deny", chromedp.Click(`#deny`, chromedp.ByQuery))
	var status string
	harness.Do(t, tech, "see the refusal", chromedp.WaitVisible(`//div[@id="status"][contains(., "declined")]`, chromedp.BySearch), chromedp.Text(`#status`, &status, chromedp.ByQuery))
	if p := pixels(t, tech, [][2]int{{10, 10}}); p != nil && p.W > 2 {
		t.Fatalf("a screen was shown after the user declined: %+v", p)
	}

	// A technician's node without a grant gets no screen (and the user is
	// not even asked).
	g, err := v.Grant(ctx(t), a.DeviceID(), wire.CapSysInfo) // for the overlay address only
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.OfferWith(ctx(t), wire.GrantResponse{OverlayIP: g.OverlayIP}, wire.ScreenOffer{SDP: "v=0"})
	if !harness.IsCode(err, wire.CodeUnauthorized) {
		t.Fatalf("screen offer without a grant: %v, want %s", err, wire.CodeUnauthorized)
	}
	// A grant without the screen capability is refused too.
	_, err = v.OfferWith(ctx(t), g, wire.ScreenOffer{SDP: "v=0"})
	if !harness.IsCode(err, wire.CodeForbidden) {
		t.Fatalf("screen offer with a sysinfo grant: %v, want %s", err, wire.CodeForbidden)
	}
}

// TestSupportCodeRefusals (S1, S2): wrong, used, cancelled and expired
// codes are refused with their reason and audited; guessing is
// rate-limited; a technician's node without a grant gets no screen.
func TestSupportCodeRefusals(t *testing.T) {
	harness.Begin(t)
	clock := harness.NewClock()
	c := harness.StartCoordinator(t, harness.WithClock(clock))
	v := c.LoginViewer(t, c.AddTechnician(t, "dave"))
	ca, err := trust.FetchCA(ctx(t), c.URL(), c.Pin())
	if err != nil {
		t.Fatal(err)
	}
	anon := coordclient.New(c.URL(), ca)
	join := func(code string) error {
		_, err := anon.Join(ctx(t), wire.JoinRequest{Code: code, Hostname: "pc", OS: "linux"})
		clock.Advance(4 * time.Second) // stay under the per-address limit
		return err
	}
	newCode := func(ttl time.Duration) string {
		code, err := v.Coordinator().CreateCode(ctx(t), wire.CodeRequest{TTL: wire.Duration(ttl)})
		if err != nil {
			t.Fatal(err)
		}
		return code.Code
	}
	used, cancelled, expiring := newCode(0), newCode(0), newCode(time.Hour)
	if err := join(used); err != nil {
		t.Fatalf("a fresh code: %v", err)
	}
	if err := v.Coordinator().CancelCode(ctx(t), cancelled); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	wrong := "000000"
	for _, x := range []string{used, cancelled, expiring} {
		if x == wrong {
			wrong = "000001"
		}
	}
	for _, tc := range []struct {
		name, code, wantCode, wantText string
	}{
		{"wrong", wrong, wire.CodeNotFound, "no such support code"},
		{"used", used, wire.CodeConflict, "already been used"},
		{"cancelled", cancelled, wire.CodeExpired, "cancelled"},
		{"expired", expiring, wire.CodeExpired, "expired"},
		{"not a code", "12ab56", wire.CodeNotFound, "no such support code"},
	} {
		err := join(tc.code)
		if !harness.IsCode(err, tc.wantCode) || !strings.Contains(err.Error(), tc.wantText) {
			t.Errorf("%s code: %v, want %s (%q)", tc.name, err, tc.wantCode, tc.wantText)
		}
	}
	for _, reason := range []string{"no such support code", "already been used", "cancelled", "expired"} {
		c.WaitAudit(t, "support.join", audit.Denied, func(r audit.Record) bool { return strings.Contains(r.Reason, reason) })
	}

	// Guessing: a burst from one address runs into the limit, audited.
	var limited bool
	for i := range 40 {
		_, err := anon.Join(ctx(t), wire.JoinRequest{Code: fmt.Sprintf("9%05d", i), Hostname: "pc", OS: "linux"})
		if harness.IsCode(err, wire.CodeRateLimited) {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("40 rapid guesses from one address were never rate-limited")
	}
	c.WaitAudit(t, "support.join", audit.Denied, func(r audit.Record) bool { return strings.Contains(r.Reason, "too many") })

}
