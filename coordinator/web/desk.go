package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/support"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/templates/style"
	"github.com/peerdesk/peerdesk/wire"
)

// Desk is what the Support tab needs of the support desk (*desk.Desk
// implements it). Every action decides for its caller — role, company
// scope, limits — and audits its outcome; errors are *desk.Error.
type Desk interface {
	// Board is what the caller may see of the support desk.
	Board(c desk.Caller) (wire.SupportBoard, error)
	GenerateCode(c desk.Caller, team bool, ttl time.Duration) (wire.SupportCode, error)
	CancelCode(c desk.Caller, code string) error
	Redeem(c desk.Caller, code string) (wire.SupportSession, error)
	EndSession(c desk.Caller, id string) error
	// Changed is closed at the board's next change.
	Changed() <-chan struct{}
}

// Connector mints the one-time tickets that Connect hands to the
// technician's viewer (*desk.Desk implements it). A Desk that does not
// implement it leaves Connect a plain link to the viewer's page.
type Connector interface {
	MintConnect(c desk.Caller, t wire.ConnectTarget) (desk.ConnectTicket, error)
}

// The Support tab's paths.
const (
	deskPath    = "/support/desk"
	eventsPath  = "/support/desk/events"
	connectPath = "/support/desk/connect" // ?session=ID or ?device=ID
)

// supporter gives the Support tab's pages their policy — its script, its
// live stream, and forms that lead to the viewer — and their tab. Whether
// the caller may work the desk at all is the desk's decision.
func supporter(h sessHandler) sessHandler {
	return func(s *server, w http.ResponseWriter, r *http.Request, sess session) {
		w.Header().Set("Content-Security-Policy", s.deskCSP)
		sess.nav.Active = templates.TabSupport
		h(s, w, r, sess)
	}
}

// expiryChoice is a code expiry the generate form offers; no other is
// accepted.
type expiryChoice struct {
	value, label string
	ttl          time.Duration
}

var expiryChoices = []expiryChoice{
	{"none", "No expiry (until used or cancelled)", 0},
	{"1h", "In 1 hour", time.Hour},
	{"24h", "In 24 hours", 24 * time.Hour},
}

const defaultExpiry = "none"

// deskForm is what the Support tab shows besides the board.
type deskForm struct {
	assign, expiry, code, err string
	created                   *templates.CreatedCode
}

func (s *server) handleDesk(w http.ResponseWriter, r *http.Request, sess session) {
	f := s.flashFor(sess, deskPath)
	s.renderDesk(w, r, sess, http.StatusOK, deskForm{created: f.code, assign: f.assign, expiry: f.expiry})
}

func (s *server) handleGenerate(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	form := deskForm{assign: r.PostForm.Get("assign"), expiry: r.PostForm.Get("expiry")}
	ttl, ok := time.Duration(0), false
	for _, c := range expiryChoices {
		if c.value == form.expiry {
			ttl, ok = c.ttl, true
		}
	}
	if !ok || form.assign != templates.AssignMe && form.assign != templates.AssignTeam {
		s.renderDesk(w, r, sess, http.StatusBadRequest, deskForm{err: "Choose whom the code is for and its expiry from the lists."})
		return
	}
	team := form.assign == templates.AssignTeam
	c, err := s.desk.GenerateCode(sess.caller, team, ttl)
	if err != nil {
		status, msg := s.failure("generating a support code", err)
		if status == http.StatusInternalServerError {
			msg = "The code could not be generated; try again."
		}
		form.err = msg
		s.renderDesk(w, r, sess, status, form)
		return
	}
	s.done(w, r, sess, deskPath, flash{assign: form.assign, expiry: form.expiry, code: &templates.CreatedCode{
		Code: c.Code, Team: team, Expires: c.Expires, PortalLink: s.publicURL + "/support?code=" + url.QueryEscape(c.Code),
	}})
}

func (s *server) handleCancel(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	if err := s.desk.CancelCode(sess.caller, r.PathValue("code")); err != nil {
		status, msg := s.deskFailure("cancelling a code", err)
		s.renderDesk(w, r, sess, status, deskForm{err: msg})
		return
	}
	http.Redirect(w, r, deskPath, http.StatusSeeOther)
}

// handleRedeem: the end user reads out the code their agent shows; on
// success the technician goes straight to the session in their viewer.
func (s *server) handleRedeem(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	code, ok := normalizeCode(r.PostForm.Get("code"))
	if !ok {
		s.renderDesk(w, r, sess, http.StatusBadRequest, deskForm{err: msgCodeDigits})
		return
	}
	ss, err := s.desk.Redeem(sess.caller, code)
	if err != nil {
		status, msg := s.deskFailure("redeeming a code", err)
		s.renderDesk(w, r, sess, status, deskForm{err: msg, code: code})
		return
	}
	http.Redirect(w, r, s.connectURL(ss.ID), http.StatusSeeOther)
}

func (s *server) handleEnd(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	if err := s.desk.EndSession(sess.caller, r.PathValue("id")); err != nil {
		status, msg := s.deskFailure("ending a session", err)
		s.renderDesk(w, r, sess, status, deskForm{err: msg})
		return
	}
	http.Redirect(w, r, deskPath, http.StatusSeeOther)
}

// deskFailure maps a desk action's refusal to a status and a message for
// the technician.
func (s *server) deskFailure(op string, err error) (int, string) {
	if errors.Is(err, desk.ErrForbidden) && !errors.Is(err, support.ErrNotAllowed) && !errors.Is(err, support.ErrNotYours) {
		return http.StatusForbidden, "Your role may not work support sessions."
	}
	return s.failure(op, err)
}

// renderDesk renders the Support tab with the current board.
func (s *server) renderDesk(w http.ResponseWriter, r *http.Request, sess session, status int, form deskForm) {
	board, err := s.desk.Board(sess.caller)
	if errors.Is(err, desk.ErrForbidden) {
		s.errorPage(w, r, http.StatusForbidden, &sess.nav, "Not allowed", "Your role may not work support sessions.")
		return
	}
	if err != nil {
		s.log.Error("web: reading the support board", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, &sess.nav, "Support unavailable", "The support board could not be read; try again.")
		return
	}
	bv := s.boardView(board, sess)
	_, version, err := renderBoard(r.Context(), bv)
	if err != nil {
		s.log.Error("web: rendering the support board", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if form.assign != templates.AssignTeam {
		form.assign = templates.AssignMe
	}
	if !slices.ContainsFunc(expiryChoices, func(c expiryChoice) bool { return c.value == form.expiry }) {
		form.expiry = defaultExpiry
	}
	opts := make([]templates.TTLOption, len(expiryChoices))
	for i, c := range expiryChoices {
		opts[i] = templates.TTLOption{Value: c.value, Label: c.label, Selected: c.value == form.expiry}
	}
	s.render(w, r, status, templates.SupportPage(templates.SupportView{
		Nav: sess.nav, CSRF: sess.nav.CSRF, Assign: form.assign, Expiries: opts, Created: form.created,
		Code: form.code, Error: form.err, Events: eventsPath, Version: version, Board: bv,
	}))
}

// connectURL is where a session's Connect leads: the dashboard's connect
// route, which hands the viewer a ticket (handleConnect), or without a
// Connector the session's page in the viewer.
func (s *server) connectURL(id string) string {
	if s.connector == nil {
		return s.viewer + "/session/" + url.PathEscape(id)
	}
	return connectPath + "?session=" + url.QueryEscape(id)
}

// deviceConnectURL is where a machine's Connect leads, as connectURL.
func (s *server) deviceConnectURL(id string) string {
	if s.connector == nil {
		return s.viewer + "/device/" + url.PathEscape(id)
	}
	return connectPath + "?device=" + url.QueryEscape(id)
}

// handleConnect is Connect, for a session or a machine: it mints a
// one-time ticket for this technician and sends the browser to the
// viewer's page with it, where the viewer exchanges it for its cookie
// with the coordinator (one click). When no viewer of this technician is
// on the overlay it says how to start one instead of leading to an
// address nothing answers.
func (s *server) handleConnect(w http.ResponseWriter, r *http.Request, sess session) {
	q := r.URL.Query()
	t := wire.ConnectTarget{Session: q.Get("session"), Device: q.Get("device")}
	if s.connector == nil {
		http.Redirect(w, r, s.viewer+"/", http.StatusSeeOther)
		return
	}
	tk, err := s.connector.MintConnect(sess.caller, t)
	if err != nil {
		status, msg := s.deskFailure("minting a connect ticket", err)
		s.errorPage(w, r, status, &sess.nav, "Cannot connect", msg)
		return
	}
	open := s.viewer + "/connect?ticket=" + url.QueryEscape(tk.Ticket)
	if !tk.ViewerOnline {
		retry := s.connectURL(t.Session)
		if t.Device != "" {
			retry = s.deviceConnectURL(t.Device)
		}
		s.render(w, r, http.StatusOK, templates.StartViewerPage(templates.StartViewerView{Nav: &sess.nav, RetryURL: retry, OpenURL: open}))
		return
	}
	http.Redirect(w, r, open, http.StatusSeeOther)
}

// viewerPolicy checks the viewer's base URL (falling back to the default)
// and returns it with the Support tab's Content-Security-Policy, which lets
// a form lead there (redeeming a code redirects to the session).
func viewerPolicy(viewerURL string, log *slog.Logger) (string, string) {
	if viewerURL == "" {
		viewerURL = DefaultViewerURL
	}
	u, err := url.Parse(viewerURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil ||
		strings.ContainsFunc(u.Host, func(r rune) bool { return !strings.ContainsRune(hostChars, r) }) {
		log.Error("web: ignoring a bad viewer URL", "url", viewerURL)
		u, _ = url.Parse(DefaultViewerURL) //nolint:errcheck // a constant that parses
	}
	origin := u.Scheme + "://" + u.Host
	csp := "default-src 'none'; script-src 'self'; connect-src 'self'; " + style.Policy + "; form-action 'self' " +
		origin + "; frame-ancestors 'none'; base-uri 'none'"
	return strings.TrimSuffix(origin+u.EscapedPath(), "/"), csp
}

const hostChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]"
