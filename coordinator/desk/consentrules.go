package desk

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// The shop's consent rules (I4): which capabilities need the end user's
// answer, by default, per company and per device (policy.ConsentRules).
// Only an admin (policy.ActionManageConsent) reads or changes them, over
// the API, the dashboard or the local socket, never with an API key; each
// change is audited. Each agent is told what applies to it — the rules
// for the company the coordinator files it under (enroll.Device.Filed,
// never the agent's own claim) and its id — as a wire.PresenceConsentRules
// message when its presence stream opens (SendConsentRules), when the
// rules change, and when the device is moved to another company. A shop
// without rules sends NoRules: each agent keeps its own default.
//
// d.rulesMu orders the messages: every message to a device is read and
// queued under it, so the last one a stream carries is always the one
// that holds. Under it too, the rules are kept in memory once read (every
// change goes through the desk), so a fleet reconnecting at once does not
// decode the stored rules once per stream.

// ErrNoConsentRules says a feature of the consent rules was not wired
// (Config.ConsentRules is nil).
var ErrNoConsentRules = errors.New("desk: consent rules are not kept by this coordinator")

// ConsentRules returns the shop's consent rules and whether it has any,
// for an admin.
func (d *Desk) ConsentRules(c Caller) (policy.ConsentRules, bool, error) {
	if err := d.allow(c, policy.ActionManageConsent, c.event("consent-rules.read", "")); err != nil {
		return policy.ConsentRules{}, false, err
	}
	if d.cfg.ConsentRules == nil {
		return policy.ConsentRules{}, false, newErr(Unavailable, "This coordinator does not keep consent rules.", ErrNoConsentRules)
	}
	r, ok, err := d.cfg.ConsentRules.Get()
	if err != nil {
		return policy.ConsentRules{}, false, internal("the consent rules could not be read", err)
	}
	return r, ok, nil
}

// SetConsentRules replaces the shop's consent rules with r, for an admin
// (not an API key), once r passes policy.ConsentRules.Check, and tells
// every agent with an open presence stream what now applies to it.
func (d *Desk) SetConsentRules(c Caller, r policy.ConsentRules) error {
	ev := c.event("consent-rules.set", "")
	ev.Fields["companies"] = strconv.Itoa(len(r.ByCompany))
	ev.Fields["devices"] = strconv.Itoa(len(r.ByDevice))
	if err := d.changeRules(c, ev); err != nil {
		return err
	}
	if err := r.Check(); err != nil {
		return d.refuse(ev, newErr(Invalid, err.Error(), err))
	}
	ev.Fields["default"] = capList(r.For("", ""))
	d.rulesMu.Lock()
	defer d.rulesMu.Unlock()
	if err := d.cfg.ConsentRules.Set(r); err != nil {
		d.rulesCached = false // the store's state is not known
		return d.refuse(ev, newErr(Invalid, "The consent rules could not be stored (too large?).", err))
	}
	d.rules, d.rulesSet, d.rulesCached = r, true, true
	ev.Fields["agents_told"] = strconv.Itoa(d.tellAllLocked(r, true))
	d.ok(ev)
	return nil
}

// ClearConsentRules removes the shop's consent rules, for an admin (not
// an API key): each agent's own default applies again, and every agent
// with an open presence stream is told so.
func (d *Desk) ClearConsentRules(c Caller) error {
	ev := c.event("consent-rules.clear", "")
	if err := d.changeRules(c, ev); err != nil {
		return err
	}
	d.rulesMu.Lock()
	defer d.rulesMu.Unlock()
	if err := d.cfg.ConsentRules.Clear(); err != nil {
		d.rulesCached = false
		return internal("the consent rules could not be removed", err)
	}
	d.rules, d.rulesSet, d.rulesCached = policy.ConsentRules{}, false, true
	ev.Fields["agents_told"] = strconv.Itoa(d.tellAllLocked(policy.ConsentRules{}, false))
	d.ok(ev)
	return nil
}

// changeRules refuses, audited, a caller who may not change the rules.
func (d *Desk) changeRules(c Caller, ev wire.AuditEvent) error {
	if err := d.allow(c, policy.ActionManageConsent, ev); err != nil {
		return err
	}
	if c.APIKey != "" {
		return d.refuse(ev, newErr(Forbidden, ErrAPIKeyOnly.Error(), ErrAPIKeyOnly))
	}
	if d.cfg.ConsentRules == nil {
		return d.refuse(ev, newErr(Unavailable, "This coordinator does not keep consent rules.", ErrNoConsentRules))
	}
	return nil
}

// SendConsentRules queues on device's presence stream the consent rules
// that apply to it. The API calls it once the device's stream is open,
// so the stream's first messages say what holds; it is a no-op for a
// coordinator that keeps no rules or tracks no presence.
func (d *Desk) SendConsentRules(device string) {
	if d.cfg.ConsentRules == nil || d.cfg.Presence == nil {
		return
	}
	d.rulesMu.Lock()
	defer d.rulesMu.Unlock()
	r, ok, err := d.rulesLocked()
	if err != nil {
		// Nothing is sent: the agent keeps what it had, which a later
		// change or reconnect corrects.
		d.log.Error("consent rules: reading", "device", device, "err", err)
		return
	}
	dv, err := d.cfg.Registry.Device(device)
	if err != nil {
		d.log.Warn("consent rules: the device is not enrolled", "device", device, "err", err)
		return
	}
	d.tellLocked(dv, r, ok)
}

// rulesLocked returns the shop's rules, from memory once read.
func (d *Desk) rulesLocked() (policy.ConsentRules, bool, error) {
	if !d.rulesCached {
		r, ok, err := d.cfg.ConsentRules.Get()
		if err != nil {
			return policy.ConsentRules{}, false, err
		}
		d.rules, d.rulesSet, d.rulesCached = r, ok, true
	}
	return d.rules, d.rulesSet, nil
}

// tellAllLocked tells every enrolled device with an open stream what
// applies to it under r (or, when !ok, that there are no rules); it
// returns how many were told.
func (d *Desk) tellAllLocked(r policy.ConsentRules, ok bool) int {
	if d.cfg.Presence == nil {
		return 0
	}
	devs, err := d.cfg.Registry.Devices()
	if err != nil {
		d.log.Error("consent rules: listing devices", "err", err)
		return 0
	}
	n := 0
	for _, dv := range devs {
		if d.tellLocked(dv, r, ok) {
			n++
		}
	}
	return n
}

// tellLocked queues dv's consent rules on its presence stream; false if
// it has none open.
func (d *Desk) tellLocked(dv enroll.Device, r policy.ConsentRules, ok bool) bool {
	msg := ConsentRulesMessage(dv, r, ok)
	sent, err := d.cfg.Presence.Send(dv.ID, msg)
	if err != nil {
		d.log.Error("consent rules: telling an agent", "device", dv.ID, "err", err)
	}
	return sent
}

// ConsentRulesMessage is the presence message that tells dv what the
// rules r (or, when !ok, the absence of rules) ask on it.
func ConsentRulesMessage(dv enroll.Device, r policy.ConsentRules, ok bool) wire.PresenceMessage {
	if !ok {
		return wire.PresenceMessage{Type: wire.PresenceConsentRules, NoRules: true}
	}
	company, _ := dv.Filed()
	return wire.PresenceMessage{Type: wire.PresenceConsentRules, Ask: r.For(company, dv.ID)}
}

func capList(caps []wire.Capability) string {
	names := make([]string, len(caps))
	for i, c := range caps {
		names[i] = string(c)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}
