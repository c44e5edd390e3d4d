package policy

import (
	"fmt"
	"slices"
	"time"
)

// AccountRules are the shop's account settings (I1), kept by the
// coordinator and changed by admins.
type AccountRules struct {
	// TOTPRequiredForAdmins: an admin account without TOTP may do nothing
	// but set it up.
	TOTPRequiredForAdmins bool `json:"totp_required_for_admins,omitempty"`
}

// TOTPRequired decides whether an account of role must have TOTP turned
// on before it may act.
func TOTPRequired(role Role, r AccountRules) bool {
	return role == RoleAdmin && r.TOTPRequiredForAdmins
}

// RoleAtMost reports whether r is a known role no more powerful than
// limit (Roles is ordered by decreasing power).
func RoleAtMost(r, limit Role) bool {
	i, j := slices.Index(Roles, r), slices.Index(Roles, limit)
	return i >= 0 && j >= 0 && i >= j
}

// ScopeWithin reports whether an account with role and scope may hand out
// (to an API key) a scope of sub: every company of sub must be in its own
// scope, and only an account of every company may hand out every company.
func ScopeWithin(role Role, scope, sub Scope) bool {
	if role == RoleAdmin || len(scope) == 0 {
		return true
	}
	if len(sub) == 0 {
		return false
	}
	for _, c := range sub {
		if !slices.Contains(scope, c) {
			return false
		}
	}
	return true
}

// API key limits (I1).
const (
	DefaultAPIKeyLifetime = 90 * 24 * time.Hour
	MaxAPIKeyLifetime     = 366 * 24 * time.Hour
	MinAPIKeyLifetime     = time.Hour
	MaxAPIKeysPerUser     = 20
)

// APIKeyLifetime returns the lifetime for an API key asked to live ttl (0
// means the default); every key expires.
func APIKeyLifetime(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == 0:
		return DefaultAPIKeyLifetime, nil
	case ttl < MinAPIKeyLifetime || ttl > MaxAPIKeyLifetime:
		return 0, fmt.Errorf("%w: an API key lives between %s and %s", ErrForbidden, MinAPIKeyLifetime, MaxAPIKeyLifetime)
	}
	return ttl, nil
}

// APIKeyDelegation decides whether an account with role and scope may
// hold (create, or keep using) an API key of keyRole and keyScope: the key
// may not be more powerful than its owner, nor reach companies its owner
// does not. An admin key always covers every company (admins are not
// company-scoped), so an admin key restricted to companies is refused: give
// a company-scoped key a lower role.
func APIKeyDelegation(role Role, scope Scope, keyRole Role, keyScope Scope) error {
	if !keyRole.Valid() {
		return fmt.Errorf("%w: unknown role %q", ErrForbidden, keyRole)
	}
	if !RoleAtMost(keyRole, role) {
		return fmt.Errorf("%w: a %s may not hand out a %s key", ErrForbidden, role, keyRole)
	}
	if keyRole == RoleAdmin && len(keyScope) > 0 {
		return fmt.Errorf("%w: an admin key covers every company; scope a key to companies with a lower role", ErrForbidden)
	}
	if !ScopeWithin(role, scope, keyScope) {
		return fmt.Errorf("%w: the key's companies must be within its owner's", ErrForbidden)
	}
	return nil
}
