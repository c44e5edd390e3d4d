package web

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/templates/style"
	"github.com/peerdesk/peerdesk/wire"
)

// Messages shown on the login form besides the API's own user-safe ones.
const (
	msgLoginExpired = "The login form expired; please try again."
	msgLoginTooLong = "The user name or password is too long."
	msgLoginFailed  = "Login failed; please try again later."
	msgAdminsOnly   = "Only administrators can manage enrollment tokens."
)

// landing returns where a request with a live session starts, and false
// without one.
func (s *server) landing(r *http.Request) (string, bool) {
	tok := cookie(r, SessionCookie)
	if tok == "" {
		return "", false
	}
	is, err := s.be.Session(tok)
	if errors.Is(err, desk.ErrSetupFirst) {
		return settingsPath, true
	}
	if err != nil {
		return "", false
	}
	return s.home(is.Role), true
}

// home is where a role starts: the Support tab for everyone who may work
// it (technicians, and admins too), the Machines list for the others.
func (s *server) home(role policy.Role) string {
	if s.desk != nil && policy.Allow(role, policy.ActionSupport) == nil {
		return deskPath
	}
	return "/machines"
}

// handleScript serves the Support tab's script.
func (s *server) handleScript(w http.ResponseWriter, r *http.Request) { handleScript(w, r) }

// handleStyle serves the stylesheet every peerdesk page shares.
func (s *server) handleStyle(w http.ResponseWriter, r *http.Request) { styleHandler.ServeHTTP(w, r) }

var styleHandler = style.Handler()

func (s *server) handleRoot(w http.ResponseWriter, r *http.Request) {
	if to, ok := s.landing(r); ok {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// loginBinding returns the pre-session value the login form's CSRF token
// is bound to, setting a fresh cookie when there is none (or fresh is set).
func (s *server) loginBinding(w http.ResponseWriter, r *http.Request, fresh bool) string {
	return s.formBinding(w, r, loginCookie, "/login", fresh)
}

// formBinding returns the value of the pre-session cookie name (scoped to
// path) that a public form's CSRF token is bound to, setting a fresh one
// when there is none (or fresh is set).
func (s *server) formBinding(w http.ResponseWriter, r *http.Request, name, path string, fresh bool) string {
	if v := cookie(r, name); !fresh && len(v) == 64 && isLowerHex(v) {
		return v
	}
	v := hexRandom(32)
	s.setCookie(w, name, v, path, s.now().Add(loginFormTTL))
	return v
}

func (s *server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if to, ok := s.landing(r); ok {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	bound := s.loginBinding(w, r, false)
	s.render(w, r, http.StatusOK, templates.LoginPage("", s.csrfToken(purposeLogin, bound)))
}

func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, nil) {
		return
	}
	bound := cookie(r, loginCookie)
	if !s.csrfOK(r, purposeLogin, bound) {
		bound = s.loginBinding(w, r, true)
		s.render(w, r, http.StatusForbidden, templates.LoginPage(msgLoginExpired, s.csrfToken(purposeLogin, bound)))
		return
	}
	retry := func(status int, msg string) {
		s.render(w, r, status, templates.LoginPage(msg, s.csrfToken(purposeLogin, bound)))
	}
	user, password := r.PostForm.Get("user"), r.PostForm.Get("password")
	if len(user) > wire.MaxNameLen || len(password) > wire.MaxPasswordLen {
		retry(http.StatusBadRequest, msgLoginTooLong)
		return
	}
	res, err := s.be.Login(desk.Caller{IP: clientIP(r), Via: "web"}, user, password)
	if err != nil {
		status, msg := loginFailure(err)
		if status == http.StatusInternalServerError {
			s.log.Error("web login", "err", err)
		}
		retry(status, msg)
		return
	}
	s.loggedInAs(w, r, res)
}

// loginFailure maps a Login error to a status and a message safe to show:
// the desk's own messages for the refusals it names, a generic one else.
func loginFailure(err error) (int, string) {
	for _, known := range []error{desk.ErrLoginRateLimited, desk.ErrAccountLocked, desk.ErrBadLogin} {
		if errors.Is(err, known) {
			return kindStatus(desk.KindOf(err)), known.Error()
		}
	}
	return http.StatusInternalServerError, msgLoginFailed
}

func (s *server) handleLogout(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	if err := s.be.Logout(sess.caller, sess.token); err != nil {
		s.log.Warn("web logout", "user", sess.User, "err", err)
	}
	s.setCookie(w, SessionCookie, "", "/", time.Time{})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// ttlChoice is a token lifetime the form offers; no other is accepted.
type ttlChoice struct {
	value, label string
	ttl          time.Duration
}

var ttlChoices = []ttlChoice{
	{"1h", "1 hour", time.Hour},
	{"24h", "24 hours", 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
}

const defaultTTL = "24h"

// tokenForm is what the tokens page shows besides the list.
type tokenForm struct {
	ttl, note, err string
	created        *templates.CreatedToken
}

func (s *server) handleTokens(w http.ResponseWriter, r *http.Request, sess session) {
	s.renderTokens(w, r, sess, http.StatusOK, tokenForm{ttl: defaultTTL, created: s.flashFor(sess, "/tokens").token})
}

func (s *server) handleCreateToken(w http.ResponseWriter, r *http.Request, sess session) {
	sess.nav.Active = templates.TabTokens
	if !s.checkCSRF(w, r, sess) {
		return
	}
	form := tokenForm{ttl: r.PostForm.Get("ttl"), note: r.PostForm.Get("note")}
	var ttl time.Duration
	for _, c := range ttlChoices {
		if c.value == form.ttl {
			ttl = c.ttl
		}
	}
	form.err = checkNote(form.note)
	if ttl == 0 {
		form.ttl, form.err = defaultTTL, "Choose a lifetime from the list."
	}
	if form.err != "" {
		if len(form.note) > maxNote || !utf8.ValidString(form.note) {
			form.note = "" // not worth showing back
		}
		s.renderTokens(w, r, sess, http.StatusBadRequest, form)
		return
	}
	resp, err := s.be.CreateToken(sess.caller, enroll.TokenOptions{TTL: ttl, Note: form.note})
	if errors.Is(err, desk.ErrForbidden) {
		s.errorPage(w, r, http.StatusForbidden, &sess.nav, "Not allowed", msgAdminsOnly)
		return
	}
	if err != nil {
		s.log.Error("web: creating an enrollment token", "user", sess.User, "err", err)
		form.err = "The token could not be created; try again."
		s.renderTokens(w, r, sess, http.StatusInternalServerError, form)
		return
	}
	s.done(w, r, sess, "/tokens", flash{token: &templates.CreatedToken{Token: resp.Token, Expires: resp.Expires}})
}

// checkNote returns why a token note is refused, or "".
func checkNote(note string) string {
	switch {
	case len(note) > maxNote:
		return "The note is too long (at most 256 bytes)."
	case !utf8.ValidString(note) || strings.ContainsFunc(note, unicode.IsControl):
		return "The note may contain only printable text."
	}
	return ""
}

func (s *server) renderTokens(w http.ResponseWriter, r *http.Request, sess session, status int, form tokenForm) {
	sess.nav.Active = templates.TabTokens
	list, err := s.be.Tokens(sess.caller)
	if errors.Is(err, desk.ErrForbidden) {
		s.errorPage(w, r, http.StatusForbidden, &sess.nav, "Not allowed", msgAdminsOnly)
		return
	}
	if err != nil {
		s.log.Error("web: listing enrollment tokens", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, &sess.nav, "Tokens unavailable", "The token list could not be read; try again.")
		return
	}
	opts := make([]templates.TTLOption, len(ttlChoices))
	for i, c := range ttlChoices {
		opts[i] = templates.TTLOption{Value: c.value, Label: c.label, Selected: c.value == form.ttl}
	}
	s.render(w, r, status, templates.TokensPage(templates.TokensView{
		Nav: sess.nav, CSRF: sess.nav.CSRF, TTLs: opts, Note: form.note, Error: form.err,
		Created: form.created, Tokens: tokenRows(list, s.now()),
	}))
}
