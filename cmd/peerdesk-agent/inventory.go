package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/peerdesk/peerdesk/agent/inventory"
	"github.com/peerdesk/peerdesk/cli"
)

// inventoryCommand is hidden (not in commands()'s table): `peerdesk-agent
// inventory` prints the inventory this machine would report, as indented
// JSON; warnings about parts it could not read go to stderr. The Windows
// lane runs it under Wine (e2e TestWindowsAgentInventory).
var inventoryCommand = cli.Command{Name: "inventory", Usage: "print the inventory this machine reports, as JSON", Run: printInventory}

func printInventory(ctx context.Context, args []string) error {
	fs := cli.Flags("peerdesk-agent", "inventory")
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := cli.Logger(*level)
	if err != nil {
		return err
	}
	inv, err := inventory.New(inventory.Options{AgentVersion: version, Logger: log}).Collect(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}
