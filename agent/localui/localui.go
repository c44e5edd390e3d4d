// Package localui is the end user's side of the agent: a page on
// 127.0.0.1, opened in the user's browser, that shows what package consent
// asks (I4) — who wants to do exactly what, Allow or Deny — and what each
// technician may do now ("alice can see your screen", "… see and control
// your screen"), updated the moment it changes, with a button that ends
// it at once. It also shows a support code to read out.
//
// # Access
//
// The page's address is worth nothing on its own. The agent opens it with
// a one-time URL ([UI.URL], handed to the browser opener): the first GET
// of it sets an HttpOnly, SameSite=Strict cookie and the URL dies; from
// then on the page answers only with that cookie. Nothing secret is
// printed or logged, and the one-time URL that an opener's command line
// shows (xdg-open's) is useless once the browser used it. Another web page
// cannot post to the page (the cookie is SameSite=Strict and cross-site
// posts are refused by their Origin), and an Allow or Deny names the nonce
// of the question it answers, so a click on a stale question answers
// nothing. Only the literal host 127.0.0.1 is served (DNS rebinding).
//
// A few lines of script reload the page the moment something changes;
// without script it refreshes every second.
package localui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/templates/agentui"
	"github.com/peerdesk/peerdesk/templates/style"
)

// Consent is the consent service the page shows and answers (package
// consent).
type Consent interface {
	State() (consent.State, <-chan struct{})
	Answer(nonce string, allow bool) error
	End(reason string)
}

// Config configures the page.
type Config struct {
	Hostname string
	OneTime  bool                                      // a one-time support agent
	AskHelp  func(ctx context.Context) (string, error) // nil: no "Ask for help" button
	Consent  Consent                                   // required
	// Show brings the page up in the user's browser with a one-time URL
	// when a question is asked and no page is open; nil does nothing.
	Show   func(url string) error
	Logger *slog.Logger
	Now    func() time.Time

	// Report takes and files screenshot tickets ("Report a problem",
	// report.go); nil: no button.
	Report Reporter
	// Contacts is how to reach the help desk, in words, shown while a
	// report waits to be sent ("" shows none). Hotkey names the key that
	// also takes a report ("" if none).
	Contacts string
	Hotkey   string

	// Assistant is the help desk assistant (chat.go): the page links to a
	// chat with it; nil: no chat.
	Assistant Assistant
}

// Limits of the page's credentials.
const (
	cookieName = "peerdesk_page"
	// OpenTTL is how long a one-time URL stays valid unused.
	OpenTTL    = 5 * time.Minute
	maxOpen    = 16 // one-time URLs outstanding; the oldest is dropped
	maxCookies = 16 // browsers holding the page's cookie; the oldest is dropped
	// showGrace: a page whose event stream closed this recently is
	// reloading, not gone; no new browser window is opened for it.
	showGrace = 5 * time.Second
)

// UI is the running page.
type UI struct {
	cfg  Config
	ln   net.Listener
	srv  *http.Server
	base string        // the page's path prefix; not a credential
	stop chan struct{} // closed by Close: the question watcher returns
	wg   sync.WaitGroup

	mu         sync.Mutex
	closed     bool // Close began: no more callbacks start
	code       string
	message    string
	network    string        // why this computer is not on the help desk's network; "" when it is
	changed    chan struct{} // closed (and replaced) when code or message changes
	opens      []credential  // one-time URLs' tokens, oldest first
	cookies    []credential  // cookies handed out, oldest first
	listeners  int           // event streams open now
	lastListen time.Time     // when the last one closed
}

// credential is the SHA-256 of a secret, with when it stops being valid
// (zero: never).
type credential struct {
	sum     [32]byte
	expires time.Time
}

// Start serves the page on a free port of 127.0.0.1.
func Start(cfg Config) (*UI, error) {
	if cfg.Consent == nil {
		return nil, errors.New("localui.Start: a consent service is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	prefix, err := secret()
	if err != nil {
		return nil, fmt.Errorf("localui.Start: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("localui.Start: %w", err)
	}
	u := &UI{cfg: cfg, ln: ln, base: "/" + prefix[:16] + "/", changed: make(chan struct{}), stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+u.base+"open/{token}", u.open)
	mux.Handle("GET "+u.base+"{$}", u.authed(u.page))
	mux.Handle("POST "+u.base+"allow", u.authed(u.answer(true)))
	mux.Handle("POST "+u.base+"deny", u.authed(u.answer(false)))
	mux.Handle("POST "+u.base+"end", u.authed(u.end))
	mux.Handle("POST "+u.base+"ask", u.authed(u.ask))
	mux.Handle("GET "+u.base+"events", u.authed(u.events))
	mux.Handle("GET "+u.base+"ui.js", u.authed(script))
	u.reportRoutes(mux)
	u.chatRoutes(mux)
	// The shared stylesheet: the same public bytes in every program, so
	// served without the page's cookie (the refusals could use it too).
	mux.Handle("GET "+style.Path, style.Handler())
	u.srv = &http.Server{Handler: headers(mux), ReadHeaderTimeout: 5 * time.Second}
	u.wg.Go(func() { u.srv.Serve(ln) }) //nolint:errcheck // ends with Close
	u.wg.Go(u.watch)
	return u, nil
}

// URL returns a new one-time address of the page: the first GET of it
// gives that browser the page's cookie, and then it is refused. It
// expires unused after OpenTTL. Hand it to a browser; do not print or log
// it.
func (u *UI) URL() string {
	tok, err := secret()
	if err != nil {
		// crypto/rand does not fail on supported systems; a URL that
		// opens nothing is the safe answer if it ever does.
		u.cfg.Logger.Error("making a one-time page address", "err", err)
		return "http://" + u.ln.Addr().String() + u.base
	}
	u.mu.Lock()
	u.opens = add(u.opens, credential{sum: sha256.Sum256([]byte(tok)), expires: u.cfg.Now().Add(OpenTTL)}, maxOpen)
	u.mu.Unlock()
	return "http://" + u.ln.Addr().String() + u.base + "open/" + tok
}

// Addr is the page's host and port (not a credential).
func (u *UI) Addr() string { return u.ln.Addr().String() }

// Close stops the page and returns once its server, its question watcher
// and the callbacks it started have returned.
func (u *UI) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true // after this no handler adds to wg, so Wait cannot race an Add
	close(u.stop)
	u.mu.Unlock()
	err := u.srv.Close()
	u.wg.Wait()
	return err
}

// SetCode shows a support code to read out ("" hides it).
func (u *UI) SetCode(code string) {
	u.mu.Lock()
	u.code = code
	u.touch()
	u.mu.Unlock()
}

// SetMessage shows a line of text (an error).
func (u *UI) SetMessage(msg string) {
	u.mu.Lock()
	u.message = msg
	u.touch()
	u.mu.Unlock()
}

// SetNetwork shows, in words, why this computer cannot reach the help
// desk's network (package node's Reason.Words); "" clears it once the
// network is up. The page's security is untouched: it is one more line.
func (u *UI) SetNetwork(problem string) {
	u.mu.Lock()
	if u.network != problem {
		u.network = problem
		u.touch()
	}
	u.mu.Unlock()
}

// State is what the page shows now: "asking" while a question is open,
// else "connected" while someone is allowed anything, else "idle".
func (u *UI) State() string {
	st, _ := u.cfg.Consent.State()
	return stateName(st)
}

func stateName(st consent.State) string {
	switch {
	case st.Question != nil:
		return "asking"
	case len(st.Allowed) > 0:
		return "connected"
	}
	return "idle"
}

// touch wakes the pages waiting for a change; u.mu is held.
func (u *UI) touch() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// watch brings the page up when a new question is asked and no page is
// open to show it, and clears the last message (it was about something
// older).
func (u *UI) watch() {
	seen := ""
	for {
		st, changed := u.cfg.Consent.State()
		if q := st.Question; q != nil && q.Nonce != seen {
			seen = q.Nonce
			u.mu.Lock()
			u.message = ""
			u.touch()
			open := u.listeners > 0 || (!u.lastListen.IsZero() && u.cfg.Now().Sub(u.lastListen) < showGrace)
			u.mu.Unlock()
			if !open && u.cfg.Show != nil {
				if err := u.cfg.Show(u.URL()); err != nil {
					u.cfg.Logger.Info("could not bring up the consent page", "err", err)
				}
			}
		}
		select {
		case <-u.stop:
			return
		case <-changed:
		}
	}
}

// snapshot returns the view with its version, and channels closed at the
// next change.
func (u *UI) snapshot() (agentui.View, <-chan struct{}, <-chan struct{}) {
	st, cchanged := u.cfg.Consent.State()
	u.mu.Lock()
	v := agentui.View{
		Base: u.base, Product: "peerdesk", Hostname: u.cfg.Hostname, State: stateName(st),
		Code: u.code, CanAsk: u.cfg.AskHelp != nil, Message: u.message, OneTime: u.cfg.OneTime,
		Network: u.network,
	}
	if u.cfg.Assistant != nil {
		v.Assistant = u.cfg.Assistant.Name()
	}
	changed := u.changed
	u.mu.Unlock()
	v.Report = u.reportView()
	if v.Message == "" {
		v.Message = st.Note
	}
	if q := st.Question; q != nil {
		v.Technician, v.Asks, v.Nonce = q.Technician, consent.Describe(q.Capabilities), q.Nonce
	}
	for _, a := range st.Allowed {
		v.Allowed = append(v.Allowed, agentui.Allowed{Technician: a.Technician, Does: consent.Describe(a.Capabilities)})
	}
	if len(v.Allowed) > 0 {
		v.Code = "" // read out and used
	}
	v.Version = fmt.Sprintf("%x", sha256.Sum256(fmt.Appendf(nil, "%#v", v)))[:16]
	return v, changed, cchanged
}

// open exchanges a one-time URL for the page's cookie, once.
func (u *UI) open(w http.ResponseWriter, r *http.Request) {
	sum := sha256.Sum256([]byte(r.PathValue("token")))
	now := u.cfg.Now()
	u.mu.Lock()
	found := false
	for i, c := range u.opens {
		if c.sum == sum {
			found = now.Before(c.expires)
			u.opens = append(u.opens[:i:i], u.opens[i+1:]...) // used or expired: gone either way
			break
		}
	}
	var cookie string
	var err error
	if found {
		if cookie, err = secret(); err == nil {
			u.cookies = add(u.cookies, credential{sum: sha256.Sum256([]byte(cookie))}, maxCookies)
		}
	}
	u.mu.Unlock()
	switch {
	case !found:
		refuse(w, "This link has already been used or has expired. The agent opens a new one when a technician asks.")
		return
	case err != nil:
		http.Error(w, "could not open the page", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: cookie, Path: u.base, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, u.base, http.StatusSeeOther)
}

// authed serves h only to a browser holding the page's cookie; posts must
// come from the page itself.
func (u *UI) authed(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		ok := false
		if err == nil {
			sum := sha256.Sum256([]byte(c.Value))
			u.mu.Lock()
			for _, k := range u.cookies {
				ok = ok || k.sum == sum
			}
			u.mu.Unlock()
		}
		if !ok {
			refuse(w, "This page opens from the peerdesk agent on this computer; its address alone does not open it.")
			return
		}
		if r.Method == http.MethodPost {
			if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
				http.Error(w, "forbidden: cross-site request", http.StatusForbidden)
				return
			}
			if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
				http.Error(w, "forbidden: cross-site request", http.StatusForbidden)
				return
			}
		}
		h(w, r)
	})
}

func refuse(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, msg+"\n") //nolint:errcheck // client gone
}

// events tells the page, as a server-sent event, when what it shows has
// changed; the page then reloads itself. Without JavaScript the page
// refreshes every second instead.
func (u *UI) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	u.mu.Lock()
	u.listeners++
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.listeners--
		u.lastListen = u.cfg.Now()
		u.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	have := r.URL.Query().Get("v")
	limit := time.NewTimer(10 * time.Minute)
	defer limit.Stop()
	for {
		v, changed, cchanged := u.snapshot()
		if v.Version != have {
			fmt.Fprintf(w, "data: %s\n\n", v.Version)
			fl.Flush()
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-limit.C:
			return
		case <-u.stop:
			return
		case <-changed:
		case <-cchanged:
		}
	}
}

const uiScript = `'use strict';
(function () {
  const v = document.body.dataset.version;
  const es = new EventSource(document.body.dataset.events + '?v=' + encodeURIComponent(v));
  es.onmessage = () => { es.close(); location.reload(); };
  es.onerror = () => { es.close(); setTimeout(() => location.reload(), 1000); };
})();
`

func script(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	io.WriteString(w, uiScript) //nolint:errcheck // client gone
}

func (u *UI) page(w http.ResponseWriter, r *http.Request) {
	v, _, _ := u.snapshot()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := agentui.Page(v).Render(r.Context(), w); err != nil {
		u.cfg.Logger.Debug("rendering the page", "err", err)
	}
}

// answer answers the question the form names by its nonce; a form of a
// question that is no longer open answers nothing.
func (u *UI) answer(allow bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		nonce := r.PostFormValue("nonce")
		if err := u.cfg.Consent.Answer(nonce, allow); err != nil {
			u.SetMessage("That question is no longer open: nothing was allowed.")
		}
		u.back(w, r)
	}
}

func (u *UI) end(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	if !u.closed {
		// Off the request (ending a session tells the technician first),
		// and owned: Close waits for it.
		u.wg.Go(func() { u.cfg.Consent.End("ended by the user") })
	}
	u.mu.Unlock()
	u.back(w, r)
}

func (u *UI) ask(w http.ResponseWriter, r *http.Request) {
	if u.cfg.AskHelp == nil {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	code, err := u.cfg.AskHelp(ctx)
	if err != nil {
		u.SetMessage("Could not reach the help desk: " + err.Error())
	} else {
		u.SetCode(code)
	}
	u.back(w, r)
}

// back answers a form post with the page again (post/redirect/get).
func (u *UI) back(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, u.base, http.StatusSeeOther)
}

func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; "+style.Policy+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: under no-referrer a browser sends
		// "Origin: null" on the page's own form posts, which authed then
		// refuses as cross-site (every Allow, Deny, End and Ask failed in
		// Chromium). Nothing leaves for another site either way, and the
		// page's own address (after the one-time URL) is no credential.
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		// Only this machine's browser, by the literal loopback name.
		if host, _, err := net.SplitHostPort(r.Host); err != nil || host != "127.0.0.1" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// secret returns 32 random bytes in hex.
func secret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// add appends c to list, drops the entries that expired before c was
// made, and keeps the newest limit.
func add(list []credential, c credential, limit int) []credential {
	var issued time.Time // entries without expiry never expire
	if !c.expires.IsZero() {
		issued = c.expires.Add(-OpenTTL)
	}
	kept := list[:0]
	for _, k := range list {
		if k.expires.IsZero() || k.expires.After(issued) {
			kept = append(kept, k)
		}
	}
	kept = append(kept, c)
	if len(kept) > limit {
		kept = kept[len(kept)-limit:]
	}
	return kept
}
