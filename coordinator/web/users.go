package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/wire"
)

// The admins' Users page and device administration (M5). The desk
// decides who may; a refused role gets the error page.

func (s *server) handleUsers(w http.ResponseWriter, r *http.Request, sess session) {
	s.renderUsers(w, r, sess, http.StatusOK, "", s.flashFor(sess, "/users").notice)
}

func (s *server) renderUsers(w http.ResponseWriter, r *http.Request, sess session, status int, errMsg, notice string) {
	s.renderUsersWith(w, r, sess, status, errMsg, notice, nil)
}

// renderUsersWith renders the Users page; consent, if not nil, is the
// consent rules form as sent (refused), else the stored rules are shown.
func (s *server) renderUsersWith(w http.ResponseWriter, r *http.Request, sess session, status int, errMsg, notice string, consent *templates.ConsentRulesForm) {
	sess.nav.Active = templates.TabUsers
	users, err := s.accounts.Users(sess.caller)
	if err != nil {
		status, msg := s.failure("listing users", err)
		s.errorPage(w, r, status, &sess.nav, "Users unavailable", msg)
		return
	}
	rules, err := s.accounts.AccountRules(sess.caller)
	if err != nil {
		s.log.Error("web: reading account rules", "err", err)
	}
	v := templates.UsersView{Nav: sess.nav, CSRF: sess.nav.CSRF, TOTPRequired: rules.TOTPRequiredForAdmins, Error: errMsg, Notice: notice}
	if consent != nil {
		v.Consent = *consent
	} else if cr, set, err := s.accounts.ConsentRules(sess.caller); err == nil {
		v.Consent = consentForm(cr, set)
	} else {
		if !errors.Is(err, desk.ErrNoConsentRules) {
			s.log.Error("web: reading consent rules", "err", err)
		}
		v.Consent = consentForm(policy.ConsentRules{}, false)
	}
	for _, role := range policy.Roles {
		v.Roles = append(v.Roles, string(role))
	}
	for _, u := range users {
		v.Users = append(v.Users, templates.UserRow{Name: u.Name, Role: string(u.Role), Companies: strings.Join(u.Companies, ","),
			TOTP: u.TOTP, Disabled: u.Disabled, Locked: s.now().Before(u.LockedUntil), Self: u.Name == sess.User})
	}
	s.render(w, r, status, templates.UsersPage(v))
}

// usersDone ends an action of the Users page: its refusal on the page, or
// the browser sent back to it with the notice.
func (s *server) usersDone(w http.ResponseWriter, r *http.Request, sess session, op string, err error, notice string) {
	if err != nil {
		status, msg := s.failure(op, err)
		if errors.Is(err, desk.ErrForbidden) {
			s.errorPage(w, r, status, &sess.nav, "Not allowed", msg)
			return
		}
		s.renderUsers(w, r, sess, status, msg, "")
		return
	}
	s.done(w, r, sess, "/users", flash{notice: notice})
}

func (s *server) handleAddUser(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	name, pw := r.PostForm.Get("name"), r.PostForm.Get("password")
	if len(name) > wire.MaxNameLen || len(pw) > wire.MaxPasswordLen {
		s.renderUsers(w, r, sess, http.StatusBadRequest, "The user name or password is too long.", "")
		return
	}
	err := s.accounts.CreateUser(sess.caller, wire.LocalUserRequest{Name: name, Password: pw, Role: r.PostForm.Get("role"),
		Companies: companiesField(r.PostForm.Get("companies"))})
	s.usersDone(w, r, sess, "adding a user", err, "User "+name+" added.")
}

// handleUserAction is POST /users/{name}/{op}.
func (s *server) handleUserAction(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	name, op := r.PathValue("name"), r.PathValue("op")
	c := sess.caller
	var err error
	switch op {
	case wire.UserDisable:
		err = s.accounts.DisableUser(c, name)
	case wire.UserEnable:
		err = s.accounts.EnableUser(c, name)
	case wire.UserDelete:
		err = s.accounts.DeleteUser(c, name)
	case "password":
		pw := r.PostForm.Get("password")
		if len(pw) > wire.MaxPasswordLen {
			pw = ""
		}
		err = s.accounts.SetUserPassword(c, name, pw)
	case wire.UserRole:
		err = s.accounts.SetUserRole(c, name, policy.Role(r.PostForm.Get("role")), companiesField(r.PostForm.Get("companies")))
	case wire.UserEndSessions:
		err = s.accounts.EndUserSessions(c, name)
	case wire.UserUnlock:
		err = s.accounts.UnlockUser(c, name)
	case wire.UserReset2FA:
		err = s.accounts.ResetUser2FA(c, name)
	default:
		s.errorPage(w, r, http.StatusNotFound, &sess.nav, "Not found", "No such action.")
		return
	}
	s.usersDone(w, r, sess, "user "+op, err, "Done: "+op+" "+name+".")
}

func (s *server) handleDevicesAdmin(w http.ResponseWriter, r *http.Request, sess session) {
	s.renderDevicesAdmin(w, r, sess, http.StatusOK, "", s.flashFor(sess, devicesPath).notice)
}

const devicesPath = "/machines/admin"

func (s *server) renderDevicesAdmin(w http.ResponseWriter, r *http.Request, sess session, status int, errMsg, notice string) {
	sess.nav.Active = templates.TabDevices
	devs, err := s.accounts.AdminDevices(sess.caller)
	if err != nil {
		status, msg := s.failure("listing devices", err)
		s.errorPage(w, r, status, &sess.nav, "Devices unavailable", msg)
		return
	}
	v := templates.DevicesAdminView{Nav: sess.nav, CSRF: sess.nav.CSRF, Error: errMsg, Notice: notice}
	for _, d := range devs {
		v.Devices = append(v.Devices, templates.AdminDeviceRow{ID: d.ID, Hostname: d.Hostname, OS: d.OS, Company: d.Company,
			Site: d.Site, Removed: !d.Removed.IsZero(), Online: d.Online})
	}
	s.render(w, r, status, templates.DevicesAdminPage(v))
}

// handleDeviceAction is POST /machines/admin/{id}/{op}.
func (s *server) handleDeviceAction(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	id, op := r.PathValue("id"), r.PathValue("op")
	var err error
	switch op {
	case wire.DeviceRemove:
		err = s.accounts.RemoveDevice(sess.caller, id)
	case wire.DeviceReset:
		err = s.accounts.ResetDevice(sess.caller, id)
	case wire.DeviceMove:
		err = s.accounts.MoveDevice(sess.caller, id, r.PostForm.Get("company"), r.PostForm.Get("site"))
	default:
		s.errorPage(w, r, http.StatusNotFound, &sess.nav, "Not found", "No such action.")
		return
	}
	if err != nil {
		status, msg := s.failure("device "+op, err)
		if k := desk.KindOf(err); k == desk.Forbidden || k == desk.NotFound {
			s.errorPage(w, r, status, &sess.nav, "Not done", msg)
			return
		}
		s.renderDevicesAdmin(w, r, sess, status, msg, "")
		return
	}
	s.done(w, r, sess, devicesPath, flash{notice: "Done: " + op + " " + id + "."})
}
