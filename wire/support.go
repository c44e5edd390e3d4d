package wire

import "time"

// Support-by-code API paths on the coordinator.
const (
	PathSupportCodes    = "/v1/support/codes"    // POST CodeRequest → SupportCode (technician)
	PathSupportRedeem   = "/v1/support/redeem"   // POST RedeemRequest → SupportSession (technician)
	PathSupportSessions = "/v1/support/sessions" // GET → SupportBoard (technician)
	PathSupportJoin     = "/v1/support/join"     // POST JoinRequest → JoinResponse (one-time agent, public)
	PathSupportEnd      = "/v1/support/end"      // POST EndRequest (support device or enrolled device)
	PathSupportAsk      = "/v1/agent/support"    // POST → SupportCode (enrolled agent asks for help)
	PathSupportOverlay  = "/v1/support/overlay"  // POST OverlayReport (support device or enrolled device; 2026-12-07)
)

// Why an agent's overlay node cannot come up, as it reports it over the
// coordinator's HTTPS API (OverlayReport) and as SupportSession carries it.
// "" means the node is up or nothing was reported.
const (
	OverlayConnecting  = "connecting"              // nothing found wrong; still starting
	OverlayNoNetwork   = "no-network"              // no usable network interface
	OverlayUnreachable = "coordinator-unreachable" // the coordinator does not answer
	OverlayPinMismatch = "pin-mismatch"            // the coordinator's certificate does not match the pin
	OverlayClockSkew   = "clock-skew"              // the agent's clock is off
)

// OverlayReasons lists the reasons an OverlayReport may carry (and "").
var OverlayReasons = []string{OverlayConnecting, OverlayNoNetwork, OverlayUnreachable, OverlayPinMismatch, OverlayClockSkew}

// OverlayReport is an agent telling the coordinator why its overlay node is
// not up ("" once it is). Added 2026-12-07; additive.
type OverlayReport struct {
	Reason string `json:"reason"`
}

// CodeRequest asks for a support code.
type CodeRequest struct {
	Team bool     `json:"team"`          // first come for the whole team, else assigned to me
	TTL  Duration `json:"ttl,omitempty"` // 0: until used or cancelled
}

// SupportCode is a code as technicians and agents see it.
type SupportCode struct {
	Code     string    `json:"code"`
	Kind     string    `json:"kind"`
	State    string    `json:"state"`
	Assignee string    `json:"assignee,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`
	Hostname string    `json:"hostname,omitempty"`
	Session  string    `json:"session,omitempty"`
}

// RedeemRequest is a technician entering the code an end user read out.
type RedeemRequest struct {
	Code string `json:"code"`
}

// SupportSession is one session opened by a code.
type SupportSession struct {
	ID         string    `json:"id"`
	Code       string    `json:"code"`
	Technician string    `json:"technician,omitempty"`
	Device     string    `json:"device"`
	Hostname   string    `json:"hostname"`
	OS         string    `json:"os"`
	OneTime    bool      `json:"one_time"`
	State      string    `json:"state"`
	Created    time.Time `json:"created"`
	Ended      time.Time `json:"ended,omitzero"`
	OverlayIP  string    `json:"overlay_ip,omitempty"`
	// Overlay is why the agent's overlay node is not up, as it reported
	// (one of OverlayReasons); "" when it is up or reported nothing.
	// Added 2026-12-07.
	Overlay string `json:"overlay,omitempty"`
	// Agent is what the one-time agent said it serves at its join
	// (protocol 2); zero for one of protocol 1.
	Agent Served `json:"agent,omitzero"`
}

// SupportBoard is what the Support tab shows.
type SupportBoard struct {
	Codes    []SupportCode    `json:"codes"`
	Sessions []SupportSession `json:"sessions"`
}

// JoinRequest is a one-time support agent presenting its code.
type JoinRequest struct {
	Code     string `json:"code"`
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	// Agent is the one-time agent's protocol and capabilities (protocol 2).
	Agent Served `json:"agent,omitzero"`
}

// JoinResponse gives a one-time support agent its ephemeral identity.
type JoinResponse struct {
	Session      string `json:"session"`
	DeviceID     string `json:"device_id"`
	DeviceSecret string `json:"device_secret"`
	AuthKey      string `json:"auth_key"` // ephemeral, tagged TagSupport
	GrantKey     []byte `json:"grant_key"`
	Technician   string `json:"technician,omitempty"`
}

// EndRequest ends a support session.
type EndRequest struct {
	Session string `json:"session,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// SupportConfig is what a one-time support agent carries in its trailer:
// everything it needs, put there by the portal when the user downloads it.
type SupportConfig struct {
	Code           string `json:"code"`
	CoordinatorURL string `json:"coordinator_url"`
	Pin            string `json:"pin"`
}
