package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
)

// The login's second step: a password that was right for an account with
// TOTP leaves a pending token in the peerdesk_pending cookie (HttpOnly,
// Secure, SameSite=Strict, path /login, living as long as the pending
// login) — never in the URL — and the browser is sent to /login/code,
// which asks for the authenticator's code or a recovery code.

const (
	pendingCookie = "peerdesk_pending"
	codePath      = "/login/code"
	maxCodeInput  = 64
)

// loggedInAs finishes a login the desk answered: to the second step, or
// with the session cookie to the role's home (the Support tab for those
// who work it; for a session that must set up two-factor authentication,
// Settings).
func (s *server) loggedInAs(w http.ResponseWriter, r *http.Request, res desk.LoginResult) {
	if res.Pending != "" {
		s.setCookie(w, pendingCookie, res.Pending, "/login", s.now().Add(identity.PendingLoginTTL))
		http.Redirect(w, r, codePath, http.StatusSeeOther)
		return
	}
	s.setCookie(w, SessionCookie, res.Token, "/", res.Session.Expires)
	s.setCookie(w, loginCookie, "", "/login", time.Time{})
	s.setCookie(w, pendingCookie, "", "/login", time.Time{})
	to := s.home(res.Session.Role)
	if res.SetupOnly {
		to = settingsPath
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *server) handleCodeForm(w http.ResponseWriter, r *http.Request) {
	if cookie(r, pendingCookie) == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	bound := s.loginBinding(w, r, false)
	s.render(w, r, http.StatusOK, templates.LoginCodePage("", s.csrfToken(purposeLogin, bound)))
}

func (s *server) handleCode(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, nil) {
		return
	}
	bound := cookie(r, loginCookie)
	if !s.csrfOK(r, purposeLogin, bound) {
		bound = s.loginBinding(w, r, true)
		s.render(w, r, http.StatusForbidden, templates.LoginCodePage(msgLoginExpired, s.csrfToken(purposeLogin, bound)))
		return
	}
	pending := cookie(r, pendingCookie)
	if pending == "" {
		s.render(w, r, http.StatusGone, templates.LoginPage(desk.ErrLoginExpired.Error(), s.csrfToken(purposeLogin, bound)))
		return
	}
	code := r.PostForm.Get("code")
	if len(code) > maxCodeInput {
		s.render(w, r, http.StatusBadRequest, templates.LoginCodePage(desk.ErrBadCode.Error(), s.csrfToken(purposeLogin, bound)))
		return
	}
	res, err := s.be.CompleteLogin(desk.Caller{IP: clientIP(r), Via: "web"}, pending, code)
	switch {
	case err == nil:
		s.loggedInAs(w, r, res)
	case errors.Is(err, desk.ErrBadCode), errors.Is(err, desk.ErrLoginRateLimited):
		s.render(w, r, kindStatus(desk.KindOf(err)), templates.LoginCodePage(desk.PublicOf(err), s.csrfToken(purposeLogin, bound)))
	default:
		// Expired, locked or broken: start again from the password.
		s.setCookie(w, pendingCookie, "", "/login", time.Time{})
		status, msg := loginFailure(err)
		if errors.Is(err, desk.ErrLoginExpired) {
			status, msg = http.StatusGone, desk.ErrLoginExpired.Error()
		}
		s.render(w, r, status, templates.LoginPage(msg, s.csrfToken(purposeLogin, bound)))
	}
}
