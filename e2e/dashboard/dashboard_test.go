//go:build linux

// Package dashboard drives the coordinator's web dashboard with a real
// browser (Debian's Chromium through the DevTools protocol) against a real
// coordinator with an enrolled agent, in a loopback-only network namespace.
//
// Chromium trusts the coordinator's TLS certificate through
// --ignore-certificate-errors-spki-list, pinned to exactly the SHA-256 of
// the coordinator leaf's public key: every other certificate is still
// checked as usual, and the browser never talks plain HTTP to the
// dashboard, whose session cookie is Secure.
package dashboard

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/web"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

func TestMain(m *testing.M) { netns.Main(m) }

// TestDashboardJourney: an admin logs in (after one wrong password), sees
// the enrolled agent online, creates an enrollment token and logs out, all
// by typing and clicking.
func TestDashboardJourney(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	c.AddUser(t, "alice", policy.RoleAdmin)
	c.EnrollAgent(t, "pc-1")
	base := c.URL()

	ctx := harness.StartBrowser(t, harness.TrustSPKI(c.SPKIPin(t))).Ctx
	run := func(what string, actions ...chromedp.Action) { t.Helper(); harness.Do(t, ctx, what, actions...) }

	// A wrong password shows the error and no session starts.
	var errText string
	run("log in with a wrong password",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="user"]`, "alice", chromedp.ByQuery),
		chromedp.SendKeys(`input[name="password"]`, "not-the-password", chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Log in"]`, chromedp.BySearch),
		chromedp.Text(`p.error`, &errText, chromedp.ByQuery),
	)
	if !strings.Contains(errText, "wrong user name or password") {
		t.Errorf("error after a wrong password = %q", errText)
	}

	run("log in",
		chromedp.SendKeys(`input[name="user"]`, "alice", chromedp.ByQuery),
		chromedp.SendKeys(`input[name="password"]`, harness.Password, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Log in"]`, chromedp.BySearch),
		// A technician (an admin too) lands on Support.
		chromedp.WaitVisible(`//h1[normalize-space()="Support"]`, chromedp.BySearch),
	)
	checkSessionCookie(t, ctx, base)

	// The page is drawn once: it shows pc-1 online once the coordinator
	// counts it online (its presence stream is up).
	wait.ForErr(t, "the coordinator to count pc-1 online", func() error {
		devs, err := c.Desk().Devices(desk.Caller{User: "test", Role: policy.RoleAdmin})
		if err != nil {
			return err
		}
		for _, d := range devs {
			if d.Hostname == "pc-1" && d.Online {
				return nil
			}
		}
		return fmt.Errorf("devices: %+v", devs)
	})
	badge := `//tr[td[1][normalize-space()="pc-1"]]//span[contains(@class,"badge")]`
	var pcState string
	run("open Machines and read pc-1's state",
		chromedp.Navigate(base+"/machines"),
		chromedp.WaitVisible(`//h1[normalize-space()="Machines"]`, chromedp.BySearch),
		chromedp.Text(badge, &pcState, chromedp.BySearch))
	if pcState != "online" {
		t.Fatalf("pc-1 shows %q while the coordinator counts it online", pcState)
	}
	var details string
	run("read pc-1's details", chromedp.Text(`//tr[td[1][normalize-space()="pc-1"]]/following-sibling::tr[1]`, &details, chromedp.BySearch))
	if !strings.Contains(details, "CPU:") || !strings.Contains(details, "RAM:") {
		t.Errorf("pc-1's details row = %q, want the inventory's CPU and RAM", details)
	}

	const note = "front desk PC"
	var tokenText, ttl string
	run("create an enrollment token",
		chromedp.Click(`//nav//a[normalize-space()="Enrollment tokens"]`, chromedp.BySearch),
		chromedp.WaitVisible(`select[name="ttl"]`, chromedp.ByQuery),
		chromedp.SetValue(`select[name="ttl"]`, "1h", chromedp.ByQuery),
		chromedp.Value(`select[name="ttl"]`, &ttl, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="note"]`, note, chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Create token"]`, chromedp.BySearch),
		chromedp.Text(`#new-token`, &tokenText, chromedp.ByQuery),
	)
	if ttl != "1h" {
		t.Fatalf("the lifetime chosen is %q", ttl)
	}
	tok, err := wire.ParseEnrollToken(tokenText)
	if err != nil {
		t.Fatalf("the page shows %q: %v", tokenText, err)
	}
	if !wire.PinEqual(tok.Pin, c.Pin()) {
		t.Errorf("token pin %s, want the coordinator's %s", tok.Pin, c.Pin())
	}
	// The list shows the new token by id, with its note and lifetime.
	row := `//tbody/tr[td[1][normalize-space()="` + tok.ID + `"]]`
	var rowNote, created, expires, state string
	run("read the token list",
		chromedp.Text(row+`/td[2]`, &rowNote, chromedp.BySearch),
		chromedp.Text(row+`/td[4]`, &created, chromedp.BySearch),
		chromedp.Text(row+`/td[5]`, &expires, chromedp.BySearch),
		chromedp.Text(row+`/td[6]`, &state, chromedp.BySearch),
	)
	if rowNote != note || state != "unused" {
		t.Errorf("token row: note %q state %q", rowNote, state)
	}
	if d := lifetime(t, created, expires); d != time.Hour {
		t.Errorf("token lifetime %v, want 1h", d)
	}

	var loc string
	run("log out",
		chromedp.Click(`//button[normalize-space()="Log out"]`, chromedp.BySearch),
		chromedp.WaitVisible(`input[name="password"]`, chromedp.ByQuery),
		chromedp.Navigate(base+"/machines"),
		chromedp.WaitVisible(`input[name="password"]`, chromedp.ByQuery),
		chromedp.Location(&loc),
	)
	if loc != base+"/login" {
		t.Errorf("after logout /machines led to %s, want %s/login", loc, base)
	}
}

// checkSessionCookie asserts the browser holds the session cookie with the
// attributes the dashboard promises.
func checkSessionCookie(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	var cookies []*network.Cookie
	if err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) (err error) {
		cookies, err = network.GetCookies().WithURLs([]string{base + "/machines"}).Do(ctx)
		return err
	})); err != nil {
		t.Fatal(err)
	}
	for _, ck := range cookies {
		if ck.Name == web.SessionCookie {
			if !ck.Secure || !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteStrict || ck.Path != "/" || ck.Session {
				t.Errorf("session cookie in the browser: %+v", ck)
			}
			return
		}
	}
	t.Errorf("the browser holds no %s cookie after login", web.SessionCookie)
}

// lifetime parses the list's "created" and "expires" stamps.
func lifetime(t *testing.T, created, expires string) time.Duration {
	t.Helper()
	const layout = "2006-01-02 15:04 UTC"
	c, err1 := time.Parse(layout, created)
	e, err2 := time.Parse(layout, expires)
	if err1 != nil || err2 != nil {
		t.Fatalf("token row stamps %q, %q: %v %v", created, expires, err1, err2)
	}
	return e.Sub(c)
}
