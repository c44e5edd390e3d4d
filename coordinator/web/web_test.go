package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/coordinator/desk"
)

func TestLoginSetsSessionCookie(t *testing.T) {
	f := newFake()
	b := newBrowser(t, f)
	wantRedirect(t, "GET / logged out", first(b.do("GET", "/", nil)), "/login")
	wantRedirect(t, "GET /machines logged out", first(b.do("GET", "/machines", nil)), "/login")

	csrf := b.csrf("/login")
	resp, _ := b.do("POST", "/login", url.Values{"csrf": {csrf}, "user": {"alice"}, "password": {password}},
		"X-Forwarded-For", "203.0.113.9", "X-Real-Ip", "203.0.113.9")
	wantRedirect(t, "login", resp, "/machines")
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			sc = c
		}
	}
	if sc == nil {
		t.Fatalf("no %s cookie in %q", SessionCookie, resp.Header["Set-Cookie"])
	}
	if !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" {
		t.Errorf("session cookie attributes: %q", resp.Header["Set-Cookie"])
	}
	if want := t0.Add(12 * time.Hour); !sc.Expires.Equal(want) || sc.MaxAge != int(12*time.Hour/time.Second) {
		t.Errorf("session cookie expires %v max-age %d, want %v and 12 h", sc.Expires, sc.MaxAge, want)
	}
	// The address is the TCP peer's, whatever the headers claim.
	if diff := cmp.Diff([]string{"192.0.2.1 alice web"}, f.logins); diff != "" {
		t.Errorf("Login calls (-want +got):\n%s", diff)
	}

	wantRedirect(t, "GET / logged in", first(b.do("GET", "/", nil)), "/machines")
	wantRedirect(t, "GET /login logged in", first(b.do("GET", "/login", nil)), "/machines")
	resp, body := b.do("GET", "/machines", nil)
	wantStatus(t, "GET /machines", resp, http.StatusOK)
	for _, want := range []string{
		"pc-1", "pc-2", "100.64.0.7", "Ryzen 5 PRO", "6 cores", "8.0 GiB", "40.0 GiB free of 100.0 GiB",
		`class="badge online"`, `class="badge offline"`, "2 s ago", "3 h ago", "Enrollment tokens", "alice",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("machines page lacks %q", want)
		}
	}
	if i, j := strings.Index(body, "pc-1"), strings.Index(body, "pc-2"); i > j {
		t.Error("machines are not sorted by host name")
	}
}

func first(resp *http.Response, _ string) *http.Response { return resp }

func TestLoginFailures(t *testing.T) {
	for _, tc := range []struct {
		name, user string
		forced     error
		status     int
		msg        string
	}{
		{"wrong password", "alice", nil, http.StatusUnauthorized, "wrong user name or password"},
		{"unknown user", "mallory", nil, http.StatusUnauthorized, "wrong user name or password"},
		{"locked", "alice", &desk.Error{Kind: desk.Locked, Public: desk.ErrAccountLocked.Error(), Err: desk.ErrAccountLocked},
			http.StatusForbidden, desk.ErrAccountLocked.Error()},
		{"rate limited", "alice", &desk.Error{Kind: desk.RateLimited, Public: desk.ErrLoginRateLimited.Error(), Err: desk.ErrLoginRateLimited},
			http.StatusTooManyRequests, desk.ErrLoginRateLimited.Error()},
		{"internal", "alice", errors.New("store: disk on fire"), http.StatusInternalServerError, msgLoginFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.loginErr = tc.forced
			b := newBrowser(t, f)
			resp, body := b.do("POST", "/login", url.Values{"csrf": {b.csrf("/login")}, "user": {tc.user}, "password": {"not it, sorry"}})
			wantStatus(t, "login", resp, tc.status)
			if !strings.Contains(body, tc.msg) {
				t.Errorf("page lacks %q:\n%s", tc.msg, body)
			}
			if strings.Contains(body, "disk on fire") || strings.Contains(body, "mallory") {
				t.Error("the page shows more than the user-safe message")
			}
			if _, ok := b.cookies[SessionCookie]; ok {
				t.Error("a failed login set a session cookie")
			}
			if !csrfField.MatchString(body) {
				t.Error("the re-rendered form has no CSRF token")
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	f := newFake()
	b := newBrowser(t, f)
	loginCSRF := b.csrf("/login")
	for _, form := range []url.Values{
		{"user": {"alice"}, "password": {password}},
		{"csrf": {""}, "user": {"alice"}, "password": {password}},
		{"csrf": {strings.Repeat("0", 64)}, "user": {"alice"}, "password": {password}},
	} {
		resp, _ := b.do("POST", "/login", form)
		wantStatus(t, "login with CSRF "+form.Get("csrf"), resp, http.StatusForbidden)
	}
	// A token bound to another browser's pre-session cookie fails too.
	other := newBrowser(t, f)
	other.h = b.h
	resp, _ := other.do("POST", "/login", url.Values{"csrf": {loginCSRF}, "user": {"alice"}, "password": {password}})
	wantStatus(t, "login with another browser's token", resp, http.StatusForbidden)
	if len(f.logins) != 0 {
		t.Fatalf("Login was called despite bad CSRF tokens: %q", f.logins)
	}

	b.login("alice")
	for _, tc := range []struct{ path, csrf string }{
		{"/logout", ""},
		{"/logout", loginCSRF}, // the login form's token is no session token
		{"/tokens", ""},
		{"/tokens", strings.Repeat("a", 64)},
	} {
		resp, _ := b.do("POST", tc.path, url.Values{"csrf": {tc.csrf}, "ttl": {"1h"}})
		wantStatus(t, "POST "+tc.path+" csrf "+tc.csrf, resp, http.StatusForbidden)
	}
	if len(f.logouts) != 0 || len(f.created) != 0 {
		t.Errorf("refused forms had effects: logouts %q, created %v", f.logouts, f.created)
	}
	wantStatus(t, "session still alive", first(b.do("GET", "/machines", nil)), http.StatusOK)
}

func TestTokensAdminOnly(t *testing.T) {
	f := newFake()
	tech := newBrowser(t, f)
	tech.login("bob")
	csrf := tech.csrf("/machines")
	_, body := tech.do("GET", "/machines", nil)
	if strings.Contains(body, `href="/tokens"`) {
		t.Error("a technician's navigation links to enrollment tokens")
	}
	resp, body := tech.do("GET", "/tokens", nil)
	wantStatus(t, "technician GET /tokens", resp, http.StatusForbidden)
	if strings.Contains(body, "0badf00d") {
		t.Error("the 403 page lists tokens")
	}
	resp, _ = tech.do("POST", "/tokens", url.Values{"csrf": {csrf}, "ttl": {"1h"}})
	wantStatus(t, "technician POST /tokens", resp, http.StatusForbidden)
	if len(f.created) != 0 {
		t.Fatalf("a technician created a token: %v", f.created)
	}

	admin := newBrowser(t, f)
	admin.h = tech.h
	admin.login("alice")
	resp, body = admin.do("GET", "/tokens", nil)
	wantStatus(t, "admin GET /tokens", resp, http.StatusOK)
	for _, want := range []string{"0badf00d", "&lt;b&gt;old&lt;/b&gt;", "used by dev-1", `<option value="24h" selected>`} {
		if !strings.Contains(body, want) {
			t.Errorf("tokens page lacks %q", want)
		}
	}
	if strings.Contains(body, "SECRETHASH") || strings.Contains(body, "<b>old") {
		t.Error("tokens page shows a secret hash or unescaped HTML")
	}
}

func TestCreateToken(t *testing.T) {
	f := newFake()
	b := newBrowser(t, f)
	b.login("alice")
	csrf := b.csrf("/tokens")
	for _, tc := range []struct{ name, ttl, note string }{
		{"unknown ttl", "2h", ""},
		{"empty ttl", "", ""},
		{"ttl spelled otherwise", "1h0m0s", ""},
		{"long note", "1h", strings.Repeat("n", 257)},
		{"control character", "1h", "front\x00desk"},
		{"invalid UTF-8", "1h", "front\xffdesk"},
	} {
		resp, body := b.do("POST", "/tokens", url.Values{"csrf": {csrf}, "ttl": {tc.ttl}, "note": {tc.note}})
		wantStatus(t, tc.name, resp, http.StatusBadRequest)
		if !strings.Contains(body, `class="error"`) || strings.Contains(body, "new-token") {
			t.Errorf("%s: page shows no error or a token", tc.name)
		}
	}
	if len(f.created) != 0 {
		t.Fatalf("refused forms created tokens: %v", f.created)
	}

	note := strings.Repeat("é", 128) // 256 bytes: the limit
	for i, tc := range []struct {
		ttl  string
		want time.Duration
	}{{"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}} {
		resp, body := b.submit("/tokens", url.Values{"csrf": {csrf}, "ttl": {tc.ttl}, "note": {note}})
		wantStatus(t, "create "+tc.ttl, resp, http.StatusOK)
		if !strings.Contains(body, `<code class="token" id="new-token">pde1-1234abcd-`) || !strings.Contains(body, "shown only this once") {
			t.Errorf("create %s: the new token is not shown:\n%s", tc.ttl, body)
		}
		if diff := cmp.Diff(createCall{tc.want, note, "alice"}, f.created[i]); diff != "" {
			t.Errorf("CreateToken call (-want +got):\n%s", diff)
		}
	}
	// The token appears once: the list shows it without its text.
	_, body := b.do("GET", "/tokens", nil)
	if strings.Contains(body, "pde1-") || !strings.Contains(body, "1234abcd") {
		t.Error("the list after creation shows a token's text, or not the token")
	}
}

func TestLogout(t *testing.T) {
	f := newFake()
	b := newBrowser(t, f)
	b.login("alice")
	tok := b.cookies[SessionCookie].Value
	resp, _ := b.do("POST", "/logout", url.Values{"csrf": {b.csrf("/machines")}})
	wantRedirect(t, "logout", resp, "/login")
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || c.Name == SessionCookie && c.MaxAge < 0 && c.Value == "" && c.Secure && c.HttpOnly
	}
	if !cleared {
		t.Errorf("logout did not clear the cookie: %q", resp.Header["Set-Cookie"])
	}
	if diff := cmp.Diff([]string{tok}, f.logouts); diff != "" {
		t.Errorf("Logout calls (-want +got):\n%s", diff)
	}
	wantRedirect(t, "GET /machines after logout", first(b.do("GET", "/machines", nil)), "/login")
	// The old cookie, replayed, is worth nothing either.
	b.cookies[SessionCookie] = &http.Cookie{Name: SessionCookie, Value: tok, Path: "/"}
	wantRedirect(t, "GET /machines with the old cookie", first(b.do("GET", "/machines", nil)), "/login")
	resp, _ = b.do("POST", "/logout", url.Values{"csrf": {"x"}})
	wantStatus(t, "POST /logout logged out", resp, http.StatusUnauthorized)
}

func TestOversizeForm(t *testing.T) {
	f := newFake()
	b := newBrowser(t, f)
	big := "user=alice&password=" + strings.Repeat("p", maxForm)
	resp, _ := b.send("POST", "/login", strings.NewReader(big))
	if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("oversize login form: status %d", resp.StatusCode)
	}
	resp, _ = b.do("POST", "/login", url.Values{"csrf": {b.csrf("/login")}, "user": {strings.Repeat("u", 65)}, "password": {"x"}})
	wantStatus(t, "overlong user name", resp, http.StatusBadRequest)
	b.login("alice")
	resp, _ = b.send("POST", "/tokens", strings.NewReader("csrf="+b.csrf("/tokens")+"&ttl=1h&note="+strings.Repeat("n", maxForm)))
	wantStatus(t, "oversize token form", resp, http.StatusRequestEntityTooLarge)
	if len(f.created) != 0 || len(f.logins) != 1 {
		t.Errorf("oversize forms had effects: created %v, logins %q", f.created, f.logins)
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	f := newFake()
	b := newBrowser(t, f)
	b.do("GET", "/", nil)
	b.do("GET", "/login", nil)
	b.do("POST", "/login", url.Values{"user": {"alice"}})
	b.do("GET", "/machines", nil)
	b.do("DELETE", "/machines", nil)
	b.do("GET", "/nowhere", nil)
	b.send("POST", "/login", strings.NewReader(strings.Repeat("a", 2*maxForm)))
	b.login("bob")
	b.do("GET", "/machines", nil)
	b.do("GET", "/tokens", nil)
	b.do("POST", "/logout", url.Values{"csrf": {b.csrf("/machines")}})
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	if len(b.all) < 12 {
		t.Fatalf("only %d responses seen", len(b.all))
	}
	for _, resp := range b.all {
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", resp.req.Method, resp.req.URL.Path, resp.StatusCode, k, got, v)
			}
		}
	}
}
