package webui

import (
	"context"
	"fmt"
	"strings"

	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/wire"
)

// backstageCapabilities are the capabilities of protocol 2 that have pages
// of their own; a machine's pages say which of them its agent lacks.
var backstageCapabilities = []wire.Capability{wire.CapFiles, wire.CapShell, wire.CapProcesses, wire.CapServices, wire.CapApps, wire.CapLogs}

// unserved is, a sentence each, the backstage capabilities the agent of
// the machine named host does not serve, as it last told the coordinator.
func unserved(host string, s wire.Served) []string {
	var out []string
	for _, c := range backstageCapabilities {
		if err := viewer.CheckServed(wire.GrantResponse{Hostname: host, Agent: s}, c); err != nil {
			out = append(out, err.Error()+".")
		}
	}
	return out
}

// agentWords is an agent's protocol and capabilities as the machine list
// and the tools page show them.
func agentWords(s wire.Served) string {
	if len(s.Capabilities) == 0 {
		return fmt.Sprintf("protocol %d", s.Version())
	}
	names := make([]string, len(s.Capabilities))
	for i, c := range s.Capabilities {
		names[i] = string(c)
	}
	return fmt.Sprintf("protocol %d (%s)", s.Version(), strings.Join(names, ", "))
}

// machineAgent is a machine's host name and what its agent serves, from the
// coordinator's machine list; ok is false when the list does not have it
// (a one-time agent's device, or the coordinator is unreachable).
func (s *Server) machineAgent(ctx context.Context, device string) (string, wire.Served, bool) {
	devs, err := s.v.Devices(ctx)
	if err != nil {
		return "", wire.Served{}, false
	}
	for _, d := range devs {
		if d.ID == device {
			return d.Hostname, d.Agent, true
		}
	}
	return "", wire.Served{}, false
}
