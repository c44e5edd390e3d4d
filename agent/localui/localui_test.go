package localui

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/tstest"
)

var (
	see     = []wire.Capability{wire.CapScreen}
	control = []wire.Capability{wire.CapInput, wire.CapScreen}
)

type env struct {
	u     *UI
	svc   *consent.Service
	clock *tstest.Clock
	log   *bytes.Buffer // what the page logged (debug and up)

	mu    sync.Mutex
	shown []string // URLs handed to the browser opener
}

func (e *env) shownURLs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.shown...)
}

func start(t *testing.T) *env {
	t.Helper()
	e := &env{
		svc:   consent.New(consent.Config{Ask: policy.AttendedConsent}),
		clock: tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)}),
		log:   &bytes.Buffer{},
	}
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, e.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	u, err := Start(Config{
		Hostname: "pc-1", Consent: e.svc, Logger: logger, Now: e.clock.Now,
		Show: func(url string) error {
			e.mu.Lock()
			e.shown = append(e.shown, url)
			e.mu.Unlock()
			return errors.New("no browser here") // so that the failure is logged too
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	e.u = u
	return e
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// browser opens a one-time URL as a browser would and returns a client
// holding the page's cookie, and the page's address.
func (e *env) browser(t *testing.T) (*http.Client, string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	resp, err := c.Get(e.u.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("opening the one-time URL: %s", resp.Status)
	}
	return c, resp.Request.URL.String()
}

var versionAttr = regexp.MustCompile(`data-version="([0-9a-f]+)"`)

func get(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	resp, err := c.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body) //nolint:errcheck // checked through the status and content
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", page, resp.Status, body)
	}
	return string(body)
}

// version loads the page and returns the version it shows.
func version(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	m := versionAttr.FindStringSubmatch(get(t, c, page))
	if m == nil {
		t.Fatal("no data-version on the page")
	}
	return m[1]
}

// events opens the page's event stream as the page's script does and
// returns the first event's data on a channel.
func events(t *testing.T, c *http.Client, page, have string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", page+"events?v="+url.QueryEscape(have), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		resp, err := c.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				got <- d
				return
			}
		}
	}()
	return got
}

type result struct {
	l   *consent.Lease
	err error
}

func acquire(t *testing.T, s *consent.Service, tech string, caps []wire.Capability) (<-chan result, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch := make(chan result, 1)
	go func() {
		l, err := s.Acquire(ctx, consent.Request{Technician: tech, Capabilities: caps})
		ch <- result{l, err}
	}()
	return ch, cancel
}

var formRe = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)">(.*?)</form>`)
var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)

// form returns the action and fields of the page's form whose action ends
// in name.
func form(t *testing.T, body, name string) (string, url.Values) {
	t.Helper()
	for _, m := range formRe.FindAllStringSubmatch(body, -1) {
		if strings.HasSuffix(m[1], "/"+name) {
			v := url.Values{}
			for _, h := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
				v.Set(h[1], h[2])
			}
			return m[1], v
		}
	}
	t.Fatalf("no %s form on the page:\n%s", name, body)
	return "", nil
}

// post submits a form as the page does (same origin).
func post(t *testing.T, c *http.Client, page, action string, fields url.Values) int {
	t.Helper()
	u, err := url.Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", u.Scheme+"://"+u.Host+action, strings.NewReader(fields.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The event stream stays quiet while nothing changes and speaks the moment
// something does (no polling behind it: it waits on the change itself).
func TestEventsFollowChanges(t *testing.T) {
	leak.Check(t)
	e := start(t)
	c, page := e.browser(t)
	v0 := version(t, c, page)
	got := events(t, c, page, v0)
	// Quiet for a stated span: no event proves "nothing is sent" (and one
	// sent late would be the event below, which must be the change's).
	wait.Holds(t, 300*time.Millisecond, "the stream quiet while nothing changes", func() bool { return len(got) == 0 })
	e.u.SetCode("123456")
	if d := wait.Recv(t, "an event after the code was set", got); d == v0 || d != version(t, c, page) {
		t.Fatalf("event %s; page was %s, is %s", d, v0, version(t, c, page))
	}
	// A page that is behind hears at once.
	if d := wait.Recv(t, "a stale page to hear the change", events(t, c, page, v0)); d == v0 {
		t.Fatalf("event repeats the old version %s", d)
	}
	// A consent change is a change too.
	v1 := version(t, c, page)
	changed := events(t, c, page, v1)
	acquire(t, e.svc, "alice", see)
	wait.Recv(t, "an event after a question", changed)
}

// Consent as a person gives it: the question names exactly what it
// allows, Allow answers it, and the indicator then says what is allowed
// now; a widening shows the new question beside what is allowed, and the
// indicator follows; End ends it.
func TestAskAllowIndicator(t *testing.T) {
	leak.Check(t)
	e := start(t)
	c, page := e.browser(t)
	ch, _ := acquire(t, e.svc, "alice", see)
	wait.For(t, "the question", func() bool { return e.u.State() == "asking" })
	body := get(t, c, page)
	if !strings.Contains(body, "alice asks to see your screen (pc-1)") {
		t.Fatalf("question:\n%s", body)
	}
	action, fields := form(t, body, "allow")
	if code := post(t, c, page, action, fields); code != http.StatusSeeOther {
		t.Fatalf("allow answered %d", code)
	}
	r := wait.Recv(t, "the lease after Allow", ch)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if body := get(t, c, page); !strings.Contains(body, "alice can see your screen") || e.u.State() != "connected" {
		t.Fatalf("indicator after allowing see (%s):\n%s", e.u.State(), body)
	}
	ch2, _ := acquire(t, e.svc, "alice", control)
	wait.For(t, "the widening question", func() bool { return e.u.State() == "asking" })
	body = get(t, c, page)
	if !strings.Contains(body, "alice can see your screen<") || !strings.Contains(body, "alice asks to see and control your screen") {
		t.Fatalf("while widening:\n%s", body)
	}
	action, fields = form(t, body, "allow")
	post(t, c, page, action, fields)
	r2 := wait.Recv(t, "the wider lease", ch2)
	r.l.Release("reconnected")
	if body := get(t, c, page); !strings.Contains(body, "alice can see and control your screen") {
		t.Fatalf("indicator after allowing control:\n%s", body)
	}
	action, fields = form(t, get(t, c, page), "end")
	post(t, c, page, action, fields)
	wait.Recv(t, "End to end the lease", r2.l.Done())
	if body := get(t, c, page); strings.Contains(body, `id="indicator"`) || !strings.Contains(body, "ended by the user") {
		t.Fatalf("after End:\n%s", body)
	}
}

// H1: the Allow form of a question that was withdrawn, posted while a
// newer, wider question is open (a stale tab, a late click), approves
// nothing; the newer question stays open and only its own form answers it.
func TestH1StaleAllowDoesNotApproveNewQuestion(t *testing.T) {
	leak.Check(t)
	e := start(t)
	c, page := e.browser(t)
	ch1, cancel1 := acquire(t, e.svc, "alice", see)
	wait.For(t, "the first question", func() bool { return e.u.State() == "asking" })
	staleAction, staleFields := form(t, get(t, c, page), "allow")
	cancel1()
	wait.Recv(t, "the first question to end", ch1)
	ch2, _ := acquire(t, e.svc, "alice", control)
	wait.For(t, "the second question", func() bool { return e.u.State() == "asking" })
	post(t, c, page, staleAction, staleFields)
	if body := get(t, c, page); !strings.Contains(body, "no longer open: nothing was allowed") || e.u.State() != "asking" {
		t.Fatalf("after the stale click (%s):\n%s", e.u.State(), body)
	}
	select {
	case r := <-ch2:
		t.Fatalf("a click on the stale 'see' question answered the 'see and control' one: %+v", r)
	default:
	}
	// Without a nonce at all: nothing either.
	post(t, c, page, staleAction, nil)
	action, fields := form(t, get(t, c, page), "deny")
	post(t, c, page, action, fields)
	if r := wait.Recv(t, "the refusal", ch2); !errors.Is(r.err, consent.ErrDenied) {
		t.Fatalf("deny: %v", r.err)
	}
}

// L4: the one-time URL gives one browser the page's cookie and dies: a
// second GET of it without the cookie is refused, and so is the page
// without the cookie; an unused URL expires.
func TestL4PageURLWorksOnce(t *testing.T) {
	leak.Check(t)
	e := start(t)
	once := e.u.URL()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(once)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == cookieName {
			cookie = k
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("first GET: %s, cookie %+v", resp.Status, cookie)
	}
	page := resp.Header.Get("Location")
	base := "http://" + e.u.Addr()
	for name, req := range map[string]func() (*http.Request, error){
		"the used URL again":  func() (*http.Request, error) { return http.NewRequest("GET", once, nil) },
		"the page without it": func() (*http.Request, error) { return http.NewRequest("GET", base+page, nil) },
		"events without it":   func() (*http.Request, error) { return http.NewRequest("GET", base+page+"events", nil) },
		"allow without it":    func() (*http.Request, error) { return http.NewRequest("POST", base+page+"allow", nil) },
		"a forged cookie":     func() (*http.Request, error) { return withCookie(http.NewRequest("GET", base+page, nil))("0123") },
		"another one-time path": func() (*http.Request, error) {
			return http.NewRequest("GET", base+page+"open/"+strings.Repeat("0", 64), nil)
		},
	} {
		r, err := req()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noRedirect.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403", name, resp.Status)
		}
	}
	// With the cookie: the page.
	r, _ := withCookie(http.NewRequest("GET", base+page, nil))(cookie.Value)
	if resp, err := noRedirect.Do(r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the page with its cookie: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// An unused URL expires.
	late := e.u.URL()
	e.clock.Advance(OpenTTL + time.Second)
	if resp, err := noRedirect.Get(late); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an expired one-time URL: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func withCookie(r *http.Request, err error) func(string) (*http.Request, error) {
	return func(v string) (*http.Request, error) {
		if err == nil {
			r.AddCookie(&http.Cookie{Name: cookieName, Value: v})
		}
		return r, err
	}
}

// L4: nothing the page logs contains a secret: not the one-time URL
// handed to the browser opener (whose failure is logged), not the cookie.
func TestL4LogsNoSecret(t *testing.T) {
	leak.Check(t)
	e := start(t)
	ch, _ := acquire(t, e.svc, "alice", see)
	wait.For(t, "the browser opener to be called", func() bool { return len(e.shownURLs()) == 1 })
	shown := e.shownURLs()[0]
	jar, _ := cookiejar.New(nil) //nolint:errcheck // never fails
	c := &http.Client{Jar: jar}
	resp, err := c.Get(shown)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page := resp.Request.URL.String()
	action, fields := form(t, get(t, c, page), "allow")
	post(t, c, page, action, fields)
	wait.Recv(t, "the lease", ch)
	u, _ := url.Parse(page) //nolint:errcheck // parsed by the client already
	cookie := jar.Cookies(u)[0].Value
	e.u.Close() // the log is complete
	log := e.log.String()
	if !strings.Contains(log, "could not bring up the consent page") {
		t.Fatalf("the opener's failure was not logged:\n%s", log)
	}
	token := shown[strings.LastIndex(shown, "/")+1:]
	for name, secret := range map[string]string{"the one-time token": token, "the cookie": cookie, "the nonce": fields.Get("nonce")} {
		if len(secret) < 32 || strings.Contains(log, secret) {
			t.Errorf("%s (%q) is in the log:\n%s", name, secret, log)
		}
	}
	if strings.Contains(log, "/open/") {
		t.Errorf("a one-time URL is in the log:\n%s", log)
	}
}

// The page is brought up (Show) for a question only when no page shows it.
func TestShowOnlyWithoutAPage(t *testing.T) {
	leak.Check(t)
	e := start(t)
	c, page := e.browser(t)
	events(t, c, page, version(t, c, page))
	wait.For(t, "the page to listen", func() bool {
		e.u.mu.Lock()
		defer e.u.mu.Unlock()
		return e.u.listeners == 1
	})
	// The watcher clears the message when it handles a new question: a
	// question whose message is gone has been looked at.
	e.u.SetMessage("before")
	ch, cancel := acquire(t, e.svc, "alice", see)
	wait.For(t, "the watcher to handle the question", func() bool {
		e.u.mu.Lock()
		defer e.u.mu.Unlock()
		return e.u.message == ""
	})
	cancel()
	wait.Recv(t, "the withdrawn question", ch)
	if got := e.shownURLs(); len(got) != 0 {
		t.Fatalf("a browser was opened although a page was listening: %d", len(got))
	}
}

// Posts from another site are refused even with the cookie (a browser
// that sends it cross-site despite SameSite=Strict).
func TestCrossSitePostRefused(t *testing.T) {
	leak.Check(t)
	e := start(t)
	c, page := e.browser(t)
	ch, _ := acquire(t, e.svc, "alice", see)
	wait.For(t, "the question", func() bool { return e.u.State() == "asking" })
	action, fields := form(t, get(t, c, page), "allow")
	u, _ := url.Parse(page) //nolint:errcheck // parsed by the client already
	for _, h := range []http.Header{{"Origin": {"http://attacker.example"}}, {"Sec-Fetch-Site": {"cross-site"}}} {
		req, _ := http.NewRequest("POST", u.Scheme+"://"+u.Host+action, strings.NewReader(fields.Encode())) //nolint:errcheck // constant method
		req.Header = h
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site post %v: %s", h, resp.Status)
		}
	}
	if len(ch) != 0 || e.u.State() != "asking" {
		t.Fatal("a cross-site post answered the question")
	}
}

// Only the literal loopback name: a page reached through another host name
// (DNS rebinding) is refused.
func TestHostChecked(t *testing.T) {
	leak.Check(t)
	e := start(t)
	req, err := http.NewRequest("GET", e.u.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "attacker.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign Host got %s", resp.Status)
	}
}

// TestOwnFormsNotRefusedAsCrossSite: the page's own Allow (like Deny, End
// and Ask) is answered when posted as a browser posts it. A browser sets
// the Origin of a same-origin form post from the page's Referrer-Policy
// (Fetch, "serializing a request origin"): "null" under no-referrer, which
// the page refused as cross-site, so no answer ever came from Chromium.
func TestOwnFormsNotRefusedAsCrossSite(t *testing.T) {
	leak.Check(t)
	e := start(t)
	c, page := e.browser(t)
	ch, _ := acquire(t, e.svc, "alice", see)
	wait.For(t, "the question", func() bool { return e.u.State() == "asking" })
	resp, err := c.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body) //nolint:errcheck // checked through the form found in it
	resp.Body.Close()
	policy := resp.Header.Get("Referrer-Policy")
	u, _ := url.Parse(page) //nolint:errcheck // parsed by the client already
	origin := u.Scheme + "://" + u.Host
	switch policy {
	case "no-referrer":
		origin = "null"
	case "same-origin", "origin", "origin-when-cross-origin", "unsafe-url", "strict-origin",
		"strict-origin-when-cross-origin", "no-referrer-when-downgrade":
		// http to http, same origin: the page's origin is sent.
	default:
		t.Fatalf("Referrer-Policy %q: the test does not know what a browser sends under it", policy)
	}
	action, fields := form(t, string(body), "allow")
	req, err := http.NewRequest("POST", u.Scheme+"://"+u.Host+action, strings.NewReader(fields.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the page's own Allow, posted with Origin %q under Referrer-Policy %q: %s", origin, policy, resp.Status)
	}
	r := wait.Recv(t, "the answer", ch)
	if r.err != nil {
		t.Fatalf("allowed, yet: %v", r.err)
	}
	r.l.Release("test over")
}

// Issue 12: a one-time agent whose overlay cannot come up says why, in
// words, instead of "Waiting for your technician to connect…", and the
// page follows when the network comes back.
func TestNetworkProblemShown(t *testing.T) {
	leak.Check(t)
	svc := consent.New(consent.Config{Ask: policy.AttendedConsent})
	u, err := Start(Config{Hostname: "pc-1", OneTime: true, Consent: svc, Logger: slog.New(slog.DiscardHandler),
		Now: tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)}).Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	e := &env{u: u, svc: svc}
	c, page := e.browser(t)
	if body := get(t, c, page); !strings.Contains(body, "Waiting for your technician to connect") || strings.Contains(body, `id="network"`) {
		t.Fatalf("before any problem the page should wait for the technician:\n%s", body)
	}
	v0 := version(t, c, page)
	changed := events(t, c, page, v0)
	const words = "This computer has no working network connection (no network interface is up)."
	u.SetNetwork(words)
	wait.Recv(t, "an event after the network problem was set", changed)
	body := get(t, c, page)
	if !strings.Contains(body, `id="network"`) || !strings.Contains(body, words) {
		t.Fatalf("the page does not say what is wrong:\n%s", body)
	}
	if strings.Contains(body, "Waiting for your technician to connect") {
		t.Fatalf("the page still says it waits for the technician:\n%s", body)
	}
	u.SetNetwork("")
	if body := get(t, c, page); strings.Contains(body, `id="network"`) || !strings.Contains(body, "Waiting for your technician to connect") {
		t.Fatalf("the problem did not clear:\n%s", body)
	}
}
