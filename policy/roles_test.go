package policy

import (
	"errors"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
)

func TestRolesMatrix(t *testing.T) {
	// Who may do what (I2). A row that changes is a decision, not a
	// refactoring: change it here on purpose.
	want := map[Role]map[Action]bool{
		RoleAdmin: {ActionCreateEnrollToken: true, ActionListDevices: true, ActionRequestGrant: true, ActionWake: true,
			ActionPower: true, ActionOthersSessions: true, ActionManageUsers: true, ActionSaveFilter: true, ActionSupport: true,
			ActionManageConsent: true, ActionManageAssistant: true},
		RoleSenior: {ActionListDevices: true, ActionRequestGrant: true, ActionWake: true, ActionPower: true,
			ActionOthersSessions: true, ActionSaveFilter: true, ActionSupport: true},
		RoleTechnician: {ActionListDevices: true, ActionRequestGrant: true, ActionWake: true, ActionSaveFilter: true, ActionSupport: true},
		RoleViewer:     {ActionListDevices: true, ActionSaveFilter: true},
		Role("root"):   {},
	}
	actions := []Action{ActionCreateEnrollToken, ActionListDevices, ActionRequestGrant, ActionWake, ActionPower,
		ActionOthersSessions, ActionManageUsers, ActionSaveFilter, ActionSupport, ActionManageConsent, ActionManageAssistant}
	for role, row := range want {
		for _, a := range actions {
			err := Allow(role, a)
			if got := err == nil; got != row[a] {
				t.Errorf("Allow(%s, %s) = %v, want allowed=%v", role, a, err, row[a])
			}
			if err != nil && !errors.Is(err, ErrForbidden) {
				t.Errorf("Allow(%s, %s): %v is not ErrForbidden", role, a, err)
			}
		}
	}
}

func TestGrantCapabilitiesByRole(t *testing.T) {
	cases := []struct {
		role Role
		caps []wire.Capability
		ok   bool
	}{
		{RoleAdmin, []wire.Capability{wire.CapPower, wire.CapScreen}, true},
		{RoleSenior, []wire.Capability{wire.CapPower}, true},
		{RoleTechnician, []wire.Capability{wire.CapScreen, wire.CapInput, wire.CapWake}, true},
		{RoleTechnician, []wire.Capability{wire.CapPower}, false},
		{RoleViewer, []wire.Capability{wire.CapSysInfo}, true},
		{RoleViewer, []wire.Capability{wire.CapScreen}, false},
		{RoleViewer, []wire.Capability{wire.CapWake}, false},
	}
	for _, c := range cases {
		_, err := GrantCapabilities(c.role, c.caps)
		if (err == nil) != c.ok {
			t.Errorf("GrantCapabilities(%s, %v) = %v, want ok=%v", c.role, c.caps, err, c.ok)
		}
	}
}

func TestInScope(t *testing.T) {
	cases := []struct {
		role    Role
		scope   Scope
		company string
		want    bool
	}{
		{RoleAdmin, Scope{"acme"}, "globex", true}, // admins see every company
		{RoleTechnician, nil, "globex", true},      // no restriction
		{RoleTechnician, nil, "", true},
		{RoleTechnician, Scope{"acme"}, "acme", true},
		{RoleTechnician, Scope{"acme"}, "globex", false},
		{RoleTechnician, Scope{"acme"}, "", false}, // unfiled machines only for unrestricted accounts
		{RoleViewer, Scope{"acme", "globex"}, "globex", true},
		{RoleSenior, Scope{"acme"}, "ACME", false}, // exact names
	}
	for _, c := range cases {
		if got := InScope(c.role, c.scope, c.company); got != c.want {
			t.Errorf("InScope(%s, %v, %q) = %v, want %v", c.role, c.scope, c.company, got, c.want)
		}
	}
}
