// Package wire holds the peerdesk wire protocol: the message types exchanged
// between agents, viewers and the coordinator, the capability names a session
// grant can carry, the overlay tags, and the protocol version history.
//
// It is a leaf package: it imports nothing from peerdesk, so every binary can
// depend on it without pulling in the control plane.
//
// # Protocol versions
//
//   - 1 (2026-11-21): enrollment, technician login, session grants,
//     inventory and heartbeat, the sysinfo capability.
//   - 1, additive (2026-12-07): TokenRequest carries the company and site
//     the enrolled device is filed under; an inventory report's own
//     company and site are ignored (the coordinator overwrites them).
//   - 1 (2026-12-07, no change on the wire): the local administration
//     messages (LocalUserRequest, LocalStatus, LocalPath…) live here, so
//     the admin client links no server code; GET /v1/support/sessions
//     lists only what the caller's role and company scope may see.
//   - 1, additive (2026-12-07): the presence stream's answer body carries
//     newline-delimited PresenceMessage values from the coordinator
//     (PresenceRevoke: end a technician's sessions, refuse their older
//     grants). Agents ignore types they do not know; older agents never
//     read the body, and the coordinator never waits on one that does not.
//   - 1, additive (2026-12-07): login with a second factor (a LoginResponse
//     with SecondFactor and Pending, then PathLoginSecondFactor); API keys
//     ("Authorization: Bearer pdk_…", PathAPIKeys); the local account and
//     device administration (LocalUserAction, LocalDeviceAction).
//   - 1, additive (2026-12-07): the shop's consent rules are kept by the
//     coordinator (PathConsentRules, admins only) and each agent gets the
//     capabilities that need asking on it as a PresenceConsentRules
//     message (Ask, or NoRules) when its presence stream opens and when
//     the rules change. Older agents ignore the type and keep their own
//     rules.
//   - 1, additive (2026-12-07): an agent whose overlay node cannot come up
//     says why over HTTPS (PathSupportOverlay, an OverlayReport with one
//     of OverlayReasons), and SupportSession carries it (Overlay). Older
//     coordinators answer 404, which the agent ignores.
//   - 1, additive (2026-12-07): Connect from the dashboard hands the
//     technician's viewer a one-time connect ticket (in the link to the
//     viewer's page); the viewer exchanges it, with its own session, at
//     PathConnectRedeem (ConnectRedeemRequest → ConnectTarget).
//   - 2 (2026-12-07): backstage capabilities, each its own grant scope:
//     files (CapFiles), shell (CapShell), processes (CapProcesses),
//     services (CapServices), installed applications (CapApps) and event
//     logs (CapLogs), on their own peer routes. Agents send their protocol
//     version and the capabilities they serve at enroll and in every
//     heartbeat (Served, as "agent" in EnrollRequest, JoinRequest,
//     Inventory and Heartbeat); the coordinator keeps it per device and
//     returns it in Device, SupportSession and GrantResponse (with the
//     device's host name); a viewer meeting an agent of version 1, or one
//     without a capability, says so instead of calling it. Older
//     coordinators refuse the new field (strict decoding): update the
//     coordinator before the agents.
//   - 2, additive (2026-12-07): the system tools' routes and messages
//     (systools.go): PeerPathProcesses and PeerPathProcessKill (a kill
//     names the process's start time with its id), PeerPathServices and
//     PeerPathServiceDo, PeerPathApps, PeerPathLogs (a LogQuery answered
//     by newline-delimited LogLine values ending with a LogEnd).
//   - 2, additive (2026-12-07): an upload may name its content by a
//     Fingerprint at UploadStart and send the file's SHA-256 with
//     UploadFinish, its chunks checked by HeaderChunkCRC32C: the client
//     reads and hashes the file once, as it sends it. Older agents answer
//     400 to a start without a SHA-256; the viewer then hashes the file
//     first and sends SHA-256 chunk headers, as before.
//   - 2, additive (2026-12-07): the assistant's PathAssistRemedy takes the
//     phase RemedyDeclined: a proposal the user declined is closed at the
//     coordinator too. Older coordinators answer 400, which the agent
//     logs; its own side is closed either way.
//
// Identity never travels in a request body: on the overlay it comes from the
// transport (WhoIs), towards the coordinator from the bearer credential.
package wire

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ProtocolVersion is the version of this package's messages.
const ProtocolVersion = 2

// Overlay tags. Every node of a peerdesk overlay carries exactly one of them.
const (
	TagAgent   = "tag:peerdesk-agent"   // an enrolled, unattended agent
	TagSupport = "tag:peerdesk-support" // a one-time support agent (ephemeral)
	TagTech    = "tag:peerdesk-tech"    // a technician's viewer
)

// Capability names what a grant lets its holder do on one device.
type Capability string

// Capabilities an agent can answer.
const (
	CapSysInfo Capability = "sysinfo" // read system information and inventory

	// Backstage capabilities (protocol 2): each is its own grant scope,
	// so a role can be given processes without the shell.
	CapFiles     Capability = "files"     // browse, upload, download, rename, delete files
	CapShell     Capability = "shell"     // an interactive terminal or one command
	CapProcesses Capability = "processes" // list processes and kill them
	CapServices  Capability = "services"  // list services; start, stop, restart them
	CapApps      Capability = "apps"      // list installed applications
	CapLogs      Capability = "logs"      // read the system's event logs
)

// KnownCapabilities lists every capability this protocol version defines.
var KnownCapabilities = []Capability{CapSysInfo, CapScreen, CapInput, CapWake, CapPower,
	CapFiles, CapShell, CapProcesses, CapServices, CapApps, CapLogs}

// Valid reports whether c is a capability this protocol version defines.
func (c Capability) Valid() bool {
	for _, k := range KnownCapabilities {
		if c == k {
			return true
		}
	}
	return false
}

// PeerPort is the overlay TCP port on which agents answer peer calls.
const PeerPort = 7070

// Header names used on peer calls and coordinator calls.
const (
	HeaderGrant = "X-Peerdesk-Grant" // a signed session grant, on peer calls
)

// Coordinator API paths (all under the coordinator's base URL).
const (
	PathCA     = "/v1/ca"     // GET: the coordinator's CA certificate (PEM)
	PathEnroll = "/v1/enroll" // POST EnrollRequest → EnrollResponse
	PathLogin  = "/v1/login"  // POST LoginRequest → LoginResponse
	// PathLoginSecondFactor finishes a login answered with SecondFactor:
	// POST SecondFactorRequest → LoginResponse.
	PathLoginSecondFactor = "/v1/login/second-factor"
	// PathAPIKeys: POST APIKeyRequest → APIKeyCreated; GET → []APIKey
	// (the caller's own); POST PathAPIKeys/{id}/revoke.
	PathAPIKeys    = "/v1/api-keys"
	PathDevices    = "/v1/devices"           // GET → []Device (technician)
	PathGrant      = "/v1/grants"            // POST GrantRequest → GrantResponse (technician)
	PathTokens     = "/v1/enrollment-tokens" // POST TokenRequest → TokenResponse (admin)
	PathInventory  = "/v1/agent/inventory"   // POST Inventory (device)
	PathHeartbeat  = "/v1/agent/heartbeat"   // POST Heartbeat (device)
	PathAgentAudit = "/v1/agent/audit"       // POST []AuditEvent (device)
	// PathConsentRules (admin): GET → the shop's consent rules
	// (policy.ConsentRules as JSON; CodeNotFound when the shop has none
	// and each agent uses its own default); PUT the rules → the rules
	// stored; DELETE → 204, the shop has none again.
	PathConsentRules = "/v1/consent-rules"
)

// Peer call paths (served by agents on PeerPort over the overlay).
const (
	PeerPathSysInfo = "/v1/sysinfo" // GET → Inventory; needs CapSysInfo
)

// Limits every decoder enforces.
const (
	MaxRequestBody = 64 << 10 // bytes accepted in any JSON request body
	MaxNameLen     = 64       // user names, host names
	MaxPasswordLen = 1024
)

// EnrollRequest is what an agent sends to enroll with a token.
type EnrollRequest struct {
	Token     string `json:"token"`
	MachineID string `json:"machine_id"` // stable hash of the OS machine identity
	Hostname  string `json:"hostname"`
	OS        string `json:"os"`
	// Agent is the enrolling agent's protocol and capabilities (protocol
	// 2; absent from older agents).
	Agent Served `json:"agent,omitzero"`
}

// EnrollResponse is the coordinator's answer to a successful enrollment.
type EnrollResponse struct {
	DeviceID     string `json:"device_id"`
	DeviceSecret string `json:"device_secret"` // bearer credential for agent calls
	AuthKey      string `json:"auth_key"`      // overlay pre-auth key, tagged TagAgent
	GrantKey     []byte `json:"grant_key"`     // ed25519 public key that signs grants
	ControlURL   string `json:"control_url"`
}

// LoginRequest is a technician's login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse carries the technician's API session and overlay identity.
// When the account has a second factor, the first answer carries only
// SecondFactor and Pending: send the code with Pending to
// PathLoginSecondFactor within five minutes.
type LoginResponse struct {
	SecondFactor bool      `json:"second_factor,omitempty"`
	Pending      string    `json:"pending,omitempty"`
	Session      string    `json:"session"` // bearer token for coordinator calls
	Expires      time.Time `json:"expires"`
	AuthKey      string    `json:"auth_key"` // overlay pre-auth key, tagged TagTech, ephemeral
	Username     string    `json:"username"`
	Role         string    `json:"role"`
	ControlURL   string    `json:"control_url"`
}

// SecondFactorRequest is a login's second step: the pending token of the
// first answer and the authenticator's code or a recovery code.
type SecondFactorRequest struct {
	Pending string `json:"pending"`
	Code    string `json:"code"`
}

// APIKeyRequest creates an API key of the caller's: its name, the role and
// companies it acts with (no more than the caller's), and when it expires
// (zero: the default lifetime).
type APIKeyRequest struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Companies []string  `json:"companies,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`
}

// APIKey describes an API key, without its secret.
type APIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	Role      string    `json:"role"`
	Companies []string  `json:"companies,omitempty"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
}

// APIKeyCreated is a new API key: Key is shown once and never stored.
type APIKeyCreated struct {
	Key string `json:"key"`
	APIKey
}

// Device is one enrolled machine as a technician sees it.
type Device struct {
	ID        string     `json:"id"`
	Hostname  string     `json:"hostname"`
	OS        string     `json:"os"`
	Enrolled  time.Time  `json:"enrolled"`
	LastSeen  time.Time  `json:"last_seen"`
	Online    bool       `json:"online"`
	OverlayIP string     `json:"overlay_ip,omitempty"`
	Inventory *Inventory `json:"inventory,omitempty"`
	// Agent is what its agent last said it serves (protocol 2): the
	// zero value for an agent of protocol 1.
	Agent Served `json:"agent,omitzero"`
}

// GrantRequest asks the coordinator for a session grant.
type GrantRequest struct {
	DeviceID     string       `json:"device_id"`
	NodeKey      string       `json:"node_key"` // the viewer's overlay node key
	Capabilities []Capability `json:"capabilities"`
}

// GrantResponse carries a signed grant and where to use it.
type GrantResponse struct {
	Grant     string    `json:"grant"`
	Expires   time.Time `json:"expires"`
	OverlayIP string    `json:"overlay_ip"`
	// Hostname and Agent are the device's name and what its agent last
	// said it serves (protocol 2), so the viewer can say "pc-7 has no
	// file transfer" instead of calling; absent from older coordinators.
	Hostname string `json:"hostname,omitempty"`
	Agent    Served `json:"agent,omitzero"`
}

// TokenRequest asks for a new enrollment token.
type TokenRequest struct {
	TTL  Duration `json:"ttl,omitempty"` // 0 means the default (24 h)
	Note string   `json:"note,omitempty"`
	// Company and Site file the device that enrolls with the token; the
	// device cannot change them (only an admin's move can). Bounded as
	// Metadata's fields.
	Company string `json:"company,omitempty"`
	Site    string `json:"site,omitempty"`
}

// TokenResponse returns a new enrollment token, shown once.
type TokenResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Inventory is what an agent reports about its machine (U5).
type Inventory struct {
	Hostname      string    `json:"hostname"`
	OS            string    `json:"os"`
	Platform      string    `json:"platform"`
	OSVersion     string    `json:"os_version"`
	KernelVersion string    `json:"kernel_version"`
	Arch          string    `json:"arch"`
	CPUModel      string    `json:"cpu_model"`
	CPUCores      int       `json:"cpu_cores"`
	RAMBytes      uint64    `json:"ram_bytes"`
	Disks         []Disk    `json:"disks"`
	Interfaces    []NetIf   `json:"interfaces"`
	LastBoot      time.Time `json:"last_boot"`
	AgentVersion  string    `json:"agent_version"`
	Collected     time.Time `json:"collected"`

	// U5 and Wake-on-LAN (issue 4).
	OSBuild      string `json:"os_build,omitempty"`
	LoggedOnUser string `json:"logged_on_user,omitempty"`
	Serial       string `json:"serial,omitempty"` // serial number / service tag
	Maker        string `json:"maker,omitempty"`
	Model        string `json:"model,omitempty"`
	Gateway      string `json:"gateway,omitempty"`     // default IPv4 gateway
	GatewayMAC   string `json:"gateway_mac,omitempty"` // its hardware address (tells LANs with the same subnet apart)
	// ExternalIP is filled in by the coordinator from the report's source
	// address; an agent's value is ignored.
	ExternalIP string            `json:"external_ip,omitempty"`
	Metadata   Metadata          `json:"metadata"`
	Custom     map[string]string `json:"custom,omitempty"`
	// Agent is the reporting agent's protocol and capabilities (protocol
	// 2), the same as in its heartbeats.
	Agent Served `json:"agent,omitzero"`
}

// Disk is one mounted file system.
type Disk struct {
	Mount      string `json:"mount"`
	FSType     string `json:"fs_type"`
	TotalBytes uint64 `json:"total_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
}

// NetIf is one network interface with its addresses and hardware address.
type NetIf struct {
	Name  string   `json:"name"`
	MAC   string   `json:"mac,omitempty"`
	Addrs []string `json:"addrs"`
}

// Heartbeat is an agent's periodic liveness report.
type Heartbeat struct {
	AgentVersion string    `json:"agent_version"`
	Uptime       Duration  `json:"uptime"`
	Sent         time.Time `json:"sent"`
	// Agent is the agent's protocol and capabilities (protocol 2).
	Agent Served `json:"agent,omitzero"`
}

// AuditEvent is one audited action or refusal, as agents forward them.
type AuditEvent struct {
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`   // who (technician, node, device, "local")
	Action  string            `json:"action"`  // what, e.g. "peer.sysinfo"
	Target  string            `json:"target"`  // which machine or object
	Outcome string            `json:"outcome"` // "ok" or "denied"
	Reason  string            `json:"reason,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Error is the JSON body of every non-2xx answer.
type Error struct {
	Code    string `json:"code"`    // stable, machine-readable
	Message string `json:"message"` // user-safe explanation
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Error codes.
const (
	CodeBadRequest    = "bad_request"
	CodeUnauthorized  = "unauthorized"
	CodeForbidden     = "forbidden"
	CodeLocked        = "locked"
	CodeRateLimited   = "rate_limited"
	CodeNotFound      = "not_found"
	CodeConflict      = "conflict"
	CodeExpired       = "expired"
	CodeInternal      = "internal"
	CodeConsentDenied = "consent_denied"
)

// Duration is a time.Duration that encodes as a Go duration string.
type Duration time.Duration

// MarshalText encodes d as "1h30m".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText decodes a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("wire: duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// ErrBadName is returned by CheckName for empty, long or odd names.
var ErrBadName = errors.New("wire: invalid name")

// CheckName validates a user or host name: 1..MaxNameLen printable
// characters from [A-Za-z0-9._-].
func CheckName(s string) error {
	if s == "" || len(s) > MaxNameLen {
		return fmt.Errorf("%w: length must be 1..%d", ErrBadName, MaxNameLen)
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 {
		return fmt.Errorf("%w: %q has characters outside [A-Za-z0-9._-]", ErrBadName, s)
	}
	return nil
}
