package web

import (
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestI4ConsentRulesForm, over a real desk and store: an admin sees that
// the shop has no consent rules on the Users page, sets them with the
// form (default checkboxes, a line per company), sees them shown back; a
// malformed line is refused with the text kept and nothing changed; a
// technician's post is refused; and the rules can be removed.
func TestI4ConsentRulesForm(t *testing.T) {
	leak.Check(t)
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := tstest.NewClock(tstest.ClockOpts{Start: t0})
	accounts, err := identity.New(db, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	rules := consentrules.New(db, clock.Now)
	d := desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, clock.Now), Audit: audit.New(db, clock.Now),
		Overlay: noOverlay{}, Support: support.New(db, clock.Now), ConsentRules: rules, Pin: testPin, ControlURL: testURL, Now: clock.Now})
	cfg := Config{Backend: d, Desk: d, Accounts: d, PublicURL: testURL, Now: clock.Now}
	for _, u := range []struct {
		name string
		role policy.Role
	}{{"root", policy.RoleAdmin}, {"bob", policy.RoleTechnician}} {
		if err := accounts.Create(u.name, "a long enough password", u.role); err != nil {
			t.Fatal(err)
		}
	}
	login := func(user string) *browser {
		t.Helper()
		b := newSupportBrowser(t, cfg)
		resp, _ := b.do("POST", "/login", url.Values{"csrf": {b.csrf("/login")}, "user": {user}, "password": {"a long enough password"}})
		wantRedirect(t, user+" logs in", resp, deskPath)
		return b
	}
	root := login("root")
	resp, body := root.do("GET", "/users", nil)
	wantStatus(t, "users page", resp, http.StatusOK)
	if !strings.Contains(body, "The shop has no consent rules") || !strings.Contains(body, `action="/settings/consent-rules"`) {
		t.Fatalf("no consent rules form:\n%s", body)
	}
	csrf := root.csrf("/users")

	resp, body = root.submit("/settings/consent-rules", url.Values{"csrf": {csrf}, "op": {"save"},
		"default": {"screen", "input"}, "companies": {"acme: power\r\nkiosks:\n\n"}, "devices": {"dev-1: screen, screen"}})
	wantStatus(t, "save", resp, http.StatusOK)
	want := policy.ConsentRules{Default: []wire.Capability{wire.CapScreen, wire.CapInput},
		ByCompany: map[string][]wire.Capability{"acme": {wire.CapPower}, "kiosks": {}},
		ByDevice:  map[string][]wire.Capability{"dev-1": {wire.CapScreen}}}
	got, set, err := rules.Get()
	if err != nil || !set {
		t.Fatalf("stored: %v, %v", set, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if !strings.Contains(body, "acme: power\nkiosks:\n") || !strings.Contains(body, `value="screen" checked`) ||
		strings.Contains(body, `value="power" checked`) || strings.Contains(body, "The shop has no consent rules") {
		t.Errorf("the saved rules are not shown back:\n%s", section(t, body, "consent-rules"))
	}

	resp, body = root.do("POST", "/settings/consent-rules", url.Values{"csrf": {csrf}, "op": {"save"},
		"default": {"screen"}, "companies": {"acme power"}})
	wantStatus(t, "a malformed line", resp, http.StatusBadRequest)
	if !strings.Contains(body, "line 1") || !strings.Contains(body, ">acme power</textarea>") {
		t.Errorf("the refusal does not say why or keep the text:\n%s", body)
	}
	for _, bad := range []url.Values{{"default": {"root"}}, {"devices": {"d: sudo"}}, {"companies": {"a: screen\na: power"}}} {
		bad.Set("csrf", csrf)
		resp, _ = root.do("POST", "/settings/consent-rules", bad)
		wantStatus(t, "invalid rules "+bad.Encode(), resp, http.StatusBadRequest)
	}
	if got, _, _ := rules.Get(); !cmp.Equal(want, got) {
		t.Error("a refused form changed the rules")
	}

	bob := login("bob")
	resp, _ = bob.do("POST", "/settings/consent-rules", url.Values{"csrf": {bob.csrf("/machines")}, "op": {"clear"}})
	wantStatus(t, "a technician removes the rules", resp, http.StatusForbidden)
	resp, _ = bob.do("POST", "/settings/consent-rules", url.Values{"csrf": {bob.csrf("/machines")}, "companies": {"nonsense"}})
	wantStatus(t, "a technician's malformed form", resp, http.StatusForbidden)
	if _, set, _ := rules.Get(); !set {
		t.Fatal("a technician removed the rules")
	}

	resp, body = root.submit("/settings/consent-rules", url.Values{"csrf": {csrf}, "op": {"clear"}})
	wantStatus(t, "clear", resp, http.StatusOK)
	if _, set, _ := rules.Get(); set || !strings.Contains(body, "The shop has no consent rules") {
		t.Errorf("the rules remain after removal (stored %v)", set)
	}
}

// The form's lines read back as written, and whatever the text, parsing
// never panics and what it accepts names each entry once with known
// capabilities.
func FuzzParseRuleLines(f *testing.F) {
	for _, s := range []string{"acme: screen input\nkiosks:\n", "a: screen, power\r\n\n b :input", "acme power", ": screen",
		"a: screen\na: power", "x: sudo", strings.Repeat("a", 65) + ": screen", "dev-1:\t screen,,input"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := parseRuleLines(text)
		if err != nil {
			return
		}
		for name, caps := range m {
			if name == "" || len(name) > wire.MaxNameLen || strings.TrimSpace(name) != name {
				t.Fatalf("accepted name %q", name)
			}
			for i, c := range caps {
				if !c.Valid() || slices.Contains(caps[:i], c) {
					t.Fatalf("accepted capabilities %v", caps)
				}
			}
		}
		again, err := parseRuleLines(formatRuleLines(m))
		if err != nil {
			t.Fatalf("the formatted lines %q do not parse: %v", formatRuleLines(m), err)
		}
		if !cmp.Equal(m, again) {
			t.Fatalf("round trip: %v, then %v", m, again)
		}
	})
}
