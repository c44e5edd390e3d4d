package desk

import (
	"errors"
	"strconv"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Device administration (M5, M6): the devices list with the removed ones,
// removal, reset and moving a device to another company. Each is for a
// caller whose role manages users (admins), on a device in the caller's
// scope, and each is audited.

// AdminDevices lists the enrolled and the removed devices in the caller's
// scope, enrolled first, each by id.
func (d *Desk) AdminDevices(c Caller) ([]wire.AdminDevice, error) {
	if err := d.allow(c, policy.ActionManageUsers, c.event("device.admin-list", "")); err != nil {
		return nil, err
	}
	devs, err := d.cfg.Registry.Devices()
	if err != nil {
		return nil, internal("the device list could not be read", err)
	}
	removed, err := d.cfg.Registry.RemovedDevices()
	if err != nil {
		return nil, internal("the device list could not be read", err)
	}
	out := make([]wire.AdminDevice, 0, len(devs)+len(removed))
	for _, dv := range append(devs, removed...) {
		company, site := dv.Filed()
		if !c.sees(company) {
			continue
		}
		v := wire.AdminDevice{ID: dv.ID, Hostname: dv.Hostname, OS: dv.OS, Company: company, Site: site,
			Enrolled: dv.Enrolled, Removed: dv.Removed}
		if d.cfg.Presence != nil && dv.Removed.IsZero() {
			v.LastSeen, v.Online = d.cfg.Presence.LastSeen(dv.ID)
		}
		out = append(out, v)
	}
	return out, nil
}

// adminDevice checks that c may administer device id (enrolled, or removed
// when removed is true) and returns it; one out of scope reads as absent.
func (d *Desk) adminDevice(c Caller, id string, removedToo bool, ev wire.AuditEvent) (enroll.Device, error) {
	if err := d.allow(c, policy.ActionManageUsers, ev); err != nil {
		return enroll.Device{}, err
	}
	dv, err := d.cfg.Registry.Device(id)
	if errors.Is(err, enroll.ErrNoDevice) && removedToo {
		var gone []enroll.Device
		if gone, err = d.cfg.Registry.RemovedDevices(); err == nil {
			err = enroll.ErrNoDevice
			for _, g := range gone {
				if g.ID == id {
					dv, err = g, nil
				}
			}
		}
	}
	absent := newErr(NotFound, "No such device.", enroll.ErrNoDevice)
	switch {
	case errors.Is(err, enroll.ErrNoDevice):
		return enroll.Device{}, d.refuse(ev, absent)
	case err != nil:
		return enroll.Device{}, internal("the device could not be read", err)
	}
	if company, _ := dv.Filed(); !c.sees(company) {
		return enroll.Device{}, d.refuse(ev, absent)
	}
	return dv, nil
}

// RemoveDevice takes a device's credentials away, keeps its machine from
// enrolling again until it is reset, deletes its overlay node and forgets
// its presence.
func (d *Desk) RemoveDevice(c Caller, id string) error {
	ev := c.event("device.remove", id)
	if _, err := d.adminDevice(c, id, false, ev); err != nil {
		return err
	}
	dv, err := d.cfg.Registry.Remove(id)
	if err != nil {
		if errors.Is(err, enroll.ErrNoDevice) {
			return d.refuse(ev, newErr(NotFound, "No such device.", err))
		}
		return internal("the device could not be removed", err)
	}
	d.dropNode(dv, &ev)
	d.ok(ev)
	return nil
}

// ResetDevice forgets a device, enrolled or removed, so its machine can
// enroll again with a new token; its overlay node is deleted.
func (d *Desk) ResetDevice(c Caller, id string) error {
	ev := c.event("device.reset", id)
	if _, err := d.adminDevice(c, id, true, ev); err != nil {
		return err
	}
	dv, err := d.cfg.Registry.Reset(id)
	if err != nil {
		if errors.Is(err, enroll.ErrNoDevice) {
			return d.refuse(ev, newErr(NotFound, "No such device.", err))
		}
		return internal("the device could not be reset", err)
	}
	d.dropNode(dv, &ev)
	d.ok(ev)
	return nil
}

// MoveDevice files a device under another company and site (M6), both
// of which must be in the caller's scope.
func (d *Desk) MoveDevice(c Caller, id, company, site string) error {
	ev := c.event("device.move", id)
	ev.Fields["company"], ev.Fields["site"] = clip(company), clip(site)
	dv, err := d.adminDevice(c, id, false, ev)
	if err != nil {
		return err
	}
	from, _ := dv.Filed()
	ev.Fields["from"] = clip(from)
	if !c.sees(company) {
		return d.refuse(ev, newErr(Forbidden, "You do not work for that company.", ErrOutOfScope))
	}
	if _, err := d.cfg.Registry.Move(id, company, site); err != nil {
		if errors.Is(err, enroll.ErrNoDevice) {
			return d.refuse(ev, newErr(NotFound, "No such device.", err))
		}
		return d.refuse(ev, newErr(Invalid, "The company or site is not valid.", err))
	}
	d.ok(ev)
	d.SendConsentRules(id) // the rules of its new company apply
	return nil
}

// dropNode deletes a removed or reset device's overlay node and key,
// ends its presence stream (opened with credentials that no longer
// authenticate, it would otherwise run on) and forgets its presence; a
// failure is logged and noted in the audit record.
func (d *Desk) dropNode(dv enroll.Device, ev *wire.AuditEvent) {
	if d.cfg.Presence != nil {
		if d.cfg.Presence.End(dv.ID) {
			ev.Fields["presence_ended"] = "true"
		}
		d.cfg.Presence.Forget(dv.ID)
	}
	if dv.NodeKeyID == 0 {
		return
	}
	n, err := d.cfg.Overlay.RevokeAuthKey(dv.NodeKeyID)
	ev.Fields["nodes_deleted"] = strconv.Itoa(n)
	if err != nil {
		d.log.Error("deleting a device's overlay node", "device", dv.ID, "err", err)
		ev.Fields["overlay_error"] = clip(err.Error())
	}
}

func uintString(n uint64) string { return strconv.FormatUint(n, 10) }
