package main

import (
	"bufio"
	"bytes"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/cli/clitest"
)

// initBudget bounds what the agent's package initialisers allocate, all
// of it: that heap lives as long as the agent does, and trimming (trim.go)
// cannot hand it back. 2026-12-07: 608 KB over 292 packages (623 KB as this test counts) (the largest,
// kardianos/service, 74 KB). A capability package that builds a big table
// or compiles templates at init, rather than when first called, shows up
// here before it shows in the idle figure.
const initBudget = 1 << 20

// testOnly: packages this test binary links and the agent does not.
func testOnly(pkg string) bool {
	for _, p := range []string{"testing", "github.com/google/go-cmp", "github.com/peerdesk/peerdesk/cli/clitest"} {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// TestInitBudget runs the agent (this test binary, as peerdesk-agent
// version) under GODEBUG=inittrace=1 and adds up what each package's init
// allocated.
func TestInitBudget(t *testing.T) {
	cmd := clitest.Command(t, "version")
	cmd.Env = append(cmd.Env, "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("peerdesk-agent version: %v\n%s", err, stderr.String())
	}
	type pkg struct {
		name  string
		bytes int
	}
	var pkgs []pkg
	total := 0
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		// init tailscale.com/foo @6.5 ms, 0.054 ms clock, 38056 bytes, 306 allocs
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("unreadable inittrace line %q", sc.Text())
		}
		if testOnly(f[1]) {
			continue
		}
		pkgs = append(pkgs, pkg{f[1], n})
		total += n
	}
	if len(pkgs) < 100 {
		t.Fatalf("only %d packages traced: the trace was not read\n%s", len(pkgs), stderr.String())
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].bytes > pkgs[j].bytes })
	t.Logf("package initialisers allocated %d bytes over %d packages; the largest: %v", total, len(pkgs), pkgs[:5])
	if total > initBudget {
		t.Errorf("package initialisers allocate %d bytes, over the agent's budget of %d; the largest: %v", total, initBudget, pkgs[:10])
	}
}
