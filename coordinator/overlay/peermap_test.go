package overlay

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/juanfont/headscale/hscontrol/policy"
	policyv2 "github.com/juanfont/headscale/hscontrol/policy/v2"
	"github.com/juanfont/headscale/hscontrol/types"
	"tailscale.com/tailcfg"
	"tailscale.com/types/views"

	pdpolicy "github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestPeerMapMatchesAllPairs checks the patched Headscale's peer map
// (third_party/headscale: built from each rule's source and destination
// nodes instead of all pairs) against the definition — for every node,
// the nodes it may reach or that may reach it, as Headscale's own
// ReduceNodes computes pair by pair — on random fleets under our ACL and
// under policies with wildcards, address prefixes, subnet routers and exit
// nodes.
func TestPeerMapMatchesAllPairs(t *testing.T) {
	tags := []string{wire.TagAgent, wire.TagTech, wire.TagSupport, ""}
	owners := fmt.Sprintf(`"tagOwners": {%q: [], %q: [], %q: []}`, wire.TagAgent, wire.TagTech, wire.TagSupport)
	policies := map[string][]byte{
		"peerdesk": pdpolicy.OverlayACL(),
		"everyone": []byte(`{` + owners + `, "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]}`),
		"routes": []byte(`{` + owners + `, "acls": [
			{"action": "accept", "src": ["` + wire.TagTech + `"], "dst": ["10.1.0.0/24:*"]},
			{"action": "accept", "src": ["10.2.0.0/16"], "dst": ["` + wire.TagAgent + `:22"]},
			{"action": "accept", "src": ["` + wire.TagSupport + `"], "dst": ["autogroup:internet:*"]}]}`),
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for name, pol := range policies {
		for round := range 5 {
			n := 20 + rng.IntN(120)
			var nv []types.NodeView
			for i := range n {
				ip := netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)})
				node := &types.Node{ID: types.NodeID(i + 1), Hostname: fmt.Sprint("n", i), IPv4: &ip}
				if tag := tags[rng.IntN(len(tags))]; tag != "" {
					node.Tags = types.Strings{tag}
				} else {
					node.User = &types.User{Name: "u"}
					node.UserID = ptr(uint(1))
				}
				switch rng.IntN(8) {
				case 0: // a subnet router for 10.1.0.0/24 or 10.2.3.0/24
					r := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("10.2.3.0/24")}[rng.IntN(2)]
					node.Hostinfo = &tailcfg.Hostinfo{RoutableIPs: []netip.Prefix{r}}
					node.ApprovedRoutes = []netip.Prefix{r}
				case 1: // an exit node
					exits := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
					node.Hostinfo = &tailcfg.Hostinfo{RoutableIPs: exits}
					node.ApprovedRoutes = exits
				}
				nv = append(nv, node.View())
			}
			nodes := views.SliceOf(nv)
			pm, err := policyv2.NewPolicyManager(pol, []types.User{{Name: "u"}}, nodes)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := pm.BuildPeerMap(nodes)
			edges := 0
			for _, node := range nv {
				m, err := pm.MatchersForNode(node)
				if err != nil {
					t.Fatal(err)
				}
				want := ids(policy.ReduceNodes(node, nodes, m).AsSlice())
				if have := ids(got[node.ID()]); !slices.Equal(have, want) {
					t.Fatalf("%s round %d: node %d (tags %v) has peers %v, the definition gives %v", name, round, node.ID(), node.Tags().AsSlice(), have, want)
				}
				edges += len(want)
			}
			t.Logf("%s round %d: %d nodes, %d peer links", name, round, n, edges/2)
		}
	}
}

func ids(ns []types.NodeView) []types.NodeID {
	var out []types.NodeID
	for _, n := range ns {
		out = append(out, n.ID())
	}
	return out
}

func ptr[T any](v T) *T { return &v }
