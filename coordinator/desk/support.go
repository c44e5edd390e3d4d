package desk

import (
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// The support desk (S1–S4). A technician's actions need
// policy.ActionSupport; each code and session is in scope as the package
// doc says, and another technician's own codes and sessions are seen and
// acted on only by roles with policy.ActionOthersSessions.

// SupportError is the desk's refusal for an error of package support: the
// kind and sentence the desk itself would answer (fakes of the desk in
// other packages' tests use it to stay faithful).
func SupportError(err error) error { return supportError(err) }

// supportError maps a refusal of package support to a desk error whose
// Public sentence is support's own (written to be shown to whoever typed
// the code).
func supportError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	switch {
	case errors.Is(err, support.ErrNoCode), errors.Is(err, support.ErrWrongKind):
		return newErr(NotFound, support.ErrNoCode.Error(), err)
	case errors.Is(err, support.ErrUsed):
		return newErr(Conflict, support.ErrUsed.Error(), err)
	case errors.Is(err, support.ErrCancelled):
		return newErr(Expired, support.ErrCancelled.Error(), err)
	case errors.Is(err, support.ErrExpired):
		return newErr(Expired, support.ErrExpired.Error(), err)
	case errors.Is(err, support.ErrNoSession):
		return newErr(NotFound, support.ErrNoSession.Error(), err)
	case errors.Is(err, support.ErrNotYours):
		return newErr(Forbidden, support.ErrNotYours.Error(), err)
	case errors.Is(err, support.ErrNotAllowed):
		return newErr(Forbidden, "only the technician who made the code, or an administrator, may cancel it", err)
	case errors.Is(err, support.ErrEnded):
		return newErr(Conflict, support.ErrEnded.Error(), err)
	case errors.Is(err, support.ErrBadSecret):
		return newErr(Unauthenticated, "no open session for these credentials", err)
	}
	return internal("the support desk failed", err)
}

// scoper decides what of the support desk one caller may see, remembering
// the lookups it made (one board lists many codes of few creators).
type scoper struct {
	d        *Desk
	c        Caller
	creators map[string]policy.Scope // account → its companies; nil: every company
	unknown  map[string]bool         // accounts that do not exist (any more)
	devices  map[string]string       // enrolled device → company
	codes    map[string]support.Code // digits → latest record, for one-time sessions
}

func (d *Desk) scoper(c Caller) *scoper {
	return &scoper{d: d, c: c, creators: map[string]policy.Scope{}, unknown: map[string]bool{}, devices: map[string]string{}}
}

// seesCreator decides whether a technician's code (or the one-time session
// it opened) made by creator is in the caller's scope: some company the
// creator works for is, or the creator works for every company.
func (s *scoper) seesCreator(creator string) bool {
	scope, ok := s.creators[creator]
	if !ok && !s.unknown[creator] {
		u, err := s.d.cfg.Accounts.Get(creator)
		if err != nil {
			s.unknown[creator] = true
		} else {
			if u.Role != policy.RoleAdmin {
				scope = u.Companies
			}
			s.creators[creator] = scope
			ok = true
		}
	}
	if !ok {
		// An account gone: its codes are visible to whoever sees all.
		return s.c.sees("")
	}
	if len(scope) == 0 {
		return true
	}
	for _, co := range scope {
		if s.c.sees(co) {
			return true
		}
	}
	return false
}

// seesDevice decides whether an enrolled device is in the caller's scope;
// ok is false when it is not an enrolled device.
func (s *scoper) seesDevice(id string) (in, ok bool) {
	co, known := s.devices[id]
	if !known {
		var enrolled bool
		if co, enrolled = s.d.deviceCompany(id); !enrolled {
			return false, false
		}
		s.devices[id] = co
	}
	return s.c.sees(co), true
}

// seesRequester decides whether the device behind an end user's request
// is in the caller's scope; one no longer enrolled has no company.
func (s *scoper) seesRequester(device string) bool {
	in, ok := s.seesDevice(device)
	return in || !ok && s.c.sees("")
}

// codeInScope: a request code belongs to its device's company, a
// technician's code to its creator's.
func (s *scoper) codeInScope(c support.Code) bool {
	if c.Kind == support.KindRequest {
		return s.seesRequester(c.Device)
	}
	return s.seesCreator(c.CreatedBy)
}

// codeVisible: in scope, and the caller's own, the team's, an end user's
// request, or the caller's role may act on others'.
func (s *scoper) codeVisible(c support.Code) bool {
	if !s.c.may(policy.ActionSupport) || !s.codeInScope(c) {
		return false
	}
	return c.Kind == support.KindRequest || c.Assignee == "" || c.Assignee == s.c.User || s.c.may(policy.ActionOthersSessions)
}

// sessionInScope: a session on an enrolled machine belongs to its company;
// a one-time agent's to the creator of the code that opened it.
func (s *scoper) sessionInScope(ss support.Session) bool {
	if in, ok := s.seesDevice(ss.Device); ok {
		return in
	}
	if s.codes == nil {
		s.codes = map[string]support.Code{}
		if all, err := s.d.cfg.Support.Codes(); err == nil {
			for _, c := range all {
				s.codes[c.Code] = c
			}
		}
	}
	if c, ok := s.codes[ss.Code]; ok && c.Session == ss.ID {
		return s.codeInScope(c)
	}
	return s.c.sees("")
}

// sessionVisible: in scope, and the caller's own, unclaimed, or the
// caller's role may act on others'.
func (s *scoper) sessionVisible(ss support.Session) bool {
	if !s.c.may(policy.ActionSupport) || !s.sessionInScope(ss) {
		return false
	}
	return ss.Technician == "" || ss.Technician == s.c.User || s.c.may(policy.ActionOthersSessions)
}

// sessionInScope is scoper's for one session.
func (d *Desk) sessionInScope(c Caller, ss support.Session, s *scoper) bool {
	if s == nil {
		s = d.scoper(c)
	}
	return s.sessionInScope(ss)
}

func codeView(c support.Code) wire.SupportCode {
	return wire.SupportCode{Code: c.Code, Kind: c.Kind, State: c.State, Assignee: c.Assignee, Created: c.Created,
		Expires: c.Expires, Hostname: c.Hostname, Session: c.Session}
}

func (d *Desk) sessionView(ss support.Session, nodes map[uint64]overlay.Node) wire.SupportSession {
	v := wire.SupportSession{ID: ss.ID, Code: ss.Code, Technician: ss.Technician, Device: ss.Device, Hostname: ss.Hostname,
		OS: ss.OS, OneTime: ss.OneTime, State: ss.State, Created: ss.Created, Ended: ss.Ended, Agent: ss.Agent}
	keyID := ss.NodeKeyID
	if dv, err := d.cfg.Registry.Device(ss.Device); err == nil {
		keyID, v.Agent = dv.NodeKeyID, dv.Agent
	}
	if n, ok := nodes[keyID]; ok && keyID != 0 && n.IPv4.IsValid() {
		v.OverlayIP = n.IPv4.String()
	}
	if ss.State == support.Open && v.OverlayIP == "" {
		// Once the node is on the overlay a report is moot.
		v.Overlay = d.overlay.get(ss.ID)
	}
	return v
}

// GenerateCode makes a support code for the caller: assigned to them, or
// to the team (first come); ttl 0 means until used or cancelled.
func (d *Desk) GenerateCode(c Caller, team bool, ttl time.Duration) (wire.SupportCode, error) {
	ev := c.event("support.code.create", "")
	ev.Fields["team"] = boolString(team)
	if err := d.allow(c, policy.ActionSupport, ev); err != nil {
		return wire.SupportCode{}, err
	}
	code, err := d.cfg.Support.Generate(c.User, team, ttl)
	if err != nil {
		kind := Invalid
		if !strings.HasPrefix(err.Error(), "support: code lifetime") {
			kind = Internal
		}
		return wire.SupportCode{}, d.refuse(ev, newErr(kind, strings.TrimPrefix(err.Error(), "support: "), err))
	}
	ev.Target = "code:" + code.Ref
	d.ok(ev)
	d.notify()
	return codeView(code), nil
}

// CancelCode withdraws a waiting code in the caller's scope: their own, or
// the team's, or — for a role that acts on others' — anyone's.
func (d *Desk) CancelCode(c Caller, code string) error {
	ev := c.event("support.code.cancel", d.codeTarget(code))
	if err := d.allow(c, policy.ActionSupport, ev); err != nil {
		return err
	}
	rec, err := d.cfg.Support.Lookup(code)
	if errors.Is(err, support.ErrNoCode) || rec.Code == "" || !d.scoper(c).codeVisible(rec) {
		return d.refuse(ev, newErr(NotFound, support.ErrNoCode.Error(), cmpErr(err, ErrOutOfScope)))
	}
	// The team's codes are everyone's to cancel, as the board offers.
	team := rec.Kind == support.KindTechnician && rec.Assignee == ""
	if err := d.cfg.Support.Cancel(code, c.User, team || c.may(policy.ActionOthersSessions)); err != nil {
		return d.refuse(ev, supportError(err))
	}
	d.ok(ev)
	d.notify()
	return nil
}

// cmpErr is err, or else fallback.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// Redeem binds a code an end user read out (one their agent asked for) to
// a new session worked by the caller, under the per-technician and global
// limits on code attempts. A code of a machine out of the caller's scope
// reads as absent and is not used. Every failure is audited.
func (d *Desk) Redeem(c Caller, code string) (wire.SupportSession, error) {
	code = strings.TrimSpace(code)
	ev := c.event("support.code.redeem", d.codeTarget(code))
	if err := d.allow(c, policy.ActionSupport, ev); err != nil {
		return wire.SupportSession{}, err
	}
	if !d.codes.Technician(c.User) {
		return wire.SupportSession{}, d.refuse(ev, newErr(RateLimited, ErrCodeRateLimited.Error(), ErrCodeRateLimited))
	}
	rec, err := d.cfg.Support.Lookup(code)
	if err != nil {
		return wire.SupportSession{}, d.refuse(ev, supportError(err))
	}
	if rec.Kind != support.KindRequest {
		return wire.SupportSession{}, d.refuse(ev, supportError(support.ErrWrongKind))
	}
	if !d.scoper(c).seesRequester(rec.Device) {
		return wire.SupportSession{}, d.refuse(ev, newErr(NotFound, support.ErrNoCode.Error(), ErrOutOfScope))
	}
	ss, err := d.cfg.Support.Redeem(code, c.User)
	if errors.Is(err, support.ErrNotAllowed) {
		return wire.SupportSession{}, d.refuse(ev, newErr(Conflict, "that end user's computer is already in a support session", err))
	} else if err != nil {
		return wire.SupportSession{}, d.refuse(ev, supportError(err))
	}
	if ss.Device != rec.Device {
		// The digits were reissued to another machine between the look-up
		// and the redemption: undo, and decide again on the next attempt.
		if _, eerr := d.cfg.Support.End(ss.ID, c.User, "redeemed a reissued code"); eerr != nil {
			d.log.Error("ending a session opened on a reissued code", "err", eerr)
		}
		d.notify()
		return wire.SupportSession{}, d.refuse(ev, newErr(Conflict, "the code changed; try again", nil))
	}
	ev.Fields["session"], ev.Fields["device"] = ss.ID, ss.Device
	d.ok(ev)
	d.notify()
	return d.sessionView(ss, nodesByKeyID(d.cfg.Overlay.Nodes())), nil
}

// EndSession ends an open session in the caller's scope: their own, an
// unclaimed one, or — for a role that acts on others' — anyone's.
func (d *Desk) EndSession(c Caller, id string) error {
	ev := c.event("support.session.end", id)
	if err := d.allow(c, policy.ActionSupport, ev); err != nil {
		return err
	}
	ss, err := d.cfg.Support.Session(id)
	if err != nil {
		return d.refuse(ev, supportError(err))
	}
	if !d.sessionInScope(c, ss, nil) {
		return d.refuse(ev, newErr(NotFound, support.ErrNoSession.Error(), ErrOutOfScope))
	}
	if ss.Technician != c.User && ss.Technician != "" && !c.may(policy.ActionOthersSessions) {
		return d.refuse(ev, supportError(support.ErrNotYours))
	}
	if _, err := d.cfg.Support.End(id, c.User, "ended by the technician"); err != nil {
		return d.refuse(ev, supportError(err))
	}
	d.ok(ev)
	d.notify()
	return nil
}

// Board lists the live codes and the open and recent sessions the caller
// may see: their own and the team's, of companies in their scope (an
// admin's scope is every company), and others' only for a role that acts
// on others' sessions.
func (d *Desk) Board(c Caller) (wire.SupportBoard, error) {
	if err := d.allow(c, policy.ActionSupport, c.event("support.board", "")); err != nil {
		return wire.SupportBoard{}, err
	}
	codes, err := d.cfg.Support.Codes()
	if err != nil {
		d.log.Error("support board", "err", err)
		return wire.SupportBoard{}, internal("listing support failed", err)
	}
	sessions, err := d.cfg.Support.Sessions()
	if err != nil {
		d.log.Error("support board", "err", err)
		return wire.SupportBoard{}, internal("listing support failed", err)
	}
	now := d.now()
	s := d.scoper(c)
	board := wire.SupportBoard{Codes: []wire.SupportCode{}, Sessions: []wire.SupportSession{}}
	for _, code := range codes {
		if code.Active(now) && s.codeVisible(code) {
			board.Codes = append(board.Codes, codeView(code))
		}
	}
	nodes := nodesByKeyID(d.cfg.Overlay.Nodes())
	for _, ss := range sessions {
		if (ss.State == support.Open || now.Sub(ss.Ended) < 24*time.Hour) && s.sessionVisible(ss) {
			board.Sessions = append(board.Sessions, d.sessionView(ss, nodes))
		}
	}
	return board, nil
}

// CheckCode validates a code typed into the public portal at ip by the
// browser visitor (its portal cookie; "" if none), under the visitor's,
// the network's and the global limits, and audits a failed guess. Only a
// wrong code costs (ratelimit.Codes.Portal): the people of an office
// behind one address spend nothing by typing right codes, and a confused
// one runs out of their own budget before the office's. It does not use
// the code.
func (d *Desk) CheckCode(ip, visitor, code string) (support.Code, error) {
	code = strings.TrimSpace(code)
	ev := wire.AuditEvent{Actor: "ip:" + ip, Action: "support.code.check", Target: d.codeTarget(code), Fields: map[string]string{"ip": ip}}
	right, ok := d.codes.Portal(ip, visitor)
	if !ok {
		ev.Reason = "rate limited"
		return support.Code{}, d.refuse(ev, newErr(RateLimited, ErrCodeRateLimited.Error(), ErrCodeRateLimited))
	}
	c, err := d.cfg.Support.Lookup(code)
	if err == nil && c.Kind != support.KindTechnician {
		err = support.ErrNoCode
	}
	if err != nil {
		ev.Reason = err.Error()
		return support.Code{}, d.refuse(ev, supportError(err))
	}
	right()
	return c, nil
}

// Join lets a one-time support agent at ip present its code: it gets an
// ephemeral support device, its secret and an overlay key, under the
// per-address and global limits on code attempts.
func (d *Desk) Join(ip string, req wire.JoinRequest) (wire.JoinResponse, error) {
	ev := wire.AuditEvent{Actor: "ip:" + ip, Action: "support.join", Target: d.codeTarget(req.Code), Fields: map[string]string{"ip": ip}}
	right, ok := d.codes.Portal(ip, "")
	if !ok {
		ev.Target = ""
		return wire.JoinResponse{}, d.refuse(ev, newErr(RateLimited, ErrCodeRateLimited.Error(), ErrCodeRateLimited))
	}
	if err := wire.CheckName(req.Hostname); err != nil || len(req.OS) > 64 {
		return wire.JoinResponse{}, d.refuse(ev, newErr(Invalid, "bad host name or OS", err))
	}
	if err := req.Agent.Check(); err != nil {
		return wire.JoinResponse{}, d.refuse(ev, newErr(Invalid, err.Error(), err))
	}
	if _, err := d.cfg.Support.Lookup(req.Code); err != nil {
		return wire.JoinResponse{}, d.refuse(ev, supportError(err))
	}
	right() // a right code costs nothing
	key, err := d.cfg.Overlay.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagSupport}, Ephemeral: true, TTL: SupportKeyTTL})
	if err != nil {
		d.log.Error("minting a support overlay key", "err", err)
		return wire.JoinResponse{}, internal("the coordinator could not create an overlay key", err)
	}
	ss, secret, err := d.cfg.Support.Join(support.JoinRequest{Code: req.Code, Hostname: req.Hostname, OS: req.OS, NodeKeyID: key.ID, Agent: req.Agent})
	if err != nil {
		return wire.JoinResponse{}, d.refuse(ev, supportError(err))
	}
	ev.Fields["session"], ev.Fields["device"], ev.Fields["hostname"] = ss.ID, ss.Device, ss.Hostname
	d.ok(ev)
	d.notify()
	return wire.JoinResponse{
		Session: ss.ID, DeviceID: ss.Device, DeviceSecret: secret, AuthKey: key.Key,
		GrantKey: []byte(d.cfg.GrantKey.Public().(ed25519.PublicKey)), Technician: ss.Technician,
	}, nil
}

// DeviceEnd ends the open session of the agent with credentials id and
// secret (a one-time agent's, or an enrolled device's): the end user
// pressed "End", or a one-time agent is exiting.
func (d *Desk) DeviceEnd(ip, id, secret, reason string) error {
	ev := wire.AuditEvent{Actor: "device:" + clip(id), Action: "support.session.end", Fields: map[string]string{"ip": ip}}
	ss, err := d.deviceSession(id, secret)
	if err != nil {
		return d.refuse(ev, newErr(Unauthenticated, "no open session for these credentials", err))
	}
	if reason == "" {
		reason = "ended by the end user"
	}
	if _, err := d.cfg.Support.End(ss.ID, "device:"+id, reason); err != nil && !errors.Is(err, support.ErrEnded) {
		d.log.Error("ending a session", "err", err)
		return internal("ending the session failed", err)
	}
	ev.Target, ev.Reason = ss.ID, clip(reason)
	d.ok(ev)
	d.notify()
	return nil
}

// deviceSession is the open session of the agent with credentials id and
// secret: a one-time agent's ("sup-…"), or an enrolled device's.
func (d *Desk) deviceSession(id, secret string) (support.Session, error) {
	if strings.HasPrefix(id, "sup-") {
		return d.cfg.Support.AuthenticateDevice(id, secret)
	}
	dev, err := d.cfg.Registry.Authenticate(id, secret)
	if err != nil {
		return support.Session{}, err
	}
	return d.cfg.Support.OpenSessionFor(dev.ID)
}

// maxOverlayReports bounds the overlay reports kept (one per open
// session; a full table forgets the oldest).
const maxOverlayReports = 4096

// overlayReports holds, per open session, why its agent's overlay node is
// not up, as the agent reported it over HTTPS. It lives in memory only: a
// report is about now, and a restarted coordinator hears the next one.
type overlayReports struct {
	mu     sync.Mutex
	reason map[string]string // session ID → one of wire.OverlayReasons
	order  []string          // session IDs, oldest report first
}

func (o *overlayReports) set(session, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.reason == nil {
		o.reason = map[string]string{}
	}
	if i := slices.Index(o.order, session); i >= 0 {
		o.order = slices.Delete(o.order, i, i+1)
	}
	if reason == "" {
		delete(o.reason, session)
		return
	}
	for len(o.order) >= maxOverlayReports {
		delete(o.reason, o.order[0])
		o.order = o.order[1:]
	}
	o.reason[session] = reason
	o.order = append(o.order, session)
}

func (o *overlayReports) get(session string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reason[session]
}

// ReportOverlay records why the overlay node of the agent with credentials
// id and secret is not up (one of wire.OverlayReasons; "" once it is), for
// its open session's row. It travels over the coordinator's HTTPS API, so
// an agent whose overlay cannot come up can still say why.
func (d *Desk) ReportOverlay(ip, id, secret string, rep wire.OverlayReport) error {
	if rep.Reason != "" && !slices.Contains(wire.OverlayReasons, rep.Reason) {
		return newErr(Invalid, "unknown overlay reason", nil)
	}
	ss, err := d.deviceSession(id, secret)
	if err != nil {
		ev := wire.AuditEvent{Actor: "device:" + clip(id), Action: "support.overlay.report", Fields: map[string]string{"ip": ip}}
		return d.refuse(ev, newErr(Unauthenticated, "no open session for these credentials", err))
	}
	if rep.Reason != "" && d.overlay.get(ss.ID) == rep.Reason {
		return nil
	}
	// An empty report (the node is up) always redraws the board: the row
	// then shows the node's overlay address and a live Connect.
	d.overlay.set(ss.ID, rep.Reason)
	d.log.Info("agent overlay report", "session", ss.ID, "reason", rep.Reason)
	d.notify()
	return nil
}

// Ask gives an enrolled agent's user a code to read out to a technician.
func (d *Desk) Ask(dev enroll.Device) (wire.SupportCode, error) {
	c, err := d.cfg.Support.Request(dev.ID, dev.Hostname, 0)
	if err != nil {
		d.log.Error("support request", "err", err)
		return wire.SupportCode{}, internal("could not create a code", err)
	}
	d.ok(wire.AuditEvent{Actor: "device:" + dev.ID, Action: "support.request", Target: "code:" + c.Ref})
	d.notify()
	return codeView(c), nil
}

// codeTarget names a code in the audit trail without its digits (L3): the
// HMAC the support desk files it under, for a guess as for a real code.
func (d *Desk) codeTarget(code string) string {
	return "code:" + d.cfg.Support.Ref(strings.TrimSpace(code))
}
