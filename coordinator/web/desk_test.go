package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/policy"
)

// section returns the part of a Support page from the heading with id to
// the next section.
func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no section %s in:\n%s", id, body)
	}
	rest := body[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func TestDeskBoard(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	b := newSupportBrowser(t, supportConfig(f, d, ""))
	b.login("bob")
	resp, body := b.do("GET", "/support/desk", nil)
	wantStatus(t, "GET /support/desk", resp, http.StatusOK)
	if i, j := strings.Index(body, `href="/support/desk"`), strings.Index(body, `href="/machines"`); i < 0 || i > j {
		t.Error("the navigation does not list Support first")
	}
	if !strings.Contains(body, `href="/support/desk" aria-current="page"`) {
		t.Error("Support is not the current tab")
	}
	if !strings.Contains(body, `<script src="/static/support.js" defer></script>`) ||
		!regexp.MustCompile(`id="board" data-events="/support/desk/events" data-version="[0-9a-f]{24}"`).MatchString(body) {
		t.Error("the page does not load its live updates")
	}
	mine := section(t, body, "mine-title")
	for _, want := range []string{"bob-user-pc", "one-time", "100.64.0.9", `href="http://127.0.0.1:7071/session/ses-bob"`, `action="/support/desk/sessions/ses-bob/end"`} {
		if !strings.Contains(mine, want) {
			t.Errorf("My sessions lacks %q:\n%s", want, mine)
		}
	}
	team := section(t, body, "team-title")
	for _, want := range []string{"carol-user-pc", "team-user-pc", "unclaimed (team)", `href="http://127.0.0.1:7071/session/ses-team"`, `action="/support/desk/sessions/ses-team/end"`} {
		if !strings.Contains(team, want) {
			t.Errorf("Team sessions lacks %q", want)
		}
	}
	if strings.Contains(team, "/session/ses-carol") || strings.Contains(team, "ses-carol/end") || strings.Contains(mine, "carol") {
		t.Error("bob may connect to or end carol's session")
	}
	pending := section(t, body, "pending-title")
	for _, want := range []string{bobCode, teamCode, "team (first come)", "/support/desk/codes/" + bobCode + "/cancel", "/support/desk/codes/" + teamCode + "/cancel"} {
		if !strings.Contains(pending, want) {
			t.Errorf("Pending codes lacks %q", want)
		}
	}
	if strings.Contains(body, carolCode) || strings.Contains(pending, askCode) {
		t.Error("Pending codes shows another technician's own code, or a request")
	}
	requests := section(t, body, "requests-title")
	if !strings.Contains(requests, "front-desk-pc") || !strings.Contains(requests, `name="code" value="`+askCode+`"`) {
		t.Errorf("Requests lacks the end user's request:\n%s", requests)
	}
	ended := section(t, body, "ended-title")
	if !strings.Contains(ended, "old-user-pc") || strings.Contains(ended, "bob-user-pc") {
		t.Errorf("Ended is wrong:\n%s", ended)
	}

	// An admin sees every code and may end anyone's session.
	admin := newSupportBrowser(t, supportConfig(f, d, ""))
	admin.h = b.h
	admin.login("alice")
	_, body = admin.do("GET", "/support/desk", nil)
	if !strings.Contains(body, "/support/desk/codes/"+carolCode+"/cancel") || !strings.Contains(body, "/support/desk/sessions/ses-carol/end") {
		t.Error("an admin cannot cancel carol's code or end her session")
	}
	if strings.Contains(body, "/session/ses-carol") {
		t.Error("an admin is offered to connect to carol's claimed session")
	}
}

func TestDeskGenerate(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	b := newSupportBrowser(t, supportConfig(f, d, ""))
	b.login("bob")
	csrf := b.csrf("/support/desk")
	resp, body := b.submit("/support/desk/codes", url.Values{"csrf": {csrf}, "assign": {"me"}, "expiry": {"1h"}})
	wantStatus(t, "generate", resp, http.StatusOK)
	for _, want := range []string{
		`<code class="bigcode" id="new-code">424242</code>`, "Assigned to you.", "Valid until 2026-11-21 13:00 UTC",
		`<code class="token" id="portal-link">https://coord.test:8443/support?code=424242</code>`,
		`<option value="1h" selected>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page after generating lacks %q", want)
		}
	}
	if !strings.Contains(section(t, body, "pending-title"), "424242") {
		t.Error("the new code is not under Pending codes")
	}
	resp, body = b.submit("/support/desk/codes", url.Values{"csrf": {csrf}, "assign": {"team"}, "expiry": {"none"}})
	wantStatus(t, "generate for the team", resp, http.StatusOK)
	if !strings.Contains(body, "the first technician to connect takes the session") || !strings.Contains(body, "Valid until used or cancelled") {
		t.Error("the team code's page is wrong")
	}
	for _, form := range []url.Values{
		{"csrf": {csrf}, "assign": {"everyone"}, "expiry": {"1h"}},
		{"csrf": {csrf}, "assign": {"me"}, "expiry": {"2h"}},
		{"csrf": {csrf}, "assign": {"me"}},
	} {
		resp, body := b.submit("/support/desk/codes", form)
		wantStatus(t, "generate "+form.Encode(), resp, http.StatusBadRequest)
		if strings.Contains(body, "new-code") {
			t.Error("a refused form shows a code")
		}
	}
	resp, _ = b.submit("/support/desk/codes", url.Values{"assign": {"me"}, "expiry": {"1h"}})
	wantStatus(t, "generate without CSRF", resp, http.StatusForbidden)
	want := []string{"generate 192.0.2.1 bob me 1h0m0s", "generate 192.0.2.1 bob team 0s"}
	if diff := cmp.Diff(want, d.Calls()); diff != "" {
		t.Errorf("GenerateCode calls (-want +got):\n%s", diff)
	}
}

func TestDeskRedeem(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	d.errs["555555"] = errRate
	d.errs["666666"] = support.ErrNotAllowed
	d.errs["777778"] = support.ErrExpired
	cfg := supportConfig(f, d, "")
	cfg.ViewerURL = "http://127.0.0.1:9999/"
	b := newSupportBrowser(t, cfg)
	b.login("bob")
	csrf := b.csrf("/support/desk")
	resp, _ := b.do("POST", "/support/desk/redeem", url.Values{"csrf": {csrf}, "code": {"314 159"}})
	wantRedirect(t, "redeem", resp, "http://127.0.0.1:9999/session/ses-new%2F1")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9999;") {
		t.Errorf("the Support tab's CSP does not let its forms lead to the viewer: %q", csp)
	}
	for _, tc := range []struct {
		code   string
		status int
		msg    string
	}{
		{"000000", http.StatusNotFound, "No such support code."},
		{"555555", http.StatusTooManyRequests, "Too many attempts"},
		{"666666", http.StatusConflict, "already in a support session"},
		{"777778", http.StatusGone, "This support code has expired."},
		{"12345", http.StatusBadRequest, msgCodeDigits},
	} {
		resp, body := b.do("POST", "/support/desk/redeem", url.Values{"csrf": {csrf}, "code": {tc.code}})
		wantStatus(t, "redeem "+tc.code, resp, tc.status)
		if !strings.Contains(body, tc.msg) {
			t.Errorf("redeem %s: page lacks %q", tc.code, tc.msg)
		}
	}
	resp, _ = b.do("POST", "/support/desk/redeem", url.Values{"csrf": {"nope"}, "code": {askCode}})
	wantStatus(t, "redeem without CSRF", resp, http.StatusForbidden)
	want := []string{"redeem 192.0.2.1 bob 314159", "redeem 192.0.2.1 bob 000000", "redeem 192.0.2.1 bob 555555",
		"redeem 192.0.2.1 bob 666666", "redeem 192.0.2.1 bob 777778"}
	if diff := cmp.Diff(want, d.Calls()); diff != "" {
		t.Errorf("Redeem calls (-want +got):\n%s", diff)
	}
}

func TestDeskCancelAndEnd(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	b := newSupportBrowser(t, supportConfig(f, d, ""))
	b.login("bob")
	csrf := b.csrf("/support/desk")
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/support/desk/codes/" + bobCode + "/cancel", http.StatusSeeOther, ""},
		{"/support/desk/codes/" + bobCode + "/cancel", http.StatusNotFound, "No such support code."},
		{"/support/desk/codes/" + carolCode + "/cancel", http.StatusForbidden, "Only the technician who made the code"},
		{"/support/desk/sessions/ses-bob/end", http.StatusSeeOther, ""},
		{"/support/desk/sessions/ses-bob/end", http.StatusConflict, "The support session has ended."},
		{"/support/desk/sessions/ses-carol/end", http.StatusForbidden, "The support session belongs to another technician."},
		{"/support/desk/sessions/ses-nope/end", http.StatusNotFound, "No such support session."},
	} {
		resp, body := b.do("POST", tc.path, url.Values{"csrf": {csrf}})
		if tc.status == http.StatusSeeOther {
			wantRedirect(t, tc.path, resp, "/support/desk")
			continue
		}
		wantStatus(t, tc.path, resp, tc.status)
		if !strings.Contains(body, tc.msg) {
			t.Errorf("%s: page lacks %q", tc.path, tc.msg)
		}
	}
	resp, _ := b.do("POST", "/support/desk/sessions/ses-team/end", url.Values{"csrf": {"0"}})
	wantStatus(t, "end without CSRF", resp, http.StatusForbidden)

	admin := newSupportBrowser(t, supportConfig(f, d, ""))
	admin.h = b.h
	admin.login("alice")
	acsrf := admin.csrf("/support/desk")
	wantRedirect(t, "admin cancels carol's code", first(admin.do("POST", "/support/desk/codes/"+carolCode+"/cancel", url.Values{"csrf": {acsrf}})), "/support/desk")
	wantRedirect(t, "admin ends carol's session", first(admin.do("POST", "/support/desk/sessions/ses-carol/end", url.Values{"csrf": {acsrf}})), "/support/desk")
	want := []string{
		"cancel 192.0.2.1 bob 111111", "cancel 192.0.2.1 bob 111111", "cancel 192.0.2.1 bob 777777",
		"end 192.0.2.1 bob ses-bob", "end 192.0.2.1 bob ses-bob", "end 192.0.2.1 bob ses-carol", "end 192.0.2.1 bob ses-nope",
		"cancel 192.0.2.1 alice 777777", "end 192.0.2.1 alice ses-carol",
	}
	if diff := cmp.Diff(want, d.Calls()); diff != "" {
		t.Errorf("desk calls (-want +got):\n%s", diff)
	}
	_, body := b.do("GET", "/support/desk", nil)
	if ended := section(t, body, "ended-title"); !strings.Contains(ended, "bob-user-pc") || !strings.Contains(ended, "carol-user-pc") {
		t.Errorf("the ended sessions are not under Ended:\n%s", ended)
	}
}

func TestDeskRoles(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	f.roles["victor"] = policy.Role("viewer") // a role that may not connect to machines
	b := newSupportBrowser(t, supportConfig(f, d, ""))

	wantRedirect(t, "logged out GET", first(b.do("GET", "/support/desk", nil)), "/login")
	wantRedirect(t, "logged out events", first(b.do("GET", "/support/desk/events", nil)), "/login")
	resp, _ := b.submit("/support/desk/codes", url.Values{"assign": {"me"}, "expiry": {"none"}})
	wantStatus(t, "logged out POST", resp, http.StatusUnauthorized)

	resp, body := b.do("POST", "/login", url.Values{"csrf": {b.csrf("/login")}, "user": {"victor"}, "password": {password}})
	wantRedirect(t, "login victor", resp, "/machines")
	resp, body = b.do("GET", "/support/desk", nil)
	wantStatus(t, "viewer GET /support/desk", resp, http.StatusForbidden)
	if strings.Contains(body, `href="/support/desk"`) || strings.Contains(body, "bob-user-pc") {
		t.Error("a role that may not work support sees the Support tab")
	}
	m := csrfField.FindStringSubmatch(body) // the logout form's token is the session's
	if m == nil {
		t.Fatal("no CSRF token on the 403 page")
	}
	for _, p := range []string{"/support/desk/codes", "/support/desk/redeem", "/support/desk/codes/" + teamCode + "/cancel", "/support/desk/sessions/ses-team/end"} {
		resp, _ := b.do("POST", p, url.Values{"csrf": {m[1]}, "assign": {"me"}, "expiry": {"none"}, "code": {askCode}})
		wantStatus(t, "viewer POST "+p, resp, http.StatusForbidden)
	}
	wantStatus(t, "viewer events", first(b.do("GET", "/support/desk/events", nil)), http.StatusForbidden)
	if len(d.Calls()) != 0 || d.BoardCalls() != 0 {
		t.Errorf("a refused role reached the desk: %q, %d board reads", d.Calls(), d.BoardCalls())
	}
}

func TestDeskAbsent(t *testing.T) {
	b := newBrowser(t, newFake()) // no desk, no portal
	b.login("bob")
	_, body := b.do("GET", "/machines", nil)
	if strings.Contains(body, "/support/desk") {
		t.Error("the navigation links to a Support tab that is not there")
	}
	for _, p := range []string{"/support", "/support/desk", "/support/desk/events", "/static/support.js", "/support/download/123456/linux-amd64"} {
		wantStatus(t, "GET "+p, first(b.do("GET", p, nil)), http.StatusNotFound)
	}
}

func TestViewerPolicy(t *testing.T) {
	for _, tc := range []struct{ in, base, origin string }{
		{"", "http://127.0.0.1:7071", "http://127.0.0.1:7071"},
		{"http://127.0.0.1:9999/", "http://127.0.0.1:9999", "http://127.0.0.1:9999"},
		{"http://[::1]:7071/viewer/", "http://[::1]:7071/viewer", "http://[::1]:7071"},
		{"javascript:alert(1)", "http://127.0.0.1:7071", "http://127.0.0.1:7071"},
		{"http://a;b/", "http://127.0.0.1:7071", "http://127.0.0.1:7071"},
		{"http://user:pw@127.0.0.1:1/", "http://127.0.0.1:7071", "http://127.0.0.1:7071"},
	} {
		base, csp := viewerPolicy(tc.in, discard)
		if base != tc.base || !strings.Contains(csp, "form-action 'self' "+tc.origin+";") {
			t.Errorf("viewerPolicy(%q) = %q, %q; want base %q and origin %q", tc.in, base, csp, tc.base, tc.origin)
		}
	}
}
