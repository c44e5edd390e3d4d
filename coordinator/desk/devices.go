package desk

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/ratelimit"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/coordinator/wake"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// msgNoDevice answers a device that is absent or out of scope alike.
const msgNoDevice = "no such device"

// Devices lists every device the caller may see.
func (d *Desk) Devices(c Caller) ([]wire.Device, error) {
	if err := d.allow(c, policy.ActionListDevices, c.event("devices.list", "")); err != nil {
		return nil, err
	}
	devs, err := d.cfg.Registry.Devices()
	if err != nil {
		d.log.Error("listing devices", "err", err)
		return nil, internal("listing devices failed", err)
	}
	nodes := nodesByKeyID(d.cfg.Overlay.Nodes())
	out := make([]wire.Device, 0, len(devs))
	for _, dv := range devs {
		if c.sees(company(dv)) {
			out = append(out, d.deviceView(dv, nodes))
		}
	}
	return out, nil
}

// company is the company a device is filed under (U4): the one its
// enrollment token or an admin's move set (M6), never the agent's claim.
func company(dv enroll.Device) string {
	c, _ := dv.Filed()
	return c
}

// deviceCompany is the company of an enrolled device, and whether it is
// one.
func (d *Desk) deviceCompany(id string) (string, bool) {
	dv, err := d.cfg.Registry.Device(id)
	if err != nil {
		return "", false
	}
	return company(dv), true
}

func nodesByKeyID(nodes []overlay.Node) map[uint64]overlay.Node {
	m := make(map[uint64]overlay.Node, len(nodes))
	for _, n := range nodes {
		if n.AuthKeyID != 0 {
			m[n.AuthKeyID] = n
		}
	}
	return m
}

func (d *Desk) deviceView(dv enroll.Device, nodes map[uint64]overlay.Node) wire.Device {
	v := wire.Device{ID: dv.ID, Hostname: dv.Hostname, OS: dv.OS, Enrolled: dv.Enrolled, Inventory: dv.Inventory, Agent: dv.Agent}
	if d.cfg.Presence != nil {
		v.LastSeen, v.Online = d.cfg.Presence.LastSeen(dv.ID)
	}
	if n, ok := nodes[dv.NodeKeyID]; ok && n.IPv4.IsValid() {
		v.OverlayIP = n.IPv4.String()
	}
	return v
}

// Grant signs a session grant for req's capabilities on req's device — an
// enrolled device in the caller's scope, or the one-time agent of a
// support session the caller works (claiming a team session, first come)
// — to the caller's own technician node.
func (d *Desk) Grant(c Caller, req wire.GrantRequest) (wire.GrantResponse, error) {
	ev := c.event("grant.issue", req.DeviceID)
	if err := d.allow(c, policy.ActionRequestGrant, ev); err != nil {
		return wire.GrantResponse{}, err
	}
	caps, err := policy.GrantCapabilities(c.Role, req.Capabilities)
	if err != nil {
		return wire.GrantResponse{}, d.refuse(ev, newErr(Forbidden, err.Error(), err))
	}
	deviceID, keyID, terr := d.grantTarget(c, req.DeviceID)
	if terr != nil {
		return wire.GrantResponse{}, d.refuse(ev, terr)
	}
	resp, gerr := d.issueGrant(c, req.NodeKey, deviceID, keyID, caps, ev.Action)
	if gerr != nil {
		return wire.GrantResponse{}, d.refuse(ev, gerr)
	}
	return resp, nil
}

// grantTarget finds the device a grant is asked for and the overlay key it
// joined with.
func (d *Desk) grantTarget(c Caller, device string) (string, uint64, *Error) {
	if dv, err := d.cfg.Registry.Device(device); err == nil {
		if !c.sees(company(dv)) {
			// Out of scope reads as absent: the account may not know it exists.
			return "", 0, newErr(NotFound, msgNoDevice, ErrOutOfScope)
		}
		return dv.ID, dv.NodeKeyID, nil
	}
	ss, err := d.cfg.Support.OpenSessionFor(device)
	if err != nil {
		return "", 0, newErr(NotFound, msgNoDevice, err)
	}
	if !d.sessionInScope(c, ss, nil) {
		return "", 0, newErr(NotFound, msgNoDevice, ErrOutOfScope)
	}
	if _, err := d.cfg.Support.Claim(ss.ID, c.User); err != nil {
		return "", 0, supportError(err)
	}
	d.notify()
	return ss.Device, ss.NodeKeyID, nil
}

// issueGrant signs a grant for caps on deviceID (joined with overlay key
// keyID) to the technician's node nodeKey, checking that the node is a
// technician node minted for this very technician, and audits it as action.
func (d *Desk) issueGrant(c Caller, nodeKey, deviceID string, keyID uint64, caps []wire.Capability, action string) (wire.GrantResponse, *Error) {
	tech, err := d.cfg.Overlay.NodeByKey(nodeKey)
	if err != nil || !slices.Contains(tech.Tags, wire.TagTech) {
		return wire.GrantResponse{}, newErr(Forbidden, "the requesting node is not a technician node of this overlay", err)
	}
	owner, err := d.cfg.Accounts.OverlayKeyOwner(tech.AuthKeyID)
	if err != nil || owner != c.User {
		return wire.GrantResponse{}, newErr(Forbidden, "the requesting node belongs to another technician", err)
	}
	agentNode, ok := nodesByKeyID(d.cfg.Overlay.Nodes())[keyID]
	if !ok || !agentNode.IPv4.IsValid() {
		return wire.GrantResponse{}, newErr(Conflict, "the device has not joined the overlay yet", nil)
	}
	now := d.now()
	g := grant.Grant{
		ID: grant.NewID(), Technician: c.User, NodeKey: tech.NodeKey, Device: deviceID, Capabilities: caps,
		IssuedAt: now.Unix(), Expires: now.Add(policy.GrantLifetime).Unix(),
	}
	signed, err := grant.Sign(d.cfg.GrantKey, g)
	if err != nil {
		d.log.Error("signing a grant", "err", err)
		return wire.GrantResponse{}, internal("could not sign the grant", err)
	}
	d.accesses.record(deviceID, caps, now, time.Unix(g.Expires, 0))
	capNames := make([]string, len(caps))
	for i, cp := range caps {
		capNames[i] = string(cp)
	}
	ev := c.event(action, deviceID)
	ev.Fields["grant"], ev.Fields["node"], ev.Fields["capabilities"] = g.ID, tech.NodeKey, strings.Join(capNames, ",")
	d.ok(ev)
	resp := wire.GrantResponse{Grant: signed, Expires: time.Unix(g.Expires, 0).UTC(), OverlayIP: agentNode.IPv4.String()}
	resp.Hostname, resp.Agent = d.agentOf(deviceID)
	return resp, nil
}

// agentOf is a device's host name and what its agent last said it serves:
// an enrolled device's, or a one-time agent's from its join.
func (d *Desk) agentOf(deviceID string) (string, wire.Served) {
	if dv, err := d.cfg.Registry.Device(deviceID); err == nil {
		return dv.Hostname, dv.Agent
	}
	if ss, err := d.cfg.Support.OpenSessionFor(deviceID); err == nil {
		return ss.Hostname, ss.Agent
	}
	return "", wire.Served{}
}

// Wake plans a Wake-on-LAN (U3): it picks an online agent in the caller's
// scope on the sleeping machine's LAN and grants the caller's node its wol
// capability; the technician's viewer then asks that agent over the
// overlay. The coordinator itself is not on the overlay.
func (d *Desk) Wake(c Caller, req wire.WakeAsk) (wire.WakePlan, error) {
	ev := c.event("device.wake", req.DeviceID)
	if err := d.allow(c, policy.ActionWake, ev); err != nil {
		return wire.WakePlan{}, err
	}
	devs, err := d.Devices(c)
	if err != nil {
		return wire.WakePlan{}, err
	}
	var target *wake.Machine
	candidates := make([]wake.Machine, 0, len(devs))
	for _, dv := range devs {
		if dv.Inventory == nil {
			continue
		}
		m := wake.FromInventory(dv.ID, dv.Online, dv.LastSeen, *dv.Inventory)
		if dv.ID == req.DeviceID {
			if dv.Online {
				return wire.WakePlan{}, d.refuse(ev, newErr(Conflict, "the machine is online already", nil))
			}
			target = &m
		}
		candidates = append(candidates, m)
	}
	if target == nil {
		return wire.WakePlan{}, d.refuse(ev, newErr(NotFound, "no such machine, or it never reported its network", nil))
	}
	ask, err := wake.Request(*target)
	if err != nil {
		return wire.WakePlan{}, d.refuse(ev, newErr(Conflict, "the machine's network is unknown: "+err.Error(), err))
	}
	relay, err := wake.PickRelay(*target, candidates)
	if errors.Is(err, wake.ErrNoRelay) {
		return wire.WakePlan{}, d.refuse(ev, newErr(Conflict, "no online machine shares its LAN to relay the wake-up", err))
	} else if err != nil {
		return wire.WakePlan{}, d.refuse(ev, newErr(Conflict, err.Error(), err))
	}
	dv, err := d.cfg.Registry.Device(relay.ID)
	if err != nil {
		return wire.WakePlan{}, d.refuse(ev, newErr(Conflict, "the relay is no longer enrolled", err))
	}
	g, gerr := d.issueGrant(c, req.NodeKey, relay.ID, dv.NodeKeyID, []wire.Capability{wire.CapWake}, "grant.issue")
	if gerr != nil {
		return wire.WakePlan{}, d.refuse(ev, gerr)
	}
	ev.Fields["relay"], ev.Fields["mac"], ev.Fields["subnet"] = relay.ID, ask.MAC, ask.Subnet
	d.ok(ev)
	return wire.WakePlan{Relay: relay.ID, Grant: g, Request: ask}, nil
}

// Enroll enrolls a machine presenting an enrollment token, from ip, under
// the per-address limit, and audits the outcome.
func (d *Desk) Enroll(ip string, req wire.EnrollRequest) (wire.EnrollResponse, error) {
	ev := wire.AuditEvent{Actor: "ip:" + ip, Action: "device.enroll", Fields: map[string]string{"ip": ip}}
	if !d.enrollIP.Allow(ratelimit.RemoteKey(ip)) {
		return wire.EnrollResponse{}, d.refuse(ev, newErr(RateLimited, "too many enrollment attempts; wait a minute", nil))
	}
	tok, err := wire.ParseEnrollToken(req.Token)
	if err != nil {
		return wire.EnrollResponse{}, d.refuse(ev, newErr(Invalid, err.Error(), err))
	}
	ev.Target = "token:" + tok.ID
	// Enroll checks the token and the machine before it mints the overlay
	// key, and deletes the key if the redemption then fails (L1).
	enr, err := d.cfg.Registry.Enroll(enroll.Request{
		Token: tok, MachineID: req.MachineID, Hostname: req.Hostname, OS: req.OS, Agent: req.Agent,
	}, agentKeys{d.cfg.Overlay})
	dev, secret := enr.Device, enr.Secret
	switch {
	case errors.Is(err, enroll.ErrOverlayKey):
		d.log.Error("minting an agent overlay key", "err", err)
		return wire.EnrollResponse{}, internal("the coordinator could not create an overlay key", err)
	case errors.Is(err, enroll.ErrBadToken):
		return wire.EnrollResponse{}, d.refuse(ev, newErr(Unauthenticated, "unknown or wrong enrollment token", err))
	case errors.Is(err, enroll.ErrTokenUsed):
		return wire.EnrollResponse{}, d.refuse(ev, newErr(Unauthenticated, "this enrollment token has already been used", err))
	case errors.Is(err, enroll.ErrTokenExpired):
		return wire.EnrollResponse{}, d.refuse(ev, newErr(Expired, "this enrollment token has expired", err))
	case errors.Is(err, enroll.ErrKnownDevice):
		return wire.EnrollResponse{}, d.refuse(ev, newErr(Conflict, enroll.ErrKnownDevice.Error(), err))
	case errors.Is(err, enroll.ErrRemoved):
		return wire.EnrollResponse{}, d.refuse(ev, newErr(Conflict, enroll.ErrRemoved.Error(), err))
	case errors.Is(err, enroll.ErrBadMachineID), errors.Is(err, wire.ErrBadName), err != nil && strings.HasPrefix(err.Error(), "enroll: "):
		return wire.EnrollResponse{}, d.refuse(ev, newErr(Invalid, err.Error(), err))
	case err != nil:
		d.log.Error("enrolling", "err", err)
		return wire.EnrollResponse{}, internal("enrollment failed", err)
	}
	d.ok(wire.AuditEvent{Actor: ev.Actor, Action: ev.Action, Target: dev.ID,
		Fields: map[string]string{"token": tok.ID, "hostname": dev.Hostname, "os": dev.OS, "ip": ip}})
	return wire.EnrollResponse{
		DeviceID: dev.ID, DeviceSecret: secret, AuthKey: enr.AuthKey,
		GrantKey: []byte(d.cfg.GrantKey.Public().(ed25519.PublicKey)), ControlURL: d.cfg.ControlURL,
	}, nil
}

// agentKeys makes the overlay keys enrolling agents join with.
type agentKeys struct{ ov Overlay }

func (k agentKeys) Mint() (uint64, string, error) {
	key, err := k.ov.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagAgent}, TTL: AgentKeyTTL})
	return key.ID, key.Key, err
}

func (k agentKeys) Delete(id uint64) error { return k.ov.DeleteAuthKey(id) }

// AuthenticateDevice checks an agent's "<id>:<secret>" credentials. With
// supportToo, a one-time support agent's are accepted as well (it may only
// forward its audit trail).
func (d *Desk) AuthenticateDevice(ip, id, secret string, supportToo bool) (enroll.Device, error) {
	dev, err := d.cfg.Registry.Authenticate(id, secret)
	if err != nil && supportToo && strings.HasPrefix(id, "sup-") {
		var ss support.Session
		if ss, err = d.cfg.Support.AuthenticateDevice(id, secret); err == nil {
			dev = enroll.Device{ID: ss.Device, Hostname: ss.Hostname, OS: ss.OS}
		}
	}
	if err != nil {
		return enroll.Device{}, d.refuse(wire.AuditEvent{Actor: "device:" + clip(id), Action: "device.authenticate", Fields: map[string]string{"ip": ip}},
			newErr(Unauthenticated, "unknown device or wrong secret", err))
	}
	return dev, nil
}

// Inventory stores a device's inventory report, bounded, with the address
// the report came from as the coordinator saw it.
func (d *Desk) Inventory(dev enroll.Device, ip string, inv wire.Inventory) error {
	if len(inv.Disks) > 64 || len(inv.Interfaces) > 64 || len(inv.Custom) > wire.MaxCustomFields {
		return newErr(Invalid, "too many disks, interfaces or custom fields", nil)
	}
	if err := inv.Metadata.Check(); err != nil {
		return newErr(Invalid, err.Error(), err)
	}
	if err := wire.CheckCustom(inv.Custom); err != nil {
		return newErr(Invalid, err.Error(), err)
	}
	if err := inv.Agent.Check(); err != nil {
		return newErr(Invalid, err.Error(), err)
	}
	// The agent's own claim is not trusted.
	inv.ExternalIP = ip
	if err := d.cfg.Registry.SetInventory(dev.ID, inv); err != nil {
		d.log.Error("storing inventory", "device", dev.ID, "err", err)
		return internal("storing inventory failed", err)
	}
	d.Seen(dev)
	return nil
}

// Heartbeat records a device's heartbeat: a sign of life, and what its
// agent serves (stored when it changed).
func (d *Desk) Heartbeat(dev enroll.Device, hb wire.Heartbeat) error {
	if err := hb.Agent.Check(); err != nil {
		return newErr(Invalid, err.Error(), err)
	}
	if _, err := d.cfg.Registry.SetServed(dev.ID, hb.Agent); err != nil {
		d.log.Error("storing what an agent serves", "device", dev.ID, "err", err)
		return internal("storing the heartbeat failed", err)
	}
	d.Seen(dev)
	return nil
}

// Seen records a sign of life from a device.
func (d *Desk) Seen(dev enroll.Device) {
	if d.cfg.Presence != nil {
		d.cfg.Presence.Seen(dev.ID)
	}
}

// MaxAgentAudit bounds one batch of forwarded agent audit records.
const MaxAgentAudit = audit.MaxForwardBatch

// AgentAudit stores the audit records an agent forwards.
func (d *Desk) AgentAudit(dev enroll.Device, evs []wire.AuditEvent) error {
	if len(evs) > MaxAgentAudit {
		return newErr(Invalid, fmt.Sprintf("at most %d records per batch", MaxAgentAudit), nil)
	}
	for _, ev := range evs {
		// The audit trail keeps times as RFC 3339 in UTC; one that cannot
		// be written so (a year past 9999 once in UTC) would break it.
		if _, err := ev.Time.UTC().MarshalText(); err != nil {
			return newErr(Invalid, "record time out of range", err)
		}
	}
	// The coordinator stamps its receipt time and the device as actor,
	// keeping the agent's claims as fields, under a per-device budget
	// (L3): a batch is written whole or not at all.
	switch err := d.cfg.Audit.AppendForwarded(dev.ID, evs, d.now()); {
	case errors.Is(err, audit.ErrRateLimited):
		return newErr(RateLimited, "too many audit records from this device; retry later", err)
	case errors.Is(err, audit.ErrBatch):
		return newErr(Invalid, "bad audit batch", err)
	case err != nil:
		d.log.Error("storing agent audit", "device", dev.ID, "err", err)
		return internal("storing audit records failed", err)
	}
	return nil
}
