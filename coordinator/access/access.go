// Package access is the Access view's engine (U6): it groups a fleet by
// company, site, OS, tag and device type with counts, sorts machines into
// smart groups (online, long offline, outdated agent, recently accessed,
// just powered on, needing attention, connected), searches every inventory
// field, and applies a filter. It is pure: no store, no network; the clock
// and the machines are given.
package access

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/mod/semver"

	"github.com/peerdesk/peerdesk/wire"
)

// Machine is one enrolled machine as the Access view sees it.
type Machine struct {
	wire.Device
	// LastAccess is when a technician last got a grant for it.
	LastAccess time.Time
	// TechConnected: a technician holds a live grant for its screen.
	TechConnected bool
}

// Dimension is a way of grouping machines.
type Dimension string

// Dimensions.
const (
	ByCompany Dimension = "company"
	BySite    Dimension = "site"
	ByOS      Dimension = "os"
	ByTag     Dimension = "tag"
	ByType    Dimension = "type"
)

// Dimensions lists them in the order the view shows them.
var Dimensions = []Dimension{ByCompany, BySite, ByOS, ByTag, ByType}

// None is the group value of machines with the field empty.
const None = "(none)"

// Smart names a smart group.
type Smart string

// Smart groups.
const (
	SmartOnline    Smart = "online"          // the agent's heartbeat is live
	SmartOffline30 Smart = "offline-30d"     // not seen for 30 days
	SmartOffline1y Smart = "offline-1y"      // not seen for a year
	SmartOutdated  Smart = "outdated"        // its agent is older than the newest in the fleet
	SmartRecent    Smart = "recent"          // a technician connected within 7 days
	SmartBooted    Smart = "booted-10m"      // powered on within 10 minutes
	SmartAttention Smart = "attention"       // a disk under 10 % free, or offline with a live grant
	SmartHost      Smart = "host-connected"  // the agent (host) is connected to the coordinator now
	SmartTech      Smart = "guest-connected" // a technician (guest) is connected to it now
)

// Smarts lists the smart groups in the order the view shows them.
var Smarts = []Smart{SmartAttention, SmartOnline, SmartHost, SmartTech, SmartBooted, SmartRecent, SmartOutdated, SmartOffline30, SmartOffline1y}

// Label is a smart group's name for people.
func (s Smart) Label() string {
	return map[Smart]string{
		SmartOnline: "Online", SmartOffline30: "Offline 30 days", SmartOffline1y: "Offline 1 year",
		SmartOutdated: "Outdated agent", SmartRecent: "Recently accessed", SmartBooted: "Powered on in the last 10 min",
		SmartAttention: "Needs attention", SmartHost: "Host connected", SmartTech: "Guest connected",
	}[s]
}

// Filter selects machines: all its parts must match.
type Filter struct {
	Query string    `json:"q,omitempty"`     // search terms, all must match some field
	Dim   Dimension `json:"dim,omitempty"`   // with Value: one group
	Value string    `json:"value,omitempty"` //
	Smart Smart     `json:"smart,omitempty"` // one smart group
}

// Limits on filters (they come from URLs and saved filters).
const (
	MaxQuery = 200
	MaxTerms = 8
)

// ErrBadFilter wraps every reason a filter is refused.
var ErrBadFilter = errors.New("access: invalid filter")

// Validate checks f's bounds and names.
func (f Filter) Validate() error {
	switch {
	case len(f.Query) > MaxQuery || strings.ContainsFunc(f.Query, unicode.IsControl):
		return fmt.Errorf("%w: search must be at most %d characters", ErrBadFilter, MaxQuery)
	case len(strings.Fields(f.Query)) > MaxTerms:
		return fmt.Errorf("%w: at most %d search terms", ErrBadFilter, MaxTerms)
	case f.Dim != "" && !slices.Contains(Dimensions, f.Dim):
		return fmt.Errorf("%w: unknown grouping %q", ErrBadFilter, f.Dim)
	case f.Dim == "" && f.Value != "":
		return fmt.Errorf("%w: a group value needs a grouping", ErrBadFilter)
	case len(f.Value) > wire.MaxMetadataField+len(None):
		return fmt.Errorf("%w: group value too long", ErrBadFilter)
	case f.Smart != "" && !slices.Contains(Smarts, f.Smart):
		return fmt.Errorf("%w: unknown smart group %q", ErrBadFilter, f.Smart)
	}
	return nil
}

// Fleet is a set of machines with what grouping and searching them needs,
// computed once.
type Fleet struct {
	now      time.Time
	newest   string // the newest agent version reported (semver with "v")
	machines []Machine
	text     []string // per machine: every field, lower-cased, for search
}

// New prepares machines for the view at now.
func New(machines []Machine, now time.Time) *Fleet {
	f := &Fleet{now: now, machines: machines, text: make([]string, len(machines))}
	for i, m := range machines {
		f.text[i] = haystack(m)
		if v := version(m); semver.IsValid(v) && semver.Compare(v, f.newest) > 0 {
			f.newest = v
		}
	}
	return f
}

// Newest is the newest agent version in the fleet ("" if none is semver).
func (f *Fleet) Newest() string { return f.newest }

// Value is the machine's group value in dimension d.
func Value(m Machine, d Dimension) string {
	var v string
	md := wire.Metadata{}
	if m.Inventory != nil {
		md = m.Inventory.Metadata
	}
	switch d {
	case ByCompany:
		v = md.Company
	case BySite:
		v = md.Site
	case ByOS:
		v = m.OS
		if m.Inventory != nil && m.Inventory.Platform != "" {
			v = m.Inventory.Platform
		}
	case ByTag:
		v = md.Tag
	case ByType:
		v = md.DeviceType
	}
	if v == "" {
		return None
	}
	return v
}

// Group is one value of a dimension and how many machines have it.
type Group struct {
	Value string
	Count int
}

// Groups counts the machines matching base by each dimension's values,
// largest group first, then by value.
func (f *Fleet) Groups(base Filter) map[Dimension][]Group {
	counts := map[Dimension]map[string]int{}
	for _, d := range Dimensions {
		counts[d] = map[string]int{}
	}
	match := f.matcher(base)
	for i, m := range f.machines {
		if match(i) {
			for _, d := range Dimensions {
				counts[d][Value(m, d)]++
			}
		}
	}
	out := make(map[Dimension][]Group, len(Dimensions))
	for d, byValue := range counts {
		gs := make([]Group, 0, len(byValue))
		for v, n := range byValue {
			gs = append(gs, Group{v, n})
		}
		slices.SortFunc(gs, func(a, b Group) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
		})
		out[d] = gs
	}
	return out
}

// SmartCounts counts each smart group's machines among those matching base.
func (f *Fleet) SmartCounts(base Filter) map[Smart]int {
	out := make(map[Smart]int, len(Smarts))
	match := f.matcher(base)
	for i, m := range f.machines {
		if match(i) {
			for _, s := range Smarts {
				if f.In(m, s) {
					out[s]++
				}
			}
		}
	}
	return out
}

// Select returns the machines matching filter, online first, then by
// display name.
func (f *Fleet) Select(filter Filter) []Machine {
	var out []Machine
	match := f.matcher(filter)
	for i, m := range f.machines {
		if match(i) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Machine) int {
		if a.Online != b.Online {
			if a.Online {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(strings.ToLower(Name(a)), strings.ToLower(Name(b))), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Name is the machine's display name: its metadata name, else its host name.
func Name(m Machine) string {
	if m.Inventory != nil && m.Inventory.Metadata.Name != "" {
		return m.Inventory.Metadata.Name
	}
	return m.Hostname
}

// Count is how many machines match filter.
func (f *Fleet) Count(filter Filter) int {
	n := 0
	match := f.matcher(filter)
	for i := range f.machines {
		if match(i) {
			n++
		}
	}
	return n
}

// matcher prepares filter once (its search terms) for testing machine i.
func (f *Fleet) matcher(filter Filter) func(i int) bool {
	terms := strings.Fields(strings.ToLower(filter.Query))
	return func(i int) bool {
		m := f.machines[i]
		if filter.Dim != "" && Value(m, filter.Dim) != filter.Value {
			return false
		}
		if filter.Smart != "" && !f.In(m, filter.Smart) {
			return false
		}
		for _, term := range terms {
			if !strings.Contains(f.text[i], term) {
				return false
			}
		}
		return true
	}
}

// In reports whether m is in smart group s.
func (f *Fleet) In(m Machine, s Smart) bool {
	seen := m.LastSeen
	if seen.IsZero() {
		seen = m.Enrolled
	}
	switch s {
	case SmartOnline, SmartHost:
		return m.Online
	case SmartOffline30:
		return !m.Online && f.now.Sub(seen) >= 30*24*time.Hour
	case SmartOffline1y:
		return !m.Online && f.now.Sub(seen) >= 365*24*time.Hour
	case SmartOutdated:
		v := version(m)
		return f.newest != "" && semver.IsValid(v) && semver.Compare(v, f.newest) < 0
	case SmartRecent:
		return !m.LastAccess.IsZero() && f.now.Sub(m.LastAccess) <= 7*24*time.Hour
	case SmartBooted:
		return m.Online && m.Inventory != nil && !m.Inventory.LastBoot.IsZero() && f.now.Sub(m.Inventory.LastBoot) <= 10*time.Minute
	case SmartAttention:
		return lowDisk(m) || m.TechConnected && !m.Online
	case SmartTech:
		return m.TechConnected
	}
	return false
}

func lowDisk(m Machine) bool {
	if m.Inventory == nil {
		return false
	}
	for _, d := range m.Inventory.Disks {
		if d.TotalBytes > 0 && d.FreeBytes*10 < d.TotalBytes {
			return true
		}
	}
	return false
}

// version is the machine's agent version as semver ("1.2.3" → "v1.2.3").
func version(m Machine) string {
	if m.Inventory == nil || m.Inventory.AgentVersion == "" {
		return ""
	}
	v := m.Inventory.AgentVersion
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return v
}

// haystack is every field of m a technician might search for, lower-cased.
func haystack(m Machine) string {
	var b strings.Builder
	add := func(ss ...string) {
		for _, s := range ss {
			if s != "" {
				b.WriteString(strings.ToLower(s))
				b.WriteByte('\n')
			}
		}
	}
	add(m.ID, m.Hostname, m.OS, m.OverlayIP)
	if inv := m.Inventory; inv != nil {
		md := inv.Metadata
		add(inv.Hostname, inv.OS, inv.Platform, inv.OSVersion, inv.OSBuild, inv.KernelVersion, inv.Arch, inv.CPUModel,
			inv.AgentVersion, inv.LoggedOnUser, inv.Serial, inv.Maker, inv.Model, inv.Gateway, inv.GatewayMAC, inv.ExternalIP,
			md.Name, md.Company, md.Site, md.Department, md.DeviceType, md.Tag)
		for _, n := range inv.Interfaces {
			add(n.Name, n.MAC)
			add(n.Addrs...)
		}
		for _, d := range inv.Disks {
			add(d.Mount)
		}
		for k, v := range inv.Custom {
			add(k, v)
		}
	}
	return b.String()
}
