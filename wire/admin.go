package wire

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
