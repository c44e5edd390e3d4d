package consentrules

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Set, Get and Clear round trip; invalid rules and rules too large for a
// record are refused and leave what was stored.
func TestStore(t *testing.T) {
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := New(db, nil)
	if _, ok, err := s.Get(); ok || err != nil {
		t.Fatalf("a new store has rules: %v, %v", ok, err)
	}
	r := policy.ConsentRules{Default: []wire.Capability{wire.CapScreen},
		ByCompany: map[string][]wire.Capability{"acme": {}}, ByDevice: map[string][]wire.Capability{"d1": {wire.CapPower}}}
	if err := s.Set(r); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get()
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("(-set +got):\n%s", diff)
	}
	if err := s.Set(policy.ConsentRules{Default: []wire.Capability{"root"}}); !errors.Is(err, policy.ErrConsentRules) {
		t.Errorf("unknown capability: %v, want ErrConsentRules", err)
	}
	// 10,000 entries pass Check, but not in a record of at most
	// store.MaxValue bytes.
	big := policy.ConsentRules{ByDevice: map[string][]wire.Capability{}}
	for i := range policy.MaxConsentEntries {
		big.ByDevice[fmt.Sprintf("%0*d", wire.MaxNameLen, i)] = wire.KnownCapabilities
	}
	if err := big.Check(); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(big); err == nil {
		t.Error("rules larger than a record were stored")
	}
	if got, _, _ := s.Get(); !cmp.Equal(r, got) {
		t.Error("a refused Set changed the rules")
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(); ok || err != nil {
		t.Fatalf("cleared rules remain: %v, %v", ok, err)
	}
}
