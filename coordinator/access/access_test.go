package access

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/wire"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func machine(id, host string, online bool, seen time.Time, md wire.Metadata, f func(*Machine)) Machine {
	m := Machine{Device: wire.Device{ID: id, Hostname: host, OS: "linux", Online: online, LastSeen: seen, Enrolled: now.AddDate(-2, 0, 0),
		Inventory: &wire.Inventory{Hostname: host, Platform: "debian", AgentVersion: "1.2.0", Metadata: md,
			Interfaces: []wire.NetIf{{Name: "eth0", MAC: "52:54:00:aa:bb:" + id[len(id)-2:], Addrs: []string{"192.168.1.10/24"}}}}}}
	if f != nil {
		f(&m)
	}
	return m
}

func fleet() []Machine {
	acme := wire.Metadata{Company: "Acme", Site: "Berlin", DeviceType: "laptop", Tag: "finance"}
	acme2 := wire.Metadata{Company: "Acme", Site: "Paris", DeviceType: "server"}
	globex := wire.Metadata{Company: "Globex", Site: "Berlin", DeviceType: "laptop", Name: "Reception desk"}
	return []Machine{
		machine("d-01", "acme-lt1", true, now, acme, func(m *Machine) {
			m.Inventory.LastBoot = now.Add(-5 * time.Minute)
			m.Inventory.LoggedOnUser = "jane.doe"
		}),
		machine("d-02", "acme-srv", true, now, acme2, func(m *Machine) {
			m.Inventory.AgentVersion = "1.1.9"
			m.Inventory.Disks = []wire.Disk{{Mount: "/", TotalBytes: 100, FreeBytes: 5}}
			m.Inventory.LastBoot = now.Add(-3 * time.Hour)
			m.LastAccess = now.Add(-2 * 24 * time.Hour)
			m.TechConnected = true
		}),
		machine("d-03", "globex-1", false, now.Add(-40*24*time.Hour), globex, func(m *Machine) {
			m.Inventory.Serial = "SN-4711"
			m.Inventory.Custom = map[string]string{"asset": "INV-0099"}
			m.LastAccess = now.Add(-8 * 24 * time.Hour)
		}),
		machine("d-04", "old-box", false, now.Add(-400*24*time.Hour), wire.Metadata{}, func(m *Machine) {
			m.OS, m.Inventory.Platform = "windows", "Microsoft Windows 11 Pro"
			m.Inventory.AgentVersion = "dev"
		}),
	}
}

func ids(ms []Machine) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestGroups(t *testing.T) {
	t.Parallel()
	f := New(fleet(), now)
	got := f.Groups(Filter{})
	want := map[Dimension][]Group{
		ByCompany: {{"Acme", 2}, {None, 1}, {"Globex", 1}},
		BySite:    {{"Berlin", 2}, {None, 1}, {"Paris", 1}},
		ByOS:      {{"debian", 3}, {"Microsoft Windows 11 Pro", 1}},
		ByTag:     {{None, 3}, {"finance", 1}},
		ByType:    {{"laptop", 2}, {None, 1}, {"server", 1}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("groups (-want +got):\n%s", d)
	}
	// Counts follow the current search.
	if d := cmp.Diff([]Group{{"Acme", 1}, {"Globex", 1}}, f.Groups(Filter{Query: "berlin"})[ByCompany]); d != "" {
		t.Errorf("groups of a search (-want +got):\n%s", d)
	}
}

func TestSmartGroups(t *testing.T) {
	t.Parallel()
	f := New(fleet(), now)
	if f.Newest() != "v1.2.0" {
		t.Fatalf("newest = %q", f.Newest())
	}
	want := map[Smart][]string{
		SmartOnline:    {"d-01", "d-02"},
		SmartHost:      {"d-01", "d-02"},
		SmartOffline30: {"d-03", "d-04"},
		SmartOffline1y: {"d-04"},
		SmartOutdated:  {"d-02"}, // "dev" is not a version and is not judged
		SmartRecent:    {"d-02"},
		SmartBooted:    {"d-01"},
		SmartAttention: {"d-02"},
		SmartTech:      {"d-02"},
	}
	counts := f.SmartCounts(Filter{})
	for _, s := range Smarts {
		got := ids(f.Select(Filter{Smart: s}))
		slices.Sort(got)
		if !slices.Equal(got, want[s]) {
			t.Errorf("%s = %v, want %v", s, got, want[s])
		}
		if counts[s] != len(want[s]) {
			t.Errorf("count of %s = %d, want %d", s, counts[s], len(want[s]))
		}
		if s.Label() == "" {
			t.Errorf("%s has no label", s)
		}
	}
	// The clock moves: ten minutes later nothing was just powered on, and
	// the Globex machine is still 30-day offline but not yet a year.
	later := New(fleet(), now.Add(11*time.Minute))
	if got := ids(later.Select(Filter{Smart: SmartBooted})); len(got) != 0 {
		t.Errorf("booted-10m eleven minutes later = %v", got)
	}
	if got := ids(New(fleet(), now.Add(330*24*time.Hour)).Select(Filter{Smart: SmartOffline1y})); !slices.Equal(got, []string{"d-04", "d-03"}) {
		t.Errorf("offline a year, 330 days later = %v", got)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	f := New(fleet(), now)
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"", []string{"d-01", "d-02", "d-04", "d-03"}}, // online first, then by name ("old-box" < "Reception desk")
		{"SN-4711", []string{"d-03"}},                  // serial
		{"inv-0099", []string{"d-03"}},                 // custom field, any case
		{"jane", []string{"d-01"}},                     // logged-on user
		{"52:54:00:aa:bb:04", []string{"d-04"}},        // MAC
		{"192.168.1.10", []string{"d-01", "d-02", "d-04", "d-03"}},
		{"acme berlin", []string{"d-01"}}, // every term must match
		{"reception", []string{"d-03"}},   // metadata name
		{"windows 11", []string{"d-04"}},
		{"nothing-like-this", nil},
	} {
		if got := ids(f.Select(Filter{Query: c.q})); !slices.Equal(got, c.want) {
			t.Errorf("search %q = %v, want %v", c.q, got, c.want)
		}
		if n := f.Count(Filter{Query: c.q}); n != len(c.want) {
			t.Errorf("count of %q = %d, want %d", c.q, n, len(c.want))
		}
	}
	if got := ids(f.Select(Filter{Dim: ByCompany, Value: "Acme", Smart: SmartAttention})); !slices.Equal(got, []string{"d-02"}) {
		t.Errorf("group + smart = %v", got)
	}
	if got := ids(f.Select(Filter{Dim: ByTag, Value: None})); !slices.Equal(got, []string{"d-02", "d-04", "d-03"}) {
		t.Errorf("no tag = %v", got)
	}
}

func TestFilterValidate(t *testing.T) {
	t.Parallel()
	for _, f := range []Filter{
		{Query: string(make([]byte, MaxQuery+1))},
		{Query: "a b c d e f g h i"},
		{Query: "a\x00"},
		{Dim: "colour", Value: "red"},
		{Value: "Acme"},
		{Smart: "sleepy"},
	} {
		if err := f.Validate(); !errors.Is(err, ErrBadFilter) {
			t.Errorf("%+v: %v, want ErrBadFilter", f, err)
		}
	}
	if err := (Filter{Query: "acme", Dim: ByCompany, Value: None, Smart: SmartOnline}).Validate(); err != nil {
		t.Errorf("a good filter: %v", err)
	}
}

func BenchmarkSearch2000(b *testing.B) {
	ms := make([]Machine, 0, 2000)
	base := fleet()
	for i := range 2000 {
		m := base[i%len(base)]
		m.ID = "d-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		ms = append(ms, m)
	}
	f := New(ms, now)
	for b.Loop() {
		f.Select(Filter{Query: "berlin laptop"})
		f.Groups(Filter{Query: "berlin laptop"})
		f.SmartCounts(Filter{Query: "berlin laptop"})
	}
}
