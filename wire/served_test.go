package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestServedCheck(t *testing.T) {
	t.Parallel()
	many := make([]Capability, MaxServedCapabilities+1)
	for i := range many {
		many[i] = Capability("cap-" + strings.Repeat("x", i%20) + string(rune('a'+i%26)) + string(rune('a'+i/26)))
	}
	for _, tc := range []struct {
		name string
		s    Served
		ok   bool
	}{
		{"zero (protocol 1)", Served{}, true},
		{"protocol 2", Served{Protocol: 2, Capabilities: []Capability{CapFiles, CapSysInfo}}, true},
		{"a newer agent's capability", Served{Protocol: 3, Capabilities: []Capability{"remote-printing"}}, true},
		{"negative protocol", Served{Protocol: -1}, false},
		{"huge protocol", Served{Protocol: MaxProtocolVersion + 1}, false},
		{"too many", Served{Protocol: 2, Capabilities: many}, false},
		{"empty name", Served{Protocol: 2, Capabilities: []Capability{""}}, false},
		{"long name", Served{Protocol: 2, Capabilities: []Capability{Capability(strings.Repeat("a", MaxCapabilityName+1))}}, false},
		{"odd characters", Served{Protocol: 2, Capabilities: []Capability{"files\n"}}, false},
		{"upper case", Served{Protocol: 2, Capabilities: []Capability{"Files"}}, false},
		{"twice", Served{Protocol: 2, Capabilities: []Capability{CapFiles, CapFiles}}, false},
	} {
		err := tc.s.Check()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Check() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadServed) {
			t.Errorf("%s: %v is not ErrBadServed", tc.name, err)
		}
	}
}

func TestServedServes(t *testing.T) {
	t.Parallel()
	v1 := Served{}
	v2 := Served{Protocol: 2, Capabilities: []Capability{CapScreen, CapSysInfo, CapFiles}}
	v2headless := Served{Protocol: 2, Capabilities: []Capability{CapSysInfo}}
	for _, tc := range []struct {
		s    Served
		c    Capability
		want bool
	}{
		{v1, CapSysInfo, true},
		{v1, CapScreen, true},
		{v1, CapFiles, false},
		{v1, CapShell, false},
		{v2, CapFiles, true},
		{v2, CapShell, false},
		{v2, CapInput, true}, // input rides on the screen's route
		{v2headless, CapInput, false},
		{v2headless, CapScreen, false},
		{Served{Protocol: 2}, CapSysInfo, false}, // said it serves nothing
	} {
		if got := tc.s.Serves(tc.c); got != tc.want {
			t.Errorf("%+v.Serves(%s) = %v, want %v", tc.s, tc.c, got, tc.want)
		}
	}
	if v1.Version() != 1 || v2.Version() != 2 {
		t.Errorf("Version: %d, %d; want 1, 2", v1.Version(), v2.Version())
	}
	if !v2.Equal(Served{Protocol: 2, Capabilities: []Capability{CapFiles, CapSysInfo, CapScreen}}) || v2.Equal(v2headless) {
		t.Error("Equal is wrong")
	}
}

// FuzzServed decodes an agent's claim as the coordinator does: whatever
// Check accepts is bounded, and normalising it keeps it valid and equal.
func FuzzServed(f *testing.F) {
	for _, seed := range []string{`{}`, `{"protocol":2,"capabilities":["files","shell"]}`, `{"protocol":-1}`,
		`{"protocol":2,"capabilities":["files","files"]}`, `{"capabilities":["\u0000"]}`, `{"protocol":1e9}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Served
		if json.Unmarshal(b, &s) != nil || s.Check() != nil {
			return
		}
		if len(s.Capabilities) > MaxServedCapabilities || s.Version() < 1 {
			t.Fatalf("accepted %+v", s)
		}
		n := s.Normalized()
		if n.Check() != nil || !n.Equal(s) {
			t.Fatalf("normalised %+v to %+v", s, n)
		}
		out, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var back Served
		if err := json.Unmarshal(out, &back); err != nil || !back.Equal(n) {
			t.Fatalf("%s does not read back: %v", out, err)
		}
	})
}
