package peerdesk_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/peerdesk/peerdesk"

// Import rules (docs/ARCHITECTURE.md, "Import rules"): the agent and viewer
// binaries link neither the control plane, the store, nor the dashboard;
// the wire protocol and policy are leaves; only the overlay adapter imports
// Headscale; the dashboard does not import the API (both are adapters over
// coordinator/desk); the admin client links no server code.
func TestImportRules(t *testing.T) {
	server := []string{"github.com/juanfont/headscale", "github.com/dgraph-io/badger/v4", mod + "/coordinator", mod + "/templates/dashboard"}
	for _, tc := range []struct {
		pkg       string
		forbidden []string
		allowed   []string
	}{
		{"./cmd/peerdesk-agent", server, nil},
		{"./cmd/peerdesk-viewer", server, nil},
		{"./wire", []string{mod}, []string{mod + "/wire"}},
		{"./policy", []string{mod, "tailscale.com", "net/http"}, []string{mod + "/wire", mod + "/policy"}},
		// The admin client (peerdesk admin …) speaks wire's local
		// protocol and links no server code.
		{"./coordinator/adminclient", []string{mod + "/coordinator/api", mod + "/coordinator/desk", mod + "/coordinator/store",
			"github.com/dgraph-io/badger/v4", "github.com/juanfont/headscale"}, nil},
	} {
		for _, d := range deps(t, tc.pkg) {
			for _, f := range tc.forbidden {
				if under(d, f) && !slices.Contains(tc.allowed, d) {
					t.Errorf("%s links %s (forbidden: %s)", tc.pkg, d, f)
				}
			}
		}
	}
	// A positive control: the coordinator binary does link Headscale, so
	// the checks above look at real dependency lists.
	if !slices.ContainsFunc(deps(t, "./cmd/peerdesk"), func(d string) bool { return under(d, "github.com/juanfont/headscale") }) {
		t.Fatal("the coordinator does not link Headscale: the dependency listing is broken")
	}
	for _, line := range goList(t, "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if under(imp, "github.com/juanfont/headscale") && f[0] != mod+"/coordinator/overlay" {
				t.Errorf("%s imports %s: only coordinator/overlay may", f[0], imp)
			}
			// The dashboard is an adapter over package desk, as the API
			// is: neither decides through the other.
			if under(f[0], mod+"/coordinator/web") && imp == mod+"/coordinator/api" {
				t.Errorf("%s imports %s: the dashboard goes through coordinator/desk", f[0], imp)
			}
		}
	}
}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

func deps(t *testing.T, pkg string) []string { return goList(t, "-deps", pkg) }

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
