package overlay

import (
	"fmt"
	"net/netip"
	"testing"

	policyv2 "github.com/juanfont/headscale/hscontrol/policy/v2"
	"github.com/juanfont/headscale/hscontrol/types"
	"tailscale.com/types/views"

	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// BenchmarkBuildPeerMap is what Headscale computes after every batch of
// node changes (joins, endpoint updates, online/offline): who may see
// whom, for a fleet of agents and a few technicians under our ACL.
// Run: go test ./coordinator/overlay -run '^$' -bench BuildPeerMap
func BenchmarkBuildPeerMap(b *testing.B) {
	for _, n := range []int{500, 1000, 2000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			var nv []types.NodeView
			for i := range n + 5 {
				ip := netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)})
				tags := types.Strings{wire.TagAgent}
				if i >= n {
					tags = types.Strings{wire.TagTech}
				}
				nv = append(nv, (&types.Node{ID: types.NodeID(i + 1), Hostname: fmt.Sprint("n", i), IPv4: &ip, Tags: tags}).View())
			}
			nodes := views.SliceOf(nv)
			pm, err := policyv2.NewPolicyManager(policy.OverlayACL(), nil, nodes)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				pm.BuildPeerMap(nodes)
			}
		})
	}
}
