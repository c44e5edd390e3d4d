// Package desk owns the coordinator's decisions: technician login, logout
// and session lookup; devices and session grants; enrollment tokens and
// enrollment; support codes, the end user's portal check and the one-time
// agent's join, support sessions and the board; Wake-on-LAN plans; the
// Access view's machines and saved filters; the shop's consent rules and
// their delivery to agents (consentrules.go); and the rate limits on all
// of them.
//
// # Overview
//
// Every transport — the JSON API (package api), the dashboard (package
// web) and the local administration socket — decodes and bounds a request,
// calls one Desk method with the Caller it authenticated, and maps the
// answer back. A Desk method enforces the role (policy.Allow) and the
// company scope (policy.InScope) for every device, code and session it
// touches, audits its decision (refusals included), and returns either
// its result or an *Error: a Kind the transport maps to its own answer, a
// sentence safe to show the caller, and the internal cause.
//
// # Scope
//
// Out of scope reads as absent (NotFound), never as Forbidden, so an
// account cannot learn of another company's machines, codes or sessions.
// A code or session for an enrolled machine belongs to that machine's
// company; a technician's code, and the one-time session it opens, belong
// to the companies its creator works for.
//
// # Events
//
// Every change to codes and sessions made through the Desk wakes those
// waiting on Changed, so the dashboard's live board is pushed instead of
// polled.
package desk

import (
	"crypto/ed25519"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/ratelimit"
	"github.com/peerdesk/peerdesk/coordinator/support"
	ticketstore "github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/coordinator/webhooks"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Overlay is what the desk needs of the control plane.
type Overlay interface {
	CreateAuthKey(overlay.KeyOptions) (overlay.AuthKey, error)
	DeleteAuthKey(id uint64) error
	// RevokeAuthKey deletes every node that joined with the key, then
	// the key; it returns how many nodes it deleted.
	RevokeAuthKey(id uint64) (int, error)
	Nodes() []overlay.Node
	NodeByKey(nodeKey string) (overlay.Node, error)
}

// Presence is what the desk needs of the agents' presence tracker
// (*api.Presence implements it).
type Presence interface {
	Seen(device string)
	LastSeen(device string) (time.Time, bool)
	// Broadcast queues msg on every agent's presence stream (and for
	// agents reconnecting soon); it never waits on an agent.
	Broadcast(msg wire.PresenceMessage) error
	Forget(device string) // a removed or reset device
	// Send queues msg on device's presence stream, if one is open
	// (false if none is); it never waits on the agent.
	Send(device string, msg wire.PresenceMessage) (bool, error)
	// End ends device's presence stream, if one is open: a removed or
	// reset device's credentials open no new one.
	End(device string) bool
}

// Config wires a Desk to the coordinator's parts.
type Config struct {
	Accounts *identity.Accounts
	Registry *enroll.Registry
	Audit    *audit.Log
	Overlay  Overlay
	Presence Presence
	Support  *support.Desk
	// ConsentRules keeps the shop's consent rules; nil refuses reading
	// and changing them (Unavailable) and tells agents nothing.
	ConsentRules *consentrules.Store
	// Tickets keeps the help desk's tickets, Summaries writes their AI
	// summaries and Webhooks tells a PSA of their changes (helpdesk.go);
	// nil Tickets refuses every ticket route (Unavailable), nil Webhooks
	// sends nothing.
	Tickets   *ticketstore.Store
	Summaries *ticketstore.Summarizer
	Webhooks  *webhooks.Dispatcher
	// Assistant keeps the help desk assistant's settings; nil refuses
	// reading and changing them (Unavailable).
	Assistant  *assist.Settings
	Pin        string // the CA pin enrollment tokens carry
	ControlURL string // the coordinator's public https URL
	GrantKey   ed25519.PrivateKey
	Now        func() time.Time // nil means time.Now
	Logger     *slog.Logger     // nil discards logs
}

// Desk decides. Its methods are safe for concurrent use.
type Desk struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	// Rate limits, keyed by the client's IPv6 /64 or IPv4 address
	// (package ratelimit): a limiter evicts, it never refuses a newcomer.
	loginIP  *ratelimit.Limiter // logins
	enrollIP *ratelimit.Limiter // enrollments
	codes    *ratelimit.Codes   // support codes: the portal's budgets and the technicians' (M3)
	refusals *ratelimit.Limiter // which rate-limit refusals are recorded (refuse)

	unrecorded atomic.Int64 // rate-limit refusals not recorded since the last one that was

	accesses accesses
	tickets  tickets        // connect tickets (connect.go)
	overlay  overlayReports // agents' reports of why their overlay is down (support.go)

	rulesMu     sync.Mutex          // orders consent-rules messages to agents (consentrules.go)
	rules       policy.ConsentRules // under rulesMu: the shop's rules once read
	rulesSet    bool                // under rulesMu: the shop has rules
	rulesCached bool                // under rulesMu: rules and rulesSet are the store's

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at each change of the board
}

// New returns a Desk.
func New(cfg Config) *Desk {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Desk{
		cfg: cfg, log: cfg.Logger, now: cfg.Now, changed: make(chan struct{}),
		loginIP:  ratelimit.New(ratelimit.Config{Every: 6 * time.Second, Burst: 5, Now: cfg.Now}),
		enrollIP: ratelimit.New(ratelimit.Config{Every: 500 * time.Millisecond, Burst: 60, Now: cfg.Now}), // mass roll-outs behind one NAT
		codes:    ratelimit.NewCodes(cfg.Now),
		refusals: ratelimit.New(ratelimit.Config{Every: time.Minute, Burst: 1, Now: cfg.Now}),
	}
}

// Caller is who asks: a logged-in account (its name, role and company
// scope, as its session says) and the client address, for the audit trail
// and the rate limits. Via names the door ("api", "web", "local").
type Caller struct {
	User  string
	Role  policy.Role
	Scope policy.Scope
	IP    string
	Via   string
	// APIKey is the id of the API key the caller authenticated with;
	// empty for a login session.
	APIKey string
	// SetupOnly marks a session that must set up two-factor
	// authentication before it may act (policy.TOTPRequired): every
	// action the desk's allow checks is refused.
	SetupOnly bool
}

// CallerOf is the caller of a session, asking from ip through via.
func CallerOf(s identity.Session, ip, via string) Caller {
	return Caller{User: s.User, Role: s.Role, Scope: s.Companies, IP: ip, Via: via, APIKey: s.APIKey}
}

// Local is the caller of the local administration socket: the
// coordinator's own operating-system user, with an admin's powers.
func Local() Caller { return Caller{User: "local", Role: policy.RoleAdmin, IP: "local", Via: "local"} }

// may decides whether the caller's role may take action.
func (c Caller) may(a policy.Action) bool { return !c.SetupOnly && policy.Allow(c.Role, a) == nil }

// sees decides whether a machine of company is in the caller's scope.
func (c Caller) sees(company string) bool { return policy.InScope(c.Role, c.Scope, company) }

// Changed returns a channel that is closed at the next change of the
// support board (a code or session made, used, cancelled or ended through
// the desk). Take it before reading the board, so no change is missed.
func (d *Desk) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// notify wakes everyone waiting on Changed.
func (d *Desk) notify() {
	d.mu.Lock()
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// record appends an audit record; a failure to audit is logged loudly but
// does not change the answer already decided.
func (d *Desk) record(ev wire.AuditEvent) {
	if _, err := d.cfg.Audit.Append("coordinator", ev); err != nil {
		d.log.Error("audit append failed", "action", ev.Action, "err", err)
	}
}

// event starts an audit record of an action the caller takes.
func (c Caller) event(action, target string) wire.AuditEvent {
	f := map[string]string{"ip": c.IP}
	if c.Via != "" {
		f["via"] = c.Via
	}
	if c.APIKey != "" {
		f["api_key"] = c.APIKey
	}
	return wire.AuditEvent{Actor: c.User, Action: action, Target: clip(target), Fields: f}
}

// refuse audits a refusal and returns it.
func (d *Desk) refuse(ev wire.AuditEvent, e *Error) error {
	ev.Outcome = audit.Denied
	if ev.Reason == "" {
		ev.Reason = clip(e.Error())
	}
	if e.Kind == RateLimited {
		// A flood is refused by its limit; recording every refusal would
		// turn it into a flood of synchronous writes that everyone else
		// waits behind. The first refusal of an action for a network (or
		// an account) in each minute is recorded, the rest only counted
		// in the next one recorded.
		key := ev.Action + "|" + ev.Actor + "|" + ratelimit.RemoteKey(ev.Fields["ip"])
		if !d.refusals.Allow(key) {
			d.unrecorded.Add(1)
			return e
		}
		if n := d.unrecorded.Swap(0); n > 0 {
			ev.Fields = maps.Clone(ev.Fields)
			if ev.Fields == nil {
				ev.Fields = map[string]string{}
			}
			ev.Fields["unrecorded_refusals"] = strconv.FormatInt(n, 10)
		}
	}
	d.record(ev)
	return e
}

// ok audits a success.
func (d *Desk) ok(ev wire.AuditEvent) {
	ev.Outcome = audit.OK
	d.record(ev)
}

// allow refuses, audited, a caller whose role may not take action.
func (d *Desk) allow(c Caller, a policy.Action, ev wire.AuditEvent) error {
	if c.SetupOnly {
		return d.refuse(ev, newErr(Forbidden, ErrSetupFirst.Error(), ErrSetupFirst))
	}
	if err := policy.Allow(c.Role, a); err != nil {
		return d.refuse(ev, newErr(Forbidden, "Your role may not do this.", err))
	}
	return nil
}

func clip(s string) string {
	if len(s) > wire.MaxNameLen {
		return s[:wire.MaxNameLen]
	}
	return s
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// ControlURL is the coordinator's public https URL, which nodes use as
// their control server.
func (d *Desk) ControlURL() string { return d.cfg.ControlURL }

// Unreadable audits a request to take action that could not even be read
// (a malformed or oversized body) and returns the refusal; the caller
// with no User is named by its address.
func (d *Desk) Unreadable(c Caller, action string, cause error) error {
	ev := c.event(action, "")
	if c.User == "" {
		ev.Actor = "ip:" + c.IP
	}
	return d.refuse(ev, newErr(Invalid, cause.Error(), cause))
}
