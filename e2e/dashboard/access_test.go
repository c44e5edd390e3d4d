//go:build linux

package dashboard

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// TestAccessView: a scoped technician and an admin use the Access view of
// a real coordinator in Chromium — group counts, a smart group that the
// coordinator's clock moves machines into, a search over inventory fields,
// a machine's panel, and a saved filter — all by clicking and typing.
// Machines are filed by their enrollment tokens (M6): one Globex machine
// reports itself as Acme's, and is counted, shown and scoped as Globex's.
func TestAccessView(t *testing.T) {
	harness.Begin(t)
	clock := harness.NewClock()
	c := harness.StartCoordinator(t, harness.WithClock(clock))
	c.AddUser(t, "alice", policy.RoleAdmin)
	if err := c.Admin.AddUser(context.Background(), "bob", harness.Password, string(policy.RoleTechnician), "Acme"); err != nil {
		t.Fatal(err)
	}
	ca, err := trust.FetchCA(context.Background(), c.URL(), c.Pin())
	if err != nil {
		t.Fatal(err)
	}
	client := coordclient.New(c.URL(), ca)
	// Five machines, each enrolled with a token that files it under its
	// company and site (md), report their inventory as agents do (device
	// credentials over the API); two of them keep heartbeating. globex-2
	// claims Acme's company and site in its report (claims).
	machines := []struct {
		host   string
		md     wire.Metadata
		claims *wire.Metadata // what its report says, when not md
		serial string
		online bool
	}{
		{"acme-lt1", wire.Metadata{Company: "Acme", Site: "Berlin", DeviceType: "laptop"}, nil, "SN-A1", true},
		{"acme-lt2", wire.Metadata{Company: "Acme", Site: "Berlin", DeviceType: "laptop", Tag: "finance"}, nil, "SN-A2", false},
		{"acme-srv", wire.Metadata{Company: "Acme", Site: "Paris", DeviceType: "server"}, nil, "SN-A3", true},
		{"globex-1", wire.Metadata{Company: "Globex", Site: "Berlin", DeviceType: "laptop"}, nil, "SN-G1", false},
		{"globex-2", wire.Metadata{Company: "Globex", Site: "Rome", DeviceType: "desktop"},
			&wire.Metadata{Company: "Acme", Site: "Paris", DeviceType: "desktop"}, "SN-G2", false},
	}
	devices := map[string]*coordclient.Client{}
	for i, m := range machines {
		resp, err := client.Enroll(context.Background(), wire.EnrollRequest{Token: c.TokenFor(t, m.md.Company, m.md.Site), MachineID: strings.Repeat(string(rune('a'+i)), 64),
			Hostname: m.host, OS: "linux"})
		if err != nil {
			t.Fatal(err)
		}
		dc := client.WithDevice(resp.DeviceID, resp.DeviceSecret)
		devices[m.host] = dc
		report := m.md
		if m.claims != nil {
			report = *m.claims
		}
		inv := wire.Inventory{Hostname: m.host, OS: "linux", Platform: "debian", AgentVersion: "1.0.0", Serial: m.serial, Metadata: report,
			LastBoot: clock.Now().Add(-time.Hour)}
		if err := dc.Inventory(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
	}
	beat := func() error {
		for _, m := range machines {
			if m.online {
				if err := devices[m.host].Heartbeat(context.Background(), wire.Heartbeat{AgentVersion: "1.0.0", Sent: clock.Now()}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// The two keep beating every second, as agents do, for as long as the
	// test reads the page: a machine counts as online for the harness's
	// heartbeat grace (5 s) after its last beat, and on a loaded machine a
	// login and a page load can take longer than that.
	if err := beat(); err != nil {
		t.Fatal(err)
	}
	stopBeating := make(chan struct{})
	var beating sync.WaitGroup
	beating.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopBeating:
				return
			case <-tick.C:
			}
			if err := beat(); err != nil {
				t.Errorf("heartbeat: %v", err)
				return
			}
		}
	})
	t.Cleanup(func() {
		close(stopBeating)
		beating.Wait()
	})

	ctx := harness.StartBrowser(t, harness.TrustSPKI(c.SPKIPin(t))).Ctx
	run := func(what string, actions ...chromedp.Action) { t.Helper(); harness.Do(t, ctx, what, actions...) }
	count := func(list, label string) string {
		t.Helper()
		var n string
		run("read "+label, chromedp.Text(`//ul[@id="`+list+`"]/li[a[normalize-space()="`+label+`"]]/span[@class="count"]`, &n, chromedp.BySearch))
		return n
	}
	login := func(user string) {
		run("log in as "+user,
			chromedp.Navigate(c.URL()+"/login"),
			chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery),
			chromedp.SendKeys(`input[name="user"]`, user, chromedp.ByQuery),
			chromedp.SendKeys(`input[name="password"]`, harness.Password, chromedp.ByQuery),
			chromedp.Click(`//button[normalize-space()="Log in"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//h1[normalize-space()="Support"]`, chromedp.BySearch),
			chromedp.Navigate(c.URL()+"/machines"),
			chromedp.WaitVisible(`//h1[normalize-space()="Machines"]`, chromedp.BySearch))
	}

	// The admin sees every company, with counts.
	clock.Advance(time.Minute)
	if err := beat(); err != nil {
		t.Fatal(err)
	}
	login("alice")
	for label, want := range map[string]string{"Acme": "3", "Globex": "2"} {
		if got := count("by-Company", label); got != want {
			t.Errorf("company %s shows %s machines, want %s", label, got, want)
		}
	}
	for label, want := range map[string]string{"Berlin": "3", "Paris": "1", "Rome": "1"} {
		if got := count("by-Site", label); got != want {
			t.Errorf("site %s shows %s, want %s", label, got, want)
		}
	}
	if got := count("smart", "Online"); got != "2" {
		t.Errorf("Online = %s, want 2", got)
	}
	if got := count("smart", "Offline 30 days"); got != "0" {
		t.Errorf("Offline 30 days = %s before the clock moved", got)
	}

	// Forty days later (the coordinator's clock), the machines that never
	// came back are 30-day offline; the two that keep beating are not.
	clock.Advance(40 * 24 * time.Hour)
	if err := beat(); err != nil {
		t.Fatal(err)
	}
	login("alice") // the dashboard session expired meanwhile
	if got := count("smart", "Offline 30 days"); got != "3" {
		t.Errorf("Offline 30 days = %s after 40 days, want 3", got)
	}
	var shown string
	run("open the smart group",
		chromedp.Click(`//ul[@id="smart"]//a[normalize-space()="Offline 30 days"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//ul[@id="smart"]//a[@aria-current and normalize-space()="Offline 30 days"]`, chromedp.BySearch), // the new page
		chromedp.Text(`#shown`, &shown, chromedp.ByQuery))
	if !strings.HasPrefix(shown, "3 machines") {
		t.Errorf("the smart group lists %q", shown)
	}

	// Search by serial number, open the panel.
	var panel string
	run("search a serial",
		chromedp.Navigate(c.URL()+"/machines"),
		chromedp.SendKeys(`#q`, "sn-g2", chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Search"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//input[@id="q" and @value="sn-g2"]`, chromedp.BySearch), // the results page
		chromedp.WaitVisible(`//p[@id="shown" and starts-with(normalize-space(), "1 machine ")]`, chromedp.BySearch),
		chromedp.Click(`//a[strong[normalize-space()="globex-2"]]`, chromedp.BySearch),
		chromedp.WaitVisible(`#panel`, chromedp.ByQuery),
		chromedp.Text(`#panel`, &panel, chromedp.ByQuery))
	for _, want := range []string{"SN-G2", "Globex", "Rome", "desktop", "Connect", "Wake"} {
		if !strings.Contains(panel, want) {
			t.Errorf("the panel lacks %q:\n%s", want, panel)
		}
	}
	for _, claimed := range []string{"Acme", "Paris"} {
		if strings.Contains(panel, claimed) {
			t.Errorf("the panel of globex-2 shows %q, which only its own report claims:\n%s", claimed, panel)
		}
	}
	var rows int
	run("count rows", chromedp.Evaluate(`document.querySelectorAll('tr.machine').length`, &rows))
	if rows != 1 {
		t.Errorf("the search shows %d machines, want 1", rows)
	}

	// Save the Berlin laptops as a filter; it appears with its count.
	run("filter and save",
		chromedp.Navigate(c.URL()+"/machines?q=laptop"),
		chromedp.Click(`//ul[@id="by-Site"]//a[normalize-space()="Berlin"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//ul[@id="by-Site"]//a[@aria-current and normalize-space()="Berlin"]`, chromedp.BySearch), // the new page
		chromedp.SendKeys(`#filter-name`, "Berlin laptops", chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Save filter"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//ul[@id="saved"]//a[normalize-space()="Berlin laptops"]`, chromedp.BySearch))
	if got := count("saved", "Berlin laptops"); got != "3" {
		t.Errorf("saved filter count = %s, want 3", got)
	}

	// Bob works for Acme only: Globex does not exist for him.
	run("log out", chromedp.Click(`//button[normalize-space()="Log out"]`, chromedp.BySearch), chromedp.WaitVisible(`input[name="user"]`, chromedp.ByQuery))
	login("bob")
	var body string
	run("read the list", chromedp.Text(`main`, &body, chromedp.ByQuery))
	if strings.Contains(body, "globex") || !strings.Contains(body, "acme-srv") {
		t.Errorf("an Acme technician's view (globex-2 claims Acme; it must not appear):\n%s", body)
	}
	if got := count("by-Company", "Acme"); got != "3" {
		t.Errorf("Acme = %s for bob", got)
	}
}
