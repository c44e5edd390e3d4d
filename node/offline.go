package node

import (
	"sync"

	"tailscale.com/envknob"
	"tailscale.com/logtail"
)

var offlineOnce sync.Once

// goOffline switches off every part of tsnet that would talk to anything but
// the coordinator and peers. The knobs are process-wide, which is what we
// want: no overlay node in a peerdesk process may phone home.
func goOffline() {
	offlineOnce.Do(func() {
		logtail.Disable()                            // no log upload to log.tailscale.com
		envknob.SetNoLogsNoSupport()                 // and say so to the control plane
		envknob.Setenv("TS_DISABLE_PORTMAPPER", "1") // no UPnP / NAT-PMP / PCP probes of the LAN gateway
		envknob.Setenv("TS_NO_LOGS_NO_SUPPORT", "1")
	})
}
