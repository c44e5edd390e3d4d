package identity

import (
	"errors"
	"fmt"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
)

// UserInfo is an account as listed: no secret, no hash.
type UserInfo struct {
	Name              string       `json:"name"`
	Role              policy.Role  `json:"role"`
	Companies         policy.Scope `json:"companies,omitempty"`
	Created           time.Time    `json:"created"`
	Disabled          bool         `json:"disabled,omitempty"`
	TOTP              bool         `json:"totp,omitempty"`
	RecoveryCodesLeft int          `json:"recovery_codes_left,omitempty"`
	LockedUntil       time.Time    `json:"locked_until,omitzero"`
}

// Reason says why an account's access was cut.
type Reason string

// Reasons for a Revocation.
const (
	RevokeDisabled      Reason = "disabled"
	RevokeDeleted       Reason = "deleted"
	RevokePassword      Reason = "password-changed"
	RevokeSessionsEnded Reason = "sessions-ended"
	RevokeRoleChanged   Reason = "role-changed"
	RevokeAPIKey        Reason = "api-key-revoked"
)

// Revocation tells that what User could do was cut: the coordinator
// should end that technician's live peer sessions (for RevokeAPIKey, those
// started through API key APIKey; for RevokeRoleChanged, those the new role
// and companies no longer allow).
type Revocation struct {
	User   string
	Reason Reason
	APIKey string // the key's id, for RevokeAPIKey
}

// OnRevoke calls fn after each revocation has been committed, in the
// goroutine that made it; fn must not block for long. stop ends the
// subscription.
func (a *Accounts) OnRevoke(fn func(Revocation)) (stop func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := a.nextSub
	a.nextSub++
	a.revokeTo[id] = fn
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.revokeTo, id)
	}
}

func (a *Accounts) revoked(r Revocation) {
	a.mu.Lock()
	fns := make([]func(Revocation), 0, len(a.revokeTo))
	for _, fn := range a.revokeTo {
		fns = append(fns, fn)
	}
	a.mu.Unlock()
	for _, fn := range fns {
		fn(r)
	}
}

// List returns every account, by name.
func (a *Accounts) List() ([]UserInfo, error) {
	var out []UserInfo
	err := a.db.View(func(tx store.Tx) error {
		return tx.Scan(nsUser, "", func(_ string, v []byte) error {
			u, err := decodeUser(v)
			if err != nil {
				return err
			}
			out = append(out, UserInfo{Name: u.Name, Role: u.Role, Companies: u.Companies, Created: u.Created,
				Disabled: u.Disabled, TOTP: u.TOTP.Enabled, RecoveryCodesLeft: len(u.TOTP.Recovery), LockedUntil: u.LockedUntil})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("identity.List: %w", err)
	}
	return out, nil
}

// Add creates an account (CreateScoped).
func (a *Accounts) Add(name, password string, role policy.Role, companies policy.Scope) error {
	return a.CreateScoped(name, password, role, companies)
}

// Disable stops name at once: no login, and its sessions and API keys are
// refused from the next lookup on (its sessions for good; its API keys
// again work if it is enabled). The last enabled admin cannot be disabled.
func (a *Accounts) Disable(name string) error {
	err := a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if err := lastAdminGuard(tx, u); err != nil {
			return err
		}
		u.Disabled = true
		u.Epoch++
		if err := tx.Put(nsUser, name, u); err != nil {
			return err
		}
		return endSessions(tx, name, "")
	})
	if err != nil {
		return fmt.Errorf("identity.Disable: %w", err)
	}
	a.revoked(Revocation{User: name, Reason: RevokeDisabled})
	return nil
}

// Enable lets a disabled account log in again.
func (a *Accounts) Enable(name string) error {
	err := a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		u.Disabled = false
		return tx.Put(nsUser, name, u)
	})
	if err != nil {
		return fmt.Errorf("identity.Enable: %w", err)
	}
	return nil
}

// Delete removes name with its sessions, API keys and saved filters. A
// name created again later inherits none of them. The last enabled admin
// cannot be deleted.
func (a *Accounts) Delete(name string) error {
	err := a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if err := lastAdminGuard(tx, u); err != nil {
			return err
		}
		if err := endSessions(tx, name, ""); err != nil {
			return err
		}
		ids, err := keysOf(tx, name)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := deleteKey(tx, name, id); err != nil {
				return err
			}
		}
		if err := deletePrefix(tx, nsFilter, name+filterKeySep); err != nil {
			return err
		}
		return tx.Delete(nsUser, name)
	})
	if err != nil {
		return fmt.Errorf("identity.Delete: %w", err)
	}
	a.revoked(Revocation{User: name, Reason: RevokeDeleted})
	return nil
}

// SetPassword sets name's password (an admin's reset, or the user's own
// change after ChangePassword's check) and ends every session of name but
// the one whose token is keep ("" ends them all).
func (a *Accounts) SetPassword(name, password, keep string) error {
	hash, err := a.hashPassword(password)
	if err != nil {
		return fmt.Errorf("identity.SetPassword: %w", err)
	}
	err = a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		u.Hash = hash
		u.Epoch++
		if err := tx.Put(nsUser, name, u); err != nil {
			return err
		}
		keepKey := ""
		if keep != "" {
			var r sessionRec
			err := tx.Get(nsSession, tokenKey(keep), &r)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil && r.User == name && r.UID == u.ID && r.Epoch == u.Epoch-1 {
				keepKey = tokenKey(keep)
				r.Epoch = u.Epoch
				if err := tx.Put(nsSession, keepKey, r); err != nil {
					return err
				}
			}
		}
		return endSessions(tx, name, keepKey)
	})
	if err != nil {
		return fmt.Errorf("identity.SetPassword: %w", err)
	}
	a.revoked(Revocation{User: name, Reason: RevokePassword})
	return nil
}

// ChangePassword is a user's own change: old must be their password (a
// wrong one counts toward the lockout), then as SetPassword.
func (a *Accounts) ChangePassword(name, old, password, keep string) error {
	if _, err := a.firstFactor(name, old, func(store.Tx, *User) error { return nil }); err != nil {
		return fmt.Errorf("identity.ChangePassword: %w", err)
	}
	return a.SetPassword(name, password, keep)
}

// SetRole changes name's role and companies; every session and API key of
// the account acts with them from its next lookup on (an API key above the
// new role or outside the new companies stops working). The last enabled
// admin cannot be demoted.
func (a *Accounts) SetRole(name string, role policy.Role, companies policy.Scope) error {
	if err := checkAccount(name, role, companies); err != nil {
		return fmt.Errorf("identity.SetRole: %w", err)
	}
	err := a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if role != policy.RoleAdmin {
			if err := lastAdminGuard(tx, u); err != nil {
				return err
			}
		}
		u.Role, u.Companies = role, companies
		return tx.Put(nsUser, name, u)
	})
	if err != nil {
		return fmt.Errorf("identity.SetRole: %w", err)
	}
	a.revoked(Revocation{User: name, Reason: RevokeRoleChanged})
	return nil
}

// EndSessions logs name out everywhere: every session and pending login
// (not its API keys; see RevokeAPIKey).
func (a *Accounts) EndSessions(name string) error {
	err := a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		u.Epoch++
		if err := tx.Put(nsUser, name, u); err != nil {
			return err
		}
		return endSessions(tx, name, "")
	})
	if err != nil {
		return fmt.Errorf("identity.EndSessions: %w", err)
	}
	a.revoked(Revocation{User: name, Reason: RevokeSessionsEnded})
	return nil
}

// Unlock lifts name's lockout (an admin's action).
func (a *Accounts) Unlock(name string) error {
	err := a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		u.Failures, u.LockedUntil = 0, time.Time{}
		return tx.Put(nsUser, name, u)
	})
	if err != nil {
		return fmt.Errorf("identity.Unlock: %w", err)
	}
	return nil
}

// endSessions deletes name's sessions but the one stored under keepKey.
// (The caller bumps the epoch too, which refuses any it missed.)
func endSessions(tx store.Tx, name, keepKey string) error {
	var keys []string
	err := tx.Scan(nsUserSess, name+keySep, func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		h := k[len(name)+len(keySep):]
		if h == keepKey {
			continue
		}
		if err := tx.Delete(nsSession, h); err != nil {
			return err
		}
		if err := tx.Delete(nsUserSess, k); err != nil {
			return err
		}
	}
	return nil
}

func deletePrefix(tx store.Tx, ns, prefix string) error {
	var keys []string
	if err := tx.Scan(ns, prefix, func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(ns, k); err != nil {
			return err
		}
	}
	return nil
}

// lastAdminGuard refuses to take u out of the enabled admins if it is the
// last one. It reads every account in tx, so two such changes at once
// conflict and one is retried.
func lastAdminGuard(tx store.Tx, u User) error {
	if u.Role != policy.RoleAdmin || u.Disabled {
		return nil
	}
	others := 0
	err := tx.Scan(nsUser, "", func(_ string, v []byte) error {
		o, err := decodeUser(v)
		if err != nil {
			return err
		}
		if o.Name != u.Name && o.Role == policy.RoleAdmin && !o.Disabled {
			others++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if others == 0 {
		return ErrLastAdmin
	}
	return nil
}
