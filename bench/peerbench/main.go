// Command peerbench drives the benchmarks recorded in docs/BENCHMARKS.md
// against real peerdesk processes (see scripts/bench.sh):
//
//	peerbench controlload  N control-only overlay clients join a coordinator and stay
//	peerbench recv         an agent-tagged node that swallows bytes on the peer port
//	peerbench send         a technician node that sends bulk data to recv
//	peerbench firstcall    fresh technician nodes: Up, then the first peer call
//	peerbench access       the Access view's page, search and group, and killed → offline
//
// Each prints its results, including its own peak memory, as "key=value"
// lines on stdout.
package main

import (
	"github.com/peerdesk/peerdesk/cli"
)

func main() {
	cli.SetMemoryLimit(cli.DefaultMemoryLimit) // as the agent and viewer do; GOMEMLIMIT=off measures without
	cli.Main("peerbench", []cli.Command{
		{Name: "controlload", Usage: "join N control-only clients and hold them", Run: controlLoad},
		{Name: "recv", Usage: "receive bulk data on the overlay", Run: recv},
		{Name: "send", Usage: "send bulk data over the overlay", Run: send},
		{Name: "firstcall", Usage: "measure Up → first peer call", Run: firstCall},
		{Name: "access", Usage: "measure the Access view and killed-to-offline on a loaded coordinator", Run: accessLoad},
	})
}
