package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"tailscale.com/tstest"
)

func clock() *tstest.Clock {
	return tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)})
}

// TestM3OneSlash64OddsPerDay: at the shipped limits an attacker holding
// one /64 has at most 1 in 10,000 a day of hitting a given live code. The
// figure is computed from the constants and then measured: a day of
// guessing every second from addresses all over one /64.
func TestM3OneSlash64OddsPerDay(t *testing.T) {
	t.Parallel()
	perDay := PortalPerNetwork.PerDay()
	odds := float64(perDay) / CodeSpace
	t.Logf("one /64: %d attempts a day, odds %.2g a day against one live code (1 in %.0f)", perDay, odds, 1/odds)
	if odds > 1e-4 {
		t.Fatalf("one /64 gets %d attempts a day: odds %.3g > 1e-4", perDay, odds)
	}
	global := PortalGlobal.PerDay()
	t.Logf("any number of /64s: %d attempts a day (global portal budget), odds %.3g a day against a code live all day, %.3g against a 30-minute code",
		global, float64(global)/CodeSpace, float64(PortalGlobal.Burst+int(30*time.Minute/PortalGlobal.Every))/CodeSpace)
	if got := Technician.PerDay(); float64(got)/CodeSpace > 1e-4 {
		t.Errorf("a technician account gets %d attempts a day: odds > 1e-4", got)
	}

	c := clock()
	codes := NewCodes(c.Now)
	prefix := netip.MustParseAddr("2001:db8:1:2::").As16()
	allowed := 0
	for range 24 * 60 * 60 {
		a := prefix
		for i := 8; i < 16; i++ {
			a[i] = byte(rand.Uint32())
		}
		if _, ok := codes.Portal("["+netip.AddrFrom16(a).String()+"]:4242", ""); ok {
			allowed++
		}
		c.Advance(time.Second)
	}
	if allowed > perDay || float64(allowed)/CodeSpace > 1e-4 {
		t.Fatalf("a day of guessing from one /64 got %d attempts through (computed bound %d)", allowed, perDay)
	}
	if allowed < perDay-1 {
		t.Errorf("only %d of the %d attempts a day came through: the computation does not describe the limiter", allowed, perDay)
	}
}

// TestM3SweepInsideSlash64UsesOneKey: addresses all over one /64 share one
// bucket (the old limiter keyed by address string: one /64 was unlimited).
func TestM3SweepInsideSlash64UsesOneKey(t *testing.T) {
	t.Parallel()
	c := clock()
	l := New(Config{Every: time.Hour, Burst: 3, Now: c.Now})
	allowed := 0
	for i := range 1000 {
		a := fmt.Sprintf("[2001:db8:aa:bb:%x:%x::1]:1", i, i*7)
		if l.Allow(RemoteKey(a)) {
			allowed++
		}
	}
	if allowed != 3 || l.Len() != 1 {
		t.Fatalf("1000 addresses in one /64: %d allowed, %d keys; want 3 and 1", allowed, l.Len())
	}
	if !l.Allow(RemoteKey("[2001:db8:aa:bc::1]:1")) {
		t.Fatal("the next /64 was refused")
	}
}

// TestM3FullLimiterEvictsNotRefuses: a limiter filled by a sweep of
// networks still admits a newcomer, evicting the least recently used
// bucket (the old one refused every new address once it held 100,000).
func TestM3FullLimiterEvictsNotRefuses(t *testing.T) {
	t.Parallel()
	c := clock()
	l := New(Config{Every: time.Hour, Burst: 1, MaxKeys: 100, Now: c.Now})
	for i := range 100 {
		if !l.Allow("10.0.0." + strconv.Itoa(i)) {
			t.Fatalf("key %d refused", i)
		}
	}
	l.Allow("10.0.0.0") // refused (its token is spent), but now the most recently used
	if !l.Allow("192.0.2.1") {
		t.Fatal("a newcomer was refused by a full limiter")
	}
	if l.Len() != 100 {
		t.Fatalf("holds %d keys, bound 100", l.Len())
	}
	if l.Allow("10.0.0.0") {
		t.Fatal("the recently used key was evicted (it had a fresh token)")
	}
	if !l.Allow("10.0.0.1") {
		t.Fatal("the least recently used key was not the one evicted")
	}
}

// TestM3PortalFloodDoesNotStopTechnicians: networks flooding the portal
// use up its global budget, but technicians redeem from a budget of their
// own (the old limiter had one global bucket for both).
func TestM3PortalFloodDoesNotStopTechnicians(t *testing.T) {
	t.Parallel()
	c := clock()
	codes := NewCodes(c.Now)
	for n := 0; ; n++ {
		if n > 10*PortalGlobal.Burst {
			t.Fatal("the global portal budget never ran out")
		}
		ok := false
		for range PortalPerNetwork.Burst {
			_, got := codes.Portal(fmt.Sprintf("2001:db8:%x::1", n), "")
			ok = got || ok
		}
		if !ok {
			break
		}
	}
	if _, ok := codes.Portal("203.0.113.9", ""); ok {
		t.Fatal("a newcomer passed the exhausted global portal budget")
	}
	for i := range Technician.Burst {
		if !codes.Technician("alice") {
			t.Fatalf("technician refused at attempt %d during a portal flood", i)
		}
	}
	if codes.Technician("alice") {
		t.Fatal("the technician's own budget is unlimited")
	}
	if !codes.Technician("bob") {
		t.Fatal("one technician's budget stopped another")
	}
}

func TestAllowNTakesAllOrNothing(t *testing.T) {
	t.Parallel()
	c := clock()
	l := New(Config{Every: time.Second, Burst: 10, Now: c.Now})
	if !l.AllowN("d", 7) {
		t.Fatal("7 of 10 refused")
	}
	if l.AllowN("d", 4) {
		t.Fatal("4 allowed with 3 left")
	}
	if !l.AllowN("d", 3) {
		t.Fatal("a refused AllowN took tokens")
	}
	if l.AllowN("e", 11) {
		t.Fatal("more than the burst allowed")
	}
	c.Advance(2 * time.Second)
	if !l.AllowN("d", 2) || l.Allow("d") {
		t.Fatal("refill is not one token per Every")
	}
	c.Advance(time.Hour)
	if !l.AllowN("d", 10) || l.Allow("d") {
		t.Fatal("a refilled bucket does not hold exactly its burst")
	}
}

func TestAddrKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.7":                      "192.0.2.7",
		"192.0.2.7:555":                  "192.0.2.7",
		"[::ffff:192.0.2.7]:1":           "192.0.2.7",
		"[2001:db8::1]:80":               "2001:db8::/64",
		"2001:db8:0:0:ffff:ffff:ffff:ff": "2001:db8::/64",
		"[fe80::1%eth0]:1":               "fe80::/64",
		"2001:db8:0:1::1":                "2001:db8:0:1::/64",
		"not-an-address":                 "not-an-address",
	} {
		if got := RemoteKey(in); got != want {
			t.Errorf("RemoteKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkAllow: one Allow on a limiter holding many keys, from parallel
// callers (the portal under a sweep).
func BenchmarkAllow(b *testing.B) {
	l := New(Config{Every: time.Second, Burst: 10, MaxKeys: 10_000})
	keys := make([]string, 50_000)
	for i := range keys {
		keys[i] = RemoteKey(fmt.Sprintf("[2001:db8:%x:%x::1]:1", i>>16, i&0xffff))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys))
		for pb.Next() {
			l.Allow(keys[i%len(keys)])
			i++
		}
	})
}

// TestOfficeBehindOneAddressRightCodesCostNothing (issue 12, item 7):
// behind one office address, a confused user typing wrong codes is
// stopped by their browser's own budget with most of the office's left;
// the others' right codes pass however many there are, because a right
// code gives its tokens back. A guesser dropping the cookie is still held
// by the network's budget.
func TestOfficeBehindOneAddressRightCodesCostNothing(t *testing.T) {
	t.Parallel()
	codes := NewCodes(clock().Now)
	const office = "198.51.100.7"
	wrong := 0
	for range 20 {
		if _, ok := codes.Portal(office, "confused"); ok {
			wrong++
		}
	}
	if wrong != PortalVisitor.Burst {
		t.Fatalf("a confused browser got %d wrong guesses through, want its own %d", wrong, PortalVisitor.Burst)
	}
	for i := range 1000 {
		right, ok := codes.Portal(office, fmt.Sprint("colleague-", i%7))
		if !ok {
			t.Fatalf("a colleague's right code %d was refused after one user's wrong guesses", i)
		}
		right()
	}
	// Without a cookie, guesses spend the network's budget, which the
	// confused browser left partly full.
	guesses := 0
	for range 100 {
		if _, ok := codes.Portal(office, ""); ok {
			guesses++
		}
	}
	if want := PortalPerNetwork.Burst - PortalVisitor.Burst; guesses != want {
		t.Fatalf("cookieless guesses from the office: %d, want the network's remaining %d", guesses, want)
	}
	if _, ok := codes.Portal(office, "newcomer"); ok {
		t.Fatal("a fresh cookie got past the exhausted network budget")
	}
}
