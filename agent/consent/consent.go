// Package consent is the one place where every agent capability that acts
// on the end user's machine — screen, input, power, and each later one —
// asks the user (I4).
//
// # Overview
//
// A capability calls [Service.Acquire] with the technician and the exact
// set of capabilities it is about to use, and works under the [Lease] it
// gets back: the lease allows that set and nothing else ([Lease.Allows]),
// ends when the user ends it ([Lease.Done]) and is released by the
// capability when it is done ([Lease.Release]).
//
// Which capabilities need asking is the machine's policy
// (policy.ConsentRules, resolved for this company and device into
// [Config.Ask]); the coordinator may change it while the agent runs
// ([Service.SetAsk]). Each lease remembers what the user agreed to: when
// the rules start asking about a capability a live lease uses without
// the user's answer, that lease ends, and an open question that no
// longer covers what it would allow is withdrawn, so the next request
// asks. A request whose capabilities that need asking are all
// already allowed to the same technician by a live lease is granted
// without a question: a reconnect, or a narrower session. Anything wider
// asks again. A question names the exact set it would allow and carries its
// own random nonce; only an answer naming that nonce answers it
// ([Service.Answer]), so a click on a stale question (an old tab, a
// withdrawn request) approves nothing.
//
// The end user's page (package localui) shows [Service.State]: the open
// question, and what each technician is allowed now, which changes the
// moment a lease starts or ends. Every question, answer and end is written
// to the agent's audit trail; a grant that cannot be audited is not given.
//
// # Revocation
//
// When the coordinator revokes a technician (or some of their nodes), the
// agent calls [Service.EndFor]: the matching leases end at once (each
// capability's session ends with its lease), a matching open question is
// withdrawn (its Acquire returns [ErrRevoked]), and each end is audited.
// [Config.Refuse] — the agent's deny list — keeps the revoked holder's
// older grants from getting a new lease, checked again after the user
// answers, so a revocation that lands while the user is being asked gives
// nothing.
package consent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Errors of Acquire and Answer; test with errors.Is.
var (
	ErrDenied   = errors.New("consent: the user declined")
	ErrNoAnswer = errors.New("consent: the user did not answer")
	ErrBusy     = errors.New("consent: the user is already being asked")
	ErrStale    = errors.New("consent: that question is no longer open")
	ErrInvalid  = errors.New("consent: invalid request")
	ErrAudit    = errors.New("consent: the answer could not be written to the audit trail")
	ErrRevoked  = errors.New("consent: the technician's access was revoked")
	// ErrRulesChanged: the consent rules changed while the user was
	// asked, and the question no longer covers the request; it is
	// wrapped with ErrNoAnswer (the technician asks again).
	ErrRulesChanged = errors.New("consent: the consent rules changed; ask again")
)

// DefaultTimeout bounds how long a question waits for the user.
const DefaultTimeout = 2 * time.Minute

// Recorder keeps audit records (package auditlog).
type Recorder interface {
	Record(ev wire.AuditEvent) error
}

// Config configures a Service. The zero value asks about nothing.
type Config struct {
	// Ask lists the capabilities that need the user's answer on this
	// machine: policy.ConsentRules.For(company, device).
	Ask []wire.Capability
	// Device names this machine in audit records.
	Device  string
	Timeout time.Duration // how long a question waits; DefaultTimeout if zero
	Audit   Recorder      // nil: nothing is recorded
	Rand    io.Reader     // nonces; crypto/rand if nil
	Now     func() time.Time
	Logger  *slog.Logger
	// Refuse, if set, says whether a holder's access has been revoked
	// (the agent's deny list): Acquire refuses them with ErrRevoked, and
	// checks again before granting after the user answered.
	Refuse func(Holder) bool
}

// Holder is whom a lease or question is for: the technician and, when the
// capability passes them, the node and grant issue time of the call.
type Holder struct {
	Technician string
	NodeKey    string    // the caller's node; "" if not given
	Issued     time.Time // when the call's grant was issued; zero if not given
}

// Request is what a capability is about to use, for whom.
type Request struct {
	Technician   string
	Capabilities []wire.Capability
	// NodeKey and Issued name the call's node and grant (gate.Caller):
	// a revocation ends only leases of grants issued before it.
	NodeKey string
	Issued  time.Time
}

func (r Request) holder() Holder {
	return Holder{Technician: r.Technician, NodeKey: r.NodeKey, Issued: r.Issued}
}

// Question is what the user is asked: may Technician use exactly
// Capabilities? Only an answer naming Nonce answers it.
type Question struct {
	Nonce        string
	Technician   string
	Capabilities []wire.Capability // sorted; what Allow permits
	Asked        time.Time
}

// Allowance is what one technician may do on this machine now.
type Allowance struct {
	Technician   string
	Capabilities []wire.Capability // sorted
}

// State is what the end user's page shows.
type State struct {
	Question *Question   // the open question, if any
	Allowed  []Allowance // by technician, sorted; empty when nobody is connected
	Note     string      // the last thing worth telling the user (a session ended, a request timed out)
}

// Service asks the user and keeps what they allowed.
type Service struct {
	cfg    Config
	device atomic.Pointer[string] // set by SetDevice; else cfg.Device

	mu      sync.Mutex
	pending *pending
	leases  map[*Lease]struct{}
	note    string
	changed chan struct{} // closed (and replaced) when the state changes
}

type pending struct {
	q         Question
	want      []wire.Capability // what the request would allow
	holder    Holder
	answer    chan bool // buffered: Answer never blocks
	withdrawn string    // why the question was withdrawn (set before answer is sent false)
	why       error     // what Acquire returns when withdrawn: ErrRevoked, or ErrNoAnswer with ErrRulesChanged
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Ask = normalize(cfg.Ask)
	return &Service{cfg: cfg, leases: map[*Lease]struct{}{}, changed: make(chan struct{})}
}

// SetDevice names the machine in audit records from now on, for an agent
// that learns its device id after the service starts (the one-time agent
// shows its page before it has joined).
func (s *Service) SetDevice(id string) { s.device.Store(&id) }

func (s *Service) deviceName() string {
	if d := s.device.Load(); d != nil {
		return *d
	}
	return s.cfg.Device
}

// Asks reports whether any capability needs the user's answer here: if
// not, nobody needs to see a question (the page may still show who is
// connected).
func (s *Service) Asks() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cfg.Ask) > 0
}

// Ask returns the capabilities that need the user's answer now, sorted.
func (s *Service) Ask() []wire.Capability {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cfg.Ask)
}

// SetAsk changes the capabilities that need the user's answer (the
// coordinator's consent rules changed); why says where the rules come
// from, for the audit trail. It reports whether anything changed. A live
// lease that uses a capability now asked about without the user having
// agreed to it ends; an open question that does not cover all its
// request now needs is withdrawn (its Acquire returns ErrNoAnswer with
// ErrRulesChanged). Each is audited.
func (s *Service) SetAsk(ask []wire.Capability, why string) bool {
	ask = normalize(ask)
	const ended = "the consent rules changed: the user must be asked"
	s.mu.Lock()
	if slices.Equal(ask, s.cfg.Ask) {
		s.mu.Unlock()
		return false
	}
	s.cfg.Ask = ask
	var gone []*Lease
	for l := range s.leases {
		if len(without(intersect(l.caps, ask), l.consented)) > 0 {
			gone = append(gone, l)
		}
	}
	for _, l := range gone {
		s.endLocked(l, ended)
	}
	var withdrawn *pending
	if p := s.pending; p != nil && len(without(intersect(p.want, ask), p.q.Capabilities)) > 0 {
		withdrawn, s.pending = p, nil
		p.withdrawn, p.why = "the consent rules changed", fmt.Errorf("%w: %w", ErrNoAnswer, ErrRulesChanged)
		p.answer <- false
		s.note = "The request from " + p.q.Technician + " was withdrawn: the rules of what needs your answer changed."
	}
	s.touchLocked()
	s.mu.Unlock()
	s.record("coordinator", "consent.rules", "ok", why, ask)
	for _, l := range gone {
		s.record("coordinator", "consent.end", "ok", ended, l.caps, "technician", l.technician)
	}
	if withdrawn != nil {
		s.record("coordinator", "consent.withdraw", "ok", "the consent rules changed", withdrawn.q.Capabilities, "technician", withdrawn.q.Technician)
	}
	return true
}

// Acquire returns a lease for exactly r.Capabilities once the user allowed
// every one of them that needs asking, asking if a live lease of the same
// technician does not already allow them. It returns ErrDenied,
// ErrNoAnswer (ctx ended or the question timed out), ErrBusy (another
// question is open) or ErrInvalid.
func (s *Service) Acquire(ctx context.Context, r Request) (*Lease, error) {
	want := normalize(r.Capabilities)
	if r.Technician == "" || len(want) == 0 {
		return nil, fmt.Errorf("%w: a technician and at least one capability are needed", ErrInvalid)
	}
	for _, c := range want {
		if !c.Valid() {
			return nil, fmt.Errorf("%w: unknown capability %q", ErrInvalid, c)
		}
	}
	h := r.holder()

	s.mu.Lock()
	need := intersect(want, s.cfg.Ask)
	if s.refusedLocked(h) {
		s.mu.Unlock()
		s.record(r.Technician, "consent.ask", "denied", "revoked", want)
		return nil, ErrRevoked
	}
	if missing := without(need, s.allowedLocked(r.Technician)); len(missing) == 0 {
		why := "no consent needed"
		if len(need) > 0 {
			why = "already allowed"
		}
		l := s.grantLocked(h, want, need)
		s.mu.Unlock()
		return s.granted(l, why)
	}
	if s.pending != nil {
		s.mu.Unlock()
		s.record(r.Technician, "consent.ask", "denied", "another question is open", want)
		return nil, ErrBusy
	}
	nonce := make([]byte, 16)
	if _, err := io.ReadFull(s.cfg.Rand, nonce); err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("consent.Acquire: %w", err)
	}
	p := &pending{
		q:      Question{Nonce: hex.EncodeToString(nonce), Technician: r.Technician, Capabilities: need, Asked: s.cfg.Now()},
		want:   want,
		holder: h,
		answer: make(chan bool, 1),
	}
	s.pending, s.note = p, ""
	s.touchLocked()
	s.mu.Unlock()
	s.cfg.Logger.Info("asking the user", "technician", r.Technician, "capabilities", need)

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	select {
	case ok := <-p.answer:
		if !ok && p.withdrawn != "" { // written before the answer was sent
			s.record(r.Technician, "consent.ask", "denied", "withdrawn: "+p.withdrawn, need)
			return nil, fmt.Errorf("%w: the question was withdrawn (%s)", p.why, p.withdrawn)
		}
		if !ok {
			s.record(r.Technician, "consent.ask", "denied", "the user declined", need)
			return nil, ErrDenied
		}
		s.mu.Lock()
		if s.refusedLocked(h) { // revoked while the user was asked
			s.mu.Unlock()
			s.record(r.Technician, "consent.ask", "denied", "revoked", need)
			return nil, ErrRevoked
		}
		// The rules may have changed after the answer: what they ask
		// now must be what the user just allowed, or allowed before.
		now := intersect(want, s.cfg.Ask)
		if len(without(now, union(need, s.allowedLocked(r.Technician)))) > 0 {
			s.mu.Unlock()
			s.record(r.Technician, "consent.ask", "denied", "the consent rules changed while the user was asked", now)
			return nil, fmt.Errorf("%w: %w", ErrNoAnswer, ErrRulesChanged)
		}
		l := s.grantLocked(h, want, now)
		s.mu.Unlock()
		return s.granted(l, "the user allowed")
	case <-ctx.Done():
		s.mu.Lock()
		if s.pending == p {
			s.pending = nil
			s.note = "The request from " + r.Technician + " ended without an answer."
			s.touchLocked()
		}
		s.mu.Unlock()
		s.record(r.Technician, "consent.ask", "denied", "no answer: "+ctx.Err().Error(), need)
		return nil, fmt.Errorf("%w: %w", ErrNoAnswer, ctx.Err())
	}
}

// granted audits a new lease; one that cannot be audited is released and
// refused.
func (s *Service) granted(l *Lease, why string) (*Lease, error) {
	if err := s.record(l.technician, "consent.grant", "ok", why, l.caps); err != nil {
		l.Release("")
		return nil, fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return l, nil
}

// Answer answers the open question named by nonce. A nonce that names no
// open question (a stale page, a withdrawn request) answers nothing and
// returns ErrStale.
func (s *Service) Answer(nonce string, allow bool) error {
	s.mu.Lock()
	p := s.pending
	if p == nil || subtle.ConstantTimeCompare([]byte(p.q.Nonce), []byte(nonce)) != 1 {
		s.mu.Unlock()
		s.record("local", "consent.answer", "denied", "an answer to a question that is not open", nil)
		return ErrStale
	}
	s.pending = nil
	p.answer <- allow
	s.touchLocked()
	s.mu.Unlock()
	return nil
}

// End ends every live lease: the user pressed "End session".
func (s *Service) End(reason string) {
	s.mu.Lock()
	var ended []*Lease
	for l := range s.leases {
		ended = append(ended, l)
	}
	for _, l := range ended {
		s.endLocked(l, reason)
	}
	s.mu.Unlock()
	for _, l := range ended {
		s.record("local", "consent.end", "ok", reason, l.caps, "technician", l.technician)
	}
}

// EndFor ends the live leases whose holder match reports, and withdraws
// the open question if match reports its holder (the agent's revocation:
// a technician disabled, a node removed). Each end is audited with reason
// and actor; it returns how many leases it ended.
func (s *Service) EndFor(match func(Holder) bool, actor, reason string) int {
	s.mu.Lock()
	var ended []*Lease
	for l := range s.leases {
		if match(l.holder) {
			ended = append(ended, l)
		}
	}
	for _, l := range ended {
		s.endLocked(l, reason)
	}
	var withdrawn *pending
	if p := s.pending; p != nil && match(p.holder) {
		withdrawn, s.pending = p, nil
		p.withdrawn, p.why = reason, ErrRevoked
		p.answer <- false
		s.note = "The request from " + p.q.Technician + " was withdrawn: " + reason + "."
		s.touchLocked()
	}
	s.mu.Unlock()
	for _, l := range ended {
		s.record(actor, "consent.end", "ok", reason, l.caps, "technician", l.technician)
	}
	if withdrawn != nil {
		s.record(actor, "consent.withdraw", "ok", reason, withdrawn.q.Capabilities, "technician", withdrawn.q.Technician)
	}
	return len(ended)
}

// EndTechnician ends every live lease of technician and withdraws their
// open question; see EndFor.
func (s *Service) EndTechnician(technician, actor, reason string) int {
	return s.EndFor(func(h Holder) bool { return h.Technician == technician }, actor, reason)
}

// refusedLocked reports whether Config.Refuse refuses h.
func (s *Service) refusedLocked(h Holder) bool {
	return s.cfg.Refuse != nil && s.cfg.Refuse(h)
}

// State returns what the page shows now, and a channel closed at the next
// change.
func (s *Service) State() (State, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Note: s.note}
	if s.pending != nil {
		q := s.pending.q
		q.Capabilities = slices.Clone(q.Capabilities)
		st.Question = &q
	}
	by := map[string][]wire.Capability{}
	for l := range s.leases {
		by[l.technician] = union(by[l.technician], l.caps)
	}
	for tech, caps := range by {
		st.Allowed = append(st.Allowed, Allowance{Technician: tech, Capabilities: caps})
	}
	slices.SortFunc(st.Allowed, func(a, b Allowance) int { return strings.Compare(a.Technician, b.Technician) })
	return st, s.changed
}

// allowedLocked is what technician's live leases allow together.
func (s *Service) allowedLocked(technician string) []wire.Capability {
	var caps []wire.Capability
	for l := range s.leases {
		if l.technician == technician {
			caps = union(caps, l.caps)
		}
	}
	return caps
}

// grantLocked starts a lease of caps, of which the user agreed to
// consented (those the rules asked about).
func (s *Service) grantLocked(h Holder, caps, consented []wire.Capability) *Lease {
	l := &Lease{s: s, technician: h.Technician, holder: h, caps: caps, consented: consented, done: make(chan struct{})}
	s.leases[l] = struct{}{}
	s.note = ""
	s.touchLocked()
	return l
}

// endLocked ends l once; reason "" ends it without a note.
func (s *Service) endLocked(l *Lease, reason string) {
	if _, live := s.leases[l]; !live {
		return
	}
	delete(s.leases, l)
	l.reason = reason
	close(l.done)
	if reason != "" && len(s.allowedLocked(l.technician)) == 0 {
		s.note = "The session with " + l.technician + " ended: " + reason + "."
	}
	s.touchLocked()
}

func (s *Service) touchLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// record writes an audit record; kv are extra fields in pairs.
func (s *Service) record(actor, action, outcome, reason string, caps []wire.Capability, kv ...string) error {
	if s.cfg.Audit == nil {
		return nil
	}
	names := make([]string, len(caps))
	for i, c := range caps {
		names[i] = string(c)
	}
	ev := wire.AuditEvent{Time: s.cfg.Now(), Actor: actor, Action: action, Target: s.deviceName(), Outcome: outcome, Reason: reason,
		Fields: map[string]string{"capabilities": strings.Join(names, ",")}}
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Fields[kv[i]] = kv[i+1]
	}
	err := s.cfg.Audit.Record(ev)
	if err != nil {
		s.cfg.Logger.Error("consent audit record failed", "action", action, "err", err)
	}
	return err
}

// Lease is what one session of a capability may use.
type Lease struct {
	s          *Service
	technician string
	holder     Holder
	caps       []wire.Capability // sorted; never changes
	consented  []wire.Capability // of caps, those the rules asked about when it was granted
	done       chan struct{}
	reason     string // set under s.mu before done is closed
}

// Technician is whom the lease is for.
func (l *Lease) Technician() string { return l.technician }

// Capabilities is what the lease allows, sorted.
func (l *Lease) Capabilities() []wire.Capability { return slices.Clone(l.caps) }

// Allows reports whether the lease allows c and is still live.
func (l *Lease) Allows(c wire.Capability) bool {
	select {
	case <-l.done:
		return false
	default:
		return slices.Contains(l.caps, c)
	}
}

// Done is closed when the lease ends: the user ended it, or it was
// released.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Reason is why the lease ended ("" while it is live).
func (l *Lease) Reason() string {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return l.reason
}

// Release ends the lease: the capability is done with it. reason, if not
// "", is shown to the user when it was the technician's last lease.
// Releasing twice, or after the user ended it, does nothing.
func (l *Lease) Release(reason string) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.s.endLocked(l, reason)
}

// normalize returns caps sorted, without duplicates, never nil.
func normalize(caps []wire.Capability) []wire.Capability {
	out := slices.Clone(caps)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []wire.Capability{}
	}
	return out
}

func intersect(a, b []wire.Capability) []wire.Capability {
	out := []wire.Capability{}
	for _, c := range a {
		if slices.Contains(b, c) {
			out = append(out, c)
		}
	}
	return out
}

func without(a, b []wire.Capability) []wire.Capability {
	var out []wire.Capability
	for _, c := range a {
		if !slices.Contains(b, c) {
			out = append(out, c)
		}
	}
	return out
}

func union(a, b []wire.Capability) []wire.Capability {
	return normalize(append(slices.Clone(a), b...))
}

// Describe says what caps let a technician do, as the end user's page
// words it: "see and control your screen", "restart this computer".
func Describe(caps []wire.Capability) string {
	has := func(c wire.Capability) bool { return slices.Contains(caps, c) }
	var parts []string
	switch {
	case has(wire.CapScreen) && has(wire.CapInput):
		parts = append(parts, "see and control your screen")
	case has(wire.CapScreen):
		parts = append(parts, "see your screen")
	case has(wire.CapInput):
		parts = append(parts, "use your mouse and keyboard")
	}
	for _, c := range normalize(caps) {
		switch c {
		case wire.CapScreen, wire.CapInput:
		case wire.CapPower:
			parts = append(parts, "restart this computer (also into Safe Mode)")
		case wire.CapSysInfo:
			parts = append(parts, "read this computer's system information")
		case wire.CapWake:
			parts = append(parts, "wake other computers on your network")
		case wire.CapFiles:
			parts = append(parts, "browse and copy your files")
		case wire.CapShell:
			parts = append(parts, "run commands on this computer")
		case wire.CapProcesses:
			parts = append(parts, "see and end running programs")
		case wire.CapServices:
			parts = append(parts, "start and stop services")
		case wire.CapApps:
			parts = append(parts, "list installed applications")
		case wire.CapLogs:
			parts = append(parts, "read this computer's event logs")
		default:
			parts = append(parts, "use "+string(c))
		}
	}
	switch len(parts) {
	case 0:
		return "connect"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
