package web

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestAssistantPage, over a real desk, store and assistant service: an
// admin gives company acme an entry of its own on the Assistant page (the
// assistant off, contacts, two rows of the whitelist), sets the model and
// changes the default; the settings the desk returns are what the forms
// said, and acme's device asking the assistant gets the contacts, not an
// answer, while another company's device is answered. Input out of bounds
// is refused with the reason and the text kept, nothing stored; a
// technician is refused the page and its forms; every change is audited.
func TestAssistantPage(t *testing.T) {
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
	settings := assist.NewSettings(db, clock.Now)
	trail := audit.New(db, clock.Now)
	d := desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, clock.Now), Audit: trail, Assistant: settings,
		Overlay: noOverlay{}, Support: support.New(db, clock.Now), Pin: testPin, ControlURL: testURL, Now: clock.Now})
	helpdesk, err := assist.New(assist.Config{Settings: settings, DB: db, Now: clock.Now, Audit: func(wire.AuditEvent) {}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Backend: d, Desk: d, Accounts: d, Assistant: d, PublicURL: testURL, Now: clock.Now}
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
	stored := func() wire.AssistSettings {
		t.Helper()
		s, err := settings.Get()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ask := func(company string) wire.AssistEvent {
		t.Helper()
		var got []wire.AssistEvent
		err := helpdesk.Turn(context.Background(), assist.Device{ID: "dev-" + company, Company: company},
			wire.AssistRequest{ID: strings.Repeat("a", 32), Text: "my printer does not print"},
			func(ev wire.AssistEvent) error { got = append(got, ev); return nil })
		if err != nil || len(got) == 0 {
			t.Fatalf("a turn of %s's device: %v, %+v", company, err, got)
		}
		return got[0]
	}

	root := login("root")
	resp, body := root.do("GET", "/users", nil)
	if !strings.Contains(body, `href="/assistant"`) {
		t.Error("an admin's navigation has no Assistant tab")
	}
	resp, body = root.do("GET", "/assistant", nil)
	wantStatus(t, "assistant page", resp, http.StatusOK)
	if !strings.Contains(body, `id="assistant-default"`) || !strings.Contains(body, `value="restart_spooler" checked`) {
		t.Fatalf("no default form with the whole whitelist:\n%s", body)
	}
	csrf := root.csrf("/assistant")

	const contacts = "Call Dana at 555-0199\nor mail help@shop.example"
	resp, body = root.submit("/assistant/companies", url.Values{"csrf": {csrf}, "new": {"1"}, "company": {" acme "},
		"prompt": {"Be brief.\r\n"}, "contacts": {strings.ReplaceAll(contacts, "\n", "\r\n")}, "allow": {"printers", "restart_spooler"}})
	wantStatus(t, "add acme", resp, http.StatusOK)
	if !strings.Contains(body, "acme&#39;s settings saved.") || !strings.Contains(body, `data-company="acme"`) {
		t.Errorf("the new entry is not shown back:\n%s", body)
	}
	resp, _ = root.submit("/assistant/model", url.Values{"csrf": {csrf}, "model": {"qwen3:8b"}})
	wantStatus(t, "set the model", resp, http.StatusOK)
	resp, _ = root.submit("/assistant/companies", url.Values{"csrf": {csrf}, "company": {""}, "enabled": {"on"}, "contacts": {"555-0100"},
		"allow": append(toolNames(policy.Diagnostics), toolNames(policy.Remediations)...)})
	wantStatus(t, "save the default", resp, http.StatusOK)
	want := wire.AssistSettings{Model: "qwen3:8b", Default: wire.AssistCompany{Enabled: true, Contacts: "555-0100"},
		Companies: map[string]wire.AssistCompany{"acme": {Prompt: "Be brief.", Contacts: contacts, Allow: []string{"printers", "restart_spooler"}}}}
	if diff := cmp.Diff(want, stored()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	// Where it matters: acme's users get the contacts; others the model
	// (down here: the friendly answer with the default's contacts).
	if ev := ask("acme"); ev.Type != wire.AssistOff || ev.Contacts != contacts {
		t.Errorf("acme's device is answered %+v, want the assistant off with acme's contacts", ev)
	}
	if ev := ask("globex"); ev.Type != wire.AssistUnavailable || ev.Contacts != "555-0100" {
		t.Errorf("globex's device is answered %+v", ev)
	}

	// Refusals, each saying why and changing nothing.
	for _, tc := range []struct {
		what   string
		form   url.Values
		status int
		says   string
	}{
		{"an unknown whitelist row", url.Values{"company": {"acme"}, "allow": {"run_shell"}}, 400, "is not a diagnostic or fix the assistant knows"},
		{"a prompt too long", url.Values{"company": {"acme"}, "prompt": {strings.Repeat("x", wire.MaxAssistPrompt+1)}}, 400, "The system prompt additions are 4097 bytes, at most 4096."},
		{"contacts too long", url.Values{"company": {""}, "contacts": {strings.Repeat("é", wire.MaxAssistContacts)}}, 400, "The contacts are 2048 bytes, at most 1024"},
		{"a company added twice", url.Values{"new": {"1"}, "company": {"acme"}}, 400, "The company acme already has an entry"},
		{"a new company without a name", url.Values{"new": {"1"}, "company": {"  "}}, 400, "Name the company"},
		{"a company name too long", url.Values{"new": {"1"}, "company": {strings.Repeat("a", wire.MaxNameLen+1)}}, 400, "A company name is text of at most"},
		{"an entry that is not there", url.Values{"company": {"initech"}}, 400, "The company initech has no entry"},
	} {
		tc.form.Set("csrf", csrf)
		resp, body := root.do("POST", "/assistant/companies", tc.form)
		wantStatus(t, tc.what, resp, tc.status)
		if !strings.Contains(body, tc.says) {
			t.Errorf("%s: the page does not say %q: %s", tc.what, tc.says, errorLine(body))
		}
	}
	resp, body = root.do("POST", "/assistant/model", url.Values{"csrf": {csrf}, "model": {"; rm -rf /"}})
	wantStatus(t, "a model that is not a name", resp, http.StatusBadRequest)
	if !strings.Contains(body, "is not a model name") {
		t.Errorf("the model refusal does not say why: %s", errorLine(body))
	}
	if diff := cmp.Diff(want, stored()); diff != "" {
		t.Errorf("a refused form changed the settings (-want +got):\n%s", diff)
	}

	// A technician: no tab, the page and every form refused, nothing changed.
	bob := login("bob")
	resp, body = bob.do("GET", "/machines", nil)
	if strings.Contains(body, `href="/assistant"`) {
		t.Error("a technician's navigation shows the Assistant tab")
	}
	resp, body = bob.do("GET", "/assistant", nil)
	wantStatus(t, "a technician opens the page", resp, http.StatusForbidden)
	if strings.Contains(body, "Call Dana") {
		t.Error("the refusal shows the settings")
	}
	bcsrf := bob.csrf("/machines")
	for _, post := range []struct {
		path string
		form url.Values
	}{
		{"/assistant/companies", url.Values{"company": {"acme"}, "enabled": {"on"}}},
		{"/assistant/companies", url.Values{"company": {"acme"}, "allow": {"run_shell"}}},
		{"/assistant/model", url.Values{"model": {"evil"}}},
		{"/assistant/companies/delete", url.Values{"company": {"acme"}}},
	} {
		post.form.Set("csrf", bcsrf)
		resp, _ := bob.do("POST", post.path, post.form)
		wantStatus(t, "a technician posts "+post.path, resp, http.StatusForbidden)
	}
	if diff := cmp.Diff(want, stored()); diff != "" {
		t.Errorf("a technician changed the settings (-want +got):\n%s", diff)
	}

	// Removing acme's entry: the default applies to it again.
	resp, body = root.submit("/assistant/companies/delete", url.Values{"csrf": {csrf}, "company": {"acme"}})
	wantStatus(t, "remove acme", resp, http.StatusOK)
	if strings.Contains(body, `data-company="acme"`) || !strings.Contains(body, "the default applies") {
		t.Errorf("acme's entry is still shown:\n%s", body)
	}
	if ev := ask("acme"); ev.Type != wire.AssistUnavailable {
		t.Errorf("acme after removal: %+v", ev)
	}

	trailOf := func(q audit.Query) []string {
		t.Helper()
		recs, err := trail.List(q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Actor+" "+r.Outcome)
		}
		return got
	}
	// Changes: three forms, the model refused by the desk, the removal.
	if diff := cmp.Diff([]string{"root ok", "root ok", "root ok", "root denied", "root ok"},
		trailOf(audit.Query{Action: "assistant.settings.set"})); diff != "" {
		t.Errorf("audit of changes (-want +got):\n%s", diff)
	}
	// The technician: refused the page and each of the four forms.
	if diff := cmp.Diff([]string{"bob denied", "bob denied", "bob denied", "bob denied", "bob denied"},
		trailOf(audit.Query{Action: "assistant.settings.read", Outcome: "denied"})); diff != "" {
		t.Errorf("audit of the technician's refusals (-want +got):\n%s", diff)
	}
}

func toolNames(ts []policy.Tool) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

var errorP = regexp.MustCompile(`<p class="error" role="alert">[^<]*</p>`)

// errorLine is the page's error paragraph.
func errorLine(body string) string { return errorP.FindString(body) }
