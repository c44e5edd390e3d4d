package agent

import (
	"log/slog"

	"github.com/peerdesk/peerdesk/agent/peer"
)

// backstageConfig is what the backstage capabilities need from the agent
// that serves them.
type backstageConfig struct {
	Logger *slog.Logger
	// OneTime: the one-time support agent (its user sits at the machine
	// and sees every lease on their page).
	OneTime bool
}

// backstage is the rows both the installed agent (Run) and the one-time
// agent (RunSupport) serve besides screen, system information, power and
// Wake-on-LAN: files, shell, processes, services, applications and logs,
// each from its own agent/<capability> package (issue 13). Adding a
// capability adds its row here.
func backstage(c backstageConfig) []peer.Capability {
	var rows []peer.Capability
	return rows
}
