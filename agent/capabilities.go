package agent

import (
	"log/slog"
	"time"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/peer"
	"github.com/peerdesk/peerdesk/agent/shell"
	"github.com/peerdesk/peerdesk/wire"
)

// backstageConfig is what the backstage capabilities need from the agent
// that serves them.
type backstageConfig struct {
	Logger *slog.Logger
	// OneTime: the one-time support agent (its user sits at the machine
	// and sees every lease on their page).
	OneTime bool
	// Device is this machine's device id, for audit records.
	Device string
	// Audit is the agent's audit trail: what each call did.
	Audit gate.Recorder
	// ShellIdle and ShellMax bound shells (shell.DefaultIdle and
	// shell.DefaultMax if zero).
	ShellIdle, ShellMax time.Duration
}

// backstage is the rows both the installed agent (Run) and the one-time
// agent (RunSupport) serve besides screen, system information, power and
// Wake-on-LAN: files, shell, processes, services, applications and logs,
// each from its own agent/<capability> package (issue 13). Adding a
// capability adds its row here.
func backstage(c backstageConfig) []peer.Capability {
	var rows []peer.Capability
	sh := shell.New(shell.Config{Idle: c.ShellIdle, Max: c.ShellMax, Device: c.Device, Audit: c.Audit, Logger: c.Logger.With("component", "shell")})
	rows = append(rows, peer.Capability{Routes: []string{"GET " + wire.PeerPathShell}, Consent: peer.ConsentPerCall, Handler: sh, Close: sh.Close})
	return rows
}
