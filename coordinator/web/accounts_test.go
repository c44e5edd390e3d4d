package web

import (
	"bytes"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
)

var totpSecretShown = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

// TestI1DashboardTwoFactor, over a real desk and store: an admin the shop
// requires to use 2FA logs in and reaches only Settings; sets TOTP up
// with the QR code (a PNG, no-store) and the secret shown as text; gets
// recovery codes once; then logs in again with the password and the
// second step, the pending token living in an HttpOnly cookie and never
// in a URL. An admin disables another technician from the Users page,
// whose dashboard session is refused at its next request.
func TestI1DashboardTwoFactor(t *testing.T) {
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
	d := desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, clock.Now), Audit: audit.New(db, clock.Now),
		Overlay: noOverlay{}, Support: support.New(db, clock.Now), Pin: testPin, ControlURL: testURL, Now: clock.Now})
	cfg := Config{Backend: d, Desk: d, Accounts: d, PublicURL: testURL, Now: clock.Now}
	for _, u := range []struct {
		name string
		role policy.Role
	}{{"root", policy.RoleAdmin}, {"ops", policy.RoleAdmin}, {"bob", policy.RoleTechnician}} {
		if err := accounts.Create(u.name, "a long enough password", u.role); err != nil {
			t.Fatal(err)
		}
	}
	if err := accounts.SetAccountRules(policy.AccountRules{TOTPRequiredForAdmins: true}); err != nil {
		t.Fatal(err)
	}
	login := func(b *browser, user string) *http.Response {
		t.Helper()
		resp, _ := b.do("POST", "/login", url.Values{"csrf": {b.csrf("/login")}, "user": {user}, "password": {"a long enough password"}})
		return resp
	}

	root := newSupportBrowser(t, cfg)
	wantRedirect(t, "an admin without 2FA logs in", login(root, "root"), settingsPath)
	wantRedirect(t, "machines while 2FA is required", first(root.do("GET", "/machines", nil)), settingsPath)
	wantRedirect(t, "users while 2FA is required", first(root.do("GET", "/users", nil)), settingsPath)
	csrf := root.csrf(settingsPath)
	resp, body := root.submit(settingsPath+"/totp/begin", url.Values{"csrf": {csrf}})
	wantStatus(t, "begin", resp, http.StatusOK)
	m := totpSecretShown.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, `src="/settings/totp.png"`) {
		t.Fatalf("no secret or QR code shown:\n%s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self'") {
		t.Errorf("settings CSP %q does not allow its own image", csp)
	}
	resp, png := root.do("GET", settingsPath+"/totp.png", nil)
	wantStatus(t, "QR code", resp, http.StatusOK)
	if resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(png, "\x89PNG") {
		t.Errorf("QR code: %q, %q, %.8q", resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), png)
	}
	code, err := totp.GenerateCode(m[1], clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, body = root.submit(settingsPath+"/totp/confirm", url.Values{"csrf": {csrf}, "code": {code}})
	wantStatus(t, "confirm", resp, http.StatusOK)
	if strings.Count(section(t, body, "recovery-codes"), "<code>") != identity.RecoveryCodeCount {
		t.Errorf("recovery codes not shown:\n%s", body)
	}
	if _, body = root.do("GET", settingsPath, nil); strings.Contains(body, "recovery-codes") {
		t.Error("the recovery codes are shown again")
	}
	wantStatus(t, "machines once 2FA is on", first(root.do("GET", "/machines", nil)), http.StatusOK)

	// A new login asks for the code, carrying the pending login in a cookie.
	clock.Advance(60e9)
	again := newSupportBrowser(t, cfg)
	wantRedirect(t, "password of a 2FA account", login(again, "root"), codePath)
	pc := again.cookies[pendingCookie]
	if pc == nil || !pc.HttpOnly || !pc.Secure || pc.Path != "/login" || again.cookies[SessionCookie] != nil {
		t.Fatalf("pending cookie %+v, session cookie %v", pc, again.cookies[SessionCookie])
	}
	for _, s := range again.all {
		if strings.Contains(s.req.URL.String(), pc.Value) || strings.Contains(s.Header.Get("Location"), pc.Value) {
			t.Errorf("the pending token is in a URL: %s", s.req.URL)
		}
	}
	codeCSRF := again.csrf(codePath)
	resp, _ = again.do("POST", codePath, url.Values{"csrf": {codeCSRF}, "code": {"000000"}})
	wantStatus(t, "a wrong code", resp, http.StatusUnauthorized)
	code, _ = totp.GenerateCode(m[1], clock.Now())
	wantRedirect(t, "the right code", first(again.do("POST", codePath, url.Values{"csrf": {codeCSRF}, "code": {code}})), deskPath)
	if again.cookies[SessionCookie] == nil || again.cookies[pendingCookie] != nil {
		t.Error("no session after the second step, or the pending cookie stayed")
	}

	// The Users page: root disables bob, whose next request is refused.
	bob := newSupportBrowser(t, cfg)
	wantRedirect(t, "bob logs in", login(bob, "bob"), deskPath)
	wantStatus(t, "bob's machines", first(bob.do("GET", "/machines", nil)), http.StatusOK)
	resp, body = again.do("GET", "/users", nil)
	wantStatus(t, "users page", resp, http.StatusOK)
	if !strings.Contains(body, `id="user-bob"`) {
		t.Fatalf("bob is not listed:\n%s", body)
	}
	wantRedirect(t, "disable bob", first(again.do("POST", "/users/bob/disable", url.Values{"csrf": {again.csrf("/users")}})), "/users")
	wantRedirect(t, "bob after being disabled", first(bob.do("GET", "/machines", nil)), "/login")
	wantStatus(t, "bob's Users page", first(bob.do("GET", "/users", nil)), http.StatusSeeOther)
}
