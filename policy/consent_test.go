package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/wire"
)

func caps(c ...wire.Capability) []wire.Capability { return c }

// The most specific entry wins; a present but empty entry asks nothing.
func TestConsentRulesFor(t *testing.T) {
	t.Parallel()
	r := ConsentRules{
		Default:   caps(wire.CapScreen, wire.CapInput, wire.CapPower),
		ByCompany: map[string][]wire.Capability{"acme": caps(wire.CapPower), "kiosks": {}},
		ByDevice:  map[string][]wire.Capability{"dev-lab": {}, "dev-ceo": caps(wire.CapInput, wire.CapScreen, wire.CapScreen)},
	}
	for _, tc := range []struct {
		company, device string
		want            []wire.Capability
	}{
		{"", "", caps(wire.CapInput, wire.CapPower, wire.CapScreen)},
		{"globex", "dev-1", caps(wire.CapInput, wire.CapPower, wire.CapScreen)},
		{"acme", "dev-1", caps(wire.CapPower)},
		{"kiosks", "dev-1", []wire.Capability{}},
		{"acme", "dev-lab", []wire.Capability{}},
		{"kiosks", "dev-ceo", caps(wire.CapInput, wire.CapScreen)},
		{"", "dev-ceo", caps(wire.CapInput, wire.CapScreen)},
	} {
		if diff := cmp.Diff(tc.want, r.For(tc.company, tc.device)); diff != "" {
			t.Errorf("For(%q, %q) (-want +got):\n%s", tc.company, tc.device, diff)
		}
	}
	if got := (ConsentRules{}).For("acme", "dev-1"); got == nil || len(got) != 0 {
		t.Errorf("the zero rules ask %v, want nothing (and not nil)", got)
	}
	if got := AttendedRules().For("x", "y"); !slices.Equal(got, AttendedConsent) {
		t.Errorf("attended rules ask %v, want %v", got, AttendedConsent)
	}
	if got := UnattendedRules().For("x", "y"); len(got) != 0 {
		t.Errorf("unattended rules ask %v", got)
	}
	// For returns a copy: changing it does not change the rules.
	got := r.For("acme", "dev-1")
	got[0] = wire.CapSysInfo
	if r.ByCompany["acme"][0] != wire.CapPower {
		t.Error("For returned the rules' own slice")
	}
}

func TestConsentRulesCheck(t *testing.T) {
	t.Parallel()
	many := map[string][]wire.Capability{}
	for i := range MaxConsentEntries + 1 {
		many[fmt.Sprint("c", i)] = nil
	}
	for name, r := range map[string]ConsentRules{
		"unknown default":   {Default: caps("root")},
		"unknown company":   {ByCompany: map[string][]wire.Capability{"acme": caps("shell!")}},
		"empty device name": {ByDevice: map[string][]wire.Capability{"": caps(wire.CapScreen)}},
		"long company name": {ByCompany: map[string][]wire.Capability{strings.Repeat("a", wire.MaxNameLen+1): nil}},
		"too many entries":  {ByCompany: many},
		"too many caps":     {Default: slices.Repeat(caps(wire.CapScreen), len(wire.KnownCapabilities)+1)},
	} {
		if err := r.Check(); !errors.Is(err, ErrConsentRules) {
			t.Errorf("%s: Check = %v, want ErrConsentRules", name, err)
		}
	}
	if err := AttendedRules().Check(); err != nil {
		t.Errorf("attended rules: %v", err)
	}
}

func TestParseConsentRules(t *testing.T) {
	t.Parallel()
	r, err := ParseConsentRules([]byte(`{"default":["screen","input"],"by_company":{"acme":[]},"by_device":{"d1":["power"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := ConsentRules{Default: caps(wire.CapScreen, wire.CapInput), ByCompany: map[string][]wire.Capability{"acme": {}},
		ByDevice: map[string][]wire.Capability{"d1": caps(wire.CapPower)}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		``, `[]`, `{"default":["screen"]} {}`, `{"default":["screen"],"extra":1}`, `{"default":["sudo"]}`,
		`{"by_device":{"":["screen"]}}`, `{"default":"screen"}`, strings.Repeat(" ", MaxConsentRulesSize+1),
	} {
		if _, err := ParseConsentRules([]byte(bad)); !errors.Is(err, ErrConsentRules) {
			t.Errorf("ParseConsentRules(%.40q) = %v, want ErrConsentRules", bad, err)
		}
	}
}

// FuzzParseConsentRules: whatever the bytes, parsing never panics; what it
// accepts passes Check, re-encodes and parses back the same, and For
// returns only known capabilities, sorted and without duplicates.
func FuzzParseConsentRules(f *testing.F) {
	for _, s := range []string{
		`{"default":["screen","input","power"]}`,
		`{"default":[],"by_company":{"acme":["power"]},"by_device":{"d":["screen","screen"]}}`,
		`{"default":null}`, `{}`, `{"default":["sysinfo","wol"]}`, `{"by_company":{"a":null}}`,
		`{"default":["x"]}`, `{"default":["screen"]}x`, `null`,
	} {
		f.Add([]byte(s), "acme", "d")
	}
	f.Fuzz(func(t *testing.T, b []byte, company, device string) {
		r, err := ParseConsentRules(b)
		if err != nil {
			if !errors.Is(err, ErrConsentRules) {
				t.Fatalf("error %v is not ErrConsentRules", err)
			}
			return
		}
		if err := r.Check(); err != nil {
			t.Fatalf("accepted rules fail Check: %v", err)
		}
		got := r.For(company, device)
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("For = %v: not sorted or repeats", got)
		}
		for _, c := range got {
			if !c.Valid() {
				t.Fatalf("For returned unknown %q", c)
			}
		}
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseConsentRules(enc)
		if err != nil {
			t.Fatalf("re-encoded rules %s refused: %v", enc, err)
		}
		if !slices.Equal(r2.For(company, device), got) {
			t.Fatalf("re-parsed rules decide %v, want %v", r2.For(company, device), got)
		}
	})
}
