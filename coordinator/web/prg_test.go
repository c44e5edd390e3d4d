package web

import (
	"bytes"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/coordinator/webhooks"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/templates/style"
	"github.com/peerdesk/peerdesk/wire"
)

// prgExempt are the POST routes that do not answer a success with 303 to a
// page of the dashboard, each with its reason.
var prgExempt = map[string]string{
	// Its success needs a second factor set up; TestI1DashboardTwoFactor
	// checks "the right code" answers 303.
	"POST " + codePath: "covered by TestI1DashboardTwoFactor",
}

var (
	newTokenShown = regexp.MustCompile(`id="new-token">([^<]+)<`)
	apiKeyRevoke  = regexp.MustCompile(`action="/settings/apikeys/([^/"]+)/revoke"`)
	webhookDelete = regexp.MustCompile(`action="/tickets/webhooks/([^/"]+)/delete"`)
)

// TestEveryPostRedirects walks the route table: every POST route, given a
// form that succeeds, answers 303 to a GET page (or, for a redeemed code,
// to the viewer), so that a reload never sends the form again; what the
// form produced is shown on that page once, and not in its URL.
func TestEveryPostRedirects(t *testing.T) {
	leak.Check(t)
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := tstest.NewClock(tstest.ClockOpts{Start: t0})
	accounts, err := identity.New(db, clock.Now, identity.WithSealKey(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	sd := support.New(db, clock.Now)
	ts, err := tickets.Open(db, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhooks.New(webhooks.Config{DB: db, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	d := desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, clock.Now), Audit: audit.New(db, clock.Now),
		Overlay: noOverlay{}, Support: sd, ConsentRules: consentrules.New(db, clock.Now), Pin: testPin, ControlURL: testURL, Now: clock.Now,
		GrantKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)), Tickets: ts, Webhooks: hooks,
		Assistant: assist.NewSettings(db, clock.Now)})
	cfg := Config{Backend: d, Desk: d, Portal: d, Accounts: d, Tickets: d, Assistant: d, PublicURL: testURL, ViewerURL: "http://127.0.0.1:9999", Now: clock.Now}
	const pw = "a long enough password"
	if err := accounts.Create("root", pw, policy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	b := newSupportBrowser(t, cfg)
	csrf := func() string { return b.csrf(settingsPath) }

	var (
		token, device, session, apiKey, hook string
		secret                               string
	)
	// Each case sends a form that succeeds and names where the browser
	// must be sent; then returns a check of that page, if any.
	type postCase struct {
		pattern string
		path    func() string
		form    func() url.Values
		to      func() string
		page    func(body string)
	}
	fixed := func(s string) func() string { return func() string { return s } }
	shows := func(what string, re *regexp.Regexp, into *string) func(string) {
		return func(body string) {
			m := re.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("the page after %s does not show it:\n%s", what, body)
			}
			*into = m[1]
		}
	}
	var code string
	cases := []postCase{
		{"POST /login", fixed("/login"), func() url.Values {
			return url.Values{"csrf": {b.csrf("/login")}, "user": {"root"}, "password": {pw}}
		}, fixed(deskPath), nil},
		{"POST /machines/filters", fixed("/machines/filters"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "name": {"pcs"}, "q": {"pc"}}
		}, fixed("/machines?q=pc"), nil},
		{"POST /tokens", fixed("/tokens"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "ttl": {"24h"}, "note": {"office"}}
		}, fixed("/tokens"), shows("creating a token", newTokenShown, &token)},
		{"POST " + deskPath + "/codes", fixed(deskPath + "/codes"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "assign": {"me"}, "expiry": {"1h"}}
		}, fixed(deskPath), shows("generating a code", newCodeShown, &code)},
		{"POST /support", fixed("/support"), func() url.Values {
			return url.Values{"csrf": {b.csrf("/support")}, "code": {code}}
		}, fixed(readyPath), func(body string) {
			if !strings.Contains(body, code) {
				t.Errorf("the portal's ready page does not show the code:\n%s", body)
			}
		}},
		{"POST " + deskPath + "/codes/{code}/cancel", func() string { return deskPath + "/codes/" + code + "/cancel" }, func() url.Values {
			return url.Values{"csrf": {csrf()}}
		}, fixed(deskPath), nil},
		{"POST " + deskPath + "/redeem", fixed(deskPath + "/redeem"), func() url.Values {
			res, err := d.Enroll("192.0.2.9", wire.EnrollRequest{Token: token, MachineID: strings.Repeat("ab", 32), Hostname: "pc-1", OS: "linux"})
			if err != nil {
				t.Fatal(err)
			}
			device = res.DeviceID
			c, err := sd.Request(device, "pc-1", 0)
			if err != nil {
				t.Fatal(err)
			}
			return url.Values{"csrf": {csrf()}, "code": {c.Code}}
		}, nil, nil},
		{"POST " + deskPath + "/sessions/{id}/end", func() string { return deskPath + "/sessions/" + session + "/end" }, func() url.Values {
			return url.Values{"csrf": {csrf()}}
		}, fixed(deskPath), nil},
		{"POST " + settingsPath + "/password", fixed(settingsPath + "/password"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "old": {pw}, "password": {pw + " and more"}}
		}, fixed(settingsPath), nil},
		{"POST " + settingsPath + "/totp/begin", fixed(settingsPath + "/totp/begin"), func() url.Values {
			return url.Values{"csrf": {csrf()}}
		}, fixed(settingsPath), shows("starting TOTP", totpSecretShown, &secret)},
		{"POST " + settingsPath + "/totp/confirm", fixed(settingsPath + "/totp/confirm"), func() url.Values {
			c, err := totp.GenerateCode(secret, clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return url.Values{"csrf": {csrf()}, "code": {c}}
		}, fixed(settingsPath), func(body string) {
			if !strings.Contains(body, `id="recovery-codes"`) {
				t.Errorf("no recovery codes after confirming TOTP:\n%s", body)
			}
		}},
		{"POST " + settingsPath + "/totp/disable", fixed(settingsPath + "/totp/disable"), func() url.Values {
			clock.Advance(time.Minute) // a new code: the last one is spent
			c, err := totp.GenerateCode(secret, clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return url.Values{"csrf": {csrf()}, "code": {c}}
		}, fixed(settingsPath), nil},
		{"POST " + settingsPath + "/apikeys", fixed(settingsPath + "/apikeys"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "days": {"30"}, "name": {"ci"}, "role": {"technician"}}
		}, fixed(settingsPath), func(body string) {
			if !strings.Contains(body, `id="new-key"`) {
				t.Errorf("the new API key is not shown:\n%s", body)
			}
			shows("creating an API key", apiKeyRevoke, &apiKey)(body)
		}},
		{"POST " + settingsPath + "/apikeys/{id}/revoke", func() string { return settingsPath + "/apikeys/" + apiKey + "/revoke" }, func() url.Values {
			return url.Values{"csrf": {csrf()}}
		}, fixed(settingsPath), nil},
		{"POST " + settingsPath + "/rules", fixed(settingsPath + "/rules"), func() url.Values {
			return url.Values{"csrf": {csrf()}}
		}, fixed("/users"), nil},
		{"POST " + settingsPath + "/consent-rules", fixed(settingsPath + "/consent-rules"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "op": {"save"}, "default": {"screen"}}
		}, fixed("/users"), nil},
		{"POST /users", fixed("/users"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "name": {"carol"}, "password": {pw}, "role": {"technician"}}
		}, fixed("/users"), nil},
		{"POST /users/{name}/{op}", fixed("/users/carol/disable"), func() url.Values {
			return url.Values{"csrf": {csrf()}}
		}, fixed("/users"), nil},
		{"POST /machines/admin/{id}/{op}", func() string { return "/machines/admin/" + device + "/move" }, func() url.Values {
			return url.Values{"csrf": {csrf()}, "company": {"acme"}, "site": {"hq"}}
		}, fixed(devicesPath), nil},
		{"POST " + ticketsPath, fixed(ticketsPath), func() url.Values {
			return url.Values{"csrf": {csrf()}, "title": {"Printer offline"}, "priority": {"high"}, "device": {device}}
		}, fixed("/tickets/T-1001"), func(body string) {
			if !strings.Contains(body, `id="notice"`) || !strings.Contains(body, "Printer offline") {
				t.Errorf("the new ticket's page:\n%s", body)
			}
		}},
		{"POST " + ticketsPath + "/{number}/update", fixed("/tickets/T-1001/update"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "status": {"in_progress"}, "priority": {"urgent"}, "assignee": {"root"}}
		}, fixed("/tickets/T-1001"), func(body string) {
			if !strings.Contains(body, `<dd id="ticket-status">in progress</dd>`) || !strings.Contains(body, `<dd id="ticket-assignee">root</dd>`) {
				t.Errorf("the changed ticket's page:\n%s", body)
			}
		}},
		{"POST " + ticketsPath + "/{number}/comments", fixed("/tickets/T-1001/comments"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "text": {"Cable replaced <b>now</b>"}}
		}, fixed("/tickets/T-1001"), func(body string) {
			if !strings.Contains(body, "Cable replaced &lt;b&gt;now&lt;/b&gt;") {
				t.Errorf("the comment (escaped) is not on the page:\n%s", body)
			}
		}},
		{"POST " + webhooksPath, fixed(webhooksPath), func() url.Values {
			return url.Values{"csrf": {csrf()}, "url": {"https://psa.example/hook"}, "events": {"ticket.created", "ticket.updated"}}
		}, fixed(webhooksPath), func(body string) {
			if !strings.Contains(body, `id="new-secret"`) {
				t.Errorf("the new webhook's secret is not shown:\n%s", body)
			}
			shows("adding a webhook", webhookDelete, &hook)(body)
		}},
		{"POST " + webhooksPath + "/{id}/delete", func() string { return webhooksPath + "/" + hook + "/delete" }, func() url.Values {
			return url.Values{"csrf": {csrf()}}
		}, fixed(webhooksPath), nil},
		{"POST " + assistantPath + "/companies", fixed(assistantPath + "/companies"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "new": {"1"}, "company": {"acme"}, "contacts": {"555-0100"}, "allow": {"printers"}}
		}, fixed(assistantPath), func(body string) {
			if !strings.Contains(body, "acme&#39;s settings saved.") || !strings.Contains(body, `data-company="acme"`) {
				t.Errorf("the new entry is not shown:\n%s", body)
			}
		}},
		{"POST " + assistantPath + "/model", fixed(assistantPath + "/model"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "model": {"qwen3:8b"}}
		}, fixed(assistantPath), func(body string) {
			if !strings.Contains(body, `name="model" value="qwen3:8b"`) {
				t.Errorf("the model is not shown:\n%s", body)
			}
		}},
		{"POST " + assistantPath + "/companies/delete", fixed(assistantPath + "/companies/delete"), func() url.Values {
			return url.Values{"csrf": {csrf()}, "company": {"acme"}}
		}, fixed(assistantPath), nil},
		{"POST /logout", fixed("/logout"), func() url.Values {
			return url.Values{"csrf": {csrf()}}
		}, fixed("/login"), nil},
	}

	have := map[string]bool{}
	for _, c := range cases {
		have[c.pattern] = true
	}
	for _, rt := range routes {
		if strings.HasPrefix(rt.Pattern, "POST ") && !have[rt.Pattern] && prgExempt[rt.Pattern] == "" {
			t.Errorf("%s: no case shows that its success answers 303", rt.Pattern)
		}
	}

	for _, c := range cases {
		path := c.path()
		resp, body := b.do("POST", path, c.form())
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s (%s): status %d, want 303:\n%s", c.pattern, path, resp.StatusCode, body)
		}
		if c.to == nil { // the redeemed code leads to Connect for its session (a ticket for the viewer)
			rest, ok := strings.CutPrefix(loc, "/support/desk/connect?session=")
			if !ok {
				t.Fatalf("%s: Location %q, want Connect for the session", c.pattern, loc)
			}
			session, _ = url.QueryUnescape(rest) //nolint:errcheck // checked by the end that follows
			continue
		}
		if want := c.to(); loc != want {
			t.Fatalf("%s (%s): Location %q, want %q", c.pattern, path, loc, want)
		}
		if c.page == nil || c.pattern == "POST /logout" {
			continue
		}
		resp, body = b.do("GET", loc, nil)
		wantStatus(t, "GET "+loc+" after "+c.pattern, resp, http.StatusOK)
		c.page(body)
		if loc == readyPath {
			continue // shown to that browser for readyTTL: TestPortalReadyPage
		}
		// Shown once: a reload shows the page without it.
		if _, again := b.do("GET", loc, nil); strings.Contains(again, `id="new-`) || strings.Contains(again, `id="recovery-codes"`) {
			t.Errorf("GET %s again still shows what %s produced", loc, c.pattern)
		}
	}
	if strings.Contains(token, "pde1") && strings.Contains(strings.Join(b.locations(), " "), token) {
		t.Error("a secret went into a URL")
	}
}

// locations are the Location headers the browser was sent.
func (b *browser) locations() []string {
	var out []string
	for _, s := range b.all {
		if l := s.Header.Get("Location"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// A technician (and an admin, who works support too) starts on the
// Support tab; a role that may not work support, on Machines; a logged-in
// browser at / or /login goes to its start.
func TestLoginLandsOnSupport(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	f.roles["vera"] = policy.RoleViewer
	for user, home := range map[string]string{"bob": deskPath, "alice": deskPath, "vera": "/machines"} {
		b := newSupportBrowser(t, supportConfig(f, d, ""))
		resp, _ := b.do("POST", "/login", url.Values{"csrf": {b.csrf("/login")}, "user": {user}, "password": {password}})
		wantRedirect(t, user+" logs in", resp, home)
		wantRedirect(t, user+" at /", first(b.do("GET", "/", nil)), home)
		wantRedirect(t, user+" at /login", first(b.do("GET", "/login", nil)), home)
	}
	// Without the Support tab, everyone starts on Machines.
	b := newBrowser(t, f)
	wantRedirect(t, "bob logs in without a desk", first(b.do("POST", "/login", url.Values{"csrf": {b.csrf("/login")}, "user": {"bob"}, "password": {password}})), "/machines")
}

// Every page links the shared stylesheet and carries no inline style; the
// dashboard serves the shared bytes at the shared path, publicly.
func TestSharedStylesheet(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	b := newSupportBrowser(t, supportConfig(f, d, ""))
	resp, body := b.do("GET", style.Path, nil)
	wantStatus(t, "GET "+style.Path, resp, http.StatusOK)
	if body != string(style.CSS()) || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("the stylesheet: %d bytes, Cache-Control %q", len(body), resp.Header.Get("Cache-Control"))
	}
	b.login("alice")
	for _, page := range []string{"/login", "/support", deskPath, "/machines", "/tokens"} {
		resp, body := b.do("GET", page, nil)
		if resp.StatusCode == http.StatusSeeOther {
			continue // /login, logged in
		}
		if !strings.Contains(body, `<link rel="stylesheet" href="`+style.Path+`">`) || strings.Contains(body, "<style") || strings.Contains(body, "style=") {
			t.Errorf("GET %s does not use the shared stylesheet alone", page)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q", page, csp)
		}
	}
}

// A new shop's pages say what to do instead of showing empty lists: the
// Machines page (no group headings without groups), and the Support
// board with nothing on it.
func TestEmptyStates(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	f.devices = nil
	d.board = wire.SupportBoard{}
	for user, want := range map[string][]string{
		"alice": {`id="machines-empty"`, `href="/tokens"`, `id="groups-empty"`},
		"bob":   {`id="machines-empty"`, "An administrator enrolls machines.", `id="groups-empty"`},
	} {
		b := newSupportBrowser(t, supportConfig(f, d, ""))
		b.login(user)
		resp, body := b.do("GET", "/machines", nil)
		wantStatus(t, user+": machines", resp, http.StatusOK)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the empty Machines page lacks %q", user, w)
			}
		}
		if strings.Contains(body, "Smart groups") || strings.Contains(body, `id="smart"`) {
			t.Errorf("%s: the empty Machines page shows group headings", user)
		}
		resp, body = b.do("GET", deskPath, nil)
		wantStatus(t, user+": support", resp, http.StatusOK)
		if !strings.Contains(body, `id="board-empty"`) || !strings.Contains(body, "Generate a code above") {
			t.Errorf("%s: the empty board has no empty state", user)
		}
	}
	// With something on the board, the first-hour steps are gone.
	b := newSupportBrowser(t, supportConfig(newFake(), newFakeDesk(), ""))
	b.login("bob")
	if _, body := b.do("GET", deskPath, nil); strings.Contains(body, `id="board-empty"`) {
		t.Error("a board with sessions shows the empty state")
	}
}

// The portal's ready page shows the checked code to the browser that typed
// it, reloads included, and to no other; later, the form asks again.
func TestPortalReadyPage(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	clock := tstest.NewClock(tstest.ClockOpts{Start: t0})
	cfg := supportConfig(f, d, "")
	cfg.Now = clock.Now
	b := newSupportBrowser(t, cfg)
	wantRedirect(t, "ready before a code", first(b.do("GET", readyPath, nil)), "/support")
	resp, _ := b.do("POST", "/support", url.Values{"csrf": {b.csrf("/support")}, "code": {goodCode}})
	wantRedirect(t, "a good code", resp, readyPath)
	for _, what := range []string{"the ready page", "a reload"} {
		resp, body := b.do("GET", readyPath, nil)
		wantStatus(t, what, resp, http.StatusOK)
		if !strings.Contains(body, goodCode) {
			t.Errorf("%s does not show the code", what)
		}
	}
	other := newSupportBrowser(t, cfg)
	other.h = b.h
	other.csrf("/support") // a portal cookie of its own
	wantRedirect(t, "another browser", first(other.do("GET", readyPath, nil)), "/support")
	clock.Advance(readyTTL)
	wantRedirect(t, "after readyTTL", first(b.do("GET", readyPath, nil)), "/support")
}
