// Package revoke is the agent's side of revocation: a technician disabled
// or deleted, or some of their overlay nodes removed, loses this machine
// within seconds, whatever grants they already hold.
//
// # Overview
//
// The coordinator sends a wire.PresenceMessage of type revoke down the
// agent's presence stream (coordclient.PresenceStream). [Revoker.Handle]
// turns it into a [Revocation] and
//
//  1. adds it to the [List], the agent's bounded in-memory deny list,
//     which the gate and the consent service consult: a grant for that
//     technician (or naming one of those nodes) issued at or before the
//     revocation starts nothing more;
//  2. ends every live session of theirs that such a grant started —
//     consent leases (and with them screen sessions and power actions
//     waiting for their reboot), and a question waiting for the user —
//     through each [Ender];
//  3. writes an audit record, beside the ones the enders write for each
//     end, all with reason "revoked".
//
// Times are the coordinator's: grants are stamped by its clock, and so is
// the revocation, so a grant issued after the technician was enabled again
// is not caught by an old revocation (the coordinator replays recent
// revocations to agents that reconnect). Entries are kept, on the agent's
// clock, for as long as a grant issued before them can live
// (grant.MaxLifetime and the clock skew on both ends); past that no such
// grant verifies anyway.
package revoke

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/wire"
)

// Reason is the reason every end caused by a revocation is recorded with.
const Reason = "revoked"

// Keep is how long a revocation stays on the List: the longest a grant
// issued before it can still verify.
const Keep = grant.MaxLifetime + 2*grant.ClockSkew

// DefaultMax is the List's size when none is given.
const DefaultMax = 1024

// Revocation is what the coordinator revoked, and when.
type Revocation struct {
	Technician string    // "" when only nodes are revoked
	NodeKeys   []string  // technician nodes whose grants are void
	At         time.Time // the coordinator's clock: grants issued at or before it are void
	Cause      string    // why ("disabled", "deleted", …), for the audit trail
}

// FromMessage is the revocation a revoke message carries.
func FromMessage(m wire.PresenceMessage) Revocation {
	return Revocation{Technician: m.Technician, NodeKeys: slices.Clone(m.NodeKeys), At: m.At, Cause: m.Reason}
}

// Covers reports whether a call by technician from node nodeKey, with a
// grant issued at issued, falls under r. A zero issued (not known) is
// covered: ending too much is the safe side.
func (r Revocation) Covers(technician, nodeKey string, issued time.Time) bool {
	if issued.After(r.At) {
		return false
	}
	return r.Technician != "" && technician == r.Technician || nodeKey != "" && slices.Contains(r.NodeKeys, nodeKey)
}

// List is the agent's deny list: revocations for as long as a grant they
// void can live, at most max of them. When a new one finds it full of
// live ones, the oldest gives way to a floor: every grant issued at or
// before the revocations it held is refused, for anyone, until they
// would have expired. It fails closed: technicians ask for new grants.
type List struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	entries []entry // oldest first
	floor   entry   // Revocation.At of those that gave way; zero if none
}

type entry struct {
	r       Revocation
	expires time.Time // the agent's clock
}

// NewList returns an empty deny list of at most max entries (DefaultMax if
// max <= 0) on the clock now (time.Now if nil).
func NewList(now func() time.Time, max int) *List {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = DefaultMax
	}
	return &List{now: now, max: max}
}

// Add puts r on the list.
func (l *List) Add(r Revocation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.pruneLocked(now)
	if len(l.entries) >= l.max {
		old := l.entries[0]
		l.entries = slices.Delete(l.entries, 0, 1)
		if old.r.At.After(l.floor.r.At) {
			l.floor.r.At = old.r.At
		}
		if old.expires.After(l.floor.expires) {
			l.floor.expires = old.expires
		}
	}
	l.entries = append(l.entries, entry{r: r, expires: now.Add(Keep)})
}

// Revoked reports whether a call by technician from nodeKey with a grant
// issued at issued is refused.
func (l *List) Revoked(technician, nodeKey string, issued time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.pruneLocked(now)
	if !l.floor.r.At.IsZero() && !issued.After(l.floor.r.At) {
		return true
	}
	for _, e := range l.entries {
		if e.r.Covers(technician, nodeKey, issued) {
			return true
		}
	}
	return false
}

// Len is how many revocations the list holds.
func (l *List) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(l.now())
	return len(l.entries)
}

func (l *List) pruneLocked(now time.Time) {
	l.entries = slices.DeleteFunc(l.entries, func(e entry) bool { return !now.Before(e.expires) })
	if !l.floor.expires.IsZero() && !now.Before(l.floor.expires) {
		l.floor = entry{}
	}
}

// Ender ends the live sessions whose holder match reports, auditing each
// end as actor with reason, and says how many it ended
// (consent.Service, screen.Handler).
type Ender interface {
	EndFor(match func(consent.Holder) bool, actor, reason string) int
}

// Recorder keeps audit records (package auditlog).
type Recorder interface {
	Record(ev wire.AuditEvent) error
}

// Config configures a Revoker.
type Config struct {
	List   *List   // where revocations are kept; required
	End    []Ender // asked in order to end sessions
	Audit  Recorder
	Device string // this machine, in audit records
	Now    func() time.Time
	Logger *slog.Logger
}

// Revoker acts on the coordinator's revocations.
type Revoker struct{ cfg Config }

// New returns a Revoker.
func New(cfg Config) *Revoker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Revoker{cfg: cfg}
}

// Handle acts on a message from the presence stream: revokes what a
// revoke message names, and ignores other types. It is quick: sessions
// end in their own goroutines.
func (v *Revoker) Handle(m wire.PresenceMessage) {
	if m.Type != wire.PresenceRevoke {
		return
	}
	if err := m.Check(); err != nil { // coordclient checked it; a caller from elsewhere may not have
		v.cfg.Logger.Warn("ignoring an invalid revocation", "err", err)
		return
	}
	v.Revoke(FromMessage(m))
}

// Revoke denies r's grants from now on and ends the sessions they
// started; it returns how many it ended.
func (v *Revoker) Revoke(r Revocation) int {
	v.cfg.List.Add(r) // first: nothing covered starts after the ends below
	match := func(h consent.Holder) bool { return r.Covers(h.Technician, h.NodeKey, h.Issued) }
	ended := 0
	for _, e := range v.cfg.End {
		ended += e.EndFor(match, "coordinator", Reason)
	}
	v.cfg.Logger.Info("access revoked", "technician", r.Technician, "nodes", len(r.NodeKeys), "cause", r.Cause, "ended", ended)
	if v.cfg.Audit != nil {
		ev := wire.AuditEvent{
			Time: v.cfg.Now(), Actor: "coordinator", Action: "revoke", Target: v.cfg.Device, Outcome: "ok", Reason: Reason,
			Fields: map[string]string{
				"technician": r.Technician, "node_keys": strings.Join(r.NodeKeys, ","), "cause": r.Cause,
				"at": r.At.UTC().Format(time.RFC3339), "ended": fmt.Sprint(ended),
			},
		}
		if err := v.cfg.Audit.Record(ev); err != nil {
			// The revocation holds whether or not it could be written.
			v.cfg.Logger.Error("audit record of a revocation failed", "err", err)
		}
	}
	return ended
}
