package api

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

func pemCA(ca *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
}

// Overlay key lifetimes.
const (
	agentKeyTTL = time.Hour      // time an enrolling agent has to join
	techKeyTTL  = 12 * time.Hour // a viewer joins within its login session
)

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	ev := wire.AuditEvent{Actor: "ip:" + clientIP(r), Action: "device.enroll"}
	if !s.enrollIP.allow(clientIP(r)) {
		s.deny(w, r, http.StatusTooManyRequests, wire.CodeRateLimited, "too many enrollment attempts; wait a minute", ev)
		return
	}
	var req wire.EnrollRequest
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	}
	tok, err := wire.ParseEnrollToken(req.Token)
	if err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	}
	ev.Target = "token:" + tok.ID
	// Enroll checks the token before it mints the overlay key (L1).
	enr, err := s.cfg.Registry.Enroll(enroll.Request{
		Token: tok, MachineID: req.MachineID, Hostname: req.Hostname, OS: req.OS,
	}, agentKeys{s.cfg.Overlay})
	dev, secret := enr.Device, enr.Secret
	switch {
	case errors.Is(err, enroll.ErrOverlayKey):
		s.log.Error("minting an agent overlay key", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "the coordinator could not create an overlay key")
		return
	case errors.Is(err, enroll.ErrBadToken):
		s.deny(w, r, http.StatusUnauthorized, wire.CodeUnauthorized, "unknown or wrong enrollment token", ev)
		return
	case errors.Is(err, enroll.ErrTokenUsed):
		s.deny(w, r, http.StatusUnauthorized, wire.CodeUnauthorized, "this enrollment token has already been used", ev)
		return
	case errors.Is(err, enroll.ErrTokenExpired):
		s.deny(w, r, http.StatusUnauthorized, wire.CodeExpired, "this enrollment token has expired", ev)
		return
	case errors.Is(err, enroll.ErrKnownDevice):
		s.deny(w, r, http.StatusConflict, wire.CodeConflict, enroll.ErrKnownDevice.Error(), ev)
		return
	case errors.Is(err, enroll.ErrRemoved):
		s.deny(w, r, http.StatusConflict, wire.CodeConflict, enroll.ErrRemoved.Error(), ev)
		return
	case errors.Is(err, enroll.ErrBadMachineID), errors.Is(err, wire.ErrBadName), err != nil && strings.HasPrefix(err.Error(), "enroll: "):
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	case err != nil:
		s.log.Error("enrolling", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "enrollment failed")
		return
	}
	s.record(wire.AuditEvent{Actor: ev.Actor, Action: ev.Action, Target: dev.ID, Outcome: audit.OK,
		Fields: map[string]string{"token": tok.ID, "hostname": dev.Hostname, "os": dev.OS}})
	writeJSON(w, http.StatusOK, wire.EnrollResponse{
		DeviceID: dev.ID, DeviceSecret: secret, AuthKey: enr.AuthKey,
		GrantKey: []byte(s.cfg.GrantKey.Public().(ed25519.PublicKey)), ControlURL: s.cfg.ControlURL,
	})
}

// agentKeys makes the overlay keys enrolling agents join with.
type agentKeys struct{ ov Overlay }

func (k agentKeys) Mint() (uint64, string, error) {
	key, err := k.ov.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagAgent}, TTL: agentKeyTTL})
	return key.ID, key.Key, err
}

func (k agentKeys) Delete(id uint64) error { return k.ov.DeleteAuthKey(id) }

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req wire.LoginRequest
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(),
			wire.AuditEvent{Actor: "ip:" + clientIP(r), Action: "technician.login"})
		return
	}
	token, sess, err := s.Login(clientIP(r), req.Username, req.Password, "api")
	if err != nil {
		status, code := LoginErrorStatus(err)
		writeError(w, status, code, err.Error())
		return
	}
	key, err := s.cfg.Overlay.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagTech}, Ephemeral: true, TTL: techKeyTTL})
	if err == nil {
		err = s.cfg.Accounts.RecordOverlayKey(key.ID, sess.User)
	}
	if err != nil {
		s.log.Error("minting a technician overlay key", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "the coordinator could not create an overlay key")
		return
	}
	writeJSON(w, http.StatusOK, wire.LoginResponse{
		Session: token, Expires: sess.Expires, AuthKey: key.Key, Username: sess.User, Role: string(sess.Role), ControlURL: s.cfg.ControlURL,
	})
}

// Login errors; their messages are safe to show to the person logging in.
var (
	ErrRateLimited = errors.New("too many login attempts from this address; wait a minute")
	ErrLocked      = errors.New("account locked after repeated failures; try again later")
	ErrBadLogin    = errors.New("wrong user name or password")
	ErrLoginFailed = errors.New("login failed")
)

// LoginErrorStatus maps a Login error to an HTTP status and wire code.
func LoginErrorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, wire.CodeRateLimited
	case errors.Is(err, ErrLocked):
		return http.StatusForbidden, wire.CodeLocked
	case errors.Is(err, ErrBadLogin):
		return http.StatusUnauthorized, wire.CodeUnauthorized
	}
	return http.StatusInternalServerError, wire.CodeInternal
}

// Login checks a technician's password for a client at ip — subject to the
// per-address rate limit and the account lockout — starts a session and
// audits the attempt either way. via names the door ("api", "web").
func (s *Server) Login(ip, user, password, via string) (string, identity.Session, error) {
	ev := wire.AuditEvent{Actor: clip(user), Action: "technician.login", Fields: map[string]string{"ip": ip, "via": via}}
	fail := func(err error) (string, identity.Session, error) {
		ev.Outcome, ev.Reason = audit.Denied, err.Error()
		s.record(ev)
		return "", identity.Session{}, err
	}
	if !s.loginIP.allow(ip) {
		ev.Actor = "ip:" + ip
		return fail(ErrRateLimited)
	}
	u, err := s.cfg.Accounts.Authenticate(user, password)
	switch {
	case errors.Is(err, identity.ErrLocked):
		return fail(ErrLocked)
	case errors.Is(err, identity.ErrBadCredentials):
		return fail(ErrBadLogin)
	case err != nil:
		s.log.Error("login", "err", err)
		return "", identity.Session{}, ErrLoginFailed
	}
	token, sess, err := s.cfg.Accounts.NewSession(u)
	if err != nil {
		s.log.Error("new session", "err", err)
		return "", identity.Session{}, ErrLoginFailed
	}
	ev.Actor, ev.Outcome = u.Name, audit.OK
	s.record(ev)
	return token, sess, nil
}

// Session resolves a bearer session token.
func (s *Server) Session(token string) (identity.Session, error) {
	return s.cfg.Accounts.Session(token)
}

// Logout ends a session and audits it.
func (s *Server) Logout(token string) error {
	sess, err := s.cfg.Accounts.Session(token)
	if err != nil {
		return err
	}
	if err := s.cfg.Accounts.EndSession(token); err != nil {
		return err
	}
	s.record(wire.AuditEvent{Actor: sess.User, Action: "technician.logout", Outcome: audit.OK})
	return nil
}

// Devices lists every device an account with role and scope may see.
func (s *Server) Devices(role policy.Role, scope policy.Scope) ([]wire.Device, error) {
	devs, err := s.cfg.Registry.Devices()
	if err != nil {
		return nil, err
	}
	nodes := nodesByKeyID(s.cfg.Overlay.Nodes())
	out := make([]wire.Device, 0, len(devs))
	for _, d := range devs {
		if policy.InScope(role, scope, company(d)) {
			out = append(out, s.deviceView(d, nodes))
		}
	}
	return out, nil
}

// checkMetadata bounds the shop's filing fields and custom fields.
func checkMetadata(m wire.Metadata, custom map[string]string) error {
	if err := m.Check(); err != nil {
		return err
	}
	return wire.CheckCustom(custom)
}

// company is the company a device is filed under (U4): its token's, or an
// admin's move (M6), never its own report's.
func company(d enroll.Device) string {
	c, _ := d.Filed()
	return c
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, sess identity.Session, token string)

// technician authenticates a technician's bearer session.
func (s *Server) technician(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r, "Bearer")
		if !ok {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "log in first")
			return
		}
		sess, err := s.cfg.Accounts.Session(tok)
		if err != nil {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "session expired or unknown; log in again")
			return
		}
		h(w, r, sess, tok)
	}
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, _ identity.Session, token string) {
	if err := s.Logout(token); err != nil {
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "logout failed")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request, sess identity.Session, _ string) {
	if err := policy.Allow(sess.Role, policy.ActionListDevices); err != nil {
		s.deny(w, r, http.StatusForbidden, wire.CodeForbidden, err.Error(), wire.AuditEvent{Actor: sess.User, Action: "devices.list"})
		return
	}
	out, err := s.Devices(sess.Role, sess.Companies)
	if err != nil {
		s.log.Error("listing devices", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "listing devices failed")
		return
	}
	writeJSON(w, http.StatusOK, out)
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

func (s *Server) deviceView(d enroll.Device, nodes map[uint64]overlay.Node) wire.Device {
	v := wire.Device{ID: d.ID, Hostname: d.Hostname, OS: d.OS, Enrolled: d.Enrolled, Inventory: d.Inventory}
	v.LastSeen, v.Online = s.cfg.Presence.LastSeen(d.ID)
	if n, ok := nodes[d.NodeKeyID]; ok && n.IPv4.IsValid() {
		v.OverlayIP = n.IPv4.String()
	}
	return v
}

func (s *Server) handleGrant(w http.ResponseWriter, r *http.Request, sess identity.Session, _ string) {
	ev := wire.AuditEvent{Actor: sess.User, Action: "grant.issue"}
	var req wire.GrantRequest
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	}
	ev.Target = clip(req.DeviceID)
	if err := policy.Allow(sess.Role, policy.ActionRequestGrant); err != nil {
		s.deny(w, r, http.StatusForbidden, wire.CodeForbidden, err.Error(), ev)
		return
	}
	caps, err := policy.GrantCapabilities(sess.Role, req.Capabilities)
	if err != nil {
		s.deny(w, r, http.StatusForbidden, wire.CodeForbidden, err.Error(), ev)
		return
	}
	deviceID, keyID, err := s.grantTarget(req.DeviceID, sess)
	if err != nil {
		status, code := http.StatusNotFound, wire.CodeNotFound
		if errors.Is(err, support.ErrNotYours) || errors.Is(err, support.ErrEnded) {
			status, code = http.StatusForbidden, wire.CodeForbidden
		}
		s.deny(w, r, status, code, err.Error(), ev)
		return
	}
	resp, problem := s.issueGrant(sess, req.NodeKey, deviceID, keyID, caps, ev.Action)
	if problem != nil {
		s.deny(w, r, problem.status, problem.code, problem.msg, ev)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// refusal is why a request is refused, for deny.
type refusal struct {
	status    int
	code, msg string
}

// issueGrant signs a grant for caps on deviceID (joined with overlay key
// keyID) to the technician's node nodeKey, checking that the node is a
// technician node minted for this very technician, and audits it as action.
func (s *Server) issueGrant(sess identity.Session, nodeKey, deviceID string, keyID uint64, caps []wire.Capability, action string) (wire.GrantResponse, *refusal) {
	tech, err := s.cfg.Overlay.NodeByKey(nodeKey)
	if err != nil || !slices.Contains(tech.Tags, wire.TagTech) {
		return wire.GrantResponse{}, &refusal{http.StatusForbidden, wire.CodeForbidden, "the requesting node is not a technician node of this overlay"}
	}
	owner, err := s.cfg.Accounts.OverlayKeyOwner(tech.AuthKeyID)
	if err != nil || owner != sess.User {
		return wire.GrantResponse{}, &refusal{http.StatusForbidden, wire.CodeForbidden, "the requesting node belongs to another technician"}
	}
	agentNode, ok := nodesByKeyID(s.cfg.Overlay.Nodes())[keyID]
	if !ok || !agentNode.IPv4.IsValid() {
		return wire.GrantResponse{}, &refusal{http.StatusConflict, wire.CodeConflict, "the device has not joined the overlay yet"}
	}
	now := s.now()
	g := grant.Grant{
		ID: grant.NewID(), Technician: sess.User, NodeKey: tech.NodeKey, Device: deviceID, Capabilities: caps,
		IssuedAt: now.Unix(), Expires: now.Add(policy.GrantLifetime).Unix(),
	}
	signed, err := grant.Sign(s.cfg.GrantKey, g)
	if err != nil {
		s.log.Error("signing a grant", "err", err)
		return wire.GrantResponse{}, &refusal{http.StatusInternalServerError, wire.CodeInternal, "could not sign the grant"}
	}
	s.accesses.record(deviceID, caps, now, time.Unix(g.Expires, 0))
	capNames := make([]string, len(caps))
	for i, c := range caps {
		capNames[i] = string(c)
	}
	s.record(wire.AuditEvent{Actor: sess.User, Action: action, Target: deviceID, Outcome: audit.OK,
		Fields: map[string]string{"grant": g.ID, "node": tech.NodeKey, "capabilities": strings.Join(capNames, ",")}})
	return wire.GrantResponse{Grant: signed, Expires: time.Unix(g.Expires, 0).UTC(), OverlayIP: agentNode.IPv4.String()}, nil
}

// grantTarget finds the device a grant is asked for and the overlay key it
// joined with: an enrolled device, or the one-time support agent of an
// open session — which the technician must own, or claims if it is the
// team's and nobody has yet (first come).
func (s *Server) grantTarget(device string, sess identity.Session) (string, uint64, error) {
	technician := sess.User
	if d, err := s.cfg.Registry.Device(device); err == nil {
		if !policy.InScope(sess.Role, sess.Companies, company(d)) {
			// Out of scope reads as absent: the account may not know it exists.
			return "", 0, errors.New("no such device")
		}
		return d.ID, d.NodeKeyID, nil
	}
	ss, err := s.cfg.Support.OpenSessionFor(device)
	if err != nil {
		return "", 0, errors.New("no such device")
	}
	if _, err := s.cfg.Support.Claim(ss.ID, technician); err != nil {
		return "", 0, err
	}
	return ss.Device, ss.NodeKeyID, nil
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, sess identity.Session, _ string) {
	ev := wire.AuditEvent{Actor: sess.User, Action: "enrollment-token.create"}
	if err := policy.Allow(sess.Role, policy.ActionCreateEnrollToken); err != nil {
		s.deny(w, r, http.StatusForbidden, wire.CodeForbidden, err.Error(), ev)
		return
	}
	var req wire.TokenRequest
	if err := decode(w, r, &req); err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	}
	resp, err := s.createToken(enroll.TokenOptions{TTL: time.Duration(req.TTL), Note: req.Note, CreatedBy: sess.User,
		Company: req.Company, Site: req.Site})
	if err != nil {
		s.deny(w, r, http.StatusBadRequest, wire.CodeBadRequest, err.Error(), ev)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// CreateToken mints an enrollment token carrying the CA pin, and audits it.
func (s *Server) CreateToken(ttl time.Duration, note, actor string) (wire.TokenResponse, error) {
	return s.createToken(enroll.TokenOptions{TTL: ttl, Note: note, CreatedBy: actor})
}

// createToken is CreateToken with the company and site the token files
// its device under (M6).
func (s *Server) createToken(o enroll.TokenOptions) (wire.TokenResponse, error) {
	et, t, err := s.cfg.Registry.NewToken(o)
	if err != nil {
		return wire.TokenResponse{}, err
	}
	et.Pin = s.cfg.Pin
	s.record(wire.AuditEvent{Actor: o.CreatedBy, Action: "enrollment-token.create", Target: "token:" + t.ID, Outcome: audit.OK,
		Fields: map[string]string{"expires": t.Expires.Format(time.RFC3339), "company": t.Company, "site": t.Site}})
	return wire.TokenResponse{Token: et.String(), Expires: t.Expires}, nil
}

type deviceHandler func(w http.ResponseWriter, r *http.Request, dev enroll.Device)

// device authenticates an agent: "Authorization: Device <id>:<secret>".
func (s *Server) device(h deviceHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred, ok := bearer(r, "Device")
		id, secret, ok2 := strings.Cut(cred, ":")
		if !ok || !ok2 {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "device credentials required")
			return
		}
		dev, err := s.cfg.Registry.Authenticate(id, secret)
		if err != nil && strings.HasPrefix(id, "sup-") && r.URL.Path == wire.PathAgentAudit {
			// A one-time support agent forwards its audit trail too; it
			// may do nothing else an enrolled device does.
			var ss support.Session
			if ss, err = s.cfg.Support.AuthenticateDevice(id, secret); err == nil {
				dev = enroll.Device{ID: ss.Device, Hostname: ss.Hostname, OS: ss.OS}
			}
		}
		if err != nil {
			s.deny(w, r, http.StatusUnauthorized, wire.CodeUnauthorized, "unknown device or wrong secret",
				wire.AuditEvent{Actor: "device:" + clip(id), Action: "device.authenticate"})
			return
		}
		h(w, r, dev)
	}
}

func (s *Server) handleInventory(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	var inv wire.Inventory
	if err := decode(w, r, &inv); err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	if len(inv.Disks) > 64 || len(inv.Interfaces) > 64 || len(inv.Custom) > wire.MaxCustomFields {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "too many disks, interfaces or custom fields")
		return
	}
	if err := checkMetadata(inv.Metadata, inv.Custom); err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	// The address the report came from, as the coordinator sees it (the
	// agent's own claim is not trusted).
	inv.ExternalIP = clientIP(r)
	if err := s.cfg.Registry.SetInventory(dev.ID, inv); err != nil {
		s.log.Error("storing inventory", "device", dev.ID, "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "storing inventory failed")
		return
	}
	s.cfg.Presence.Seen(dev.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	var hb wire.Heartbeat
	if err := decode(w, r, &hb); err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	s.cfg.Presence.Seen(dev.ID)
	w.WriteHeader(http.StatusNoContent)
}

// maxAgentAudit bounds one batch of forwarded agent audit records.
const maxAgentAudit = 100

func (s *Server) handleAgentAudit(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	var evs []wire.AuditEvent
	if err := decode(w, r, &evs); err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	if len(evs) > maxAgentAudit {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("at most %d records per batch", maxAgentAudit))
		return
	}
	for _, ev := range evs {
		// The audit trail keeps times as RFC 3339 in UTC; one that cannot
		// be written so (a year past 9999 once in UTC) would break it.
		if _, err := ev.Time.UTC().MarshalText(); err != nil {
			writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "record time out of range")
			return
		}
	}
	for _, ev := range evs {
		if _, err := s.cfg.Audit.Append("agent:"+dev.ID, ev); err != nil {
			s.log.Error("storing agent audit", "device", dev.ID, "err", err)
			writeError(w, http.StatusInternalServerError, wire.CodeInternal, "storing audit records failed")
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func clip(s string) string {
	if len(s) > wire.MaxNameLen {
		return s[:wire.MaxNameLen]
	}
	return s
}
