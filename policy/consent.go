package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/peerdesk/peerdesk/wire"
)

// ErrConsentRules refuses consent rules that are malformed or too large.
var ErrConsentRules = errors.New("policy: invalid consent rules")

// AttendedConsent is what an attended machine asks its user about: every
// capability that acts on the machine (I4). One-time support agents always
// ask about these. Reading the list of installed applications, system
// information and relaying Wake-on-LAN act on nothing and are not asked.
var AttendedConsent = []wire.Capability{wire.CapFiles, wire.CapInput, wire.CapLogs, wire.CapPower,
	wire.CapProcesses, wire.CapScreen, wire.CapServices, wire.CapShell}

// ConsentRules says which capabilities need the end user's answer before a
// technician may use them on a machine (I4). The most specific entry wins:
// a device's own entry, else its company's, else Default. An entry that is
// present but empty asks nothing (an unattended machine); a capability that
// is not listed is used without asking.
//
// The rules only decide; the agent's consent package asks.
type ConsentRules struct {
	Default   []wire.Capability            `json:"default"`
	ByCompany map[string][]wire.Capability `json:"by_company,omitempty"`
	ByDevice  map[string][]wire.Capability `json:"by_device,omitempty"`
}

// AttendedRules asks about every capability that acts on the machine,
// everywhere: what an agent that is not unattended does by default.
func AttendedRules() ConsentRules { return ConsentRules{Default: slices.Clone(AttendedConsent)} }

// UnattendedRules asks about nothing: an unattended agent's default.
func UnattendedRules() ConsentRules { return ConsentRules{Default: []wire.Capability{}} }

// Bounds of a rule set.
const (
	MaxConsentEntries   = 10_000  // companies plus devices
	MaxConsentRulesSize = 4 << 20 // bytes of JSON
)

// For returns the capabilities that need asking on the device filed under
// company: sorted, without duplicates, never nil.
func (r ConsentRules) For(company, device string) []wire.Capability {
	caps, ok := r.ByDevice[device]
	if !ok || device == "" {
		if caps, ok = r.ByCompany[company]; !ok || company == "" {
			caps = r.Default
		}
	}
	out := make([]wire.Capability, 0, len(caps))
	for _, c := range caps {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// Check refuses unknown capabilities, empty or overlong names, and more
// than MaxConsentEntries entries.
func (r ConsentRules) Check() error {
	if n := len(r.ByCompany) + len(r.ByDevice); n > MaxConsentEntries {
		return fmt.Errorf("%w: %d entries, at most %d", ErrConsentRules, n, MaxConsentEntries)
	}
	check := func(where string, caps []wire.Capability) error {
		if len(caps) > len(wire.KnownCapabilities) {
			return fmt.Errorf("%w: %s: %d capabilities, at most %d", ErrConsentRules, where, len(caps), len(wire.KnownCapabilities))
		}
		for _, c := range caps {
			if !c.Valid() {
				return fmt.Errorf("%w: %s: %w: %q", ErrConsentRules, where, ErrUnknownCap, c)
			}
		}
		return nil
	}
	if err := check("default", r.Default); err != nil {
		return err
	}
	for _, m := range []struct {
		kind    string
		entries map[string][]wire.Capability
	}{{"company", r.ByCompany}, {"device", r.ByDevice}} {
		for name, caps := range m.entries {
			if name == "" || len(name) > wire.MaxNameLen {
				return fmt.Errorf("%w: a %s name must be 1 to %d bytes", ErrConsentRules, m.kind, wire.MaxNameLen)
			}
			if err := check(m.kind+" "+name, caps); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseConsentRules reads rules from JSON: one object, known fields only,
// at most MaxConsentRulesSize bytes, checked. A missing "default" asks
// nothing by default.
func ParseConsentRules(b []byte) (ConsentRules, error) {
	if len(b) > MaxConsentRulesSize {
		return ConsentRules{}, fmt.Errorf("%w: %d bytes, at most %d", ErrConsentRules, len(b), MaxConsentRulesSize)
	}
	var r ConsentRules
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return ConsentRules{}, fmt.Errorf("%w: %w", ErrConsentRules, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return ConsentRules{}, fmt.Errorf("%w: data after the rules", ErrConsentRules)
	}
	if err := r.Check(); err != nil {
		return ConsentRules{}, err
	}
	return r, nil
}
