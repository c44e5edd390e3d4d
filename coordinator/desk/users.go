package desk

import (
	"errors"
	"strings"

	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Account administration (M5): listing, disabling, enabling, deleting,
// resetting passwords, roles and second factors, ending sessions and
// lifting lockouts. Each is for a caller whose role manages users
// (policy.ActionManageUsers), on an account whose companies are all in the
// caller's scope, and each is audited with the actor and the account.

// Causes the desk names for account administration; test with errors.Is.
var (
	ErrSetupFirst = errors.New("set up two-factor authentication on the Settings page first")
	ErrSelf       = errors.New("an admin cannot disable, delete or demote their own account here")
	ErrAPIKeyOnly = errors.New("an API key cannot do this; log in")
)

// Users lists every account the caller may manage.
func (d *Desk) Users(c Caller) ([]identity.UserInfo, error) {
	if err := d.allow(c, policy.ActionManageUsers, c.event("account.list", "")); err != nil {
		return nil, err
	}
	all, err := d.cfg.Accounts.List()
	if err != nil {
		return nil, internal("the user list could not be read", err)
	}
	out := all[:0]
	for _, u := range all {
		if c.manages(u.Companies) {
			out = append(out, u)
		}
	}
	return out, nil
}

// manages decides whether every company of an account is in the caller's
// scope (an account of every company needs a caller of every company).
func (c Caller) manages(companies policy.Scope) bool {
	if c.Role == policy.RoleAdmin {
		return true
	}
	if len(companies) == 0 {
		return len(c.Scope) == 0
	}
	for _, co := range companies {
		if !c.sees(co) {
			return false
		}
	}
	return true
}

// account checks that c may manage name and returns it; an account out of
// scope reads as absent.
func (d *Desk) account(c Caller, name string, ev wire.AuditEvent) (identity.User, error) {
	if err := d.allow(c, policy.ActionManageUsers, ev); err != nil {
		return identity.User{}, err
	}
	if c.APIKey != "" {
		return identity.User{}, d.refuse(ev, newErr(Forbidden, ErrAPIKeyOnly.Error(), ErrAPIKeyOnly))
	}
	u, err := d.cfg.Accounts.Get(name)
	if errors.Is(err, identity.ErrNoUser) || err == nil && !c.manages(u.Companies) {
		return identity.User{}, d.refuse(ev, newErr(NotFound, "No such user.", identity.ErrNoUser))
	}
	if err != nil {
		return identity.User{}, internal("the user could not be read", err)
	}
	return u, nil
}

// accountErr maps an identity refusal to the desk's, audited.
func (d *Desk) accountErr(ev wire.AuditEvent, err error) error {
	var e *Error
	switch {
	case errors.Is(err, identity.ErrNoUser):
		e = newErr(NotFound, "No such user.", err)
	case errors.Is(err, identity.ErrLastAdmin):
		e = newErr(Conflict, "The last enabled admin cannot be disabled, deleted or demoted.", err)
	case errors.Is(err, identity.ErrWeakPassword):
		e = newErr(Invalid, "The password is too short (at least 10 characters).", err)
	case errors.Is(err, identity.ErrExists):
		e = newErr(Conflict, "A user with that name already exists.", err)
	case errors.Is(err, identity.ErrTOTPEnabled):
		e = newErr(Conflict, "Two-factor authentication is already on.", err)
	case errors.Is(err, identity.ErrTOTPNotEnabled):
		e = newErr(Conflict, "Two-factor authentication is not on.", err)
	case errors.Is(err, identity.ErrNoTOTPSetup):
		e = newErr(Expired, "The setup expired; start again.", err)
	case errors.Is(err, identity.ErrLocked):
		e = newErr(Locked, ErrAccountLocked.Error(), err)
	case errors.Is(err, identity.ErrBadCode): // (may wrap ErrBadCredentials)
		e = newErr(Invalid, "Wrong or used code.", err)
	case errors.Is(err, identity.ErrBadCredentials):
		e = newErr(Unauthenticated, "Wrong password.", err)
	case errors.Is(err, identity.ErrNoSealKey):
		e = newErr(Unavailable, "Two-factor authentication is not available on this coordinator.", err)
	default:
		d.log.Error("account administration", "action", ev.Action, "err", err)
		e = internal("That did not work; try again.", err)
	}
	return d.refuse(ev, e)
}

// notSelf refuses an action that would lock the caller out of their own
// account (the last-admin guard covers the rest).
func (d *Desk) notSelf(c Caller, name string, ev wire.AuditEvent) error {
	if c.User == name {
		return d.refuse(ev, newErr(Conflict, ErrSelf.Error(), ErrSelf))
	}
	return nil
}

// DisableUser stops an account at once: no login, its sessions and API
// keys refused from the next request, its overlay nodes deleted, and its
// live sessions ended (d.revoked).
func (d *Desk) DisableUser(c Caller, name string) error {
	ev := c.event("account.disable", name)
	if _, err := d.account(c, name, ev); err != nil {
		return err
	}
	if err := d.notSelf(c, name, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.Disable(name); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	d.revoked(name, identity.RevokeDisabled)
	return nil
}

// EnableUser lets a disabled account log in again.
func (d *Desk) EnableUser(c Caller, name string) error {
	ev := c.event("account.enable", name)
	if _, err := d.account(c, name, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.Enable(name); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	return nil
}

// DeleteUser removes an account with its sessions, API keys and filters,
// and revokes it as DisableUser does.
func (d *Desk) DeleteUser(c Caller, name string) error {
	ev := c.event("account.delete", name)
	if _, err := d.account(c, name, ev); err != nil {
		return err
	}
	if err := d.notSelf(c, name, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.Delete(name); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	d.revoked(name, identity.RevokeDeleted)
	return nil
}

// SetUserPassword is an admin's reset of another account's password; it
// ends every session of that account.
func (d *Desk) SetUserPassword(c Caller, name, password string) error {
	ev := c.event("account.password.set", name)
	if _, err := d.account(c, name, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.SetPassword(name, password, ""); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	d.revoked(name, identity.RevokePassword)
	return nil
}

// SetUserRole changes an account's role and companies. The caller cannot
// demote themselves; the companies must be in the caller's scope.
func (d *Desk) SetUserRole(c Caller, name string, role policy.Role, companies policy.Scope) error {
	ev := c.event("account.role.set", name)
	ev.Fields["role"], ev.Fields["companies"] = clip(string(role)), clip(strings.Join(companies, ","))
	if _, err := d.account(c, name, ev); err != nil {
		return err
	}
	if !role.Valid() {
		return d.refuse(ev, newErr(Invalid, "Unknown role.", nil))
	}
	if c.User == name && role != c.Role {
		return d.refuse(ev, newErr(Conflict, ErrSelf.Error(), ErrSelf))
	}
	if !c.manages(companies) {
		return d.refuse(ev, newErr(Forbidden, "You do not work for every one of those companies.", ErrOutOfScope))
	}
	if err := d.cfg.Accounts.SetRole(name, role, companies); err != nil {
		if errors.Is(err, identity.ErrLastAdmin) || errors.Is(err, identity.ErrNoUser) {
			return d.accountErr(ev, err)
		}
		return d.refuse(ev, newErr(Invalid, strings.TrimPrefix(err.Error(), "identity.SetRole: "), err))
	}
	d.ok(ev)
	d.revoked(name, identity.RevokeRoleChanged)
	return nil
}

// EndUserSessions logs an account out everywhere (its API keys stay).
func (d *Desk) EndUserSessions(c Caller, name string) error {
	ev := c.event("account.sessions.end", name)
	if _, err := d.account(c, name, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.EndSessions(name); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	d.revoked(name, identity.RevokeSessionsEnded)
	return nil
}

// UnlockUser lifts an account's lockout.
func (d *Desk) UnlockUser(c Caller, name string) error {
	ev := c.event("account.unlock", name)
	if _, err := d.account(c, name, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.Unlock(name); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	return nil
}

// ResetUser2FA turns off an account's second factor without a code (a
// technician who lost their authenticator); where the shop requires it,
// the account must set it up again at its next login.
func (d *Desk) ResetUser2FA(c Caller, name string) error {
	ev := c.event("account.totp.reset", name)
	if _, err := d.account(c, name, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.ResetTOTP(name); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	return nil
}
