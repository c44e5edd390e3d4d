package agent

import (
	"log/slog"
	"time"

	"github.com/peerdesk/peerdesk/agent/files"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/peer"
)

// backstageConfig is what the backstage capabilities need from the agent
// that serves them.
type backstageConfig struct {
	Logger *slog.Logger
	// OneTime: the one-time support agent (its user sits at the machine
	// and sees every lease on their page).
	OneTime bool
	// Audit is the agent's trail: capabilities record what each call did
	// (a file written, a folder deleted) besides the gate's record.
	Audit  gate.Recorder
	Device string // this agent's device id
	// FilesRoot is the folder the files capability shows as "/" ("" is
	// the whole machine).
	FilesRoot string
	Now       func() time.Time
}

// backstage is the rows both the installed agent (Run) and the one-time
// agent (RunSupport) serve besides screen, system information, power and
// Wake-on-LAN: files, shell, processes, services, applications and logs,
// each from its own agent/<capability> package (issue 13). Adding a
// capability adds its row here. A row whose capability cannot start is
// left out and logged: the agent then does not offer it, and a viewer
// says so.
func backstage(c backstageConfig) []peer.Capability {
	var rows []peer.Capability
	if fh, err := files.New(files.Config{Root: c.FilesRoot, Device: c.Device, Audit: c.Audit, Logger: c.Logger.With("capability", "files"), Now: c.Now}); err != nil {
		c.Logger.Error("the files capability cannot start; not offered", "err", err)
	} else {
		rows = append(rows, peer.Capability{Routes: files.Routes(), Handler: fh, Consent: peer.ConsentPerCall, Close: fh.Close})
	}
	return rows
}
