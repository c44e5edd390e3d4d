// Package webui is the technician's local session page (W2): the viewer
// serves it on 127.0.0.1, the technician's browser shows remote screens in
// it, and the viewer's TURN relay carries each browser session onto the
// overlay to the agent. The coordinator never serves it and never sees a
// frame.
//
// Only the technician's own browser may use it: the first visit must carry
// the key the viewer printed, or a connect ticket from the dashboard's
// Connect that the coordinator minted for this very technician (either
// becomes an HttpOnly, SameSite=Lax cookie);
// requests must name the loopback address as their host (no DNS
// rebinding); forms carry a CSRF token and API calls a CSRF header, both
// derived from the cookie. Lax rather than Strict so that the dashboard's
// Connect (another site: the coordinator) can lead to a session page; a
// page reached from another site never connects by itself — the
// technician confirms with a click (crossSite).
package webui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/templates/style"
	"github.com/peerdesk/peerdesk/templates/viewerui"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/viewer/relay"
	"github.com/peerdesk/peerdesk/wire"
)

//go:embed static
var static embed.FS

const cookieName = "peerdesk_viewer"

// Config configures the page.
type Config struct {
	Viewer *viewer.Viewer
	Listen string // e.g. "127.0.0.1:7071"; "127.0.0.1:0" picks a port
	Logger *slog.Logger
}

// Server is the running page.
type Server struct {
	cfg    Config
	v      *viewer.Viewer
	ln     net.Listener
	srv    *http.Server
	served chan struct{} // closed when srv.Serve has returned
	relay  *relay.Relay
	addr   string // the listener's address, the only Host accepted
	key    string // the cookie value the browser must present
	log    *slog.Logger
	// redeemTicket exchanges a connect ticket with the coordinator under the
	// viewer's own session (viewer.Viewer.RedeemConnect).
	redeemTicket func(ctx context.Context, ticket string) (wire.ConnectTarget, error)

	mu     sync.Mutex
	grants map[string]wire.GrantResponse // device → grant in use by its page

	shells *shellSet // the shell page's bridges (shell.go)
}

// Start joins the overlay (the relay needs the viewer's overlay address) and
// serves the page.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n, err := cfg.Viewer.Node(ctx)
	if err != nil {
		return nil, err
	}
	r, err := relay.New(n, cfg.Logger)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("webui: %w", err)
	}
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
		ln.Close()
		r.Close()
		return nil, errors.New("webui: the page may only listen on a loopback address")
	}
	b := make([]byte, 24)
	rand.Read(b) //nolint:errcheck // never fails
	s := &Server{cfg: cfg, v: cfg.Viewer, ln: ln, addr: ln.Addr().String(), relay: r, key: hex.EncodeToString(b), log: cfg.Logger,
		redeemTicket: cfg.Viewer.RedeemConnect, grants: map[string]wire.GrantResponse{}, shells: newShellSet()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("POST /redeem", s.redeem)
	mux.HandleFunc("GET /session/{id}", s.sessionPage)
	mux.HandleFunc("GET /device/{id}", s.devicePage)
	mux.HandleFunc("GET /device/{id}/tools", s.tools)
	mux.HandleFunc("POST /device/{id}/power", s.power)
	mux.HandleFunc("GET /wake/{id}", s.wakePage)
	mux.HandleFunc("POST /wake/{id}", s.wake)
	mux.HandleFunc("POST /api/ice/{device}", s.ice)
	mux.HandleFunc("POST /api/offer/{device}", s.offer)
	mux.HandleFunc("POST /api/end/{session}", s.end)
	s.routeShell(mux)
	s.systools(mux)
	s.registerFiles(mux)
	serveStatic(mux)
	s.srv = &http.Server{Handler: s.guard(mux), ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		s.srv.Serve(ln) //nolint:errcheck // ends with Close
	}()
	return s, nil
}

// serveStatic adds the page's script and the stylesheet every peerdesk
// page shares (package style).
func serveStatic(mux *http.ServeMux) {
	mux.Handle("GET /static/", http.FileServerFS(static))
	mux.Handle("GET "+style.Path, style.Handler())
}

// URL is the address to open, with the key that logs this browser in.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/?k=" + s.key }

// Base is the page's address without the key.
func (s *Server) Base() string { return "http://" + s.addr }

// Close stops the page and the relay, and returns once the page's server
// has stopped serving.
func (s *Server) Close() error {
	err := errors.Join(s.srv.Close(), s.relay.Close())
	<-s.served
	s.shells.close()
	return err
}

// guard enforces the host, the key and the security headers.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; "+style.Policy+"; connect-src 'self'; media-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		if r.Host != s.addr {
			http.Error(w, "forbidden: use "+s.Base(), http.StatusForbidden)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/connect" {
			s.connect(w, r)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == style.Path {
			// Public, fixed bytes: the page that says how to get in
			// (sent without the cookie) is styled too.
			style.Handler().ServeHTTP(w, r)
			return
		}
		if k := r.URL.Query().Get("k"); k != "" && r.Method == http.MethodGet && r.URL.Path == "/" {
			if subtle.ConstantTimeCompare([]byte(k), []byte(s.key)) != 1 {
				http.Error(w, "wrong key", http.StatusForbidden)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.key, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		c, err := r.Cookie(cookieName)
		if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.key)) != 1 {
			s.render(w, r, http.StatusUnauthorized, viewerui.KeyPage(viewerui.KeyNeeded{Base: s.Base()}))
			return
		}
		if r.Method == http.MethodPost && !s.csrfOK(r) {
			http.Error(w, "forbidden (CSRF)", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// crossSite reports a navigation that another site started (a link on
// the coordinator's dashboard, or any other page): the browser says so in
// Sec-Fetch-Site. Typed addresses ("none") and the page's own links
// ("same-origin") are not; a browser that sends no such header is treated
// as cross-site.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	}
	return true
}

func (s *Server) csrf() string {
	m := hmac.New(sha256.New, []byte(s.key))
	m.Write([]byte("csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) csrfOK(r *http.Request) bool {
	got := r.Header.Get("X-Peerdesk-CSRF")
	if got == "" {
		r.Body = http.MaxBytesReader(nil, r.Body, 16<<10)
		got = r.PostFormValue("csrf")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf())) == 1
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c interface {
	Render(context.Context, io.Writer) error
}) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		s.log.Debug("rendering", "err", err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // client gone
}

func writeErr(w http.ResponseWriter, err error) {
	var we *wire.Error
	if errors.As(err, &we) {
		status := http.StatusBadGateway
		switch we.Code {
		case wire.CodeForbidden, wire.CodeConsentDenied:
			status = http.StatusForbidden
		case wire.CodeNotFound:
			status = http.StatusNotFound
		case wire.CodeConflict:
			status = http.StatusConflict
		}
		writeJSON(w, status, we)
		return
	}
	writeJSON(w, http.StatusBadGateway, wire.Error{Code: wire.CodeInternal, Message: err.Error()})
}

// connectTimeout bounds the exchange of a connect ticket with the
// coordinator.
const connectTimeout = 15 * time.Second

// connect is where the dashboard's Connect leads: /connect?ticket=T. The
// viewer exchanges T with the coordinator under its own session, which
// answers only for a ticket minted for this technician, once, within its
// minute; then the browser gets the page's cookie and goes to the session
// or machine the ticket names. The session page still asks before
// connecting, for the navigation came from another site. The ticket is
// never logged.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, msg string) {
		s.render(w, r, status, viewerui.KeyPage(viewerui.KeyNeeded{Base: s.Base(), Error: msg}))
	}
	tk := r.URL.Query().Get("ticket")
	if tk == "" || len(tk) > wire.MaxConnectTicket || strings.Trim(tk, "0123456789abcdef") != "" {
		refuse(http.StatusBadRequest, "This Connect link is damaged; click Connect on the dashboard again.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), connectTimeout)
	defer cancel()
	t, err := s.redeemTicket(ctx, tk)
	if err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			s.log.Warn("the coordinator could not check a connect ticket", "err", err)
			refuse(http.StatusBadGateway, "The coordinator could not be reached to check this Connect link; try again.")
			return
		}
		s.log.Info("a connect ticket was refused", "code", we.Code, "reason", we.Message)
		status := http.StatusForbidden
		if we.Code == wire.CodeUnauthorized {
			status = http.StatusUnauthorized
		}
		refuse(status, "This Connect link did not work: "+we.Message)
		return
	}
	next := ""
	switch {
	case t.Session != "" && t.Device == "" && len(t.Session) <= wire.MaxNameLen:
		next = "/session/" + url.PathEscape(t.Session)
	case t.Device != "" && t.Session == "" && len(t.Device) <= wire.MaxNameLen:
		next = "/device/" + url.PathEscape(t.Device)
	default:
		refuse(http.StatusBadGateway, "The coordinator's answer named nothing to open; click Connect on the dashboard again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.key, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}
