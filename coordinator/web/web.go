// Package web serves the coordinator's technician dashboard — login (with
// its second step for accounts with two-factor authentication), the
// Support tab, the Machines list, every technician's Settings (password,
// two-factor authentication, API keys) and, for admins, enrollment tokens
// (W1), Users, device administration (M5) and the help desk assistant's
// settings (the Assistant page) —
// and the end-user support portal (S3). Pages are the templ components of
// package templates; every page works without JavaScript.
//
// # The portal
//
// /support asks an end user for the code their technician gave them (no
// login). A good code offers the installed agent (peerdesk://session/{code})
// and the one-time agent for each system the coordinator has an executable
// for, with the code, the coordinator's URL and its CA pin appended by
// package supportpack. Every code typed, and every download, is checked
// again by the API, which rate-limits and audits the attempts; downloads
// map fixed system names to fixed file names and never read a path from
// the request.
//
// # Forms and pages
//
// Every form that succeeds answers 303 to a page (post-redirect-get), so a
// reload never sends it again; what it produced (a support code, a token,
// an API key, recovery codes, a notice) waits for that page in a
// server-side flash keyed by the session, never in the URL. The portal's
// checked code waits likewise for /support/ready, keyed by the portal
// cookie. A refused form is shown again with its error and status. A
// login lands on the Support tab for everyone who may work it. Every page
// links the one stylesheet of package templates/style, served here at
// style.Path.
//
// # Live updates
//
// The Support tab's board refreshes itself: /static/support.js (embedded)
// listens on /support/desk/events, a server-sent event stream that waits
// on the desk's change events (Desk.Changed) and sends the board's HTML,
// rendered by the same templ component as the page, when it changed; a
// slow refresh (RefreshEvery) catches what changes without an event (a
// code's expiry, a machine's overlay address). The Tickets tab and each
// ticket's page do the same with /static/tickets.js and their own streams
// (/tickets/events with the tab's filter, /tickets/{number}/events), woken
// by the desk's TicketsChanged. Only those pages allow scripts
// (script-src 'self'); without them, a reload shows the same.
//
// # Security
//
// A technician's session lives in the peerdesk_session cookie (HttpOnly,
// Secure, SameSite=Strict, expiring with the session). Every POST form
// carries a CSRF token: the hex HMAC-SHA256, under a random per-process key,
// of the session token — or, on the login form, of a random pre-session
// cookie. Form bodies are bounded, inputs validated against fixed sets, and
// every answer carries a strict Content-Security-Policy and no-store. The
// client address used for login rate limits is the TCP peer, never a
// header. Who may do what is decided by package desk, which every handler
// calls with the technician's desk.Caller; the dashboard only shows what
// policy says a role may use.
//
// # Routes
//
// The routes are data (Rules): the mux is built from that table, and the
// tests walk it (every route × role × company scope; every route answers
// an unauthenticated request with a redirect to the login form or a
// refusal unless it is in PublicRoutes).
package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/peerdesk/peerdesk/coordinator/access"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/templates/style"
	"github.com/peerdesk/peerdesk/wire"
)

// Backend is what the dashboard needs of the coordinator's decisions
// (*desk.Desk implements it). Every method decides for its caller —
// role, company scope, limits — and audits; errors are *desk.Error.
type Backend interface {
	// Login checks a password for a client at c.IP and starts a
	// session; rate limits, lockout and audit happen inside.
	// An account with a second factor gets only a pending token for
	// CompleteLogin.
	Login(c desk.Caller, user, password string) (desk.LoginResult, error)
	CompleteLogin(c desk.Caller, pending, code string) (desk.LoginResult, error)
	Session(token string) (identity.Session, error)
	Logout(c desk.Caller, token string) error
	// Machines is the Access view's fleet: the devices in scope with
	// when technicians last connected.
	Machines(c desk.Caller) ([]access.Machine, error)
	SaveFilter(c desk.Caller, f identity.SavedFilter) error
	Filters(c desk.Caller) ([]identity.SavedFilter, error)
	CreateToken(c desk.Caller, o enroll.TokenOptions) (wire.TokenResponse, error)
	Tokens(c desk.Caller) ([]enroll.Token, error)
}

// Config configures the dashboard.
type Config struct {
	Backend Backend

	// Desk is the support desk behind the Support tab and Portal checks
	// the codes typed into the end-user portal (*desk.Desk implements
	// both); nil leaves the tab, or the portal, out.
	Desk   Desk
	Portal Portal

	// Accounts is behind the Users, Settings and device administration
	// pages (*desk.Desk implements it); nil leaves them out.
	Accounts Accounts

	// Tickets is behind the Tickets tab, its ticket pages and the
	// webhooks page (*desk.Desk implements it); nil leaves them out.
	Tickets Tickets

	// Assistant is behind the admins' Assistant page, the help desk
	// assistant's settings (*desk.Desk implements it); nil leaves it out.
	Assistant Assistant

	// PublicURL is the coordinator's public https URL and Pin its CA pin:
	// portal links and one-time agents carry them.
	PublicURL string
	Pin       string

	// SupportBinaries is the directory of the one-time agent executables,
	// peerdesk-agent-<os>-<arch> (.exe for Windows); the portal offers
	// those present. Empty offers none.
	SupportBinaries string

	// ViewerURL is the technician's local viewer page, where Connect
	// leads; empty means DefaultViewerURL.
	ViewerURL string

	// RefreshEvery is how often a live stream re-reads the board without
	// a change event (expiries, overlay addresses) and checks the
	// session; zero means 15 s.
	RefreshEvery time.Duration

	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil discards logs
}

// DefaultViewerURL is where the viewer serves its local page.
const DefaultViewerURL = "http://127.0.0.1:7071"

// Cookie names.
const (
	SessionCookie = "peerdesk_session"
	loginCookie   = "peerdesk_login" // pre-session value the login form's CSRF token is bound to
)

// Limits.
const (
	maxForm      = 16 << 10 // bytes of a form body
	maxNote      = 256      // bytes of a token note
	maxCookie    = 256      // bytes of a cookie value we look at
	loginFormTTL = time.Hour
)

// Patterns are the http.ServeMux patterns of the paths the dashboard
// answers; the coordinator mounts it for exactly these, so every other
// path stays with the handlers beside it.
func Patterns() []string {
	return []string{"GET /{$}", "/login", "/login/", "/logout", "/users", "/users/", "/settings", "/settings/", "/machines", "/machines/", "/tokens", "/support", "/support/", "/static/support.js",
		"/tickets", "/tickets/", "/static/tickets.js", "/assistant", "/assistant/", style.Path}
}

// Route features: a route served only when the dashboard has the part.
const (
	always = iota
	withPortal
	withDesk
	withAccounts
	withTickets
	withAssistant
)

type (
	publicHandler func(s *server, w http.ResponseWriter, r *http.Request)
	sessHandler   func(s *server, w http.ResponseWriter, r *http.Request, sess session)
	route         struct {
		desk.Rule
		feature int
		// setup: the route serves a session that must set up two-factor
		// authentication first (Settings and logout); every other route
		// sends such a session to Settings.
		setup  bool
		public publicHandler
		tech   sessHandler
	}
)

// routes is the dashboard: every route, what authenticates it, the policy
// action it needs and what it acts on. New builds the mux from it; Rules
// exposes it.
var routes = []route{
	{Rule: desk.Rule{Pattern: "GET /{$}", Auth: desk.Public}, public: (*server).handleRoot},
	{Rule: desk.Rule{Pattern: "GET /login", Auth: desk.Public}, public: (*server).handleLoginForm},
	{Rule: desk.Rule{Pattern: "POST /login", Auth: desk.Public}, public: (*server).handleLogin},
	{Rule: desk.Rule{Pattern: "GET " + codePath, Auth: desk.Public}, public: (*server).handleCodeForm},
	{Rule: desk.Rule{Pattern: "POST " + codePath, Auth: desk.Public}, public: (*server).handleCode},
	{Rule: desk.Rule{Pattern: "POST /logout", Auth: desk.Technician}, setup: true, tech: (*server).handleLogout},
	{Rule: desk.Rule{Pattern: "GET /machines", Auth: desk.Technician, Action: policy.ActionListDevices, Target: desk.ListTarget}, tech: (*server).handleMachines},
	{Rule: desk.Rule{Pattern: "POST /machines/filters", Auth: desk.Technician, Action: policy.ActionSaveFilter}, tech: (*server).handleSaveFilter},
	{Rule: desk.Rule{Pattern: "GET /tokens", Auth: desk.Technician, Action: policy.ActionCreateEnrollToken}, tech: (*server).handleTokens},
	{Rule: desk.Rule{Pattern: "POST /tokens", Auth: desk.Technician, Action: policy.ActionCreateEnrollToken}, tech: (*server).handleCreateToken},

	{Rule: desk.Rule{Pattern: "GET /support", Auth: desk.Public}, feature: withPortal, public: (*server).handlePortalForm},
	{Rule: desk.Rule{Pattern: "POST /support", Auth: desk.Public}, feature: withPortal, public: (*server).handlePortalCode},
	{Rule: desk.Rule{Pattern: "GET " + readyPath, Auth: desk.Public}, feature: withPortal, public: (*server).handlePortalReady},
	{Rule: desk.Rule{Pattern: "GET /support/download/{code}/{os}", Auth: desk.Public}, feature: withPortal, public: (*server).handleDownload},

	{Rule: desk.Rule{Pattern: "GET " + deskPath, Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.ListTarget}, feature: withDesk, tech: (*server).handleDesk},
	{Rule: desk.Rule{Pattern: "POST " + deskPath + "/codes", Auth: desk.Technician, Action: policy.ActionSupport}, feature: withDesk, tech: (*server).handleGenerate},
	{Rule: desk.Rule{Pattern: "POST " + deskPath + "/codes/{code}/cancel", Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.CodeTarget}, feature: withDesk, tech: (*server).handleCancel},
	{Rule: desk.Rule{Pattern: "POST " + deskPath + "/redeem", Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.CodeTarget}, feature: withDesk, tech: (*server).handleRedeem},
	{Rule: desk.Rule{Pattern: "POST " + deskPath + "/sessions/{id}/end", Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.SessionTarget}, feature: withDesk, tech: (*server).handleEnd},
	{Rule: desk.Rule{Pattern: "GET " + connectPath, Auth: desk.Technician}, feature: withDesk, tech: (*server).handleConnect},
	{Rule: desk.Rule{Pattern: "GET " + eventsPath, Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.ListTarget}, feature: withDesk, tech: (*server).handleEvents},
	{Rule: desk.Rule{Pattern: "GET /static/support.js", Auth: desk.Public}, feature: withDesk, public: (*server).handleScript},
	{Rule: desk.Rule{Pattern: "GET " + style.Path, Auth: desk.Public}, public: (*server).handleStyle},

	{Rule: desk.Rule{Pattern: "GET " + ticketsPath, Auth: desk.Technician, Action: policy.ActionReadTickets, Target: desk.ListTarget}, feature: withTickets, tech: (*server).handleTickets},
	{Rule: desk.Rule{Pattern: "POST " + ticketsPath, Auth: desk.Technician, Action: policy.ActionWorkTickets, Target: desk.DeviceTarget}, feature: withTickets, tech: (*server).handleCreateTicket},
	{Rule: desk.Rule{Pattern: "GET " + ticketsEvents, Auth: desk.Technician, Action: policy.ActionReadTickets, Target: desk.ListTarget}, feature: withTickets, tech: (*server).handleTicketsEvents},
	{Rule: desk.Rule{Pattern: "GET " + webhooksPath, Auth: desk.Technician, Action: policy.ActionManageWebhooks}, feature: withTickets, tech: (*server).handleWebhooks},
	{Rule: desk.Rule{Pattern: "POST " + webhooksPath, Auth: desk.Technician, Action: policy.ActionManageWebhooks}, feature: withTickets, tech: (*server).handleCreateWebhook},
	{Rule: desk.Rule{Pattern: "POST " + webhooksPath + "/{id}/delete", Auth: desk.Technician, Action: policy.ActionManageWebhooks}, feature: withTickets, tech: (*server).handleDeleteWebhook},
	{Rule: desk.Rule{Pattern: "GET " + ticketsPath + "/{number}", Auth: desk.Technician, Action: policy.ActionReadTickets, Target: desk.TicketTarget}, feature: withTickets, tech: (*server).handleTicket},
	{Rule: desk.Rule{Pattern: "GET " + ticketsPath + "/{number}/events", Auth: desk.Technician, Action: policy.ActionReadTickets, Target: desk.TicketTarget}, feature: withTickets, tech: (*server).handleTicketEvents},
	{Rule: desk.Rule{Pattern: "POST " + ticketsPath + "/{number}/update", Auth: desk.Technician, Action: policy.ActionWorkTickets, Target: desk.TicketTarget}, feature: withTickets, tech: (*server).handleUpdateTicket},
	{Rule: desk.Rule{Pattern: "POST " + ticketsPath + "/{number}/comments", Auth: desk.Technician, Action: policy.ActionWorkTickets, Target: desk.TicketTarget}, feature: withTickets, tech: (*server).handleCommentTicket},
	{Rule: desk.Rule{Pattern: "GET " + ticketsPath + "/{number}/attachments/{index}", Auth: desk.Technician, Action: policy.ActionReadTickets, Target: desk.TicketTarget}, feature: withTickets, tech: (*server).handleTicketAttachment},
	{Rule: desk.Rule{Pattern: "GET /static/tickets.js", Auth: desk.Public}, feature: withTickets, public: func(_ *server, w http.ResponseWriter, r *http.Request) { handleTicketsScript(w, r) }},

	{Rule: desk.Rule{Pattern: "GET " + settingsPath, Auth: desk.Technician}, feature: withAccounts, setup: true, tech: (*server).handleSettings},
	{Rule: desk.Rule{Pattern: "POST " + settingsPath + "/password", Auth: desk.Technician}, feature: withAccounts, tech: (*server).handleChangePassword},
	{Rule: desk.Rule{Pattern: "POST " + settingsPath + "/totp/begin", Auth: desk.Technician}, feature: withAccounts, setup: true, tech: (*server).handleTOTPBegin},
	{Rule: desk.Rule{Pattern: "GET " + settingsPath + "/totp.png", Auth: desk.Technician}, feature: withAccounts, setup: true, tech: (*server).handleTOTPImage},
	{Rule: desk.Rule{Pattern: "POST " + settingsPath + "/totp/confirm", Auth: desk.Technician}, feature: withAccounts, setup: true, tech: (*server).handleTOTPConfirm},
	{Rule: desk.Rule{Pattern: "POST " + settingsPath + "/totp/disable", Auth: desk.Technician}, feature: withAccounts, tech: (*server).handleTOTPDisable},
	{Rule: desk.Rule{Pattern: "POST " + settingsPath + "/apikeys", Auth: desk.Technician}, feature: withAccounts, tech: (*server).handleCreateAPIKey},
	{Rule: desk.Rule{Pattern: "POST " + settingsPath + "/apikeys/{id}/revoke", Auth: desk.Technician}, feature: withAccounts, tech: (*server).handleRevokeAPIKey},
	{Rule: desk.Rule{Pattern: "POST " + settingsPath + "/rules", Auth: desk.Technician, Action: policy.ActionManageUsers}, feature: withAccounts, tech: (*server).handleSetRules},
	{Rule: desk.Rule{Pattern: "POST " + settingsPath + "/consent-rules", Auth: desk.Technician, Action: policy.ActionManageConsent}, feature: withAccounts, tech: (*server).handleSetConsentRules},
	{Rule: desk.Rule{Pattern: "GET /users", Auth: desk.Technician, Action: policy.ActionManageUsers}, feature: withAccounts, tech: (*server).handleUsers},
	{Rule: desk.Rule{Pattern: "POST /users", Auth: desk.Technician, Action: policy.ActionManageUsers}, feature: withAccounts, tech: (*server).handleAddUser},
	{Rule: desk.Rule{Pattern: "POST /users/{name}/{op}", Auth: desk.Technician, Action: policy.ActionManageUsers}, feature: withAccounts, tech: (*server).handleUserAction},
	{Rule: desk.Rule{Pattern: "GET " + assistantPath, Auth: desk.Technician, Action: policy.ActionManageAssistant}, feature: withAssistant, tech: (*server).handleAssistant},
	{Rule: desk.Rule{Pattern: "POST " + assistantPath + "/model", Auth: desk.Technician, Action: policy.ActionManageAssistant}, feature: withAssistant, tech: (*server).handleAssistantModel},
	{Rule: desk.Rule{Pattern: "POST " + assistantPath + "/companies", Auth: desk.Technician, Action: policy.ActionManageAssistant}, feature: withAssistant, tech: (*server).handleAssistantCompany},
	{Rule: desk.Rule{Pattern: "POST " + assistantPath + "/companies/delete", Auth: desk.Technician, Action: policy.ActionManageAssistant}, feature: withAssistant, tech: (*server).handleAssistantDelete},
	{Rule: desk.Rule{Pattern: "GET /machines/admin", Auth: desk.Technician, Action: policy.ActionManageUsers, Target: desk.ListTarget}, feature: withAccounts, tech: (*server).handleDevicesAdmin},
	{Rule: desk.Rule{Pattern: "POST /machines/admin/{id}/{op}", Auth: desk.Technician, Action: policy.ActionManageUsers, Target: desk.DeviceTarget}, feature: withAccounts, tech: (*server).handleDeviceAction},
}

// PublicRoutes are the dashboard's patterns reachable without a session,
// each for a reason: the root (it redirects), the login form and its
// second step (bound to the pending-login cookie), the end
// user's portal and its downloads (checked by code), the Support
// tab's static script and the shared stylesheet.
var PublicRoutes = []string{
	"GET /{$}", "GET /login", "POST /login", "GET " + codePath, "POST " + codePath,
	"GET /support", "POST /support", "GET " + readyPath, "GET /support/download/{code}/{os}",
	"GET /static/support.js", "GET /static/tickets.js", "GET " + style.Path,
}

// Rules lists the dashboard's routes (with the portal and the desk).
func Rules() []desk.Rule {
	out := make([]desk.Rule, len(routes))
	for i, rt := range routes {
		out[i] = rt.Rule
	}
	return out
}

type server struct {
	be        Backend
	desk      Desk
	connector Connector // nil: Connect links straight to the viewer
	accounts  Accounts
	tickets   Tickets
	assistant Assistant
	totp      *totpSetups
	flashes   *flashes
	portal    Portal
	publicURL string
	pin       string
	binaries  string
	viewer    string // the viewer's base URL, without a trailing slash
	deskCSP   string // the Support tab's policy: scripts and the viewer allowed
	refresh   time.Duration
	streams   *streamLimit
	now       func() time.Time
	log       *slog.Logger
	csrfKey   []byte
}

// New returns the dashboard's handler.
func New(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = keepAlive
	}
	s := &server{
		be: cfg.Backend, desk: cfg.Desk, portal: cfg.Portal, accounts: cfg.Accounts, tickets: cfg.Tickets, assistant: cfg.Assistant, totp: &totpSetups{m: map[string]totpPNG{}}, flashes: newFlashes(),
		publicURL: strings.TrimSuffix(cfg.PublicURL, "/"), pin: cfg.Pin, binaries: cfg.SupportBinaries,
		refresh: cfg.RefreshEvery, streams: newStreamLimit(), now: cfg.Now, log: cfg.Logger, csrfKey: randomBytes(32),
	}
	s.viewer, s.deskCSP = viewerPolicy(cfg.ViewerURL, cfg.Logger)
	s.connector, _ = cfg.Desk.(Connector)
	mux := http.NewServeMux()
	for _, rt := range routes {
		if rt.feature == withPortal && s.portal == nil || rt.feature == withDesk && s.desk == nil || rt.feature == withAccounts && s.accounts == nil ||
			rt.feature == withTickets && s.tickets == nil || rt.feature == withAssistant && s.assistant == nil {
			continue
		}
		switch rt.Auth {
		case desk.Public:
			h := rt.public
			mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
		case desk.Technician:
			h := rt.tech
			if rt.feature == withDesk {
				h = supporter(h)
			}
			if rt.feature == withTickets {
				h = ticketsTab(h)
			}
			mux.HandleFunc(rt.Pattern, s.technician(rt.setup, func(w http.ResponseWriter, r *http.Request, sess session) { h(s, w, r, sess) }))
		default:
			panic("web: a route without authentication: " + rt.Pattern)
		}
	}
	return securityHeaders(mux)
}

// basePolicy is every answer's Content-Security-Policy but the Support
// tab's: no script, no connection, styles only from the shared stylesheet
// (package style), images from this server (the TOTP code) or data: URLs
// (the shop's logo), forms only to this server.
const basePolicy = "default-src 'none'; " + style.Policy + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every answer carries, errors included.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", basePolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// csrfToken binds a form to a session token or, for the login form, to
// the pre-session cookie; the purpose keeps the two apart.
func (s *server) csrfToken(purpose, bound string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(bound))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *server) csrfOK(r *http.Request, purpose, bound string) bool {
	got := r.PostForm.Get("csrf")
	return bound != "" && len(got) == sha256.Size*2 &&
		hmac.Equal([]byte(got), []byte(s.csrfToken(purpose, bound)))
}

// CSRF purposes.
const (
	purposeSession = "session"
	purposeLogin   = "login"
)

// parseForm reads a bounded url-encoded form into r.PostForm. It answers
// the error itself (413 or 400) and reports whether the handler goes on.
func (s *server) parseForm(w http.ResponseWriter, r *http.Request, nav *templates.Nav) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	err := r.ParseForm()
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, nav, "Form too large", "The form sent was larger than this page accepts.")
		return false
	}
	s.errorPage(w, r, http.StatusBadRequest, nav, "Bad request", "The form could not be read.")
	return false
}

// cookie returns the value of a cookie of plausible size.
func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > maxCookie {
		return ""
	}
	return c.Value
}

func (s *server) setCookie(w http.ResponseWriter, name, value, path string, expires time.Time) {
	c := &http.Cookie{
		Name: name, Value: value, Path: path,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	}
	if expires.IsZero() {
		c.MaxAge = -1 // delete
	} else {
		c.Expires = expires.UTC()
		c.MaxAge = max(1, int(expires.Sub(s.now()).Seconds()))
	}
	http.SetCookie(w, c)
}

// session is the logged-in technician of a request.
type session struct {
	identity.Session
	caller desk.Caller // who asks the desk: this session, from the client's address
	token  string
	nav    templates.Nav
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, sess session)

// technician resolves the session cookie; without a valid session, pages
// send the browser to the login form and POSTs are refused. A session that
// must set up two-factor authentication first reaches only the routes
// marked setup (Settings, logout); other pages send it to Settings.
func (s *server) technician(setup bool, h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := cookie(r, SessionCookie)
		var is identity.Session
		err := errors.New("no session cookie")
		if tok != "" {
			is, err = s.be.Session(tok)
		}
		setupOnly := errors.Is(err, desk.ErrSetupFirst) && s.accounts != nil
		if setupOnly && !setup {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, settingsPath, http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusForbidden, nil, "Set up two-factor authentication", desk.ErrSetupFirst.Error()+".")
			return
		}
		if setupOnly {
			err = nil
		}
		if err != nil {
			if tok != "" {
				s.setCookie(w, SessionCookie, "", "/", time.Time{})
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusUnauthorized, nil, "Logged out", "Your session has ended; log in again.")
			return
		}
		caller := desk.CallerOf(is, clientIP(r), "web")
		caller.SetupOnly = setupOnly
		sess := session{Session: is, caller: caller, token: tok, nav: templates.Nav{
			User: is.User, Role: string(is.Role), CSRF: s.csrfToken(purposeSession, tok),
			IsAdmin:   policy.Allow(is.Role, policy.ActionCreateEnrollToken) == nil,
			Support:   s.desk != nil && policy.Allow(is.Role, policy.ActionSupport) == nil,
			Users:     s.accounts != nil && policy.Allow(is.Role, policy.ActionManageUsers) == nil,
			Tickets:   s.tickets != nil && policy.Allow(is.Role, policy.ActionReadTickets) == nil,
			Assistant: s.assistant != nil && policy.Allow(is.Role, policy.ActionManageAssistant) == nil,
		}}
		h(w, r, sess)
	}
}

// failure maps a desk refusal to a status and a message for the person:
// the desk's own user-safe sentence, or a generic one for an internal
// failure (logged, with op).
func (s *server) failure(op string, err error) (int, string) {
	k := desk.KindOf(err)
	status := kindStatus(k)
	if k == desk.Internal || k == desk.Unavailable {
		s.log.Error("web: "+op, "err", err)
		return status, "That did not work; try again."
	}
	return status, sentence(desk.PublicOf(err))
}

// kindStatus is the HTTP status of a desk refusal's kind.
func kindStatus(k desk.Kind) int {
	switch k {
	case desk.Invalid:
		return http.StatusBadRequest
	case desk.Unauthenticated:
		return http.StatusUnauthorized
	case desk.Forbidden, desk.Locked:
		return http.StatusForbidden
	case desk.NotFound:
		return http.StatusNotFound
	case desk.Conflict:
		return http.StatusConflict
	case desk.Expired:
		return http.StatusGone
	case desk.RateLimited:
		return http.StatusTooManyRequests
	case desk.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// checkCSRF parses the form and checks its token against the session; it
// answers refusals itself.
func (s *server) checkCSRF(w http.ResponseWriter, r *http.Request, sess session) bool {
	if !s.parseForm(w, r, &sess.nav) {
		return false
	}
	if !s.csrfOK(r, purposeSession, sess.token) {
		s.errorPage(w, r, http.StatusForbidden, &sess.nav, "Form expired", "The form was not accepted (its security token did not match). Reload the page and try again.")
		return false
	}
	return true
}

// render writes a component with status; it renders into a buffer first so
// that a failure becomes a clean 500.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		s.log.Error("rendering a page", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	w.Write(buf.Bytes()) //nolint:errcheck // client gone
}

func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, nav *templates.Nav, title, msg string) {
	s.render(w, r, status, templates.ErrorPage(templates.ErrorView{Nav: nav, Title: title, Message: msg}))
}

// clientIP is the TCP peer's address: the dashboard trusts no proxy header.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
