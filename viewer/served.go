package viewer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/peerdesk/peerdesk/wire"
)

// ErrNotServed is what a *NotServedError is: the device's agent does not
// serve a capability.
var ErrNotServed = errors.New("viewer: the agent does not serve that capability")

// NotServedError says that a device's agent does not serve a capability:
// it runs protocol 1, which has none of the backstage capabilities; it
// said it runs without it (a headless agent has no screen); or its peer
// server answered 404 for the capability's route (an agent that predates
// it). Its Error is a sentence a technician can act on.
type NotServedError struct {
	Hostname   string          // the device's name ("" if unknown: the device id)
	Capability wire.Capability // what was asked for
	Protocol   int             // the agent's protocol version (1 if it did not say)
	// Listed: the agent said which capabilities it serves, and this is
	// not one (rather than being too old to say, or answering 404).
	Listed bool
}

func (e *NotServedError) Error() string {
	if e.Listed {
		return fmt.Sprintf("%s's peerdesk agent runs without %s", e.Hostname, CapabilityWords(e.Capability))
	}
	return fmt.Sprintf("%s runs peerdesk agent protocol %d, which has no %s; update the agent", e.Hostname, e.Protocol, CapabilityWords(e.Capability))
}

// Is makes errors.Is(err, ErrNotServed) true.
func (e *NotServedError) Is(target error) bool { return target == ErrNotServed }

// CapabilityWords is a capability as a technician names it.
func CapabilityWords(c wire.Capability) string {
	switch c {
	case wire.CapSysInfo:
		return "system information"
	case wire.CapScreen:
		return "screen sharing"
	case wire.CapInput:
		return "remote control"
	case wire.CapWake:
		return "Wake-on-LAN"
	case wire.CapPower:
		return "power control"
	case wire.CapFiles:
		return "file transfer"
	case wire.CapShell:
		return "shell"
	case wire.CapProcesses:
		return "process list"
	case wire.CapServices:
		return "service control"
	case wire.CapApps:
		return "installed applications list"
	case wire.CapLogs:
		return "event logs"
	}
	return "capability " + string(c)
}

// CheckServed returns a *NotServedError for the first of caps that the
// device's agent, as g describes it (wire.GrantResponse.Agent), does not
// serve; nil when it serves them all or says nothing that rules one out.
func CheckServed(g wire.GrantResponse, caps ...wire.Capability) error {
	for _, c := range caps {
		if !g.Agent.Serves(c) {
			return notServed(g, c, g.Agent.Protocol >= 2 || len(g.Agent.Capabilities) > 0)
		}
	}
	return nil
}

func notServed(g wire.GrantResponse, c wire.Capability, listed bool) *NotServedError {
	name := g.Hostname
	if name == "" {
		name = "this machine"
	}
	return &NotServedError{Hostname: name, Capability: c, Protocol: g.Agent.Version(), Listed: listed}
}

// AgentRefusal turns an agent's answer other than 200 (status and body)
// to a peer call for capability c into an error: the agent's own
// *wire.Error when the body is one (a refusal, or a 404 of the
// capability's own, such as a missing file); a *NotServedError for a 404
// that is not (the peer server has no such route: the agent predates the
// capability); else a *wire.Error with the status. Viewer code that
// streams from an agent with its own requests uses it as Viewer's calls
// do.
func AgentRefusal(g wire.GrantResponse, c wire.Capability, status int, body []byte) error {
	var e wire.Error
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		return &e
	}
	if status == http.StatusNotFound && c != "" {
		return notServed(g, c, false)
	}
	return &wire.Error{Code: wire.CodeInternal, Message: fmt.Sprintf("%d %s", status, http.StatusText(status))}
}
