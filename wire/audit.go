package wire

// The local administration API's audit routes, served only on the
// coordinator's Unix socket (`peerdesk admin audit verify|export`).
const (
	// LocalPathAuditVerify answers GET with an AuditVerifyResult (200 also
	// when the chain is broken: the result says so).
	LocalPathAuditVerify = "/local/audit/verify"
	// LocalPathAuditExport answers GET ?format=csv|json&since=RFC3339 with
	// every record (since: whose time is not before it), streamed.
	LocalPathAuditExport = "/local/audit/export"
)

// TrailerAuditExportError is the HTTP trailer that carries an export's
// error when it failed after its first bytes were sent (the status was
// already 200); a client checks it after reading the body.
const TrailerAuditExportError = "X-Peerdesk-Export-Error"

// Audit export formats.
const (
	AuditFormatCSV  = "csv"
	AuditFormatJSON = "json"
)

// AuditVerifyResult is the outcome of verifying the coordinator's audit
// chain.
type AuditVerifyResult struct {
	Records  int    `json:"records"`             // records that verified, in order from the first
	OK       bool   `json:"ok"`                  // the whole chain, head and checkpoints hold
	FirstBad uint64 `json:"first_bad,omitempty"` // the first bad record's number (1-based)
	Key      string `json:"key,omitempty"`       // its store key
	Reason   string `json:"reason,omitempty"`    // what is wrong with it
}
