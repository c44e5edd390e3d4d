package policy

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/peerdesk/peerdesk/wire"
)

// OverlayACL returns the Headscale (policy v2) ACL for a peerdesk overlay:
//
//   - technicians reach agents and one-time support agents, on the peer port
//     (TCP) and on UDP (screen sessions);
//   - agents and support agents reach nobody but a technician's screen
//     relay ports (UDP, a fixed range): they cannot reach each other, and
//     of a technician's node only the relay sockets, which accept only the
//     agent of their own session;
//   - technicians do not reach each other.
//
// Every node also gets two attributes, explained where they are set.
//
// Every tag is owned by nobody, so only pre-auth keys the coordinator mints
// can place a node in it.
// sentinel is the address of OverlayACL's never-empty rule: RFC 5737
// TEST-NET-1, which no overlay node is ever given.
const sentinel = "192.0.2.1/32"

func OverlayACL() []byte {
	type rule struct {
		Action string   `json:"action"`
		Proto  string   `json:"proto,omitempty"`
		Src    []string `json:"src"`
		Dst    []string `json:"dst"`
	}
	targets := func(ports string) []string {
		return []string{wire.TagAgent + ":" + ports, wire.TagSupport + ":" + ports}
	}
	type nodeAttr struct {
		Target []string `json:"target"`
		Attr   []string `json:"attr"`
	}
	pol := struct {
		TagOwners map[string][]string `json:"tagOwners"`
		ACLs      []rule              `json:"acls"`
		NodeAttrs []nodeAttr          `json:"nodeAttrs"`
	}{
		TagOwners: map[string][]string{wire.TagAgent: {}, wire.TagSupport: {}, wire.TagTech: {}},
		ACLs: []rule{
			{Action: "accept", Proto: "tcp", Src: []string{wire.TagTech}, Dst: targets(strconv.Itoa(wire.PeerPort))},
			{Action: "accept", Proto: "udp", Src: []string{wire.TagTech}, Dst: targets("*")},
			// ICMP lets a technician ping an agent to see the path.
			{Action: "accept", Proto: "icmp", Src: []string{wire.TagTech}, Dst: targets("*")},
			// Screen sessions: agents answer the technician's TURN relay,
			// whose overlay sockets live in a fixed port range. Nothing
			// else of a technician's node is reachable from an agent.
			{Action: "accept", Proto: "udp", Src: []string{wire.TagAgent, wire.TagSupport},
				Dst: []string{fmt.Sprintf("%s:%d-%d", wire.TagTech, wire.RelayPortMin, wire.RelayPortMax)}},
			// Never an empty filter. With no technician on the overlay
			// every rule above resolves to nothing, and Headscale takes
			// an empty filter as "no policy": its incremental updates
			// then skip peer filtering, so every joining agent was sent
			// to every other agent (measured: agents listing each other
			// until a full map; and O(n²) map work when a fleet joins).
			// This rule names only an address no node can have
			// (TEST-NET-1, outside the overlay's 100.64.0.0/10) and
			// lets nothing through.
			{Action: "accept", Proto: "tcp", Src: []string{sentinel}, Dst: []string{sentinel + ":9"}},
		},
		NodeAttrs: []nodeAttr{{
			Target: []string{"*"},
			Attr: []string{
				// tsnet v1.101.0-pre applies a peer added by a delta
				// update to its network map but not to its WireGuard
				// configuration, so the new peer's handshakes are refused
				// until some later full update (measured: about half of
				// all joins never connect). Peer maps here are tiny, so
				// full updates cost nothing worth saving.
				"disable-delta-updates",
				// No captive-portal probes: nothing but the coordinator
				// is ever contacted.
				"disable-captive-portal-detection",
			},
		}},
	}
	b, err := json.MarshalIndent(pol, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("policy: marshalling a constant ACL: %v", err)) // cannot happen
	}
	return b
}
