package policy

import (
	"errors"
	"testing"
	"time"
)

func TestTOTPRequired(t *testing.T) {
	t.Parallel()
	on := AccountRules{TOTPRequiredForAdmins: true}
	for _, c := range []struct {
		role  Role
		rules AccountRules
		want  bool
	}{
		{RoleAdmin, on, true},
		{RoleAdmin, AccountRules{}, false},
		{RoleSenior, on, false},
		{RoleTechnician, on, false},
	} {
		if got := TOTPRequired(c.role, c.rules); got != c.want {
			t.Errorf("TOTPRequired(%s, %+v) = %v", c.role, c.rules, got)
		}
	}
}

func TestRoleAtMost(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r, limit Role
		want     bool
	}{
		{RoleAdmin, RoleAdmin, true},
		{RoleViewer, RoleAdmin, true},
		{RoleTechnician, RoleSenior, true},
		{RoleSenior, RoleTechnician, false},
		{RoleAdmin, RoleViewer, false},
		{Role("root"), RoleAdmin, false},
		{RoleViewer, Role("root"), false},
	} {
		if got := RoleAtMost(c.r, c.limit); got != c.want {
			t.Errorf("RoleAtMost(%s, %s) = %v", c.r, c.limit, got)
		}
	}
}

func TestAPIKeyDelegation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		role     Role
		scope    Scope
		keyRole  Role
		keyScope Scope
		ok       bool
	}{
		{"admin hands out admin", RoleAdmin, nil, RoleAdmin, nil, true},
		{"admin hands out a scoped technician", RoleAdmin, nil, RoleTechnician, Scope{"acme"}, true},
		{"admin key with companies", RoleAdmin, nil, RoleAdmin, Scope{"acme"}, false},
		{"technician hands out viewer", RoleTechnician, nil, RoleViewer, nil, true},
		{"technician hands out senior", RoleTechnician, nil, RoleSenior, nil, false},
		{"scoped hands out within", RoleSenior, Scope{"acme", "globex"}, RoleTechnician, Scope{"acme"}, true},
		{"scoped hands out outside", RoleSenior, Scope{"acme"}, RoleTechnician, Scope{"globex"}, false},
		{"scoped hands out every company", RoleSenior, Scope{"acme"}, RoleTechnician, nil, false},
		{"unknown key role", RoleAdmin, nil, Role("root"), nil, false},
		{"unknown owner role", Role("root"), nil, RoleViewer, nil, false},
	} {
		err := APIKeyDelegation(c.role, c.scope, c.keyRole, c.keyScope)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v is not ErrForbidden", c.name, err)
		}
	}
}

func TestAPIKeyLifetime(t *testing.T) {
	t.Parallel()
	if d, err := APIKeyLifetime(0); err != nil || d != DefaultAPIKeyLifetime {
		t.Fatalf("default = %s, %v", d, err)
	}
	for _, bad := range []time.Duration{-time.Hour, time.Minute, MaxAPIKeyLifetime + time.Second} {
		if _, err := APIKeyLifetime(bad); !errors.Is(err, ErrForbidden) {
			t.Errorf("APIKeyLifetime(%s) = %v", bad, err)
		}
	}
	if d, err := APIKeyLifetime(MaxAPIKeyLifetime); err != nil || d != MaxAPIKeyLifetime {
		t.Fatalf("max = %s, %v", d, err)
	}
}
