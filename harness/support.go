package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/peerdesk/peerdesk/supportpack"
	"github.com/peerdesk/peerdesk/wire"
)

// SupportBinary makes the one-time support agent the portal would hand out
// for code: the real peerdesk-agent with the code, the coordinator's
// address and its CA pin in the trailer.
func (c *Coordinator) SupportBinary(t testing.TB, code string) string {
	t.Helper()
	agent, err := os.Open(filepath.Join(Binaries(t), "peerdesk-agent"))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	path := filepath.Join(t.TempDir(), "peerdesk-support-"+code)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supportpack.Write(f, agent, wire.SupportConfig{Code: code, CoordinatorURL: c.URL(), Pin: c.Pin()}); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
