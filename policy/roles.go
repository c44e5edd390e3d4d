package policy

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Role is what a technician account may do.
type Role string

// Roles (I2).
const (
	RoleAdmin      Role = "admin"      // everything, including accounts and enrollment tokens, in every company
	RoleSenior     Role = "senior"     // connect, wake and power (reboot, Safe Mode, emergency reboot) in scope; others' sessions
	RoleTechnician Role = "technician" // connect and wake in scope
	RoleViewer     Role = "viewer"     // see machines and their inventory in scope; no control
)

// Roles lists the roles in order of decreasing power.
var Roles = []Role{RoleAdmin, RoleSenior, RoleTechnician, RoleViewer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Errors; test with errors.Is.
var (
	ErrForbidden  = errors.New("policy: forbidden")
	ErrUnknownCap = errors.New("policy: unknown capability")
)

// Action names an administrative action a role may or may not take.
type Action string

// Actions.
const (
	ActionCreateEnrollToken Action = "enrollment-token.create"
	ActionListDevices       Action = "devices.list"
	ActionRequestGrant      Action = "grant.request" // a session on a machine (screen, input, sysinfo)
	ActionWake              Action = "devices.wake"
	ActionPower             Action = "devices.power"      // reboot, emergency reboot, Safe Mode, rescue
	ActionOthersSessions    Action = "sessions.others"    // end or take over another technician's session
	ActionManageUsers       Action = "users.manage"       // accounts and their roles and companies
	ActionSaveFilter        Action = "access.save-filter" // saved filters of one's own
	// ActionManageConsent is reading and changing the shop's consent
	// rules (ConsentRules): which capabilities need the end user's answer.
	ActionManageConsent Action = "consent-rules.manage"
	// ActionManageAssistant is reading and changing the help desk
	// assistant's settings: model, prompt additions, whitelist, contacts,
	// on/off per company.
	ActionManageAssistant Action = "assistant.manage"
	// ActionSupport is working the support desk: seeing the board, making,
	// cancelling and redeeming codes, ending sessions (M1: the JSON API
	// and the dashboard alike).
	ActionSupport Action = "support.work"
	// ActionReadTickets is listing, searching and reading tickets in
	// scope (T6).
	ActionReadTickets Action = "tickets.read"
	// ActionWorkTickets is filing, updating, assigning, commenting on
	// and attaching to tickets in scope.
	ActionWorkTickets Action = "tickets.work"
	// ActionManageWebhooks is configuring the outgoing webhooks and
	// reading their delivery log.
	ActionManageWebhooks Action = "webhooks.manage"
)

var allowed = map[Role][]Action{
	RoleAdmin: {ActionCreateEnrollToken, ActionListDevices, ActionRequestGrant, ActionWake,
		ActionPower, ActionOthersSessions, ActionManageUsers, ActionSaveFilter, ActionSupport, ActionManageConsent, ActionManageAssistant,
		ActionReadTickets, ActionWorkTickets, ActionManageWebhooks},
	RoleSenior: {ActionListDevices, ActionRequestGrant, ActionWake, ActionPower, ActionOthersSessions, ActionSaveFilter, ActionSupport,
		ActionReadTickets, ActionWorkTickets},
	RoleTechnician: {ActionListDevices, ActionRequestGrant, ActionWake, ActionSaveFilter, ActionSupport, ActionReadTickets, ActionWorkTickets},
	RoleViewer:     {ActionListDevices, ActionSaveFilter, ActionReadTickets},
}

// Allow decides whether role may take action. Unknown roles may do nothing.
func Allow(role Role, a Action) error {
	if slices.Contains(allowed[role], a) {
		return nil
	}
	return fmt.Errorf("%w: %s may not %s", ErrForbidden, role, a)
}

var grantable = map[Role][]wire.Capability{
	RoleAdmin: {wire.CapSysInfo, wire.CapScreen, wire.CapInput, wire.CapWake, wire.CapPower,
		wire.CapFiles, wire.CapShell, wire.CapProcesses, wire.CapServices, wire.CapApps, wire.CapLogs},
	RoleSenior: {wire.CapSysInfo, wire.CapScreen, wire.CapInput, wire.CapWake, wire.CapPower,
		wire.CapFiles, wire.CapShell, wire.CapProcesses, wire.CapServices, wire.CapApps, wire.CapLogs},
	// A technician works backstage without a shell: files, processes,
	// services, applications and logs.
	RoleTechnician: {wire.CapSysInfo, wire.CapScreen, wire.CapInput, wire.CapWake,
		wire.CapFiles, wire.CapProcesses, wire.CapServices, wire.CapApps, wire.CapLogs},
	RoleViewer: {wire.CapSysInfo, wire.CapApps},
}

// Scope is the set of companies an account works for; empty means every
// company (admins always have every company).
type Scope []string

// InScope decides whether an account with role and scope may see or act on
// a machine filed under company. Machines with no company are visible only
// to accounts without a company restriction.
func InScope(role Role, scope Scope, company string) bool {
	if role == RoleAdmin || len(scope) == 0 {
		return true
	}
	return company != "" && slices.Contains(scope, company)
}

// GrantCapabilities decides which of the requested capabilities a session
// grant for role may carry: all of them, or an error naming the first one
// refused. Duplicates are removed; an empty request is refused.
func GrantCapabilities(role Role, requested []wire.Capability) ([]wire.Capability, error) {
	if len(requested) == 0 {
		return nil, fmt.Errorf("%w: no capability requested", ErrForbidden)
	}
	out := make([]wire.Capability, 0, len(requested))
	for _, c := range requested {
		if !c.Valid() {
			return nil, fmt.Errorf("%w: %q", ErrUnknownCap, c)
		}
		if !slices.Contains(grantable[role], c) {
			return nil, fmt.Errorf("%w: %s may not use %s", ErrForbidden, role, c)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

// GrantLifetime is how long a session grant lives.
const GrantLifetime = 10 * time.Minute

// Login limits (I1).
const (
	MaxFailedLogins = 5
	LockoutDuration = 15 * time.Minute
)

// EnrollTokenTTL bounds enrollment tokens (O4).
const (
	DefaultEnrollTokenTTL = 24 * time.Hour
	MaxEnrollTokenTTL     = 30 * 24 * time.Hour
)

// EnrollTokenTTL returns the lifetime for a token asked to live ttl.
func EnrollTokenTTL(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == 0:
		return DefaultEnrollTokenTTL, nil
	case ttl < time.Minute || ttl > MaxEnrollTokenTTL:
		return 0, fmt.Errorf("%w: token lifetime must be between 1m and %s", ErrForbidden, MaxEnrollTokenTTL)
	}
	return ttl, nil
}
