package policy

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/wire"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestOverlayACLGolden(t *testing.T) {
	got := OverlayACL()
	if !json.Valid(got) {
		t.Fatal("ACL is not JSON")
	}
	const path = "testdata/overlay-acl.golden.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Fatalf("ACL changed (-golden +got); run with -update if intended:\n%s", d)
	}
}

func TestOverlayACLShape(t *testing.T) {
	var pol struct {
		ACLs []struct {
			Proto string   `json:"proto"`
			Src   []string `json:"src"`
			Dst   []string `json:"dst"`
		} `json:"acls"`
	}
	if err := json.Unmarshal(OverlayACL(), &pol); err != nil {
		t.Fatal(err)
	}
	relay := fmt.Sprintf("%s:%d-%d", wire.TagTech, wire.RelayPortMin, wire.RelayPortMax)
	for _, r := range pol.ACLs {
		switch {
		case cmp.Equal(r.Src, []string{wire.TagTech}):
			for _, dst := range r.Dst {
				if strings.HasPrefix(dst, wire.TagTech) {
					t.Errorf("technicians reach technicians: %s", dst)
				}
			}
		case r.Proto == "udp" && cmp.Equal(r.Dst, []string{relay}):
			// Agents answer the technician's screen relay, and nothing
			// else of the technician's node.
			for _, src := range r.Src {
				if src == wire.TagTech {
					t.Errorf("the relay rule lets technicians in: %v", r.Src)
				}
			}
		case cmp.Equal(r.Src, []string{sentinel}):
			// The never-empty rule: from and to an address no node has.
			if !cmp.Equal(r.Dst, []string{sentinel + ":9"}) {
				t.Errorf("the sentinel rule reaches %v", r.Dst)
			}
		default:
			t.Errorf("unexpected rule: %+v", r)
		}
		for _, dst := range r.Dst {
			for _, src := range r.Src {
				if src != wire.TagTech && (strings.HasPrefix(dst, wire.TagAgent) || strings.HasPrefix(dst, wire.TagSupport)) {
					t.Errorf("agents reach agents: %s → %s", src, dst)
				}
			}
		}
	}
}

func TestAllow(t *testing.T) {
	for _, tc := range []struct {
		role Role
		a    Action
		ok   bool
	}{
		{RoleAdmin, ActionCreateEnrollToken, true},
		{RoleTechnician, ActionCreateEnrollToken, false},
		{RoleTechnician, ActionRequestGrant, true},
		{Role("root"), ActionListDevices, false},
		{Role(""), ActionRequestGrant, false},
		{RoleViewer, ActionReadTickets, true},
		{RoleViewer, ActionWorkTickets, false},
		{RoleTechnician, ActionWorkTickets, true},
		{RoleSenior, ActionWorkTickets, true},
		{RoleSenior, ActionManageWebhooks, false},
		{RoleAdmin, ActionManageWebhooks, true},
	} {
		err := Allow(tc.role, tc.a)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("Allow(%s, %s) = %v, want ok=%v", tc.role, tc.a, err, tc.ok)
		}
	}
}

func TestGrantCapabilities(t *testing.T) {
	got, err := GrantCapabilities(RoleTechnician, []wire.Capability{wire.CapSysInfo, wire.CapSysInfo})
	if err != nil || !cmp.Equal(got, []wire.Capability{wire.CapSysInfo}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := GrantCapabilities(RoleTechnician, nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("empty request: %v", err)
	}
	if _, err := GrantCapabilities(RoleTechnician, []wire.Capability{"shell-as-root"}); !errors.Is(err, ErrUnknownCap) {
		t.Fatalf("unknown capability: %v", err)
	}
	if _, err := GrantCapabilities(Role("intern"), []wire.Capability{wire.CapSysInfo}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("unknown role: %v", err)
	}
}

func TestEnrollTokenTTL(t *testing.T) {
	if d, err := EnrollTokenTTL(0); err != nil || d != 24*time.Hour {
		t.Fatalf("default = %v, %v", d, err)
	}
	for _, bad := range []time.Duration{time.Second, -time.Hour, 31 * 24 * time.Hour} {
		if _, err := EnrollTokenTTL(bad); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}
