package harness

import "github.com/peerdesk/peerdesk/coordinator"

// WithSupportBinaries sets the directory of the one-time agent executables
// the coordinator's support portal offers (peerdesk-agent-<os>-<arch>).
func WithSupportBinaries(dir string) Option {
	return func(c *coordinator.Config) { c.SupportBinaries = dir }
}
