package desk

import (
	"errors"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// A technician's own settings (I1): their password, their second factor
// (TOTP with recovery codes) and their API keys; and the shop's account
// rules, for admins. Each works for a SetupOnly caller too (that is how
// such a caller sets up TOTP), but not through an API key; each is
// audited.

// own refuses a caller authenticated by an API key: settings need a login.
func (d *Desk) own(c Caller, ev wire.AuditEvent) error {
	if c.APIKey != "" {
		return d.refuse(ev, newErr(Forbidden, ErrAPIKeyOnly.Error(), ErrAPIKeyOnly))
	}
	if c.User == "" || c.User == Local().User && c.Via == "local" {
		return d.refuse(ev, newErr(Forbidden, "This needs a technician's login.", nil))
	}
	return nil
}

// Account is the caller's own account as listed.
func (d *Desk) Account(c Caller) (identity.UserInfo, error) {
	u, err := d.cfg.Accounts.Get(c.User)
	if err != nil {
		return identity.UserInfo{}, newErr(Unauthenticated, "Session expired or unknown; log in again.", err)
	}
	return identity.UserInfo{Name: u.Name, Role: u.Role, Companies: u.Companies, Created: u.Created, Disabled: u.Disabled,
		TOTP: u.TOTP.Enabled, RecoveryCodesLeft: len(u.TOTP.Recovery), LockedUntil: u.LockedUntil}, nil
}

// ChangePassword is the caller's own change: old must be their password
// (a wrong one counts toward the lockout). Every other session of theirs
// ends; keep (the session token the change came with) stays.
func (d *Desk) ChangePassword(c Caller, old, password, keep string) error {
	ev := c.event("account.password.change", c.User)
	if err := d.own(c, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.ChangePassword(c.User, old, password, keep); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	d.revoked(c.User, identity.RevokePassword)
	return nil
}

// BeginTOTP starts setting up the caller's second factor: the secret (as
// text and as a QR code) to put in an authenticator app, kept pending
// until ConfirmTOTP.
func (d *Desk) BeginTOTP(c Caller) (identity.TOTPSetup, error) {
	ev := c.event("account.totp.begin", c.User)
	if err := d.own(c, ev); err != nil {
		return identity.TOTPSetup{}, err
	}
	setup, err := d.cfg.Accounts.BeginTOTP(c.User)
	if err != nil {
		return identity.TOTPSetup{}, d.accountErr(ev, err)
	}
	d.ok(ev)
	return setup, nil
}

// ConfirmTOTP turns the caller's second factor on once code proves the
// app has the secret; it returns the recovery codes, shown once.
func (d *Desk) ConfirmTOTP(c Caller, code string) ([]string, error) {
	ev := c.event("account.totp.enable", c.User)
	if err := d.own(c, ev); err != nil {
		return nil, err
	}
	codes, err := d.cfg.Accounts.ConfirmTOTP(c.User, code)
	if err != nil {
		return nil, d.accountErr(ev, err)
	}
	d.ok(ev)
	return codes, nil
}

// DisableTOTP turns the caller's second factor off; they prove it with a
// code or a recovery code. Where the shop requires it, the caller's
// sessions may then only set it up again.
func (d *Desk) DisableTOTP(c Caller, code string) error {
	ev := c.event("account.totp.disable", c.User)
	if err := d.own(c, ev); err != nil {
		return err
	}
	if err := d.cfg.Accounts.DisableTOTP(c.User, code); err != nil {
		return d.accountErr(ev, err)
	}
	d.ok(ev)
	return nil
}

// AccountRules are the shop's account settings, for an admin.
func (d *Desk) AccountRules(c Caller) (policy.AccountRules, error) {
	if err := d.allow(c, policy.ActionManageUsers, c.event("account.rules.read", "")); err != nil {
		return policy.AccountRules{}, err
	}
	r, err := d.cfg.Accounts.AccountRules()
	if err != nil {
		return policy.AccountRules{}, internal("the account settings could not be read", err)
	}
	return r, nil
}

// SetAccountRules changes the shop's account settings (e.g. TOTP required
// for admins), for an admin; they apply at every session's next request.
// An admin cannot require TOTP of admins without having it on themselves.
func (d *Desk) SetAccountRules(c Caller, r policy.AccountRules) error {
	ev := c.event("account.rules.set", "")
	ev.Fields["totp_required_for_admins"] = boolString(r.TOTPRequiredForAdmins)
	if err := d.allow(c, policy.ActionManageUsers, ev); err != nil {
		return err
	}
	if c.APIKey != "" {
		return d.refuse(ev, newErr(Forbidden, ErrAPIKeyOnly.Error(), ErrAPIKeyOnly))
	}
	if r.TOTPRequiredForAdmins && c.Via != "local" {
		if me, err := d.Account(c); err == nil && !me.TOTP {
			return d.refuse(ev, newErr(Conflict, "Turn on two-factor authentication for your own account first.", nil))
		}
	}
	if err := d.cfg.Accounts.SetAccountRules(r); err != nil {
		return internal("the account settings could not be saved", err)
	}
	d.ok(ev)
	return nil
}

// CreateAPIKey makes an API key of the caller's own, acting with role over
// companies until expires (zero: the default), no more powerful than the
// caller; the key is returned once.
func (d *Desk) CreateAPIKey(c Caller, name string, role policy.Role, companies policy.Scope, expires time.Time) (string, identity.APIKey, error) {
	ev := c.event("apikey.create", c.User)
	ev.Fields["name"], ev.Fields["role"], ev.Fields["companies"] = clip(name), clip(string(role)), clip(strings.Join(companies, ","))
	if err := d.own(c, ev); err != nil {
		return "", identity.APIKey{}, err
	}
	if c.SetupOnly {
		return "", identity.APIKey{}, d.refuse(ev, newErr(Forbidden, ErrSetupFirst.Error(), ErrSetupFirst))
	}
	sess := identity.Session{User: c.User, Role: c.Role, Companies: c.Scope}
	key, k, err := d.cfg.Accounts.CreateAPIKey(sess, name, role, companies, expires)
	if err != nil {
		if errors.Is(err, identity.ErrTooManyAPIKeys) {
			return "", identity.APIKey{}, d.refuse(ev, newErr(Conflict, "You have too many API keys; revoke one first.", err))
		}
		return "", identity.APIKey{}, d.refuse(ev, newErr(Invalid, strings.TrimPrefix(err.Error(), "identity.CreateAPIKey: identity: "), err))
	}
	ev.Target = clip("apikey:" + k.ID)
	ev.Fields["owner"] = c.User
	ev.Fields["expires"] = k.Expires.Format(time.RFC3339)
	d.ok(ev)
	return key, k, nil
}

// APIKeys lists the caller's own API keys (an admin's list shows every
// account's).
func (d *Desk) APIKeys(c Caller) ([]identity.APIKey, error) {
	owner := c.User
	if c.may(policy.ActionManageUsers) && c.APIKey == "" {
		owner = ""
	}
	keys, err := d.cfg.Accounts.APIKeys(owner)
	if err != nil {
		return nil, internal("the API keys could not be read", err)
	}
	if owner == "" {
		out := keys[:0]
		for _, k := range keys {
			if c.manages(k.Companies) || k.Owner == c.User {
				out = append(out, k)
			}
		}
		keys = out
	}
	return keys, nil
}

// RevokeAPIKey deletes API key id: the caller's own, or any for an admin.
func (d *Desk) RevokeAPIKey(c Caller, id string) error {
	ev := c.event("apikey.revoke", "apikey:"+id)
	if c.SetupOnly {
		return d.refuse(ev, newErr(Forbidden, ErrSetupFirst.Error(), ErrSetupFirst))
	}
	k, err := d.cfg.Accounts.RevokeAPIKey(identity.Session{User: c.User, Role: c.Role, Companies: c.Scope, APIKey: c.APIKey}, id)
	if errors.Is(err, identity.ErrNoAPIKey) {
		return d.refuse(ev, newErr(NotFound, "No such API key.", err))
	}
	if err != nil {
		return internal("the API key could not be revoked", err)
	}
	ev.Fields["owner"] = k.Owner
	d.ok(ev)
	return nil
}
