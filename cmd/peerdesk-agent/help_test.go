package main

import (
	"testing"

	"github.com/peerdesk/peerdesk/cli/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m, "peerdesk-agent", main) }

// TestHelp: every command and subcommand of peerdesk-agent, as its dispatch table
// has them, answers -h, --help and help with what it does and its flags,
// and exits 0.
func TestHelp(t *testing.T) {
	clitest.CheckHelp(t, "peerdesk-agent", commands())
}
