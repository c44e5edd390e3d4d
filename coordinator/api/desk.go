package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// The support desk's actions as a logged-in technician takes them, shared by
// the JSON API and the dashboard. Each audits its outcome, refusals
// included; ip is the client's address, recorded with it. Errors are those
// of package support (test with errors.Is), or ErrCodeRateLimited.

// GenerateCode makes a support code for who: assigned to them, or to the
// team (first come); ttl 0 means until used or cancelled.
func (s *Server) GenerateCode(ip string, who identity.Session, team bool, ttl time.Duration) (wire.SupportCode, error) {
	ev := wire.AuditEvent{Actor: who.User, Action: "support.code.create", Fields: map[string]string{"ip": ip, "team": boolString(team)}}
	c, err := s.cfg.Support.Generate(who.User, team, ttl)
	if err != nil {
		s.recordDenied(ev, err.Error())
		return wire.SupportCode{}, err
	}
	ev.Target, ev.Outcome = "code:"+c.Code, audit.OK
	s.record(ev)
	return codeView(c), nil
}

// CancelCode withdraws a waiting code; only its creator, its assignee or an
// admin may.
func (s *Server) CancelCode(ip string, who identity.Session, code string) error {
	ev := wire.AuditEvent{Actor: who.User, Action: "support.code.cancel", Target: "code:" + clip(code), Fields: map[string]string{"ip": ip}}
	if err := s.cfg.Support.Cancel(code, who.User, who.Role == policy.RoleAdmin); err != nil {
		s.recordDenied(ev, err.Error())
		return err
	}
	ev.Outcome = audit.OK
	s.record(ev)
	return nil
}

// Redeem binds a code an end user read out (one their agent asked for) to
// a new session worked by who, under the per-technician and global limits
// on code attempts; a failed guess is audited.
func (s *Server) Redeem(ip string, who identity.Session, code string) (wire.SupportSession, error) {
	ev := wire.AuditEvent{Actor: who.User, Action: "support.code.redeem", Target: "code:" + clip(code), Fields: map[string]string{"ip": ip}}
	if !s.codeTech.allow(who.User) || !s.codeAll.allow("all") {
		s.recordDenied(ev, ErrCodeRateLimited.Error())
		return wire.SupportSession{}, ErrCodeRateLimited
	}
	ss, err := s.cfg.Support.Redeem(strings.TrimSpace(code), who.User)
	if err != nil {
		_, _, msg := redeemError(err)
		s.recordDenied(ev, msg)
		return wire.SupportSession{}, err
	}
	ev.Outcome = audit.OK
	ev.Fields["session"], ev.Fields["device"] = ss.ID, ss.Device
	s.record(ev)
	return s.sessionView(ss, nodesByKeyID(s.cfg.Overlay.Nodes())), nil
}

// EndSession ends an open session: who's own, an unclaimed one, or — for
// an admin — anyone's.
func (s *Server) EndSession(ip string, who identity.Session, id string) error {
	ev := wire.AuditEvent{Actor: who.User, Action: "support.session.end", Target: clip(id), Fields: map[string]string{"ip": ip}}
	ss, err := s.cfg.Support.Session(id)
	if err == nil && ss.Technician != who.User && ss.Technician != "" && who.Role != policy.RoleAdmin {
		err = support.ErrNotYours
	}
	if err == nil {
		_, err = s.cfg.Support.End(id, who.User, "ended by the technician")
	}
	if err != nil {
		s.recordDenied(ev, err.Error())
		return err
	}
	ev.Outcome = audit.OK
	s.record(ev)
	return nil
}

// recordDenied audits a refusal decided outside an HTTP handler.
func (s *Server) recordDenied(ev wire.AuditEvent, reason string) {
	ev.Outcome, ev.Reason = audit.Denied, reason
	s.record(ev)
}

// supportStatus maps a support desk refusal to an HTTP status.
func supportStatus(err error) int {
	switch {
	case errors.Is(err, ErrCodeRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, support.ErrNoCode), errors.Is(err, support.ErrNoSession):
		return http.StatusNotFound
	case errors.Is(err, support.ErrNotAllowed), errors.Is(err, support.ErrNotYours):
		return http.StatusForbidden
	}
	return http.StatusConflict
}
