package wire

import "time"

// The local administration protocol: served only on the coordinator's
// Unix socket (admin.sock in its data directory, mode 0600), spoken by
// `peerdesk admin …`. Errors are Error values like the public API's.

// Local API paths.
const (
	LocalPathUsers  = "/local/users"
	LocalPathTokens = "/local/tokens" // a TokenRequest; answers a TokenResponse
	LocalPathStatus = "/local/status" // answers a LocalStatus
	LocalPathAudit  = "/local/audit"  // ?action=&outcome=&after=&limit=; answers audit records
)

// LocalUserRequest creates an account.
type LocalUserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
	// Companies limits the account to these companies' machines.
	Companies []string `json:"companies,omitempty"`
}

// LocalStatus describes the running coordinator.
type LocalStatus struct {
	URL     string `json:"url"`
	Pin     string `json:"pin"`
	Users   int    `json:"users"`
	Devices int    `json:"devices"`
}

// AuditRecord is one record of the coordinator's audit trail as the local
// API lists it (LocalPathAudit): the event, where it came from, and its
// place in the chain.
type AuditRecord struct {
	Seq    uint64 `json:"seq"`
	Source string `json:"source"` // "coordinator" or "agent:<device id>"
	AuditEvent
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// Local API paths of account and device administration (M5); each POST
// answers 204 or an Error.
const (
	LocalPathUserAction   = "/local/users/action"   // POST LocalUserAction
	LocalPathDevices      = "/local/devices"        // GET → []AdminDevice, the removed ones included
	LocalPathDeviceAction = "/local/devices/action" // POST LocalDeviceAction
)

// Account actions of LocalUserAction.
const (
	UserDisable     = "disable"
	UserEnable      = "enable"
	UserDelete      = "delete"
	UserPassword    = "passwd"       // Password is the new password
	UserRole        = "role"         // Role and Companies are the new ones
	UserEndSessions = "end-sessions" // log out everywhere
	UserUnlock      = "unlock"
	UserReset2FA    = "reset-2fa"
)

// LocalUserAction is one administrative action on an account
// (GET LocalPathUsers lists them as []UserInfo).
type LocalUserAction struct {
	Name      string   `json:"name"`
	Action    string   `json:"action"`
	Password  string   `json:"password,omitempty"`
	Role      string   `json:"role,omitempty"`
	Companies []string `json:"companies,omitempty"`
}

// UserInfo is an account as listed to an admin: no secret.
type UserInfo struct {
	Name              string    `json:"name"`
	Role              string    `json:"role"`
	Companies         []string  `json:"companies,omitempty"`
	Created           time.Time `json:"created"`
	Disabled          bool      `json:"disabled,omitempty"`
	TOTP              bool      `json:"totp,omitempty"`
	RecoveryCodesLeft int       `json:"recovery_codes_left,omitempty"`
	LockedUntil       time.Time `json:"locked_until,omitzero"`
}

// Device actions of LocalDeviceAction.
const (
	DeviceRemove = "remove" // credentials taken away; the machine may not enroll again until reset
	DeviceReset  = "reset"  // forgotten; the machine may enroll again with a new token
	DeviceMove   = "move"   // filed under Company and Site
)

// LocalDeviceAction is one administrative action on a device.
type LocalDeviceAction struct {
	ID      string `json:"id"`
	Action  string `json:"action"`
	Company string `json:"company,omitempty"`
	Site    string `json:"site,omitempty"`
}

// AdminDevice is a device as an admin lists it: enrolled or removed.
type AdminDevice struct {
	ID       string    `json:"id"`
	Hostname string    `json:"hostname"`
	OS       string    `json:"os"`
	Company  string    `json:"company,omitempty"`
	Site     string    `json:"site,omitempty"`
	Enrolled time.Time `json:"enrolled"`
	Removed  time.Time `json:"removed,omitzero"` // zero for an enrolled device
	LastSeen time.Time `json:"last_seen,omitzero"`
	Online   bool      `json:"online,omitempty"`
}
