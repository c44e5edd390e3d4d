package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/policy"
	templates "github.com/peerdesk/peerdesk/templates/dashboard"
	"github.com/peerdesk/peerdesk/wire"
)

// Accounts is what the Users, Settings and device administration pages
// need of the desk (*desk.Desk implements it); nil leaves them out. Every
// method decides for its caller and audits.
type Accounts interface {
	Users(c desk.Caller) ([]identity.UserInfo, error)
	CreateUser(c desk.Caller, req wire.LocalUserRequest) error
	DisableUser(c desk.Caller, name string) error
	EnableUser(c desk.Caller, name string) error
	DeleteUser(c desk.Caller, name string) error
	SetUserPassword(c desk.Caller, name, password string) error
	SetUserRole(c desk.Caller, name string, role policy.Role, companies policy.Scope) error
	EndUserSessions(c desk.Caller, name string) error
	UnlockUser(c desk.Caller, name string) error
	ResetUser2FA(c desk.Caller, name string) error

	AdminDevices(c desk.Caller) ([]wire.AdminDevice, error)
	RemoveDevice(c desk.Caller, id string) error
	ResetDevice(c desk.Caller, id string) error
	MoveDevice(c desk.Caller, id, company, site string) error

	Account(c desk.Caller) (identity.UserInfo, error)
	ChangePassword(c desk.Caller, old, password, keep string) error
	BeginTOTP(c desk.Caller) (identity.TOTPSetup, error)
	ConfirmTOTP(c desk.Caller, code string) ([]string, error)
	DisableTOTP(c desk.Caller, code string) error
	AccountRules(c desk.Caller) (policy.AccountRules, error)
	SetAccountRules(c desk.Caller, r policy.AccountRules) error
	ConsentRules(c desk.Caller) (policy.ConsentRules, bool, error)
	SetConsentRules(c desk.Caller, r policy.ConsentRules) error
	ClearConsentRules(c desk.Caller) error
	CreateAPIKey(c desk.Caller, name string, role policy.Role, companies policy.Scope, expires time.Time) (string, identity.APIKey, error)
	APIKeys(c desk.Caller) ([]identity.APIKey, error)
	RevokeAPIKey(c desk.Caller, id string) error
}

const settingsPath = "/settings"

// settingsPolicy is the Settings page's Content-Security-Policy: the base
// one, and images from this server (the QR code).
const settingsPolicy = basePolicy // it allows img-src 'self'

// totpSetups holds the QR code of each session's TOTP setup in progress,
// keyed by the hash of the session token, so the image route serves the
// same secret the page shows; each lives as long as the setup.
type totpSetups struct {
	mu sync.Mutex
	m  map[string]totpPNG
}

type totpPNG struct {
	png     []byte
	expires time.Time
}

const (
	totpSetupTTL  = 10 * time.Minute
	maxTOTPSetups = 1000
)

func sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (t *totpSetups) put(token string, png []byte, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.m {
		if !now.Before(v.expires) {
			delete(t.m, k)
		}
	}
	if len(t.m) >= maxTOTPSetups {
		return // the page still shows the secret as text
	}
	t.m[sessionKey(token)] = totpPNG{png: png, expires: now.Add(totpSetupTTL)}
}

func (t *totpSetups) get(token string, now time.Time) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[sessionKey(token)]
	if !ok || !now.Before(v.expires) {
		return nil, false
	}
	return v.png, true
}

func (t *totpSetups) drop(token string) {
	t.mu.Lock()
	delete(t.m, sessionKey(token))
	t.mu.Unlock()
}

// settingsForm is what the Settings page shows besides the account.
type settingsForm struct {
	err, notice   string
	setup         *templates.TOTPSetupView
	recoveryCodes []string
	newKey        string
}

func (s *server) handleSettings(w http.ResponseWriter, r *http.Request, sess session) {
	s.renderSettings(w, r, sess, http.StatusOK, s.flashFor(sess, settingsPath).settings)
}

func (s *server) renderSettings(w http.ResponseWriter, r *http.Request, sess session, status int, f settingsForm) {
	w.Header().Set("Content-Security-Policy", settingsPolicy)
	sess.nav.Active = templates.TabSettings
	me, err := s.accounts.Account(sess.caller)
	if err != nil {
		status, msg := s.failure("reading the account", err)
		s.errorPage(w, r, status, &sess.nav, "Settings unavailable", msg)
		return
	}
	v := templates.SettingsView{Nav: sess.nav, CSRF: sess.nav.CSRF, TOTP: me.TOTP, RecoveryLeft: me.RecoveryCodesLeft,
		SetupRequired: sess.caller.SetupOnly, Setup: f.setup, RecoveryCodes: f.recoveryCodes, NewKey: f.newKey,
		Error: f.err, Notice: f.notice}
	if !sess.caller.SetupOnly {
		keys, err := s.accounts.APIKeys(sess.caller)
		if err != nil {
			s.log.Error("web: listing API keys", "err", err)
		}
		for _, k := range keys {
			v.APIKeys = append(v.APIKeys, templates.APIKeyRow{ID: k.ID, Name: k.Name, Owner: k.Owner, Role: string(k.Role),
				Companies: strings.Join(k.Companies, ","), Expires: k.Expires})
		}
		for _, role := range policy.Roles {
			if policy.RoleAtMost(role, sess.Role) {
				v.Roles = append(v.Roles, string(role))
			}
		}
	}
	s.render(w, r, status, templates.SettingsPage(v))
}

// settingsDone ends an action of the Settings page: its refusal on the
// page, or the browser sent back to it, where f waits.
func (s *server) settingsDone(w http.ResponseWriter, r *http.Request, sess session, op string, err error, f settingsForm) {
	if err != nil {
		status, msg := s.failure(op, err)
		f.err = msg
		s.renderSettings(w, r, sess, status, f)
		return
	}
	s.done(w, r, sess, settingsPath, flash{settings: f})
}

// settingsRefused shows the Settings page with a form's input refused.
func (s *server) settingsRefused(w http.ResponseWriter, r *http.Request, sess session, msg string) {
	s.renderSettings(w, r, sess, http.StatusBadRequest, settingsForm{err: msg})
}

func (s *server) handleChangePassword(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	old, pw := r.PostForm.Get("old"), r.PostForm.Get("password")
	if len(old) > wire.MaxPasswordLen || len(pw) > wire.MaxPasswordLen {
		s.settingsRefused(w, r, sess, msgLoginTooLong)
		return
	}
	err := s.accounts.ChangePassword(sess.caller, old, pw, sess.token)
	s.settingsDone(w, r, sess, "changing a password", err, settingsForm{notice: "Password changed; your other sessions were ended."})
}

func (s *server) handleTOTPBegin(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	setup, err := s.accounts.BeginTOTP(sess.caller)
	if err != nil {
		s.settingsDone(w, r, sess, "starting TOTP", err, settingsForm{})
		return
	}
	s.totp.put(sess.token, setup.PNG, s.now())
	s.settingsDone(w, r, sess, "", nil, settingsForm{setup: &templates.TOTPSetupView{Secret: setup.Secret}})
}

// handleTOTPImage serves the QR code of the session's setup in progress:
// a PNG, never cached.
func (s *server) handleTOTPImage(w http.ResponseWriter, r *http.Request, sess session) {
	png, ok := s.totp.get(sess.token, s.now())
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png) //nolint:errcheck // client gone
}

func (s *server) handleTOTPConfirm(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	codes, err := s.accounts.ConfirmTOTP(sess.caller, clipCode(r.PostForm.Get("code")))
	if err != nil {
		s.settingsDone(w, r, sess, "confirming TOTP", err, settingsForm{})
		return
	}
	s.totp.drop(sess.token)
	s.settingsDone(w, r, sess, "", nil, settingsForm{recoveryCodes: codes})
}

func (s *server) handleTOTPDisable(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	err := s.accounts.DisableTOTP(sess.caller, clipCode(r.PostForm.Get("code")))
	s.settingsDone(w, r, sess, "turning TOTP off", err, settingsForm{notice: "Two-factor authentication is off."})
}

func clipCode(c string) string {
	if len(c) > maxCodeInput {
		return c[:maxCodeInput]
	}
	return c
}

// companiesField reads a comma-separated company list.
func companiesField(v string) policy.Scope {
	var out policy.Scope
	for _, c := range strings.Split(v, ",") {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func (s *server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	days, err := strconv.Atoi(r.PostForm.Get("days"))
	if err != nil || days < 1 || days > 365 {
		s.settingsRefused(w, r, sess, "Choose a lifetime from the list.")
		return
	}
	companies := companiesField(r.PostForm.Get("companies"))
	if len(companies) == 0 {
		companies = sess.Companies
	}
	key, _, err := s.accounts.CreateAPIKey(sess.caller, r.PostForm.Get("name"), policy.Role(r.PostForm.Get("role")), companies,
		s.now().Add(time.Duration(days)*24*time.Hour))
	s.settingsDone(w, r, sess, "creating an API key", err, settingsForm{newKey: key})
}

func (s *server) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	err := s.accounts.RevokeAPIKey(sess.caller, r.PathValue("id"))
	s.settingsDone(w, r, sess, "revoking an API key", err, settingsForm{notice: "API key revoked."})
}

func (s *server) handleSetRules(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.checkCSRF(w, r, sess) {
		return
	}
	err := s.accounts.SetAccountRules(sess.caller, policy.AccountRules{TOTPRequiredForAdmins: r.PostForm.Get("totp_required") == "on"})
	if errors.Is(err, desk.ErrForbidden) {
		status, msg := s.failure("account rules", err)
		s.errorPage(w, r, status, &sess.nav, "Not allowed", msg)
		return
	}
	s.usersDone(w, r, sess, "setting account rules", err, "Account rules saved.")
}
