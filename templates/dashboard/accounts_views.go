package dashboard

import "time"

// Tabs of the account pages.
const (
	TabUsers    = "users"
	TabSettings = "settings"
	TabDevices  = "devices"
)

// UsersView is the admins' Users page.
type UsersView struct {
	Nav           Nav
	CSRF          string
	Users         []UserRow
	Roles         []string
	TOTPRequired  bool // the shop's "2FA required for admins"
	Consent       ConsentRulesForm
	Error, Notice string
}

// ConsentRulesForm is the shop's consent rules on the Users page: which
// capabilities need the end user's answer, by default, per company and
// per device (one "name: capability capability" a line; nothing after
// the colon asks about nothing).
type ConsentRulesForm struct {
	Set       bool // the shop has rules; otherwise each agent uses its own default
	Default   []ConsentCap
	Companies string
	Devices   string
}

// ConsentCap is one capability of the default set, as a checkbox.
type ConsentCap struct {
	Name, Label string
	Checked     bool
}

// UserRow is one account on the Users page.
type UserRow struct {
	Name, Role, Companies string // Companies "" means every company
	TOTP, Disabled        bool
	Locked                bool
	Self                  bool // the admin looking
}

// SettingsView is every technician's Settings page.
type SettingsView struct {
	Nav           Nav
	CSRF          string
	TOTP          bool // two-factor authentication is on
	RecoveryLeft  int
	SetupRequired bool // the session may do nothing else until TOTP is on
	// Setup is a TOTP secret being set up: its QR code is served at
	// /settings/totp.png, the secret shown as text.
	Setup *TOTPSetupView
	// RecoveryCodes are shown once, right after TOTP is turned on.
	RecoveryCodes []string
	APIKeys       []APIKeyRow
	NewKey        string // a key just made, shown once
	Roles         []string
	Error, Notice string
}

// TOTPSetupView is a secret being set up.
type TOTPSetupView struct{ Secret string }

// APIKeyRow is one API key on the Settings page.
type APIKeyRow struct {
	ID, Name, Owner, Role, Companies string
	Expires                          time.Time
}

// DevicesAdminView is the admins' device administration page.
type DevicesAdminView struct {
	Nav           Nav
	CSRF          string
	Devices       []AdminDeviceRow
	Error, Notice string
}

// AdminDeviceRow is one device, enrolled or removed.
type AdminDeviceRow struct {
	ID, Hostname, OS, Company, Site string
	Removed                         bool
	Online                          bool
}
