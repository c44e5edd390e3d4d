package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestAssistantSettingsPage (issue 14, item 6): an admin, in Chromium on
// a real coordinator's dashboard, gives company acme an entry of its own
// on the Assistant page — the assistant off, the shop's contacts, two rows
// of the whitelist unchecked — and sets the model. The change takes effect
// where it matters: the settings the JSON API returns are what the page
// said, and acme's enrolled machine asking the assistant (the agents'
// route) is answered "off" with acme's contacts, while another company's
// machine is not. A technician sees no Assistant tab and is refused the
// page.
func TestAssistantSettingsPage(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	root := c.AddUser(t, "root", policy.RoleAdmin)
	bob := c.AddTechnician(t, "bob")
	acme, _ := enrollClient(t, c.URL(), c.Identity().CA, c.TokenFor(t, "acme", ""), "acme-pc")
	globex, _ := enrollClient(t, c.URL(), c.Identity().CA, c.TokenFor(t, "globex", ""), "globex-pc")
	ask := func(dev *coordclient.Client) []wire.AssistEvent {
		t.Helper()
		var evs []wire.AssistEvent
		err := dev.AssistChat(ctx(t), wire.AssistRequest{ID: strings.Repeat("a", 32), Text: "my printer does not print"},
			func(ev wire.AssistEvent) error { evs = append(evs, ev); return nil })
		if err != nil || len(evs) == 0 {
			t.Fatalf("asking the assistant: %v, %+v", err, evs)
		}
		return evs
	}
	if ev := ask(acme)[0]; ev.Type == wire.AssistOff {
		t.Fatalf("acme's assistant is off before anyone turned it off: %+v", ev)
	}

	b := harness.StartBrowser(t, harness.TrustSPKI(c.SPKIPin(t)))
	tab := b.NewTab(t)
	harness.Do(t, tab, "open the login form", chromedp.Navigate(c.URL()+"/login"))
	login(t, tab, root, harness.Password)
	const contacts = "Call Dana at 555-0199"
	var notice string
	harness.Do(t, tab, "open the Assistant tab and add acme's entry",
		chromedp.Click(`//nav//a[normalize-space()="Assistant"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#assistant-add`, chromedp.ByQuery),
		chromedp.SendKeys(`#assistant-add input[name="company"]`, "acme", chromedp.ByQuery),
		chromedp.Click(`#assistant-add input[name="enabled"]`, chromedp.ByQuery),
		chromedp.SendKeys(`#assistant-add textarea[name="prompt"]`, "Be brief.", chromedp.ByQuery),
		chromedp.SendKeys(`#assistant-add textarea[name="contacts"]`, contacts, chromedp.ByQuery),
		chromedp.Click(`#assistant-add input[name="allow"][value="disk"]`, chromedp.ByQuery),
		chromedp.Click(`#assistant-add input[name="allow"][value="clear_temp"]`, chromedp.ByQuery),
		chromedp.Click(`//form[@id="assistant-add"]//button[normalize-space()="Add company"]`, chromedp.BySearch),
		chromedp.WaitVisible(`form[data-company="acme"]`, chromedp.ByQuery),
		chromedp.Text(`p.notice`, &notice, chromedp.ByQuery),
	)
	if notice != "acme's settings saved." {
		t.Errorf("the page says %q after saving", notice)
	}
	harness.Do(t, tab, "set the model",
		chromedp.SetValue(`#assistant-model input[name="model"]`, "qwen3:8b", chromedp.ByQuery),
		chromedp.Click(`//form[@id="assistant-model"]//button`, chromedp.BySearch),
		chromedp.WaitVisible(`#assistant-model input[name="model"][value="qwen3:8b"]`, chromedp.ByQuery),
	)
	// A refusal, said on the page; nothing stored.
	var refusal string
	harness.Do(t, tab, "add acme a second time",
		chromedp.SendKeys(`#assistant-add input[name="company"]`, "acme", chromedp.ByQuery),
		chromedp.Click(`//form[@id="assistant-add"]//button[normalize-space()="Add company"]`, chromedp.BySearch),
		chromedp.WaitVisible(`p.error`, chromedp.ByQuery),
		chromedp.Text(`p.error`, &refusal, chromedp.ByQuery),
	)
	if !strings.Contains(refusal, "acme already has an entry") {
		t.Errorf("the refusal says %q", refusal)
	}

	// Where it matters: the settings the JSON API returns …
	cl := coordclient.New(c.URL(), c.Identity().CA)
	lr, err := cl.Login(ctx(t), root, harness.Password)
	if err != nil {
		t.Fatal(err)
	}
	var set wire.AssistSettings
	if err := cl.WithSession(lr.Session).Do(ctx(t), http.MethodGet, wire.PathAssistSettings, nil, &set); err != nil {
		t.Fatal(err)
	}
	var allow []string
	for _, tl := range slices.Concat(policy.Diagnostics, policy.Remediations) {
		if tl.Name != "disk" && tl.Name != "clear_temp" {
			allow = append(allow, tl.Name)
		}
	}
	got := set.Companies["acme"]
	if set.Model != "qwen3:8b" || got.Enabled || got.Prompt != "Be brief." || got.Contacts != contacts || !slices.Equal(got.Allow, allow) || !set.Default.Enabled {
		t.Errorf("the API returns %+v; want the model qwen3:8b and acme off with its contacts, prompt and whitelist %v", set, allow)
	}
	// … and acme's machine is told the assistant is off, with acme's
	// contacts; globex's is not.
	if ev := ask(acme)[0]; ev.Type != wire.AssistOff || ev.Contacts != contacts {
		t.Errorf("acme's machine is answered %+v, want the assistant off with %q", ev, contacts)
	}
	if ev := ask(globex)[0]; ev.Type == wire.AssistOff {
		t.Errorf("globex's machine is answered %+v", ev)
	}

	// A technician: no tab, the page refused.
	bobTab := b.IsolatedTab(t, "")
	harness.Do(t, bobTab, "open the login form", chromedp.Navigate(c.URL()+"/login"))
	login(t, bobTab, bob, harness.Password)
	var tabs int
	var refused string
	harness.Do(t, bobTab, "look for the Assistant tab, then open the page",
		chromedp.Evaluate(`document.querySelectorAll('nav a[href="/assistant"]').length`, &tabs),
		chromedp.Navigate(c.URL()+"/assistant"),
		chromedp.WaitVisible(`h1`, chromedp.ByQuery),
		chromedp.Text(`main`, &refused, chromedp.ByQuery),
	)
	if tabs != 0 {
		t.Error("a technician's navigation shows the Assistant tab")
	}
	if !strings.Contains(refused, "Not allowed") || strings.Contains(refused, contacts) {
		t.Errorf("a technician opening the page sees:\n%s", refused)
	}
}
