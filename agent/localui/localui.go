// Package localui is the end user's side of the agent: a page on
// 127.0.0.1, opened in the user's browser, that asks for consent before a
// technician may see or control the screen (I4), shows who is connected
// while they are, lets the user end the session at once, and shows a
// support code to read out.
//
// The page lives under a random path prefix that only the agent knows and
// hands to the browser it opens, so another web page cannot find it or post
// to it; forms carry no other secret. A few lines of script reload it the
// moment something changes; without script it refreshes every second.
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
	"slices"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/templates/agentui"
	"github.com/peerdesk/peerdesk/wire"
)

// Config configures the page.
type Config struct {
	Hostname string
	OneTime  bool                                      // a one-time support agent
	AskHelp  func(ctx context.Context) (string, error) // nil: no "Ask for help" button
	// Show brings the page up when the user must answer (a browser
	// opener); nil does nothing.
	Show   func(url string) error
	Logger *slog.Logger
}

// UI is the running page.
type UI struct {
	cfg  Config
	ln   net.Listener
	srv  *http.Server
	base string
	wg   sync.WaitGroup // the server's Serve and the end callbacks it started

	mu       sync.Mutex
	closed   bool // Close began: no more callbacks start
	view     agentui.View
	changed  chan struct{} // closed (and replaced) when view changes
	decision chan bool     // the pending consent question's answer
	endFn    func()
}

// Start serves the page on a free port of 127.0.0.1.
func Start(cfg Config) (*UI, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("localui.Start: %w", err)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		ln.Close()
		return nil, fmt.Errorf("localui.Start: %w", err)
	}
	u := &UI{cfg: cfg, ln: ln, base: "/" + hex.EncodeToString(b) + "/", changed: make(chan struct{})}
	u.view = agentui.View{Base: u.base, Product: "peerdesk", Hostname: cfg.Hostname, State: "idle", CanAsk: cfg.AskHelp != nil, OneTime: cfg.OneTime}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+u.base+"{$}", u.page)
	mux.HandleFunc("POST "+u.base+"allow", u.answer(true))
	mux.HandleFunc("POST "+u.base+"deny", u.answer(false))
	mux.HandleFunc("POST "+u.base+"end", u.end)
	mux.HandleFunc("POST "+u.base+"ask", u.ask)
	mux.HandleFunc("GET "+u.base+"events", u.events)
	mux.HandleFunc("GET "+u.base+"ui.js", script)
	u.srv = &http.Server{Handler: headers(mux), ReadHeaderTimeout: 5 * time.Second}
	u.wg.Go(func() { u.srv.Serve(ln) }) //nolint:errcheck // ends with Close
	return u, nil
}

// URL is the page's address, secret prefix included.
func (u *UI) URL() string { return "http://" + u.ln.Addr().String() + u.base }

// Close stops the page and returns once its server and the end
// callbacks it started have returned.
func (u *UI) Close() error {
	u.mu.Lock()
	u.closed = true // after this no handler adds to wg, so Wait cannot race an Add
	u.mu.Unlock()
	err := u.srv.Close()
	u.wg.Wait()
	return err
}

// SetCode shows a support code to read out ("" hides it).
func (u *UI) SetCode(code string) {
	u.mu.Lock()
	u.view.Code = code
	u.touch()
	u.mu.Unlock()
}

// SetMessage shows a line of text (an error, the last session's end).
func (u *UI) SetMessage(msg string) {
	u.mu.Lock()
	u.view.Message = msg
	u.touch()
	u.mu.Unlock()
}

// ErrBusy is returned by Ask while another question is open.
var ErrBusy = errors.New("localui: the user is already being asked")

// Ask implements screen.Consent: it shows the question and waits for the
// user's answer.
func (u *UI) Ask(ctx context.Context, r screen.ConsentRequest) (bool, error) {
	ch := make(chan bool, 1)
	u.mu.Lock()
	if u.decision != nil {
		u.mu.Unlock()
		return false, ErrBusy
	}
	u.decision = ch
	prev := u.view.State
	u.view.State, u.view.Technician = "asking", r.Technician
	u.view.Control = slices.Contains(r.Capabilities, wire.CapInput)
	u.view.Message = ""
	u.touch()
	u.mu.Unlock()
	if u.cfg.Show != nil {
		if err := u.cfg.Show(u.URL()); err != nil {
			u.cfg.Logger.Info("could not bring up the consent page", "url", u.URL(), "err", err)
		}
	}
	defer func() {
		u.mu.Lock()
		u.decision = nil
		if u.view.State == "asking" {
			u.view.State = prev
			u.touch()
		}
		u.mu.Unlock()
	}()
	select {
	case ok := <-ch:
		return ok, nil
	case <-ctx.Done():
		u.SetMessage("The request timed out.")
		return false, ctx.Err()
	}
}

// Connected implements screen.Consent: the indicator naming the technician.
func (u *UI) Connected(technician string, end func()) {
	u.mu.Lock()
	u.view.State, u.view.Technician, u.endFn = "connected", technician, end
	u.view.Code = ""
	u.touch()
	u.mu.Unlock()
}

// Disconnected implements screen.Consent.
func (u *UI) Disconnected(reason string) {
	u.mu.Lock()
	u.view.State, u.endFn = "idle", nil
	u.view.Message = "The session ended: " + reason + "."
	u.touch()
	u.mu.Unlock()
}

// State is what the page shows now ("idle", "asking", "connected").
func (u *UI) State() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.view.State
}

// touch wakes the pages waiting for a change; u.mu is held.
func (u *UI) touch() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// snapshot returns the view with its version, and a channel closed at the
// next change.
func (u *UI) snapshot() (agentui.View, <-chan struct{}) {
	u.mu.Lock()
	v, changed := u.view, u.changed
	u.mu.Unlock()
	v.Version = ""
	v.Version = fmt.Sprintf("%x", sha256.Sum256(fmt.Appendf(nil, "%#v", v)))[:16]
	return v, changed
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
	w.Header().Set("Content-Type", "text/event-stream")
	have := r.URL.Query().Get("v")
	limit := time.NewTimer(10 * time.Minute)
	defer limit.Stop()
	for {
		v, changed := u.snapshot()
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
		case <-changed:
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
	v, _ := u.snapshot()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := agentui.Page(v).Render(r.Context(), w); err != nil {
		u.cfg.Logger.Debug("rendering the page", "err", err)
	}
}

func (u *UI) answer(ok bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		ch := u.decision
		u.mu.Unlock()
		if ch != nil {
			select {
			case ch <- ok:
			default:
			}
		}
		u.back(w, r)
	}
}

func (u *UI) end(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	fn := u.endFn
	if fn != nil && !u.closed {
		// Off the request (ending a session tells the technician first),
		// and owned: Close waits for it.
		u.wg.Go(fn)
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
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		// Only this machine's browser, by the literal loopback name.
		if host, _, err := net.SplitHostPort(r.Host); err != nil || host != "127.0.0.1" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
