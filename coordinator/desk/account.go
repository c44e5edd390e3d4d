package desk

import (
	"errors"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/ratelimit"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Overlay key lifetimes: how long a minted pre-auth key may be used.
const (
	AgentKeyTTL   = time.Hour        // time an enrolling agent has to join
	TechKeyTTL    = 12 * time.Hour   // a viewer joins within its login session
	SupportKeyTTL = 15 * time.Minute // a one-time agent joins at once
)

// Login checks a technician's password for c (whose IP and Via are set;
// its User is ignored) — subject to the per-address rate limit and the
// account lockout — starts a session and audits the attempt either way.
func (d *Desk) Login(c Caller, user, password string) (string, identity.Session, error) {
	ev := c.event("technician.login", "")
	ev.Actor = clip(user)
	if !d.loginIP.Allow(ratelimit.RemoteKey(c.IP)) {
		ev.Actor = "ip:" + c.IP
		return "", identity.Session{}, d.refuse(ev, newErr(RateLimited, ErrLoginRateLimited.Error(), ErrLoginRateLimited))
	}
	u, err := d.cfg.Accounts.Authenticate(user, password)
	switch {
	case errors.Is(err, identity.ErrLocked):
		return "", identity.Session{}, d.refuse(ev, newErr(Locked, ErrAccountLocked.Error(), ErrAccountLocked))
	case errors.Is(err, identity.ErrBadCredentials):
		return "", identity.Session{}, d.refuse(ev, newErr(Unauthenticated, ErrBadLogin.Error(), ErrBadLogin))
	case err != nil:
		d.log.Error("login", "err", err)
		return "", identity.Session{}, internal("login failed", err)
	}
	token, sess, err := d.cfg.Accounts.NewSession(u)
	if err != nil {
		d.log.Error("new session", "err", err)
		return "", identity.Session{}, internal("login failed", err)
	}
	ev.Actor = u.Name
	d.ok(ev)
	return token, sess, nil
}

// TechnicianKey mints the overlay key a logged-in technician's viewer
// joins with, and records it as theirs (grants go only to nodes that
// joined with their own key).
func (d *Desk) TechnicianKey(c Caller) (overlay.AuthKey, error) {
	key, err := d.cfg.Overlay.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagTech}, Ephemeral: true, TTL: TechKeyTTL})
	if err == nil {
		err = d.cfg.Accounts.RecordOverlayKey(key.ID, c.User)
	}
	if err != nil {
		d.log.Error("minting a technician overlay key", "err", err)
		return overlay.AuthKey{}, internal("the coordinator could not create an overlay key", err)
	}
	return key, nil
}

// Session resolves a session token.
func (d *Desk) Session(token string) (identity.Session, error) {
	s, err := d.cfg.Accounts.Session(token)
	if err != nil {
		return identity.Session{}, newErr(Unauthenticated, "Session expired or unknown; log in again.", err)
	}
	return s, nil
}

// Logout ends the session token of c and audits it.
func (d *Desk) Logout(c Caller, token string) error {
	sess, err := d.cfg.Accounts.Session(token)
	if err != nil {
		return newErr(Unauthenticated, "Session expired or unknown.", err)
	}
	if err := d.cfg.Accounts.EndSession(token); err != nil {
		return internal("logout failed", err)
	}
	ev := c.event("technician.logout", "")
	ev.Actor = sess.User
	d.ok(ev)
	d.notify() // live boards notice the session is gone
	return nil
}

// CreateToken mints an enrollment token carrying the CA pin, for a caller
// who may, and audits it. The token files the device that enrolls with it
// under o.Company and o.Site (M6), which must be in the caller's scope;
// o.CreatedBy is the caller.
func (d *Desk) CreateToken(c Caller, o enroll.TokenOptions) (wire.TokenResponse, error) {
	ev := c.event("enrollment-token.create", "")
	ev.Fields["company"], ev.Fields["site"] = clip(o.Company), clip(o.Site)
	if err := d.allow(c, policy.ActionCreateEnrollToken, ev); err != nil {
		return wire.TokenResponse{}, err
	}
	if o.Company != "" && !policy.InScope(c.Role, c.Scope, o.Company) {
		return wire.TokenResponse{}, d.refuse(ev, newErr(Forbidden, "you do not work for that company", nil))
	}
	o.CreatedBy = c.User
	et, t, err := d.cfg.Registry.NewToken(o)
	if err != nil {
		return wire.TokenResponse{}, d.refuse(ev, newErr(Invalid, err.Error(), err))
	}
	et.Pin = d.cfg.Pin
	ev.Target = "token:" + t.ID
	ev.Fields["expires"] = t.Expires.Format(time.RFC3339)
	d.ok(ev)
	return wire.TokenResponse{Token: et.String(), Expires: t.Expires}, nil
}

// Tokens lists enrollment tokens (their secrets' hashes included; the
// caller's transport shows what it chooses) for a caller who may make them.
func (d *Desk) Tokens(c Caller) ([]enroll.Token, error) {
	if err := d.allow(c, policy.ActionCreateEnrollToken, c.event("enrollment-token.list", "")); err != nil {
		return nil, err
	}
	list, err := d.cfg.Registry.Tokens()
	if err != nil {
		return nil, internal("the token list could not be read", err)
	}
	return list, nil
}

// SaveFilter keeps a named Access-view filter of the caller's own.
func (d *Desk) SaveFilter(c Caller, f identity.SavedFilter) error {
	ev := c.event("access.filter.save", f.Name)
	if err := d.allow(c, policy.ActionSaveFilter, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.SaveFilter(c.User, f); err != nil {
		return d.refuse(ev, newErr(Invalid, strings.TrimPrefix(err.Error(), "identity: "), err))
	}
	d.ok(ev)
	return nil
}

// Filters lists the caller's saved filters.
func (d *Desk) Filters(c Caller) ([]identity.SavedFilter, error) {
	fs, err := d.cfg.Accounts.Filters(c.User)
	if err != nil {
		return nil, internal("saved filters could not be read", err)
	}
	return fs, nil
}

// CreateUser makes an account; only the local caller (the administration
// socket) may, or an account whose role manages users.
func (d *Desk) CreateUser(c Caller, req wire.LocalUserRequest) error {
	ev := c.event("account.create", req.Name)
	ev.Fields["role"], ev.Fields["companies"] = clip(req.Role), clip(strings.Join(req.Companies, ","))
	if err := d.allow(c, policy.ActionManageUsers, ev); err != nil {
		return err
	}
	err := d.cfg.Accounts.CreateScoped(req.Name, req.Password, policy.Role(req.Role), req.Companies)
	switch {
	case errors.Is(err, identity.ErrExists):
		ev.Reason = "exists"
		return d.refuse(ev, newErr(Conflict, "a user with that name already exists", err))
	case err != nil:
		return d.refuse(ev, newErr(Invalid, err.Error(), err))
	}
	d.ok(ev)
	return nil
}

// Status describes the running coordinator, for the local caller.
func (d *Desk) Status(c Caller) (wire.LocalStatus, error) {
	if !c.may(policy.ActionManageUsers) {
		return wire.LocalStatus{}, newErr(Forbidden, "Your role may not do this.", policy.ErrForbidden)
	}
	users, err := d.cfg.Accounts.Count()
	if err != nil {
		return wire.LocalStatus{}, internal(err.Error(), err)
	}
	devs, err := d.cfg.Registry.Devices()
	if err != nil {
		return wire.LocalStatus{}, internal(err.Error(), err)
	}
	return wire.LocalStatus{URL: d.cfg.ControlURL, Pin: d.cfg.Pin, Users: users, Devices: len(devs)}, nil
}

// AuditRecords lists audit records matching q, for the local caller.
func (d *Desk) AuditRecords(c Caller, q audit.Query) ([]audit.Record, error) {
	if !c.may(policy.ActionManageUsers) {
		return nil, newErr(Forbidden, "Your role may not do this.", policy.ErrForbidden)
	}
	recs, err := d.cfg.Audit.List(q)
	if err != nil {
		return nil, internal(err.Error(), err)
	}
	return recs, nil
}
