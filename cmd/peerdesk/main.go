// Command peerdesk is the coordinator: `peerdesk serve` runs it, and
// `peerdesk admin …` administers a running one through its local socket
// (the only way to create the first admin).
package main

import "github.com/peerdesk/peerdesk/cli"

var version = "dev"

func main() {
	cli.Main("peerdesk", commands())
}

// commands is peerdesk's dispatch table.
func commands() []cli.Command {
	return []cli.Command{
		{Name: "serve", Usage: "run the coordinator", Run: serve},
		{Name: "admin", Usage: "administer the running coordinator on this machine (add-user, user, device, token, status, audit)", Sub: adminCommands()},
		{Name: "version", Usage: "print the version", Run: printVersion},
	}
}
