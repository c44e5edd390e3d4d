package identity

import (
	"encoding/hex"
	"fmt"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// decodeUser decodes and checks a stored user record.
func decodeUser(b []byte) (User, error) {
	var u User
	if err := store.Decode(b, &u); err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := u.check(); err != nil {
		return User{}, err
	}
	return u, nil
}

// check refuses a user record that no code path here writes, so a damaged
// or hand-edited record is refused rather than read in some other sense.
func (u *User) check() error {
	if len(u.TOTP.Recovery) == 0 {
		u.TOTP.Recovery = nil // one form for "none", whatever the record said
	}
	bad := func(what string) error { return fmt.Errorf("%w: user %q: %s", ErrCorrupt, u.Name, what) }
	switch {
	case wire.CheckName(u.Name) != nil:
		return bad("name")
	case !u.Role.Valid():
		return bad("role")
	case u.Failures < 0 || u.Failures > policy.MaxFailedLogins:
		return bad("failure count")
	case checkCompanies(u.Companies) != nil:
		return bad("companies")
	case len(u.ID) > 64:
		return bad("id")
	case len(u.TOTP.Sealed) > maxSealed || len(u.TOTP.PendingSealed) > maxSealed:
		return bad("sealed secret")
	case u.TOTP.Enabled && len(u.TOTP.Sealed) == 0:
		return bad("TOTP on without a secret")
	case len(u.TOTP.Recovery) > RecoveryCodeCount:
		return bad("recovery codes")
	}
	for _, h := range u.TOTP.Recovery {
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			return bad("recovery code hash")
		}
	}
	return nil
}
