package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSupportSecurityHeaders: every answer of the portal and the Support
// tab carries the security headers; only the Support tab's pages allow a
// script (their own) and forms leading to the viewer.
func TestSupportSecurityHeaders(t *testing.T) {
	f, d := newFake(), newFakeDesk()
	b := newSupportBrowser(t, supportConfig(f, d, binariesDir(t)))
	portal := b.csrf("/support")
	b.do("GET", "/support?code=123456", nil)
	b.do("POST", "/support", url.Values{"csrf": {portal}, "code": {goodCode}})
	b.do("POST", "/support", url.Values{"csrf": {portal}, "code": {"000000"}})
	b.do("POST", "/support", url.Values{"code": {goodCode}})
	b.send("POST", "/support", strings.NewReader(strings.Repeat("a", 2*maxForm)))
	b.do("GET", "/support/download/123456/linux-amd64", nil)
	b.do("GET", "/support/download/123456/linux-arm64", nil)
	b.do("GET", "/support/download/000000/linux-amd64", nil)
	b.do("GET", "/support/download/123456/plan9", nil)
	b.do("GET", "/support/nowhere", nil)
	b.do("DELETE", "/support", nil)
	b.do("GET", "/static/support.js", nil)
	b.do("GET", "/support/desk", nil) // logged out: to the login page
	public := len(b.all)

	b.login("bob")
	csrf := b.csrf("/support/desk")
	b.do("POST", "/support/desk/codes", url.Values{"csrf": {csrf}, "assign": {"me"}, "expiry": {"none"}})
	b.do("POST", "/support/desk/codes", url.Values{"csrf": {"x"}})
	b.do("POST", "/support/desk/redeem", url.Values{"csrf": {csrf}, "code": {"000000"}})
	b.do("POST", "/support/desk/codes/"+carolCode+"/cancel", url.Values{"csrf": {csrf}})
	b.do("POST", "/support/desk/sessions/ses-bob/end", url.Values{"csrf": {csrf}})
	_, deskCSP := viewerPolicy("", discard)

	for i, resp := range b.all {
		path := resp.req.URL.Path
		want := basePolicy
		if i >= public && strings.HasPrefix(path, "/support/desk") {
			want = deskCSP
		}
		for k, v := range map[string]string{
			"Content-Security-Policy": want,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-store",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", resp.req.Method, path, resp.StatusCode, k, got, v)
			}
		}
	}
	if !strings.Contains(deskCSP, "script-src 'self'") || !strings.Contains(deskCSP, "connect-src 'self'") ||
		strings.Contains(basePolicy, "script-src") {
		t.Errorf("scripts allowed where they should not be, or not where needed: %q / %q", deskCSP, basePolicy)
	}
	if len(b.all) < 20 {
		t.Fatalf("only %d responses seen", len(b.all))
	}
	if b.all[0].StatusCode != http.StatusOK {
		t.Fatalf("GET /support: %d", b.all[0].StatusCode)
	}
}
