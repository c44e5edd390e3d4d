package agent

import (
	"log/slog"
	"time"

	"github.com/peerdesk/peerdesk/agent/apps"
	"github.com/peerdesk/peerdesk/agent/files"
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
	// capabilities record what each call did (a file written, a process
	// killed, a service restarted) besides the gate's record.
	Device string
	Audit  gate.Recorder
	// ServicesBus and JournalDir: see Config.
	ServicesBus string
	JournalDir  string
	// FilesRoot is the folder the files capability shows as "/" ("" is
	// the whole machine).
	FilesRoot string
	// PartialsFile lists the uploads in progress (files.Config); "" keeps
	// the list in memory (the one-time agent, whose state is temporary).
	PartialsFile string
	// ShellIdle and ShellMax bound shells (shell.DefaultIdle and
	// shell.DefaultMax if zero).
	ShellIdle, ShellMax time.Duration
	Now                 func() time.Time
}

// backstageNames are the capabilities of backstage's rows, which agents
// claim at enroll and join before their table is built (building it opens
// what the rows hold). TestBackstageNames keeps the two equal.
var backstageNames = []wire.Capability{wire.CapProcesses, wire.CapServices, wire.CapLogs, wire.CapApps, wire.CapShell, wire.CapFiles}

// backstage is the rows both the installed agent (Run) and the one-time
// agent (RunSupport) serve besides screen, system information, power and
// Wake-on-LAN: files, shell, processes, services, applications and logs,
// each from its own agent/<capability> package (issue 13). Adding a
// capability adds its row here. A row whose capability cannot start is
// left out and logged: the agent then does not offer it, and a viewer
// says so.
func backstage(c backstageConfig) []peer.Capability {
	var rows []peer.Capability
	if fh, err := files.New(files.Config{Root: c.FilesRoot, Device: c.Device, Audit: c.Audit, Logger: c.Logger.With("capability", "files"), Now: c.Now,
		PartialsFile: c.PartialsFile}); err != nil {
		c.Logger.Error("the files capability cannot start; not offered", "err", err)
	} else {
		rows = append(rows, peer.Capability{Routes: files.Routes(), Handler: fh, Consent: peer.ConsentPerCall, Close: fh.Close})
	}
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
