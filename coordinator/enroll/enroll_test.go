package enroll

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*Registry, *time.Time) {
	t.Helper()
	db, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := t0
	return New(db, func() time.Time { return now }), &now
}

func machine(c byte) string { return strings.Repeat(string(c), 64) }

func TestEnrollOnce(t *testing.T) {
	leak.Check(t)
	r, _ := setup(t)
	tok, stored, err := r.CreateToken(0, "front desk", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Expires.Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("default expiry = %v", stored.Expires)
	}
	keys := &fakeKeys{}
	enr, err := r.Enroll(Request{Token: tok, MachineID: machine('a'), Hostname: "pc-1", OS: "linux"}, keys)
	if err != nil {
		t.Fatal(err)
	}
	dev, secret := enr.Device, enr.Secret
	if enr.AuthKey != "key-1" || dev.NodeKeyID != 1 {
		t.Fatalf("overlay key %q (id %d), want key-1 (id 1)", enr.AuthKey, dev.NodeKeyID)
	}
	if got, err := r.Authenticate(dev.ID, secret); err != nil || got.Hostname != "pc-1" {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	if _, err := r.Authenticate(dev.ID, strings.Repeat("0", 64)); !errors.Is(err, ErrDeviceSecret) {
		t.Fatalf("wrong secret: %v", err)
	}
	// The token is spent.
	if _, err := r.Enroll(Request{Token: tok, MachineID: machine('b'), Hostname: "pc-2"}, keys); !errors.Is(err, ErrTokenUsed) {
		t.Fatalf("reused token: %v", err)
	}
	// The same machine with a fresh token is refused until reset.
	tok2, _, err := r.CreateToken(0, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Enroll(Request{Token: tok2, MachineID: machine('a'), Hostname: "pc-1"}, keys); !errors.Is(err, ErrKnownDevice) {
		t.Fatalf("re-enrollment: %v", err)
	}
	if _, err := r.Reset(dev.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Enroll(Request{Token: tok2, MachineID: machine('a'), Hostname: "pc-1"}, keys); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

func TestEnrollRefusals(t *testing.T) {
	leak.Check(t)
	r, now := setup(t)
	tok, _, err := r.CreateToken(time.Hour, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	wrong := tok
	wrong.Secret = strings.Repeat("0", 40)
	unknown := tok
	unknown.ID = "ffffffff"
	for name, tc := range map[string]struct {
		req  Request
		want error
	}{
		"wrong secret":   {Request{Token: wrong, MachineID: machine('a'), Hostname: "pc"}, ErrBadToken},
		"unknown token":  {Request{Token: unknown, MachineID: machine('a'), Hostname: "pc"}, ErrBadToken},
		"bad machine id": {Request{Token: tok, MachineID: "abc", Hostname: "pc"}, ErrBadMachineID},
		"bad host name":  {Request{Token: tok, MachineID: machine('a'), Hostname: "../../pc"}, wire.ErrBadName},
	} {
		if _, err := r.Enroll(tc.req, &fakeKeys{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	*now = now.Add(time.Hour)
	if _, err := r.Enroll(Request{Token: tok, MachineID: machine('a'), Hostname: "pc"}, &fakeKeys{}); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, _, err := r.CreateToken(365*24*time.Hour, "", "alice"); err == nil {
		t.Fatal("accepted a token living a year")
	}
}

func TestTokenRedeemedOnceUnderRace(t *testing.T) {
	leak.Check(t)
	r, _ := setup(t)
	tok, _, err := r.CreateToken(0, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	keys := &fakeKeys{}
	for i := range 8 {
		wg.Go(func() {
			if _, err := r.Enroll(Request{Token: tok, MachineID: machine(byte('a' + i)), Hostname: "pc"}, keys); err == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d enrollments with one token", ok.Load())
	}
	// The losers' keys, if any were minted, are deleted again.
	if live := keys.liveKeys(); len(live) != 1 {
		t.Fatalf("%d overlay keys left, want the winner's only: %v", len(live), live)
	}
	devs, err := r.Devices()
	if err != nil || len(devs) != 1 {
		t.Fatalf("devices = %d, %v", len(devs), err)
	}
}
