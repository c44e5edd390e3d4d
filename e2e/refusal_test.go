package e2e

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// TestPeerCallRefusals: an agent answers only a technician node that holds a
// valid, unexpired grant for this device, this capability and that very
// node; every refusal is a clear error, in the agent's trail and, forwarded,
// in the coordinator's.
func TestPeerCallRefusals(t *testing.T) {
	harness.Begin(t)
	clock := harness.NewClock()
	c := harness.StartCoordinator(t, harness.WithClock(clock))
	a := c.EnrollAgent(t, "pc-a")
	b := c.EnrollAgent(t, "pc-b")
	alice := c.LoginViewer(t, c.AddTechnician(t, "alice"))
	bob := c.LoginViewer(t, c.AddTechnician(t, "bob"))

	ga, err := alice.Grant(ctx(t), a.DeviceID(), wire.CapSysInfo)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := alice.Grant(ctx(t), b.DeviceID(), wire.CapSysInfo)
	if err != nil {
		t.Fatal(err)
	}
	// A grant issued an hour ago (the coordinator's clock set back) has
	// expired by the agent's clock.
	clock.Advance(-time.Hour)
	expired, err := alice.Grant(ctx(t), a.DeviceID(), wire.CapSysInfo)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)

	var inv wire.Inventory
	for _, tc := range []struct {
		name     string
		call     func() error
		code     string
		inReason string
	}{
		{"no grant", func() error { return alice.Call(ctx(t), ga.OverlayIP, "", wire.PeerPathSysInfo, &inv) }, wire.CodeUnauthorized, "no session grant"},
		{"expired grant", func() error { return alice.Call(ctx(t), ga.OverlayIP, expired.Grant, wire.PeerPathSysInfo, &inv) }, wire.CodeExpired, "expired"},
		{"grant for another device", func() error { return alice.Call(ctx(t), ga.OverlayIP, gb.Grant, wire.PeerPathSysInfo, &inv) }, wire.CodeForbidden, "another device"},
		{"grant presented by another node", func() error { return bob.Call(ctx(t), ga.OverlayIP, ga.Grant, wire.PeerPathSysInfo, &inv) }, wire.CodeForbidden, "another node"},
		{"forged grant", func() error {
			return alice.Call(ctx(t), ga.OverlayIP, ga.Grant[:len(ga.Grant)-4]+"AAAA", wire.PeerPathSysInfo, &inv)
		}, wire.CodeUnauthorized, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !harness.IsCode(err, tc.code) {
				t.Fatalf("call = %v, want code %s", err, tc.code)
			}
			recs, err := a.Audit().All()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range recs {
				found = found || r.Outcome == audit.Denied && strings.Contains(r.Reason, tc.inReason)
			}
			if !found {
				t.Fatalf("no denied record mentioning %q in the agent's trail: %+v", tc.inReason, recs)
			}
			c.WaitAudit(t, "peer.sysinfo", audit.Denied, func(r audit.Record) bool {
				return r.Source == "agent:"+a.DeviceID() && strings.Contains(r.Reason, tc.inReason)
			})
		})
	}

	// The right grant from the right node still works.
	if err := alice.Call(ctx(t), ga.OverlayIP, ga.Grant, wire.PeerPathSysInfo, &inv); err != nil {
		t.Fatalf("valid call: %v", err)
	}

	// Bob cannot get a grant for alice's node.
	aliceNode, err := alice.Node(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	aliceKey, err := aliceNode.NodeKey(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Coordinator().Grant(ctx(t), wire.GrantRequest{DeviceID: a.DeviceID(), NodeKey: aliceKey, Capabilities: []wire.Capability{wire.CapSysInfo}}); !harness.IsCode(err, wire.CodeForbidden) {
		t.Fatalf("grant for another technician's node: %v", err)
	}
	c.WaitAudit(t, "grant.issue", audit.Denied, func(r audit.Record) bool { return r.Actor == "bob" })

	// O5: agents do not reach each other, even knowing the address.
	bNode := b.Node()
	dctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if conn, err := bNode.Dial(dctx, "tcp", net.JoinHostPort(ga.OverlayIP, strconv.Itoa(wire.PeerPort))); err == nil {
		conn.Close()
		t.Fatal("one agent reached another over the overlay")
	}
}

// TestEnrollmentRefusals: reused, expired and garbled tokens, and a machine
// enrolling twice, are refused and audited.
func TestEnrollmentRefusals(t *testing.T) {
	harness.Begin(t)
	clock := harness.NewClock()
	c := harness.StartCoordinator(t, harness.WithClock(clock))
	enroll := func(tok, machine string) error {
		_, err := agent.Enroll(ctx(t), agent.EnrollOptions{
			StateDir: t.TempDir(), CoordinatorURL: c.URL(), Token: tok, Hostname: "pc", MachineID: machine,
		})
		return err
	}
	m1, m2 := harness.NewMachineID(), harness.NewMachineID()
	tok := c.Token(t, 0)
	if err := enroll(tok, m1); err != nil {
		t.Fatal(err)
	}
	if err := enroll(tok, m2); !harness.IsCode(err, wire.CodeUnauthorized) || !strings.Contains(err.Error(), "already been used") {
		t.Fatalf("reused token: %v", err)
	}
	if err := enroll(c.Token(t, 0), m1); !harness.IsCode(err, wire.CodeConflict) {
		t.Fatalf("re-enrollment: %v", err)
	}
	short := c.Token(t, time.Hour)
	clock.Advance(time.Hour + time.Second)
	if err := enroll(short, m2); !harness.IsCode(err, wire.CodeExpired) {
		t.Fatalf("expired token: %v", err)
	}
	// A token with the right pin but an invented secret.
	parsed, err := wire.ParseEnrollToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Secret = strings.Repeat("0", 40)
	if err := enroll(parsed.String(), m2); !harness.IsCode(err, wire.CodeUnauthorized) {
		t.Fatalf("invented secret: %v", err)
	}
	// A token pinned to another CA never reaches the coordinator's API.
	parsed.Pin = strings.Repeat("ab", 32)
	if err := enroll(parsed.String(), m2); err == nil || !strings.Contains(err.Error(), "pin") {
		t.Fatalf("wrong pin: %v", err)
	}
	for _, reason := range []string{"already been used", "already enrolled", "expired", "unknown or wrong"} {
		c.WaitAudit(t, "device.enroll", audit.Denied, func(r audit.Record) bool { return strings.Contains(r.Reason, reason) })
	}
}

// TestLoginLockoutAndRateLimit: five wrong passwords lock the account for
// 15 minutes, even against the right password; and one address is
// rate-limited whatever account it tries.
func TestLoginLockoutAndRateLimit(t *testing.T) {
	harness.Begin(t)
	clock := harness.NewClock()
	c := harness.StartCoordinator(t, harness.WithClock(clock))
	c.AddUser(t, "carol", policy.RoleAdmin)
	ca, err := trust.FetchCA(ctx(t), c.URL(), c.Pin())
	if err != nil {
		t.Fatal(err)
	}
	cl := coordclient.New(c.URL(), ca)
	login := func(pw string) error {
		_, err := cl.Login(ctx(t), "carol", pw)
		clock.Advance(10 * time.Second) // stay under the per-address rate limit
		return err
	}
	for i := 1; i <= policy.MaxFailedLogins; i++ {
		err := login("not the password")
		want := wire.CodeUnauthorized
		if i == policy.MaxFailedLogins {
			want = wire.CodeLocked // the failure that locks says so
		}
		if !harness.IsCode(err, want) {
			t.Fatalf("wrong password %d: %v, want %s", i, err, want)
		}
	}
	if err := login(harness.Password); !harness.IsCode(err, wire.CodeLocked) {
		t.Fatalf("right password after %d failures: %v, want locked", policy.MaxFailedLogins, err)
	}
	c.WaitAudit(t, "technician.login", audit.Denied, func(r audit.Record) bool {
		return r.Actor == "carol" && strings.Contains(r.Reason, "locked")
	})
	clock.Advance(policy.LockoutDuration)
	if err := login(harness.Password); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}

	// Rate limit per address: a burst of attempts, whatever the name.
	var limited error
	for i := range 20 {
		_, err := cl.Login(ctx(t), fmt.Sprintf("guess%d", i), "x")
		if harness.IsCode(err, wire.CodeRateLimited) {
			limited = err
			break
		}
	}
	if limited == nil {
		t.Fatal("20 rapid logins from one address were never rate-limited")
	}
	c.WaitAudit(t, "technician.login", audit.Denied, func(r audit.Record) bool { return strings.Contains(r.Reason, "too many") })
}
