package agent

import (
	"log/slog"
	"time"

	"github.com/peerdesk/peerdesk/agent/apps"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/logs"
	"github.com/peerdesk/peerdesk/agent/peer"
	"github.com/peerdesk/peerdesk/agent/procs"
	"github.com/peerdesk/peerdesk/agent/services"
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
	// Device is this machine's device id, and Audit its audit trail:
	// capabilities record what each call did (a process killed, a
	// service restarted).
	Device string
	Audit  gate.Recorder
	// ServicesBus and JournalDir: see Config.
	ServicesBus string
	JournalDir  string
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
	rows = append(rows,
		peer.Capability{Routes: []string{"GET " + wire.PeerPathProcesses, "POST " + wire.PeerPathProcessKill},
			Handler: &procs.Handler{Device: c.Device, Audit: c.Audit, Logger: c.Logger}, Consent: peer.ConsentPerCall},
		peer.Capability{Routes: []string{"GET " + wire.PeerPathServices, "POST " + wire.PeerPathServiceDo},
			Handler: &services.Handler{Manager: services.NewManager(c.ServicesBus), Device: c.Device, Audit: c.Audit, Logger: c.Logger},
			Consent: peer.ConsentPerCall},
		peer.Capability{Routes: []string{"POST " + wire.PeerPathLogs},
			Handler: &logs.Handler{JournalDir: c.JournalDir, Device: c.Device, Audit: c.Audit, Logger: c.Logger}, Consent: peer.ConsentPerCall},
		// An inventory read: the consent rules never ask about it.
		peer.Capability{Routes: []string{"GET " + wire.PeerPathApps}, Handler: apps.Handler{Logger: c.Logger}},
	)
	sh := shell.New(shell.Config{Idle: c.ShellIdle, Max: c.ShellMax, Device: c.Device, Audit: c.Audit, Logger: c.Logger.With("component", "shell")})
	rows = append(rows, peer.Capability{Routes: []string{"GET " + wire.PeerPathShell}, Consent: peer.ConsentPerCall, Handler: sh, Close: sh.Close})
	return rows
}
