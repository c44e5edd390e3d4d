package api

import (
	"errors"
	"net/http"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/wake"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// handleWake plans a Wake-on-LAN (U3): the coordinator picks an online
// agent on the sleeping machine's LAN and grants the technician's node its
// wol capability; the technician's viewer then asks that agent over the
// overlay. The coordinator itself is not on the overlay.
func (s *Server) handleWake(w http.ResponseWriter, r *http.Request, sess identity.Session, _ string) {
	ev := wire.AuditEvent{Actor: sess.User, Action: "device.wake"}
	var req wire.WakeAsk
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	}
	ev.Target = clip(req.DeviceID)
	if err := policy.Allow(sess.Role, policy.ActionWake); err != nil {
		s.deny(w, r, http.StatusForbidden, wire.CodeForbidden, err.Error(), ev)
		return
	}
	devs, err := s.Devices(sess.Role, sess.Companies)
	if err != nil {
		s.log.Error("listing devices", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "listing devices failed")
		return
	}
	var target *wake.Machine
	candidates := make([]wake.Machine, 0, len(devs))
	for _, d := range devs {
		if d.Inventory == nil {
			continue
		}
		m := wake.FromInventory(d.ID, d.Online, d.LastSeen, *d.Inventory)
		if d.ID == req.DeviceID {
			if d.Online {
				s.deny(w, r, http.StatusConflict, wire.CodeConflict, "the machine is online already", ev)
				return
			}
			target = &m
		}
		candidates = append(candidates, m)
	}
	if target == nil {
		s.deny(w, r, http.StatusNotFound, wire.CodeNotFound, "no such machine, or it never reported its network", ev)
		return
	}
	ask, err := wake.Request(*target)
	if err != nil {
		s.deny(w, r, http.StatusConflict, wire.CodeConflict, "the machine's network is unknown: "+err.Error(), ev)
		return
	}
	relay, err := wake.PickRelay(*target, candidates)
	if errors.Is(err, wake.ErrNoRelay) {
		s.deny(w, r, http.StatusConflict, wire.CodeConflict, "no online machine shares its LAN to relay the wake-up", ev)
		return
	} else if err != nil {
		s.deny(w, r, http.StatusConflict, wire.CodeConflict, err.Error(), ev)
		return
	}
	dev, err := s.cfg.Registry.Device(relay.ID)
	if err != nil {
		s.deny(w, r, http.StatusConflict, wire.CodeConflict, "the relay is no longer enrolled", ev)
		return
	}
	g, problem := s.issueGrant(sess, req.NodeKey, relay.ID, dev.NodeKeyID, []wire.Capability{wire.CapWake}, "grant.issue")
	if problem != nil {
		s.deny(w, r, problem.status, problem.code, problem.msg, ev)
		return
	}
	s.record(wire.AuditEvent{Actor: sess.User, Action: ev.Action, Target: req.DeviceID, Outcome: audit.OK,
		Fields: map[string]string{"relay": relay.ID, "mac": ask.MAC, "subnet": ask.Subnet}})
	writeJSON(w, http.StatusOK, wire.WakePlan{Relay: relay.ID, Grant: g, Request: ask})
}
