package desk

import (
	"slices"
	"strconv"

	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/wire"
)

// Revoked acts on a revocation the accounts layer has committed
// (identity.Accounts.OnRevoke calls it; M5). The account's sessions are
// already refused at their next request, so no new grant is issued; this
// reaches what is already running:
//
//   - disabled, deleted, sessions ended or role changed: every agent is
//     told over its presence stream to end the technician's live peer
//     sessions and refuse grants issued before now;
//   - disabled or deleted: the technician's overlay nodes are deleted
//     (and their keys), so peers drop them within seconds.
//
// A changed password ends the account's other logins but not its peer
// sessions (the person is the same); a revoked API key ends the key.
// Every step is audited.
func (d *Desk) Revoked(r identity.Revocation) {
	switch r.Reason {
	case identity.RevokeDisabled, identity.RevokeDeleted, identity.RevokeSessionsEnded, identity.RevokeRoleChanged:
	default:
		return
	}
	nodes := d.technicianNodes(r.User)
	keys := make([]string, 0, len(nodes))
	for _, n := range nodes {
		keys = append(keys, n.NodeKey)
	}
	ev := wire.AuditEvent{Actor: "coordinator", Action: "technician.revoke", Target: r.User,
		Fields: map[string]string{"reason": string(r.Reason), "nodes": strconv.Itoa(len(nodes))}}
	if d.cfg.Presence != nil {
		msg := wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: r.User, Reason: string(r.Reason)}
		if len(keys) <= wire.MaxPresenceNodeKeys {
			msg.NodeKeys = keys // more would not fit a message: the name covers them all
		}
		if err := d.cfg.Presence.Broadcast(msg); err != nil {
			d.log.Error("telling agents of a revocation", "user", r.User, "err", err)
			ev.Fields["broadcast"] = "failed"
		}
	}
	if r.Reason == identity.RevokeDisabled || r.Reason == identity.RevokeDeleted {
		deleted := 0
		for _, n := range nodes {
			k, err := d.cfg.Overlay.RevokeAuthKey(n.AuthKeyID)
			if err != nil {
				d.log.Error("deleting a revoked technician's overlay node", "user", r.User, "err", err)
				continue
			}
			deleted += k
		}
		ev.Fields["nodes_deleted"] = strconv.Itoa(deleted)
	}
	d.ok(ev)
}

// technicianNode is one of a technician's overlay nodes.
type technicianNode struct {
	NodeKey   string
	AuthKeyID uint64
}

// technicianNodes lists the technician nodes that joined with a key the
// coordinator minted for user.
func (d *Desk) technicianNodes(user string) []technicianNode {
	var out []technicianNode
	for _, n := range d.cfg.Overlay.Nodes() {
		if !slices.Contains(n.Tags, wire.TagTech) || n.AuthKeyID == 0 {
			continue
		}
		if owner, err := d.cfg.Accounts.OverlayKeyOwner(n.AuthKeyID); err == nil && owner == user {
			out = append(out, technicianNode{NodeKey: n.NodeKey, AuthKeyID: n.AuthKeyID})
		}
	}
	return out
}
