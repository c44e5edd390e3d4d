package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/access"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// t0 is the fake clock's time.
var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

const password = "correct horse battery"

// fakeBackend is an in-memory Backend and TokenLister.
type fakeBackend struct {
	mu       sync.Mutex
	roles    map[string]policy.Role
	sessions map[string]identity.Session
	loginErr error // when set, every Login fails with it
	logins   []string
	logouts  []string
	created  []createCall
	tokens   []enroll.Token
	devices  []wire.Device
	filters  map[string][]identity.SavedFilter
	scopes   map[string][]string // user → companies
}

type createCall struct {
	TTL   time.Duration
	Note  string
	Actor string
}

func newFake() *fakeBackend {
	return &fakeBackend{
		roles:    map[string]policy.Role{"alice": policy.RoleAdmin, "bob": policy.RoleTechnician},
		sessions: map[string]identity.Session{},
		tokens: []enroll.Token{{ID: "0badf00d", SecretHash: "SECRETHASH-never-shown", Note: "<b>old</b>", CreatedBy: "alice",
			Created: t0.Add(-48 * time.Hour), Expires: t0.Add(-24 * time.Hour), UsedAt: t0.Add(-47 * time.Hour), UsedBy: "dev-1"}},
		devices: []wire.Device{
			{ID: "dev-2", Hostname: "pc-2", OS: "windows", LastSeen: t0.Add(-3 * time.Hour)},
			{ID: "dev-1", Hostname: "pc-1", OS: "linux", Online: true, LastSeen: t0.Add(-2 * time.Second), OverlayIP: "100.64.0.7",
				Inventory: &wire.Inventory{CPUModel: "Ryzen 5 PRO", CPUCores: 6, RAMBytes: 8 << 30,
					Disks: []wire.Disk{{Mount: "/", FSType: "ext4", TotalBytes: 100 << 30, FreeBytes: 40 << 30}}}},
		},
	}
}

func (f *fakeBackend) Machines(c desk.Caller) ([]access.Machine, error) {
	if err := allow(c, policy.ActionListDevices); err != nil {
		return nil, err
	}
	devs, err := f.Devices(c.Role, c.Scope)
	out := make([]access.Machine, len(devs))
	for i, d := range devs {
		out[i].Device = d
	}
	return out, err
}

func (f *fakeBackend) SaveFilter(c desk.Caller, sf identity.SavedFilter) error {
	if err := allow(c, policy.ActionSaveFilter); err != nil {
		return err
	}
	user := c.User
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.filters == nil {
		f.filters = map[string][]identity.SavedFilter{}
	}
	f.filters[user] = append(f.filters[user], sf)
	return nil
}

func (f *fakeBackend) Filters(c desk.Caller) ([]identity.SavedFilter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.filters[c.User], nil
}

func (f *fakeBackend) Login(c desk.Caller, user, pw string) (desk.LoginResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins = append(f.logins, c.IP+" "+user+" "+c.Via)
	if f.loginErr != nil {
		return desk.LoginResult{}, f.loginErr
	}
	role, ok := f.roles[user]
	if !ok || pw != password {
		return desk.LoginResult{}, &desk.Error{Kind: desk.Unauthenticated, Public: desk.ErrBadLogin.Error(), Err: desk.ErrBadLogin}
	}
	tok := hexRandom(32)
	sess := identity.Session{User: user, Role: role, Companies: f.scopes[user], Expires: t0.Add(12 * time.Hour)}
	f.sessions[tok] = sess
	return desk.LoginResult{Token: tok, Session: sess}, nil
}

func (f *fakeBackend) CompleteLogin(desk.Caller, string, string) (desk.LoginResult, error) {
	return desk.LoginResult{}, &desk.Error{Kind: desk.Expired, Public: desk.ErrLoginExpired.Error(), Err: desk.ErrLoginExpired}
}

func (f *fakeBackend) Session(tok string) (identity.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[tok]
	if !ok {
		return identity.Session{}, identity.ErrNoSession
	}
	return s, nil
}

func (f *fakeBackend) Logout(_ desk.Caller, tok string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logouts = append(f.logouts, tok)
	delete(f.sessions, tok)
	return nil
}

func (f *fakeBackend) Devices(role policy.Role, scope policy.Scope) ([]wire.Device, error) {
	var out []wire.Device
	for _, d := range f.devices {
		if d.Inventory == nil && policy.InScope(role, scope, "") || d.Inventory != nil && policy.InScope(role, scope, d.Inventory.Metadata.Company) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeBackend) CreateToken(c desk.Caller, o enroll.TokenOptions) (wire.TokenResponse, error) {
	ttl, note := o.TTL, o.Note
	if err := allow(c, policy.ActionCreateEnrollToken); err != nil {
		return wire.TokenResponse{}, err
	}
	actor := c.User
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, createCall{ttl, note, actor})
	f.tokens = append(f.tokens, enroll.Token{ID: "1234abcd", SecretHash: "SECRETHASH-never-shown", Note: note,
		CreatedBy: actor, Created: t0, Expires: t0.Add(ttl)})
	return wire.TokenResponse{Token: "pde1-1234abcd-" + strings.Repeat("5", 40) + "-" + strings.Repeat("e", 64), Expires: t0.Add(ttl)}, nil
}

func (f *fakeBackend) Tokens(c desk.Caller) ([]enroll.Token, error) {
	if err := allow(c, policy.ActionCreateEnrollToken); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]enroll.Token(nil), f.tokens...), nil
}

// allow is the desk's role check, as the fakes make it.
func allow(c desk.Caller, a policy.Action) error {
	if err := policy.Allow(c.Role, a); err != nil {
		return &desk.Error{Kind: desk.Forbidden, Public: "Your role may not do this.", Err: err}
	}
	return nil
}

// browser drives the handler like a browser with a cookie jar of its own;
// requests come from 192.0.2.1 (httptest's default peer address).
type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
	all     []seen // every response, for the header checks
	home    string // where a login lands: the Support tab when there is one
}

func newBrowser(t *testing.T, f *fakeBackend) *browser {
	h := New(Config{Backend: f, Now: func() time.Time { return t0 }})
	return &browser{t: t, h: h, cookies: map[string]*http.Cookie{}, home: "/machines"}
}

// do sends a request; a non-nil form is sent url-encoded.
func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	return b.send(method, path, body, hdr...)
}

func (b *browser) send(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	req := httptest.NewRequest(method, "https://peerdesk.test"+path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	for _, c := range b.cookies {
		if strings.HasPrefix(path, c.Path) {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	resp := rec.Result()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	b.all = append(b.all, seen{resp, req})
	return resp, rec.Body.String()
}

type seen struct {
	*http.Response
	req *http.Request
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf fetches path and returns the CSRF token of its first form.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	resp, body := b.do("GET", path, nil)
	m := csrfField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: status %d, no CSRF field in:\n%s", path, resp.StatusCode, body)
	}
	return m[1]
}

// login logs user in through the form and fails the test otherwise.
func (b *browser) login(user string) {
	b.t.Helper()
	resp, body := b.do("POST", "/login", url.Values{"csrf": {b.csrf("/login")}, "user": {user}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != b.home {
		b.t.Fatalf("login %s: status %d, location %q:\n%s", user, resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

func wantStatus(t *testing.T, what string, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Errorf("%s: status %d, want %d", what, resp.StatusCode, want)
	}
}

func wantRedirect(t *testing.T, what string, resp *http.Response, to string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != to {
		t.Errorf("%s: status %d location %q, want 303 to %s", what, resp.StatusCode, resp.Header.Get("Location"), to)
	}
}

// submit posts a form as a browser does: a 303 to a page of this server
// (post-redirect-get) is followed, and the page's answer returned.
func (b *browser) submit(path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	resp, body := b.do("POST", path, form, hdr...)
	to := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(to, "/") || strings.HasPrefix(to, "//") {
		return resp, body
	}
	return b.do("GET", to, nil, hdr...)
}
