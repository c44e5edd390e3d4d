package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
)

// LoginResult is the outcome of Login or CompleteLogin. It prints without
// its tokens.
type LoginResult struct {
	// Token is the bearer session token (with Session), once every
	// factor has been checked.
	Token   string
	Session Session
	// Pending, with ErrSecondFactorNeeded, is the token CompleteLogin
	// takes with the code; it lives PendingLoginTTL.
	Pending string
}

// String prints the result without its tokens.
func (r LoginResult) String() string {
	switch {
	case r.Token != "":
		return fmt.Sprintf("login of %s (%s)", r.Session.User, r.Session.Role)
	case r.Pending != "":
		return "login waiting for a second factor"
	}
	return "no login"
}

// GoString is String.
func (r LoginResult) GoString() string { return r.String() }

// LogValue implements slog.LogValuer without the tokens.
func (r LoginResult) LogValue() slog.Value { return slog.StringValue(r.String()) }

// pendingRec is a login whose password was right, waiting for its second
// factor; keyed by the hash of its token.
type pendingRec struct {
	User    string    `json:"user"`
	UID     string    `json:"uid,omitempty"`
	Epoch   uint64    `json:"epoch,omitempty"`
	Expires time.Time `json:"expires"`
}

// Login checks name's password and, when that is all the account needs,
// starts a session. Its errors:
//   - ErrBadCredentials (with ErrLocked on the failure that locks,
//     with ErrDisabled for a disabled account's right password), ErrLocked;
//   - ErrSecondFactorNeeded: the account has TOTP on; the result carries
//     only Pending, for CompleteLogin;
//   - ErrTOTPSetupRequired: the result carries a session that may only set
//     up TOTP (policy.TOTPRequired).
func (a *Accounts) Login(name, password string) (LoginResult, error) {
	var (
		res      LoginResult
		needTOTP bool
		setup    bool
	)
	_, err := a.firstFactor(name, password, func(tx store.Tx, u *User) error {
		res, needTOTP, setup = LoginResult{}, false, false
		if u.TOTP.Enabled {
			needTOTP = true
			res.Pending = randomHex(32)
			return tx.Insert(nsPending, tokenKey(res.Pending),
				pendingRec{User: u.Name, UID: u.ID, Epoch: u.Epoch, Expires: a.now().Add(PendingLoginTTL).UTC()})
		}
		rules, err := accountRules(tx)
		if err != nil {
			return err
		}
		setup = policy.TOTPRequired(u.Role, rules)
		res.Token, res.Session, err = a.newSession(tx, *u)
		return err
	})
	switch {
	case err != nil:
		return LoginResult{}, err
	case needTOTP:
		return res, ErrSecondFactorNeeded
	case setup:
		return res, ErrTOTPSetupRequired
	}
	return res, nil
}

// CompleteLogin finishes a login that Login answered with
// ErrSecondFactorNeeded: code is the authenticator's current code or an
// unused recovery code. A wrong code counts toward the account's lockout
// (the same count as wrong passwords); a code already accepted is refused
// (ErrBadCode). The pending token may be retried until it expires, the
// account locks, or it succeeds once.
func (a *Accounts) CompleteLogin(pending, code string) (LoginResult, error) {
	if len(pending) != 64 {
		return LoginResult{}, ErrNoPendingLogin
	}
	now := a.now()
	var (
		res    LoginResult
		result error
	)
	err := a.db.Update(func(tx store.Tx) error {
		res, result = LoginResult{}, nil
		key := tokenKey(pending)
		var p pendingRec
		err := tx.Get(nsPending, key, &p)
		if errors.Is(err, store.ErrNotFound) {
			result = ErrNoPendingLogin
			return nil
		}
		if err != nil {
			return err
		}
		u, err := getUser(tx, p.User)
		if err != nil && !errors.Is(err, ErrNoUser) {
			return err
		}
		if err != nil || !now.Before(p.Expires) || u.Disabled || u.ID != p.UID || u.Epoch != p.Epoch || !u.TOTP.Enabled {
			result = ErrNoPendingLogin
			return tx.Delete(nsPending, key)
		}
		if now.Before(u.LockedUntil) {
			result = lockedErr(u.LockedUntil)
			return tx.Delete(nsPending, key)
		}
		ok, err := a.secondFactor(&u, code, now)
		if err != nil {
			return err
		}
		if !ok {
			result = fmt.Errorf("%w: %w", ErrBadCode, countFailure(&u, now))
			if now.Before(u.LockedUntil) {
				if err := tx.Delete(nsPending, key); err != nil {
					return err
				}
			}
			return tx.Put(nsUser, u.Name, u)
		}
		u.Failures, u.LockedUntil = 0, time.Time{}
		if err := tx.Put(nsUser, u.Name, u); err != nil {
			return err
		}
		if err := tx.Delete(nsPending, key); err != nil {
			return err
		}
		res.Token, res.Session, err = a.newSession(tx, u)
		return err
	})
	if err != nil {
		return LoginResult{}, fmt.Errorf("identity.CompleteLogin: %w", err)
	}
	if result != nil {
		return LoginResult{}, result
	}
	return res, nil
}
