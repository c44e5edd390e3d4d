package desk_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// The benchmarks issue 11 names: what one person waiting on the desk sees
// while others flood it. Each floods from 50 networks (IPv6 /64s), every
// network at floodRate requests a second, and reports the waiting
// person's median and 95th-percentile latency; "flooders=0" is the same
// work alone, for the ratio. The store is Badger on disk with synchronous
// writes, as the coordinator runs it: a refusal is an audit record, so a
// flood is mostly writes.
//
//	go test -run '^$' -bench 'Flood' -benchtime 200x ./coordinator/desk/

const floodRate = 20 // requests a second from each flooding network

// benchDesk is a desk over Badger on disk with one enrolled machine of
// Acme.
func benchDesk(b *testing.B) (*desk.Desk, *identity.Accounts, enroll.Device) {
	b.Helper()
	db, err := store.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	accounts, err := identity.New(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	registry := enroll.New(db, nil)
	d := desk.New(desk.Config{Accounts: accounts, Registry: registry, Audit: audit.New(db, nil),
		Overlay: &fakeOverlay{}, Support: support.New(db, nil), ControlURL: "https://coord.test", GrantKey: key, Pin: strings.Repeat("ab", 32)})
	tok, err := d.CreateToken(desk.Local(), enroll.TokenOptions{Company: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	resp, err := d.Enroll("192.0.2.1", wire.EnrollRequest{Token: tok.Token, MachineID: strings.Repeat("a", 64), Hostname: "front-desk", OS: "linux"})
	if err != nil {
		b.Fatal(err)
	}
	dev, err := registry.Device(resp.DeviceID)
	if err != nil {
		b.Fatal(err)
	}
	return d, accounts, dev
}

// flood runs n flooders, the i-th from its own /64, each calling hit at
// floodRate a second until the returned stop is called.
func flood(n int, hit func(i, k int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / floodRate)
			defer tick.Stop()
			for k := 0; ; k++ {
				select {
				case <-done:
					return
				case <-tick.C:
					hit(i, k)
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// floodNet is the i-th flooder's network.
func floodNet(i int) string { return fmt.Sprintf("2001:db8:%x::1", i+1) }

// report adds the median and 95th percentile of lat, in milliseconds.
func report(b *testing.B, lat []time.Duration) {
	b.Helper()
	slices.Sort(lat)
	at := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
}

// BenchmarkLoginDuringFlood: a technician logs in with the right password
// while 50 networks try wrong passwords on other accounts (each network
// is held to its rate limit, each guess that gets through costs an
// argon2id hash, each refusal an audit record).
func BenchmarkLoginDuringFlood(b *testing.B) {
	for _, flooders := range []int{0, 50} {
		b.Run(fmt.Sprintf("flooders=%d", flooders), func(b *testing.B) {
			d, accounts, _ := benchDesk(b)
			const pw = "correct horse battery staple"
			if err := accounts.Create("alice", pw, policy.RoleTechnician); err != nil {
				b.Fatal(err)
			}
			for i := range flooders {
				if err := accounts.Create(fmt.Sprintf("victim%d", i), pw, policy.RoleTechnician); err != nil {
					b.Fatal(err)
				}
			}
			stop := flood(flooders, func(i, k int) {
				d.Login(desk.Caller{IP: floodNet(i), Via: "api"}, fmt.Sprintf("victim%d", i), fmt.Sprint("guess", k)) //nolint:errcheck // refused, as meant
			})
			defer stop()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				// Alice from a network of her own each time: the figure is
				// the login's cost, not her own rate limit.
				c := desk.Caller{IP: fmt.Sprintf("2001:db8:ffff:%x::1", i), Via: "api"}
				t0 := time.Now()
				_, err := d.Login(c, "alice", pw)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			report(b, lat)
		})
	}
}

// BenchmarkRedeemDuringPortalFlood: a technician redeems the code an end
// user's agent asked for while 50 networks guess codes on the public
// portal. Technicians redeem on a budget of their own (M3), so the flood
// costs them time, never a refusal.
func BenchmarkRedeemDuringPortalFlood(b *testing.B) {
	for _, flooders := range []int{0, 50} {
		b.Run(fmt.Sprintf("flooders=%d", flooders), func(b *testing.B) {
			d, _, dev := benchDesk(b)
			stop := flood(flooders, func(i, k int) {
				d.CheckCode(floodNet(i), "", fmt.Sprintf("%06d", (i*7919+k*104729)%1_000_000)) //nolint:errcheck // refused, as meant
			})
			defer stop()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				code, err := d.Ask(dev)
				if err != nil {
					b.Fatal(err)
				}
				// A technician redeems at most a burst before their budget
				// refills; the benchmark takes a new one every 10.
				tech := desk.Caller{User: fmt.Sprint("tech", i/10), Role: policy.RoleTechnician, Scope: policy.Scope{"acme"}, IP: "2001:db8:eeee::1", Via: "api"}
				b.StartTimer()
				t0 := time.Now()
				ss, err := d.Redeem(tech, code.Code)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatalf("redeem %d: %v", i, err)
				}
				b.StopTimer()
				if err := d.EndSession(tech, ss.ID); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			report(b, lat)
		})
	}
}
