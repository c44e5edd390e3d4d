package agent

import (
	"github.com/peerdesk/peerdesk/agent/peer"
	"github.com/peerdesk/peerdesk/wire"
)

// What an agent says it serves (wire.Served): the installed agent sends it
// at enroll and with every inventory report and heartbeat, the one-time
// agent at its join, so a viewer can tell a technician "pc-7 has no file
// transfer" instead of calling a route the agent does not have.

// servedBy is what a peer server built from rows answers.
func servedBy(names []wire.Capability) wire.Served {
	return wire.Served{Protocol: wire.ProtocolVersion, Capabilities: names}.Normalized()
}

// rowNames are the capability names of rows.
func rowNames(rows []peer.Capability) []wire.Capability {
	names := make([]wire.Capability, 0, len(rows))
	for _, r := range rows {
		names = append(names, r.Name())
	}
	return names
}

// installedServed is what Run serves by default (a screen; the backstage
// rows), said at enroll, before any table is built; Run's own table is
// sent with the first inventory report.
func installedServed() wire.Served {
	names := []wire.Capability{wire.CapSysInfo, wire.CapPower, wire.CapWake, wire.CapScreen}
	return servedBy(append(names, backstageNames...))
}

// oneTimeServed is what RunSupport serves, said at its join (before the
// overlay, and so the screen, is up): a screen, system information and
// the backstage rows.
func oneTimeServed() wire.Served {
	names := []wire.Capability{wire.CapScreen, wire.CapSysInfo}
	return servedBy(append(names, backstageNames...))
}

// setServed records what the running peer server answers; reports carry
// it from then on.
func (a *Agent) setServed(s wire.Served) {
	a.mu.Lock()
	a.served = s
	a.mu.Unlock()
}

// servedNow is what the agent's peer server answers; the zero value
// before Run has built it.
func (a *Agent) servedNow() wire.Served {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.served
}
