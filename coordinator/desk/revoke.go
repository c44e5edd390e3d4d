package desk

import (
	"slices"
	"strconv"

	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/wire"
)

// revoked is the one place the desk acts on a technician's revocation
// (M5), after identity has committed it, so the account's sessions are
// already refused at their next request and no new grant is issued. It
// reaches what is already running:
//
//   - every agent is told over its presence stream to end the
//     technician's live peer sessions and refuse grants issued before now
//     (the technician's name and their node keys);
//   - unless only the role changed (the new role logs in and its grants
//     are decided afresh), the technician's overlay nodes are deleted
//     with the keys minted for their viewer, so peers drop them within
//     seconds and no new peer connection starts.
//
// Every step is audited.
func (d *Desk) revoked(user string, reason identity.Reason) {
	ids, err := d.cfg.Accounts.OverlayKeysOf(user)
	if err != nil {
		d.log.Error("revocation: listing overlay keys", "user", user, "err", err)
	}
	var keys []string
	for _, n := range d.cfg.Overlay.Nodes() {
		if slices.Contains(ids, n.AuthKeyID) && slices.Contains(n.Tags, wire.TagTech) {
			keys = append(keys, n.NodeKey)
		}
	}
	ev := wire.AuditEvent{Actor: "coordinator", Action: "technician.revoke", Target: clip(user),
		Reason: string(reason), Fields: map[string]string{"nodes": strconv.Itoa(len(keys))}}
	if d.cfg.Presence != nil {
		msg := wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: user, Reason: string(reason)}
		if len(keys) <= wire.MaxPresenceNodeKeys {
			msg.NodeKeys = keys // more do not fit a message: the name covers them all
		}
		if err := d.cfg.Presence.Broadcast(msg); err != nil {
			d.log.Error("revocation: telling the agents", "user", user, "err", err)
			ev.Fields["broadcast"] = "failed"
		}
	}
	d.ok(ev)
	if reason == identity.RevokeRoleChanged {
		d.notify()
		return
	}
	for _, id := range ids {
		n, err := d.cfg.Overlay.RevokeAuthKey(id)
		if err != nil {
			d.log.Error("revocation: deleting overlay nodes", "user", user, "key", id, "err", err)
			continue
		}
		if err := d.cfg.Accounts.ForgetOverlayKey(id); err != nil {
			d.log.Error("revocation: forgetting an overlay key", "user", user, "key", id, "err", err)
		}
		if n > 0 {
			d.ok(wire.AuditEvent{Actor: "coordinator", Action: "overlay.node.delete", Target: clip(user),
				Reason: string(reason), Fields: map[string]string{"key": uintString(id), "nodes": uintString(uint64(n))}})
		}
	}
	d.notify()
}
