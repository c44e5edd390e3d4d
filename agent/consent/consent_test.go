package consent

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/tstest"
)

var (
	see     = []wire.Capability{wire.CapScreen}
	control = []wire.Capability{wire.CapInput, wire.CapScreen}
	power   = []wire.Capability{wire.CapPower}
)

// trail records audit events.
type trail struct {
	mu   sync.Mutex
	evs  []wire.AuditEvent
	fail error
}

func (a *trail) Record(ev wire.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.evs = append(a.evs, ev)
	return nil
}

func (a *trail) actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, ev := range a.evs {
		out = append(out, ev.Action+" "+ev.Outcome+" "+ev.Fields["capabilities"])
	}
	return out
}

func newService(t *testing.T, ask []wire.Capability) (*Service, *trail) {
	t.Helper()
	a := &trail{}
	clock := tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)})
	return New(Config{Ask: ask, Device: "dev-1", Audit: a, Now: clock.Now}), a
}

type result struct {
	l   *Lease
	err error
}

// acquire runs Acquire in the background; cancel withdraws the request.
func acquire(t *testing.T, s *Service, tech string, caps []wire.Capability) (<-chan result, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch := make(chan result, 1)
	go func() {
		l, err := s.Acquire(ctx, Request{Technician: tech, Capabilities: caps})
		ch <- result{l, err}
	}()
	return ch, cancel
}

// question waits for the question to tech and returns it.
func question(t *testing.T, s *Service, tech string) Question {
	t.Helper()
	var q Question
	wait.For(t, "a question to "+tech, func() bool {
		st, _ := s.State()
		if st.Question != nil && st.Question.Technician == tech {
			q = *st.Question
			return true
		}
		return false
	})
	return q
}

// allow asks, answers yes and returns the lease.
func allow(t *testing.T, s *Service, tech string, caps []wire.Capability) *Lease {
	t.Helper()
	ch, _ := acquire(t, s, tech, caps)
	if err := s.Answer(question(t, s, tech).Nonce, true); err != nil {
		t.Fatal(err)
	}
	r := wait.Recv(t, "the lease after Allow", ch)
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.l
}

// granted acquires what must not need a question.
func granted(t *testing.T, s *Service, tech string, caps []wire.Capability) *Lease {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a question would fail at once
	l, err := s.Acquire(ctx, Request{Technician: tech, Capabilities: caps})
	if err != nil {
		t.Fatalf("Acquire(%s, %v) without a question: %v", tech, caps, err)
	}
	return l
}

// H1: a technician allowed to see who asks for see+control while that
// session is live is asked again, with the exact wider set; the old lease
// still allows only seeing.
func TestH1WideningAsksAgain(t *testing.T) {
	leak.Check(t)
	s, _ := newService(t, policy.AttendedConsent)
	l1 := allow(t, s, "alice", see)
	if l1.Allows(wire.CapInput) {
		t.Fatal("a see-only lease allows input")
	}
	ch, _ := acquire(t, s, "alice", control)
	q := question(t, s, "alice")
	if diff := cmp.Diff(control, q.Capabilities); diff != "" {
		t.Fatalf("the widening asks about (-want +got):\n%s", diff)
	}
	if err := s.Answer(q.Nonce, false); err != nil {
		t.Fatal(err)
	}
	if r := wait.Recv(t, "the refusal", ch); !errors.Is(r.err, ErrDenied) {
		t.Fatalf("denied widening: %v", r.err)
	}
	if !l1.Allows(wire.CapScreen) || l1.Allows(wire.CapInput) {
		t.Fatal("the live lease changed with a denied widening")
	}
	// The same for power on top of control: another question.
	l2 := allow(t, s, "alice", control)
	if !l2.Allows(wire.CapInput) {
		t.Fatal("an allowed see+control lease refuses input")
	}
	ch, _ = acquire(t, s, "alice", power)
	if q := question(t, s, "alice"); !slices.Equal(q.Capabilities, power) {
		t.Fatalf("power asks about %v", q.Capabilities)
	}
	s.Answer(question(t, s, "alice").Nonce, false) //nolint:errcheck // checked through the result
	wait.Recv(t, "power refused", ch)
}

// H1: an answer names its question's nonce; one naming an older question
// (a stale tab, a withdrawn request) approves nothing, and the open
// question stays open.
func TestH1StaleNonceApprovesNothing(t *testing.T) {
	leak.Check(t)
	s, a := newService(t, policy.AttendedConsent)
	ch1, cancel1 := acquire(t, s, "alice", see)
	q1 := question(t, s, "alice")
	cancel1()
	if r := wait.Recv(t, "the withdrawn request", ch1); !errors.Is(r.err, ErrNoAnswer) {
		t.Fatalf("withdrawn request: %v", r.err)
	}
	ch2, _ := acquire(t, s, "alice", control)
	q2 := question(t, s, "alice")
	if q1.Nonce == q2.Nonce || len(q2.Nonce) != 32 {
		t.Fatalf("nonces %q and %q", q1.Nonce, q2.Nonce)
	}
	for _, nonce := range []string{q1.Nonce, "", q2.Nonce[:31], q2.Nonce + "0"} {
		if err := s.Answer(nonce, true); !errors.Is(err, ErrStale) {
			t.Fatalf("Answer(%q) = %v, want ErrStale", nonce, err)
		}
	}
	if st, _ := s.State(); st.Question == nil || st.Question.Nonce != q2.Nonce || len(st.Allowed) != 0 {
		t.Fatalf("after stale answers: %+v", st)
	}
	if err := s.Answer(q2.Nonce, true); err != nil {
		t.Fatal(err)
	}
	if r := wait.Recv(t, "the lease", ch2); r.err != nil || !slices.Equal(r.l.Capabilities(), control) {
		t.Fatalf("lease %v, %v", r.l, r.err)
	}
	// Answering twice answers nothing more.
	if err := s.Answer(q2.Nonce, false); !errors.Is(err, ErrStale) {
		t.Fatalf("second answer: %v", err)
	}
	want := []string{"consent.ask denied screen", "consent.answer denied ", "consent.answer denied ", "consent.answer denied ",
		"consent.answer denied ", "consent.grant ok input,screen", "consent.answer denied "}
	if diff := cmp.Diff(want, a.actions()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// Narrowing, or the same set again (a reconnect), asks nothing while a
// lease allowing it is live; once it ended, it asks again.
func TestNarrowingDoesNotAsk(t *testing.T) {
	leak.Check(t)
	s, _ := newService(t, policy.AttendedConsent)
	l := allow(t, s, "alice", control)
	narrow := granted(t, s, "alice", see)
	if narrow.Allows(wire.CapInput) {
		t.Fatal("the narrower lease allows input")
	}
	again := granted(t, s, "alice", control)
	l.Release("reconnected")
	again.Release("")
	if st, _ := s.State(); st.Note != "" {
		t.Errorf("note %q while alice still has a lease", st.Note)
	}
	narrow.Release("done")
	if st, _ := s.State(); len(st.Allowed) != 0 || st.Note == "" {
		t.Fatalf("after the last lease: %+v", st)
	}
	ch, _ := acquire(t, s, "alice", see)
	question(t, s, "alice")
	s.End("x") // no lease: nothing
	if st, _ := s.State(); st.Question == nil {
		t.Fatal("End withdrew the question")
	}
	s.Answer(question(t, s, "alice").Nonce, false) //nolint:errcheck // checked through the result
	wait.Recv(t, "the refusal", ch)
}

// Another technician's allowance is not this one's.
func TestAllowanceIsPerTechnician(t *testing.T) {
	leak.Check(t)
	s, _ := newService(t, policy.AttendedConsent)
	allow(t, s, "alice", control)
	ch, _ := acquire(t, s, "bob", see)
	question(t, s, "bob")
	// While bob's question is open, another is refused as busy.
	if _, err := s.Acquire(context.Background(), Request{Technician: "carol", Capabilities: see}); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second question: %v", err)
	}
	s.Answer(question(t, s, "bob").Nonce, true) //nolint:errcheck // checked through the result
	if r := wait.Recv(t, "bob's lease", ch); r.err != nil {
		t.Fatal(r.err)
	}
	st, _ := s.State()
	want := []Allowance{{"alice", control}, {"bob", see}}
	if diff := cmp.Diff(want, st.Allowed); diff != "" {
		t.Errorf("allowed now (-want +got):\n%s", diff)
	}
}

// Policy decides what is asked: nothing on an unattended machine; only
// power where the rules say power.
func TestPolicyDecidesWhatIsAsked(t *testing.T) {
	leak.Check(t)
	s, a := newService(t, nil)
	if s.Asks() {
		t.Fatal("a service with no rules asks")
	}
	l := granted(t, s, "alice", []wire.Capability{wire.CapScreen, wire.CapInput, wire.CapPower})
	if !l.Allows(wire.CapPower) || !l.Allows(wire.CapInput) {
		t.Fatal("unattended lease refuses what was requested")
	}
	if got := a.actions(); len(got) != 1 || got[0] != "consent.grant ok input,power,screen" {
		t.Fatalf("audit %v", got)
	}

	s, _ = newService(t, policy.ConsentRules{Default: power}.For("", ""))
	granted(t, s, "alice", control)
	ch, _ := acquire(t, s, "alice", append(slices.Clone(control), wire.CapPower))
	if q := question(t, s, "alice"); !slices.Equal(q.Capabilities, power) {
		t.Fatalf("asked about %v, want power only", q.Capabilities)
	}
	s.Answer(question(t, s, "alice").Nonce, true) //nolint:errcheck // checked through the result
	if r := wait.Recv(t, "the lease", ch); r.err != nil || !r.l.Allows(wire.CapPower) {
		t.Fatalf("%v", r.err)
	}
}

// The user's End ends every live lease: Done closes with the reason, the
// lease allows nothing more, the page shows nobody connected, and the end
// is audited.
func TestEndEndsLeases(t *testing.T) {
	leak.Check(t)
	s, a := newService(t, policy.AttendedConsent)
	l := allow(t, s, "alice", control)
	_, changed := s.State()
	s.End("ended by the user")
	wait.Recv(t, "the state to change", changed)
	wait.Recv(t, "the lease to end", l.Done())
	if l.Allows(wire.CapScreen) || l.Reason() != "ended by the user" {
		t.Fatalf("after End: allows screen %v, reason %q", l.Allows(wire.CapScreen), l.Reason())
	}
	if st, _ := s.State(); len(st.Allowed) != 0 || st.Note != "The session with alice ended: ended by the user." {
		t.Fatalf("after End: %+v", st)
	}
	l.Release("later") // nothing more
	if got := a.actions(); got[len(got)-1] != "consent.end ok input,screen" {
		t.Fatalf("audit %v", got)
	}
}

// A grant that cannot be audited is not given; bad requests are refused.
func TestRefusals(t *testing.T) {
	leak.Check(t)
	s, a := newService(t, nil)
	a.fail = errors.New("disk full")
	if _, err := s.Acquire(context.Background(), Request{Technician: "alice", Capabilities: see}); !errors.Is(err, ErrAudit) {
		t.Fatalf("unaudited grant: %v", err)
	}
	if st, _ := s.State(); len(st.Allowed) != 0 {
		t.Fatalf("an unaudited lease is live: %+v", st)
	}
	for _, r := range []Request{{Technician: "", Capabilities: see}, {Technician: "a"}, {Technician: "a", Capabilities: []wire.Capability{"root"}}} {
		if _, err := s.Acquire(context.Background(), r); !errors.Is(err, ErrInvalid) {
			t.Errorf("Acquire(%+v) = %v, want ErrInvalid", r, err)
		}
	}
	// A question times out on its own.
	s = New(Config{Ask: see, Timeout: time.Millisecond})
	if _, err := s.Acquire(context.Background(), Request{Technician: "a", Capabilities: see}); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("unanswered: %v", err)
	}
	if st, _ := s.State(); st.Question != nil || st.Note == "" {
		t.Fatalf("after the timeout: %+v", st)
	}
}

// Property: whatever happens in whatever order, every live lease allows
// only what the policy exempts or what the user allowed that technician
// by answering Allow to a question naming exactly those capabilities —
// never more.
func TestLeasesNeverExceedAnswers(t *testing.T) {
	leak.Check(t)
	sets := [][]wire.Capability{see, control, power, {wire.CapSysInfo}, {wire.CapScreen, wire.CapPower}}
	techs := []string{"alice", "bob"}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		s, _ := newService(t, policy.AttendedConsent)
		allowed := map[string][]wire.Capability{} // what each was ever allowed by an answer
		var live []*Lease
		for range 40 {
			switch rng.IntN(4) {
			case 0, 1: // a request, answered or not
				tech, caps := techs[rng.IntN(2)], sets[rng.IntN(len(sets))]
				st, _ := s.State()
				var have []wire.Capability
				for _, a := range st.Allowed {
					if a.Technician == tech {
						have = a.Capabilities
					}
				}
				asks := len(without(intersect(caps, policy.AttendedConsent), have)) > 0
				ch, cancel := acquire(t, s, tech, caps)
				var r result
				if !asks {
					r = wait.Recv(t, "a lease without a question", ch)
				} else {
					q := question(t, s, tech)
					switch rng.IntN(3) {
					case 0:
						if s.Answer(q.Nonce, true) == nil {
							allowed[tech] = union(allowed[tech], q.Capabilities)
						}
					case 1:
						s.Answer(q.Nonce, false) //nolint:errcheck // either way
					case 2:
						cancel()
					}
					r = wait.Recv(t, "the answer", ch)
				}
				if r.err == nil {
					live = append(live, r.l)
				}
			case 2:
				if len(live) > 0 {
					i := rng.IntN(len(live))
					live[i].Release("done")
					live = slices.Delete(live, i, i+1)
				}
			case 3:
				s.End("ended by the user")
				live = nil
			}
			for _, l := range live {
				for _, c := range l.Capabilities() {
					if slices.Contains(policy.AttendedConsent, c) && !slices.Contains(allowed[l.technician], c) {
						t.Fatalf("seed %d: %s's lease allows %s, never allowed", seed, l.technician, c)
					}
				}
			}
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		caps []wire.Capability
		want string
	}{
		{see, "see your screen"},
		{control, "see and control your screen"},
		{[]wire.Capability{wire.CapInput}, "use your mouse and keyboard"},
		{power, "restart this computer (also into Safe Mode)"},
		{[]wire.Capability{wire.CapPower, wire.CapScreen}, "see your screen and restart this computer (also into Safe Mode)"},
		{[]wire.Capability{wire.CapSysInfo, wire.CapWake, wire.CapScreen}, "see your screen, read this computer's system information and wake other computers on your network"},
		{nil, "connect"},
	} {
		if got := Describe(tc.caps); got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.caps, got, tc.want)
		}
	}
}

// Revocation (issue 11, item 3): EndFor ends the leases of the revoked
// technician only — here bob's, from grants issued before the revocation
// — and withdraws bob's open question, so a power action or a session
// waiting for the user's answer fails with ErrRevoked; alice's lease
// stays. From then on Refuse keeps bob's old grants out without a
// question, even one answered after the revocation, while a grant issued
// later is asked about as usual. Every end is audited with the reason.
func TestRevokeEndsThatTechnicianOnly(t *testing.T) {
	leak.Check(t)
	var (
		mu      sync.Mutex
		revoked time.Time // bob's grants issued at or before this are void
	)
	denied := func(h Holder) bool {
		mu.Lock()
		defer mu.Unlock()
		return h.Technician == "bob" && !revoked.IsZero() && !h.Issued.After(revoked)
	}
	a := &trail{}
	s := New(Config{Ask: policy.AttendedConsent, Device: "dev-1", Audit: a, Refuse: denied})
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	old, later := at.Add(-time.Minute), at.Add(time.Minute)
	acquireAs := func(tech string, issued time.Time, caps []wire.Capability) <-chan result {
		ch := make(chan result, 1)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go func() {
			l, err := s.Acquire(ctx, Request{Technician: tech, Capabilities: caps, Issued: issued})
			ch <- result{l, err}
		}()
		return ch
	}
	allowAs := func(tech string, issued time.Time, caps []wire.Capability) *Lease {
		ch := acquireAs(tech, issued, caps)
		if err := s.Answer(question(t, s, tech).Nonce, true); err != nil {
			t.Fatal(err)
		}
		r := wait.Recv(t, "the lease after Allow", ch)
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.l
	}
	bob, alice := allowAs("bob", old, see), allowAs("alice", old, control)
	waiting := acquireAs("bob", old, power) // a power action waiting for the user
	question(t, s, "bob")

	mu.Lock()
	revoked = at
	mu.Unlock()
	if n := s.EndFor(denied, "coordinator", "revoked: disabled"); n != 1 {
		t.Fatalf("EndFor ended %d leases, want bob's 1", n)
	}
	wait.Recv(t, "bob's lease to end", bob.Done())
	if r := wait.Recv(t, "bob's waiting request to fail", waiting); !errors.Is(r.err, ErrRevoked) {
		t.Fatalf("bob's waiting request: %v, want ErrRevoked", r.err)
	}
	if bob.Reason() != "revoked: disabled" || !alice.Allows(wire.CapInput) {
		t.Fatalf("after EndFor: bob's reason %q, alice's lease live %v", bob.Reason(), alice.Allows(wire.CapInput))
	}
	if st, _ := s.State(); st.Question != nil || len(st.Allowed) != 1 || st.Allowed[0].Technician != "alice" {
		t.Fatalf("after EndFor the page shows %+v", st)
	}

	// An old grant is refused without a question; a later one is asked.
	if r := wait.Recv(t, "bob's old grant", acquireAs("bob", old, see)); !errors.Is(r.err, ErrRevoked) {
		t.Fatalf("bob's old grant after the revocation: %v", r.err)
	}
	allowAs("bob", later, see).Release("")
	// Revoked while the user is being asked: the Allow gives nothing.
	ch := acquireAs("bob", at.Add(time.Second), see)
	q := question(t, s, "bob")
	mu.Lock()
	revoked = later
	mu.Unlock()
	if err := s.Answer(q.Nonce, true); err != nil {
		t.Fatal(err)
	}
	if r := wait.Recv(t, "the answer to a revoked technician", ch); !errors.Is(r.err, ErrRevoked) {
		t.Fatalf("allowed after the revocation: %v", r.err)
	}

	var ends []string
	a.mu.Lock()
	for _, ev := range a.evs {
		if ev.Actor == "coordinator" {
			ends = append(ends, ev.Action+" "+ev.Fields["technician"]+" "+ev.Reason)
		}
	}
	a.mu.Unlock()
	want := []string{"consent.end bob revoked: disabled", "consent.withdraw bob revoked: disabled"}
	if diff := cmp.Diff(want, ends); diff != "" {
		t.Fatalf("audited ends (-want +got):\n%s", diff)
	}
	alice.Release("")
}

// I4: rules that start asking about a capability end the live leases
// that use it without the user's answer (so the next request asks
// instead of riding on the old lease as "already allowed"), keep those
// the user agreed to, and withdraw an open question that no longer covers
// its request; rules that ask less end nothing.
func TestI4SetAskEndsWhatTheUserDidNotAllow(t *testing.T) {
	leak.Check(t)
	s, a := newService(t, power) // screen and input need no answer
	unasked := granted(t, s, "alice", see)
	asked := allow(t, s, "bob", power)
	if s.SetAsk(power, "same") {
		t.Error("the same rules reported a change")
	}

	if !s.SetAsk([]wire.Capability{wire.CapScreen, wire.CapPower}, "the coordinator's rules") {
		t.Fatal("new rules reported no change")
	}
	wait.Recv(t, "the unasked screen lease to end", unasked.Done())
	if got := unasked.Reason(); got != "the consent rules changed: the user must be asked" {
		t.Errorf("ended because %q", got)
	}
	if !asked.Allows(wire.CapPower) {
		t.Error("a lease the user allowed ended")
	}
	if diff := cmp.Diff([]wire.Capability{wire.CapPower, wire.CapScreen}, s.Ask()); diff != "" {
		t.Errorf("Ask (-want +got):\n%s", diff)
	}
	// The next screen request asks.
	ch, _ := acquire(t, s, "alice", control)
	q := question(t, s, "alice")
	if diff := cmp.Diff(see, q.Capabilities); diff != "" {
		t.Fatalf("asks about (-want +got):\n%s", diff)
	}
	// The rules now ask about input too: the open question (screen only)
	// no longer covers the request and is withdrawn.
	s.SetAsk([]wire.Capability{wire.CapInput, wire.CapScreen, wire.CapPower}, "the coordinator's rules")
	r := wait.Recv(t, "the withdrawn question", ch)
	if !errors.Is(r.err, ErrNoAnswer) || !errors.Is(r.err, ErrRulesChanged) {
		t.Fatalf("withdrawn question: %v, want ErrNoAnswer and ErrRulesChanged", r.err)
	}
	if err := s.Answer(q.Nonce, true); !errors.Is(err, ErrStale) {
		t.Errorf("an answer to the withdrawn question: %v, want ErrStale", err)
	}
	l := allow(t, s, "alice", control)
	// Asking less ends nothing.
	s.SetAsk(nil, "the shop has no rules")
	if !l.Allows(wire.CapInput) || !asked.Allows(wire.CapPower) {
		t.Error("rules that ask less ended a lease")
	}
	granted(t, s, "carol", power).Release("")
	acts := a.actions()
	for _, want := range []string{"consent.rules ok power,screen", "consent.end ok screen", "consent.withdraw ok screen", "consent.rules ok "} {
		if !slices.Contains(acts, want) {
			t.Errorf("no %q in the audit trail %q", want, acts)
		}
	}
}
