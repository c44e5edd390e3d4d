package api

import (
	"crypto/ed25519"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/wire"
)

// supportKeyTTL is how long a one-time agent has to join with its key.
const supportKeyTTL = 15 * time.Minute

func codeView(c support.Code) wire.SupportCode {
	return wire.SupportCode{Code: c.Code, Kind: c.Kind, State: c.State, Assignee: c.Assignee, Created: c.Created,
		Expires: c.Expires, Hostname: c.Hostname, Session: c.Session}
}

func (s *Server) sessionView(ss support.Session, nodes map[uint64]overlay.Node) wire.SupportSession {
	v := wire.SupportSession{ID: ss.ID, Code: ss.Code, Technician: ss.Technician, Device: ss.Device, Hostname: ss.Hostname,
		OS: ss.OS, OneTime: ss.OneTime, State: ss.State, Created: ss.Created, Ended: ss.Ended}
	if ip, ok := s.deviceIP(ss.Device, nodes); ok {
		v.OverlayIP = ip
	}
	return v
}

// deviceIP finds a device's overlay address: an enrolled device's, or a
// one-time support agent's.
func (s *Server) deviceIP(device string, nodes map[uint64]overlay.Node) (string, bool) {
	keyID := uint64(0)
	if d, err := s.cfg.Registry.Device(device); err == nil {
		keyID = d.NodeKeyID
	} else if ss, err := s.cfg.Support.OpenSessionFor(device); err == nil {
		keyID = ss.NodeKeyID
	}
	n, ok := nodes[keyID]
	if !ok || keyID == 0 || !n.IPv4.IsValid() {
		return "", false
	}
	return n.IPv4.String(), true
}

func (s *Server) handleCreateCode(w http.ResponseWriter, r *http.Request, sess identity.Session, _ string) {
	var req wire.CodeRequest
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), wire.AuditEvent{Actor: sess.User, Action: "support.code.create"})
		return
	}
	c, err := s.GenerateCode(clientIP(r), sess, req.Team, time.Duration(req.TTL))
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) handleCancelCode(w http.ResponseWriter, r *http.Request, sess identity.Session, _ string) {
	if err := s.CancelCode(clientIP(r), sess, r.PathValue("code")); err != nil {
		status := supportStatus(err)
		writeError(w, status, codeFor(status), err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRedeem: a technician enters the code an end user read out.
func (s *Server) handleRedeem(w http.ResponseWriter, r *http.Request, sess identity.Session, _ string) {
	var req wire.RedeemRequest
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), wire.AuditEvent{Actor: sess.User, Action: "support.code.redeem"})
		return
	}
	ss, err := s.Redeem(clientIP(r), sess, req.Code)
	if errors.Is(err, ErrCodeRateLimited) {
		writeError(w, http.StatusTooManyRequests, wire.CodeRateLimited, err.Error())
		return
	}
	if err != nil {
		status, code, msg := redeemError(err)
		writeError(w, status, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, ss)
}

// redeemError maps a code's refusal to an answer whose message is safe to
// show the person who typed the code.
func redeemError(err error) (int, string, string) {
	switch {
	case errors.Is(err, support.ErrNoCode), errors.Is(err, support.ErrWrongKind):
		return http.StatusNotFound, wire.CodeNotFound, support.ErrNoCode.Error()
	case errors.Is(err, support.ErrUsed):
		return http.StatusConflict, wire.CodeConflict, support.ErrUsed.Error()
	case errors.Is(err, support.ErrCancelled):
		return http.StatusGone, wire.CodeExpired, support.ErrCancelled.Error()
	case errors.Is(err, support.ErrExpired):
		return http.StatusGone, wire.CodeExpired, support.ErrExpired.Error()
	case errors.Is(err, support.ErrNotAllowed):
		return http.StatusConflict, wire.CodeConflict, err.Error()
	}
	return http.StatusInternalServerError, wire.CodeInternal, "the code could not be used"
}

func (s *Server) handleBoard(w http.ResponseWriter, r *http.Request, _ identity.Session, _ string) {
	board, err := s.Board()
	if err != nil {
		s.log.Error("support board", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "listing support failed")
		return
	}
	writeJSON(w, http.StatusOK, board)
}

// Board lists live codes and recent sessions for the Support tab.
func (s *Server) Board() (wire.SupportBoard, error) {
	codes, err := s.cfg.Support.Codes()
	if err != nil {
		return wire.SupportBoard{}, err
	}
	sessions, err := s.cfg.Support.Sessions()
	if err != nil {
		return wire.SupportBoard{}, err
	}
	now := s.now()
	board := wire.SupportBoard{Codes: []wire.SupportCode{}, Sessions: []wire.SupportSession{}}
	for _, c := range codes {
		if c.Active(now) {
			board.Codes = append(board.Codes, codeView(c))
		}
	}
	nodes := nodesByKeyID(s.cfg.Overlay.Nodes())
	for _, ss := range sessions {
		if ss.State == support.Open || now.Sub(ss.Ended) < 24*time.Hour {
			board.Sessions = append(board.Sessions, s.sessionView(ss, nodes))
		}
	}
	return board, nil
}

func (s *Server) handleTechEnd(w http.ResponseWriter, r *http.Request, sess identity.Session, _ string) {
	if err := s.EndSession(clientIP(r), sess, r.PathValue("id")); err != nil {
		status := supportStatus(err)
		writeError(w, status, codeFor(status), err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// CheckCode validates a code typed into the portal, under the per-address
// and global limits, and audits a failed guess. It does not use the code.
func (s *Server) CheckCode(ip, code string) (support.Code, error) {
	ev := wire.AuditEvent{Actor: "ip:" + ip, Action: "support.code.check", Target: "code:" + clip(code), Fields: map[string]string{"ip": ip}}
	if !s.codeIP.allow(ip) || !s.codeAll.allow("all") {
		ev.Outcome, ev.Reason = audit.Denied, "rate limited"
		s.record(ev)
		return support.Code{}, ErrCodeRateLimited
	}
	c, err := s.cfg.Support.Lookup(strings.TrimSpace(code))
	if err == nil && c.Kind != support.KindTechnician {
		err = support.ErrNoCode
	}
	if err != nil {
		ev.Outcome, ev.Reason = audit.Denied, err.Error()
		s.record(ev)
		return support.Code{}, err
	}
	return c, nil
}

// ErrCodeRateLimited is the answer to too many code attempts.
var ErrCodeRateLimited = errors.New("too many attempts; wait a minute and try again")

// handleJoin: a one-time support agent presents its code.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	ev := wire.AuditEvent{Actor: "ip:" + ip, Action: "support.join"}
	if !s.codeIP.allow(ip) || !s.codeAll.allow("all") {
		s.deny(w, r, http.StatusTooManyRequests, wire.CodeRateLimited, ErrCodeRateLimited.Error(), ev)
		return
	}
	var req wire.JoinRequest
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	}
	ev.Target = "code:" + clip(req.Code)
	if err := wire.CheckName(req.Hostname); err != nil || len(req.OS) > 64 {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, "bad host name or OS", ev)
		return
	}
	if _, err := s.cfg.Support.Lookup(req.Code); err != nil {
		status, code, msg := redeemError(err)
		s.deny(w, r, status, code, msg, ev)
		return
	}
	key, err := s.cfg.Overlay.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagSupport}, Ephemeral: true, TTL: supportKeyTTL})
	if err != nil {
		s.log.Error("minting a support overlay key", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "the coordinator could not create an overlay key")
		return
	}
	ss, secret, err := s.cfg.Support.Join(support.JoinRequest{Code: req.Code, Hostname: req.Hostname, OS: req.OS, NodeKeyID: key.ID})
	if err != nil {
		status, code, msg := redeemError(err)
		s.deny(w, r, status, code, msg, ev)
		return
	}
	ev.Outcome = audit.OK
	ev.Fields = map[string]string{"session": ss.ID, "device": ss.Device, "hostname": ss.Hostname, "ip": ip}
	s.record(ev)
	writeJSON(w, http.StatusOK, wire.JoinResponse{
		Session: ss.ID, DeviceID: ss.Device, DeviceSecret: secret, AuthKey: key.Key,
		GrantKey: []byte(s.cfg.GrantKey.Public().(ed25519.PublicKey)), Technician: ss.Technician,
	})
}

// handleDeviceEnd: the agent side ends its session (the end user pressed
// "End", or a one-time agent is exiting). Both one-time and enrolled agents
// authenticate with "Device <id>:<secret>".
func (s *Server) handleDeviceEnd(w http.ResponseWriter, r *http.Request) {
	cred, ok := bearer(r, "Device")
	id, secret, ok2 := strings.Cut(cred, ":")
	ev := wire.AuditEvent{Actor: "device:" + clip(id), Action: "support.session.end"}
	if !ok || !ok2 {
		s.deny(w, r, http.StatusUnauthorized, wire.CodeUnauthorized, "device credentials required", ev)
		return
	}
	var ss support.Session
	var err error
	if strings.HasPrefix(id, "sup-") {
		ss, err = s.cfg.Support.AuthenticateDevice(id, secret)
	} else {
		var dev enroll.Device
		if dev, err = s.cfg.Registry.Authenticate(id, secret); err == nil {
			ss, err = s.cfg.Support.OpenSessionFor(dev.ID)
		}
	}
	if err != nil {
		s.deny(w, r, http.StatusUnauthorized, wire.CodeUnauthorized, "no open session for these credentials", ev)
		return
	}
	var req wire.EndRequest
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	}
	reason := req.Reason
	if reason == "" {
		reason = "ended by the end user"
	}
	if _, err := s.cfg.Support.End(ss.ID, "device:"+id, reason); err != nil && !errors.Is(err, support.ErrEnded) {
		s.log.Error("ending a session", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "ending the session failed")
		return
	}
	ev.Target, ev.Outcome, ev.Reason = ss.ID, audit.OK, clip(reason)
	s.record(ev)
	w.WriteHeader(http.StatusNoContent)
}

// handleAsk: an enrolled agent's user asks for help and gets a code to
// read out.
func (s *Server) handleAsk(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	c, err := s.cfg.Support.Request(dev.ID, dev.Hostname, 0)
	if err != nil {
		s.log.Error("support request", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "could not create a code")
		return
	}
	s.record(wire.AuditEvent{Actor: "device:" + dev.ID, Action: "support.request", Target: "code:" + c.Code, Outcome: audit.OK})
	writeJSON(w, http.StatusOK, codeView(c))
}

func codeFor(status int) string {
	switch status {
	case http.StatusNotFound:
		return wire.CodeNotFound
	case http.StatusForbidden:
		return wire.CodeForbidden
	case http.StatusTooManyRequests:
		return wire.CodeRateLimited
	}
	return wire.CodeConflict
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
