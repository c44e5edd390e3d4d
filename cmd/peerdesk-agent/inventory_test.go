package main

import (
	"bytes"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/cli/clitest"
	"github.com/peerdesk/peerdesk/wire"
)

// TestInventoryCommand: the hidden `inventory` command (which the Windows
// lane runs under Wine) prints this machine's inventory as one JSON
// document on standard output, warnings apart, and answers -h like the
// listed commands; it is not in the command table.
func TestInventoryCommand(t *testing.T) {
	cmd := clitest.Command(t, "inventory")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("inventory: %v\nstderr:\n%s", err, stderr.String())
	}
	var inv wire.Inventory
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inv); err != nil {
		t.Fatalf("inventory's output is not an inventory: %v", err)
	}
	if dec.More() {
		t.Errorf("more than one JSON document")
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if inv.OS != runtime.GOOS || inv.Hostname != host || inv.CPUCores < 1 || inv.LastBoot.IsZero() {
		t.Errorf("inventory = %+v, want this machine's (%s, %s)", inv, runtime.GOOS, host)
	}

	out, code := clitest.Run(t, "inventory", "-h")
	if code != 0 || !strings.Contains(out, "-log-level") {
		t.Errorf("inventory -h: exit %d\n%s", code, out)
	}
	if out, code := clitest.Run(t, "inventory", "-log-level", "loud"); code == 0 {
		t.Errorf("inventory -log-level loud: exit 0\n%s", out)
	}
	for _, c := range commands() {
		if c.Name == inventoryCommand.Name {
			t.Errorf("inventory is listed: %+v", []cli.Command{c})
		}
	}
}
