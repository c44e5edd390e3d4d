package enroll

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

// fakeKeys is the overlay's key store as Enroll sees it: it counts what
// is minted and what is still there.
type fakeKeys struct {
	mu     sync.Mutex
	next   uint64
	live   map[uint64]bool
	minted int
	fail   error
	onMint func() // runs after a key is minted, before Mint returns
}

func (k *fakeKeys) Mint() (uint64, string, error) {
	k.mu.Lock()
	if k.fail != nil {
		k.mu.Unlock()
		return 0, "", k.fail
	}
	k.next++
	k.minted++
	if k.live == nil {
		k.live = make(map[uint64]bool)
	}
	k.live[k.next] = true
	id, onMint := k.next, k.onMint
	k.mu.Unlock()
	if onMint != nil {
		onMint()
	}
	return id, fmt.Sprintf("key-%d", id), nil
}

func (k *fakeKeys) Delete(id uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.live, id)
	return nil
}

func (k *fakeKeys) liveKeys() []uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Sorted(maps.Keys(k.live))
}

func (k *fakeKeys) mintCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.minted
}

// TestL1TokenCheckedBeforeKeyMinted: no refusal costs an overlay key —
// not a wrong, unknown, used or expired token, not an enrolled or removed
// machine, not a malformed request. Before, the API minted the key first
// and Enroll checked the token after.
func TestL1TokenCheckedBeforeKeyMinted(t *testing.T) {
	leak.Check(t)
	r, now := setup(t)
	keys := &fakeKeys{}
	used, _, err := r.CreateToken(0, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	enr, err := r.Enroll(Request{Token: used, MachineID: machine('a'), Hostname: "pc-a"}, keys)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := r.Enroll(Request{Token: mustToken(t, r), MachineID: machine('e'), Hostname: "pc-r"}, keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Remove(gone.Device.ID); err != nil {
		t.Fatal(err)
	}
	expiring, _, err := r.CreateToken(time.Minute, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	fresh := mustToken(t, r)
	wrong := fresh
	wrong.Secret = strings.Repeat("0", 40)
	unknown := fresh
	unknown.ID = "ffffffff"
	*now = now.Add(2 * time.Minute)
	before := keys.mintCount()
	for name, tc := range map[string]struct {
		req  Request
		want error
	}{
		"wrong secret":     {Request{Token: wrong, MachineID: machine('b'), Hostname: "pc"}, ErrBadToken},
		"unknown token":    {Request{Token: unknown, MachineID: machine('b'), Hostname: "pc"}, ErrBadToken},
		"used token":       {Request{Token: used, MachineID: machine('b'), Hostname: "pc"}, ErrTokenUsed},
		"expired token":    {Request{Token: expiring, MachineID: machine('b'), Hostname: "pc"}, ErrTokenExpired},
		"enrolled machine": {Request{Token: fresh, MachineID: machine('a'), Hostname: "pc"}, ErrKnownDevice},
		"removed machine":  {Request{Token: fresh, MachineID: machine('e'), Hostname: "pc"}, ErrRemoved},
		"bad machine id":   {Request{Token: fresh, MachineID: "abc", Hostname: "pc"}, ErrBadMachineID},
		"bad host name":    {Request{Token: fresh, MachineID: machine('b'), Hostname: "../pc"}, wire.ErrBadName},
	} {
		if _, err := r.Enroll(tc.req, keys); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if n := keys.mintCount() - before; n != 0 {
		t.Fatalf("refused enrollments minted %d overlay keys, want 0", n)
	}
	if live := keys.liveKeys(); !slices.Contains(live, enr.Device.NodeKeyID) {
		t.Fatalf("live keys %v lack the enrolled device's %d", live, enr.Device.NodeKeyID)
	}

	// A key that cannot be made fails the enrollment without spending
	// the token.
	keys.fail = errors.New("headscale down")
	if _, err := r.Enroll(Request{Token: fresh, MachineID: machine('c'), Hostname: "pc-c"}, keys); !errors.Is(err, ErrOverlayKey) {
		t.Fatalf("with no key: %v, want ErrOverlayKey", err)
	}
	keys.fail = nil
	if _, err := r.Enroll(Request{Token: fresh, MachineID: machine('c'), Hostname: "pc-c"}, keys); err != nil {
		t.Fatalf("after the overlay recovered: %v", err)
	}
}

// TestL1LostRaceDeletesKey: when the token is spent between the check
// and the redemption, the key minted in between is deleted.
func TestL1LostRaceDeletesKey(t *testing.T) {
	leak.Check(t)
	r, _ := setup(t)
	tok := mustToken(t, r)
	keys := &fakeKeys{}
	keys.onMint = func() {
		keys.onMint = nil // the rival's own mint does not race again
		if _, err := r.Enroll(Request{Token: tok, MachineID: machine('b'), Hostname: "rival"}, keys); err != nil {
			t.Errorf("rival: %v", err)
		}
	}
	if _, err := r.Enroll(Request{Token: tok, MachineID: machine('a'), Hostname: "pc"}, keys); !errors.Is(err, ErrTokenUsed) {
		t.Fatalf("the loser: %v, want ErrTokenUsed", err)
	}
	devs, err := r.Devices()
	if err != nil || len(devs) != 1 {
		t.Fatalf("devices = %+v, %v", devs, err)
	}
	if diff := cmp.Diff([]uint64{devs[0].NodeKeyID}, keys.liveKeys()); diff != "" {
		t.Fatalf("live keys (-want +got):\n%s", diff)
	}
}

// TestM6AgentCannotChooseCompany: the company and site come from the
// token the admin made; the agent's inventory report claims another and
// is overwritten; only Move files the machine elsewhere. Before, the
// report's company was stored as the device's company, and the API
// scoped technicians by it.
func TestM6AgentCannotChooseCompany(t *testing.T) {
	leak.Check(t)
	r, _ := setup(t)
	tok, stored, err := r.NewToken(TokenOptions{Note: "acme laptops", CreatedBy: "ann", Company: "acme", Site: "berlin"})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Company != "acme" || stored.Site != "berlin" {
		t.Fatalf("token filed under %q/%q", stored.Company, stored.Site)
	}
	enr, err := r.Enroll(Request{Token: tok, MachineID: machine('a'), Hostname: "pc"}, &fakeKeys{})
	if err != nil {
		t.Fatal(err)
	}
	id := enr.Device.ID
	filed := func(wantCompany, wantSite string) {
		t.Helper()
		d, err := r.Device(id)
		if err != nil {
			t.Fatal(err)
		}
		if c, s := d.Filed(); c != wantCompany || s != wantSite {
			t.Fatalf("filed under %q/%q, want %q/%q", c, s, wantCompany, wantSite)
		}
		if d.Inventory != nil && (d.Inventory.Metadata.Company != wantCompany || d.Inventory.Metadata.Site != wantSite) {
			t.Fatalf("stored inventory says %q/%q, want %q/%q", d.Inventory.Metadata.Company, d.Inventory.Metadata.Site, wantCompany, wantSite)
		}
	}
	filed("acme", "berlin")

	claim := wire.Inventory{Hostname: "pc", Metadata: wire.Metadata{Company: "globex", Site: "rome", DeviceType: "laptop"}}
	if err := r.SetInventory(id, claim); err != nil {
		t.Fatal(err)
	}
	filed("acme", "berlin")
	if d, _ := r.Device(id); d.Inventory.Metadata.DeviceType != "laptop" {
		t.Fatalf("the report's other fields were lost: %+v", d.Inventory.Metadata)
	}

	// An admin's move is the one way.
	if _, err := r.Move(id, "globex", "rome"); err != nil {
		t.Fatal(err)
	}
	filed("globex", "rome")
	claim.Metadata.Company, claim.Metadata.Site = "acme", "berlin"
	if err := r.SetInventory(id, claim); err != nil {
		t.Fatal(err)
	}
	filed("globex", "rome")

	if _, err := r.Move(id, "a\nb", ""); err == nil {
		t.Fatal("moved under a company with a control character")
	}
	if _, err := r.Move("dev-none", "acme", ""); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("moving an unknown device: %v", err)
	}
	if _, _, err := r.NewToken(TokenOptions{Company: strings.Repeat("x", wire.MaxMetadataField+1)}); err == nil {
		t.Fatal("a token with an over-long company")
	}
}

// TestM6DeviceFromBeforeKeepsItsCompany: a device enrolled before tokens
// carried a company keeps the one its stored report named, and from its
// next report on that company is its own: a later report cannot change it.
func TestM6DeviceFromBeforeKeepsItsCompany(t *testing.T) {
	leak.Check(t)
	r, _ := setup(t)
	enr, err := r.Enroll(Request{Token: mustToken(t, r), MachineID: machine('a'), Hostname: "pc"}, &fakeKeys{})
	if err != nil {
		t.Fatal(err)
	}
	id := enr.Device.ID
	// As the old code stored it: the device's own claim, unfiled device.
	old := enr.Device
	old.Inventory = &wire.Inventory{Metadata: wire.Metadata{Company: "acme", Site: "berlin"}}
	if err := r.db.Update(func(tx store.Tx) error { return tx.Put(nsDevice, id, old) }); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.Device(id); d.Company != "" {
		t.Fatalf("setup: device filed %q", d.Company)
	} else if c, s := d.Filed(); c != "acme" || s != "berlin" {
		t.Fatalf("legacy device filed under %q/%q, want acme/berlin", c, s)
	}
	if err := r.SetInventory(id, wire.Inventory{Metadata: wire.Metadata{Company: "globex"}}); err != nil {
		t.Fatal(err)
	}
	d, _ := r.Device(id)
	if d.Company != "acme" || d.Site != "berlin" || d.Inventory.Metadata.Company != "acme" {
		t.Fatalf("after a report: %q/%q, inventory %q", d.Company, d.Site, d.Inventory.Metadata.Company)
	}
}

// TestM5RemoveAndReset: removing a device ends its credentials and keeps
// its machine out until an admin resets it; resetting ends them and lets
// the machine enroll again. Both hand back the overlay key id whose node
// the caller deletes. Before, nothing could revoke a device (Reset was
// called by nothing and Remove did not exist).
func TestM5RemoveAndReset(t *testing.T) {
	leak.Check(t)
	r, _ := setup(t)
	keys := &fakeKeys{}
	enroll := func(m byte) Enrollment {
		t.Helper()
		enr, err := r.Enroll(Request{Token: mustToken(t, r), MachineID: machine(m), Hostname: "pc"}, keys)
		if err != nil {
			t.Fatal(err)
		}
		return enr
	}
	a, b := enroll('a'), enroll('b')

	removed, err := r.Remove(a.Device.ID)
	if err != nil {
		t.Fatal(err)
	}
	if removed.NodeKeyID != a.Device.NodeKeyID || removed.ID != a.Device.ID {
		t.Fatalf("Remove returned %+v", removed)
	}
	if _, err := r.Authenticate(a.Device.ID, a.Secret); !errors.Is(err, ErrDeviceSecret) {
		t.Fatalf("a removed device authenticates: %v", err)
	}
	if _, err := r.Device(a.Device.ID); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("a removed device is found: %v", err)
	}
	devs, err := r.Devices()
	if err != nil || len(devs) != 1 || devs[0].ID != b.Device.ID {
		t.Fatalf("devices after remove = %+v, %v", devs, err)
	}
	gone, err := r.RemovedDevices()
	if err != nil || len(gone) != 1 || gone[0].ID != a.Device.ID || gone[0].Removed.IsZero() || gone[0].SecretHash != "" {
		t.Fatalf("removed devices = %+v, %v", gone, err)
	}
	if _, err := r.Remove(a.Device.ID); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("removing twice: %v", err)
	}
	if _, err := r.Enroll(Request{Token: mustToken(t, r), MachineID: machine('a'), Hostname: "pc"}, keys); !errors.Is(err, ErrRemoved) {
		t.Fatalf("a removed machine enrolls again: %v", err)
	}

	// Reset lets it back (with a new token), removed or enrolled.
	if _, err := r.Reset(a.Device.ID); err != nil {
		t.Fatal(err)
	}
	if gone, _ := r.RemovedDevices(); len(gone) != 0 {
		t.Fatalf("removed devices after reset = %+v", gone)
	}
	enroll('a')
	reset, err := r.Reset(b.Device.ID)
	if err != nil || reset.NodeKeyID != b.Device.NodeKeyID {
		t.Fatalf("Reset = %+v, %v", reset, err)
	}
	if _, err := r.Authenticate(b.Device.ID, b.Secret); !errors.Is(err, ErrDeviceSecret) {
		t.Fatalf("a reset device authenticates: %v", err)
	}
	enroll('b')
	if _, err := r.Reset("dev-none"); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("resetting an unknown device: %v", err)
	}
}

func mustToken(t *testing.T, r *Registry) wire.EnrollToken {
	t.Helper()
	tok, _, err := r.CreateToken(0, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
