package wire

import (
	"errors"
	"fmt"
	"slices"
)

// Served is what an agent says it serves: its protocol version and the
// capabilities its peer server answers. Agents of protocol 2 and later
// send it at enroll (EnrollRequest), at a one-time agent's join
// (JoinRequest), and in every inventory report and heartbeat; the
// coordinator keeps the latest per device and hands it on in Device,
// SupportSession and GrantResponse, so a viewer can tell "this agent has no
// file transfer" before it calls. Agents of protocol 1 send nothing: the
// zero value reads as protocol 1 with its capabilities unknown.
type Served struct {
	// Protocol is the agent's ProtocolVersion; 0 means it did not say,
	// which only agents of protocol 1 do.
	Protocol int `json:"protocol,omitempty"`
	// Capabilities are the capabilities the agent's peer server answers,
	// sorted; a newer agent may name ones this version does not know.
	Capabilities []Capability `json:"capabilities,omitempty"`
}

// Limits on what an agent may claim to serve.
const (
	MaxServedCapabilities = 64   // capabilities in one Served
	MaxCapabilityName     = 32   // bytes of one capability name
	MaxProtocolVersion    = 1000 // a version beyond any this line will reach
)

// ErrBadServed is returned by Served.Check.
var ErrBadServed = errors.New("wire: invalid protocol or capability list")

// Check bounds an agent's claim: a protocol in 0..MaxProtocolVersion, at
// most MaxServedCapabilities names of [a-z0-9-], each at most
// MaxCapabilityName bytes, none twice. Names this version does not know
// pass (a newer agent's).
func (s Served) Check() error {
	if s.Protocol < 0 || s.Protocol > MaxProtocolVersion {
		return fmt.Errorf("%w: protocol %d", ErrBadServed, s.Protocol)
	}
	if len(s.Capabilities) > MaxServedCapabilities {
		return fmt.Errorf("%w: %d capabilities, at most %d", ErrBadServed, len(s.Capabilities), MaxServedCapabilities)
	}
	seen := make(map[Capability]bool, len(s.Capabilities))
	for _, c := range s.Capabilities {
		if c == "" || len(c) > MaxCapabilityName {
			return fmt.Errorf("%w: a capability name of %d bytes", ErrBadServed, len(c))
		}
		for _, r := range c {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("%w: capability %q", ErrBadServed, string(c))
			}
		}
		if seen[c] {
			return fmt.Errorf("%w: %q twice", ErrBadServed, string(c))
		}
		seen[c] = true
	}
	return nil
}

// Normalized returns s with its capabilities sorted and a nil list for an
// empty one, so equal claims compare equal.
func (s Served) Normalized() Served {
	if len(s.Capabilities) == 0 {
		return Served{Protocol: s.Protocol}
	}
	c := slices.Clone(s.Capabilities)
	slices.Sort(c)
	return Served{Protocol: s.Protocol, Capabilities: c}
}

// Version is the agent's protocol version: Protocol, or 1 when it did not
// say (agents of protocol 1 never do).
func (s Served) Version() int {
	if s.Protocol == 0 {
		return 1
	}
	return s.Protocol
}

// Equal reports whether s and o make the same claim.
func (s Served) Equal(o Served) bool {
	a, b := s.Normalized(), o.Normalized()
	return a.Protocol == b.Protocol && slices.Equal(a.Capabilities, b.Capabilities)
}

// Serves reports whether the agent answers c, as far as its claim tells:
// for an agent that sent a list, whether c is on it; for one that sent
// none (protocol 1, or an agent that has not reported yet), whether c
// existed in protocol 1 — an agent may still predate one of those routes,
// which its 404 then shows.
//
// Input travels on the screen session's route, so an agent that serves
// CapScreen serves CapInput.
func (s Served) Serves(c Capability) bool {
	if c == CapInput {
		c = CapScreen
	}
	if s.Protocol >= 2 || len(s.Capabilities) > 0 {
		return slices.Contains(s.Capabilities, c)
	}
	return slices.Contains(ProtocolOneCapabilities, c)
}

// ProtocolOneCapabilities are the capabilities protocol 1 defined (its
// additive changes included): an agent that sends no list may serve them.
var ProtocolOneCapabilities = []Capability{CapSysInfo, CapScreen, CapInput, CapWake, CapPower}
