package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/wire"
)

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, desk.Caller{IP: clientIP(r), Via: "api"}, "device.enroll", err)
		return
	}
	resp, err := s.desk.Enroll(clientIP(r), req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req wire.LoginRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, desk.Caller{IP: clientIP(r), Via: "api"}, "technician.login", err)
		return
	}
	c := desk.Caller{IP: clientIP(r), Via: "api"}
	res, err := s.desk.Login(c, req.Username, req.Password)
	if err != nil {
		fail(w, err)
		return
	}
	if res.Pending != "" {
		writeJSON(w, http.StatusOK, wire.LoginResponse{SecondFactor: true, Pending: res.Pending})
		return
	}
	s.loggedIn(w, c, res)
}

// handleSecondFactor is a login's second step.
func (s *Server) handleSecondFactor(w http.ResponseWriter, r *http.Request) {
	c := desk.Caller{IP: clientIP(r), Via: "api"}
	var req wire.SecondFactorRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "technician.login", err)
		return
	}
	res, err := s.desk.CompleteLogin(c, req.Pending, req.Code)
	if err != nil {
		fail(w, err)
		return
	}
	s.loggedIn(w, c, res)
}

// loggedIn answers a login that passed every factor: the session and the
// technician's overlay key. A session that must set up two-factor
// authentication first is refused here (it could do nothing on the API)
// and ended.
func (s *Server) loggedIn(w http.ResponseWriter, c desk.Caller, res desk.LoginResult) {
	if res.SetupOnly {
		s.desk.Logout(c, res.Token) //nolint:errcheck // refused either way; a leftover session expires
		writeError(w, http.StatusForbidden, wire.CodeForbidden, desk.ErrSetupFirst.Error()+" (on the dashboard)")
		return
	}
	key, err := s.desk.TechnicianKey(desk.CallerOf(res.Session, c.IP, c.Via))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.LoginResponse{
		Session: res.Token, Expires: res.Session.Expires, AuthKey: key.Key, Username: res.Session.User, Role: string(res.Session.Role),
		ControlURL: s.desk.ControlURL(),
	})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, c desk.Caller, token string) {
	if err := s.desk.Logout(c, token); err != nil {
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "logout failed")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	out, err := s.desk.Devices(c)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGrant(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.GrantRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "grant.issue", err)
		return
	}
	resp, err := s.desk.Grant(c, req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleWake plans a Wake-on-LAN (U3); see desk.Desk.Wake.
func (s *Server) handleWake(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.WakeAsk
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "device.wake", err)
		return
	}
	plan, err := s.desk.Wake(c, req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, plan)
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.TokenRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "enrollment-token.create", err)
		return
	}
	resp, err := s.desk.CreateToken(c, enroll.TokenOptions{TTL: time.Duration(req.TTL), Note: req.Note, Company: req.Company, Site: req.Site})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleInventory(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	var inv wire.Inventory
	if err := decode(w, r, &inv); err != nil {
		badRequest(w, err)
		return
	}
	if err := s.desk.Inventory(dev, clientIP(r), inv); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	var hb wire.Heartbeat
	if err := decode(w, r, &hb); err != nil {
		badRequest(w, err)
		return
	}
	if err := s.desk.Heartbeat(dev, hb); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAgentAudit(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	var evs []wire.AuditEvent
	if err := decode(w, r, &evs); err != nil {
		badRequest(w, err)
		return
	}
	if err := s.desk.AgentAudit(dev, evs); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleCreateCode(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.CodeRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "support.code.create", err)
		return
	}
	code, err := s.desk.GenerateCode(c, req.Team, time.Duration(req.TTL))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, code)
}

func (s *Server) handleCancelCode(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	if err := s.desk.CancelCode(c, r.PathValue("code")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRedeem: a technician enters the code an end user read out.
func (s *Server) handleRedeem(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.RedeemRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "support.code.redeem", err)
		return
	}
	ss, err := s.desk.Redeem(c, req.Code)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ss)
}

// handleConnectRedeem: the technician's viewer exchanges the connect
// ticket the dashboard put in its link; the desk checks that it was
// minted for this very technician and burns it.
func (s *Server) handleConnectRedeem(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.ConnectRedeemRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "connect.redeem", err)
		return
	}
	t, err := s.desk.RedeemConnect(c, req.Ticket)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleBoard(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	board, err := s.desk.Board(c)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, board)
}

func (s *Server) handleTechEnd(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	if err := s.desk.EndSession(c, r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleJoin: a one-time support agent presents its code.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req wire.JoinRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, desk.Caller{IP: clientIP(r), Via: "api"}, "support.join", err)
		return
	}
	resp, err := s.desk.Join(clientIP(r), req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleDeviceEnd: the agent side ends its session (the end user pressed
// "End", or a one-time agent is exiting). Both one-time and enrolled agents
// authenticate with "Device <id>:<secret>".
func (s *Server) handleDeviceEnd(w http.ResponseWriter, r *http.Request) {
	cred, ok := bearer(r, "Device")
	id, secret, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 {
		writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "device credentials required")
		return
	}
	var req wire.EndRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, desk.Caller{User: "device:" + id, IP: clientIP(r), Via: "api"}, "support.session.end", err)
		return
	}
	if err := s.desk.DeviceEnd(clientIP(r), id, secret, req.Reason); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleOverlayReport: a one-time support agent says why its overlay node
// is not up (or that it is), over HTTPS with its device credentials, so
// the desk's session row can say it.
func (s *Server) handleOverlayReport(w http.ResponseWriter, r *http.Request) {
	cred, ok := bearer(r, "Device")
	id, secret, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 {
		writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "device credentials required")
		return
	}
	var req wire.OverlayReport
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, desk.Caller{User: "device:" + id, IP: clientIP(r), Via: "api"}, "support.overlay.report", err)
		return
	}
	if err := s.desk.ReportOverlay(clientIP(r), id, secret, req); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAsk: an enrolled agent's user asks for help and gets a code to
// read out.
func (s *Server) handleAsk(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	c, err := s.desk.Ask(dev)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
