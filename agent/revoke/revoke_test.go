package revoke

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/tstest"
)

var (
	at      = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	keyBob  = "nodekey:" + strings.Repeat("b", 64)
	keyLost = "nodekey:" + strings.Repeat("c", 64)
)

func TestCovers(t *testing.T) {
	t.Parallel()
	bob := Revocation{Technician: "bob", At: at}
	lost := Revocation{NodeKeys: []string{keyLost}, At: at}
	for _, tc := range []struct {
		name   string
		r      Revocation
		tech   string
		key    string
		issued time.Time
		want   bool
	}{
		{"bob's older grant", bob, "bob", keyBob, at.Add(-time.Minute), true},
		{"bob's grant of that second", bob, "bob", keyBob, at, true},
		{"bob's later grant", bob, "bob", keyBob, at.Add(time.Second), false},
		{"bob, issue time unknown", bob, "bob", "", time.Time{}, true},
		{"alice", bob, "alice", keyBob, at.Add(-time.Minute), false},
		{"the lost node, anyone's", lost, "alice", keyLost, at.Add(-time.Minute), true},
		{"another node", lost, "alice", keyBob, at.Add(-time.Minute), false},
		{"no node given", lost, "alice", "", at.Add(-time.Minute), false},
	} {
		if got := tc.r.Covers(tc.tech, tc.key, tc.issued); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The deny list refuses what it holds for as long as such a grant can
// live, then forgets it.
func TestListExpires(t *testing.T) {
	t.Parallel()
	clock := tstest.NewClock(tstest.ClockOpts{Start: at.Add(time.Second)})
	l := NewList(clock.Now, 0)
	l.Add(Revocation{Technician: "bob", At: at})
	if !l.Revoked("bob", keyBob, at) || l.Revoked("alice", keyBob, at) {
		t.Fatal("the list does not refuse bob's grant alone")
	}
	clock.Advance(Keep - 2*time.Second)
	if !l.Revoked("bob", keyBob, at) {
		t.Fatal("forgotten while a grant issued before it could still verify")
	}
	clock.Advance(2 * time.Second)
	if l.Revoked("bob", keyBob, at) || l.Len() != 0 {
		t.Fatalf("kept past its time: %d entries", l.Len())
	}
}

// Full of live revocations, the list stays bounded and fails closed: the
// oldest gives way to a floor under which every grant is refused until it
// would have expired, for anyone.
func TestListBoundedFailsClosed(t *testing.T) {
	t.Parallel()
	clock := tstest.NewClock(tstest.ClockOpts{Start: at})
	l := NewList(clock.Now, 2)
	for i, tech := range []string{"bob", "carol", "dave"} {
		l.Add(Revocation{Technician: tech, At: at.Add(time.Duration(i) * time.Second)})
	}
	if l.Len() != 2 {
		t.Fatalf("%d entries, want the bound 2", l.Len())
	}
	for _, tc := range []struct {
		tech   string
		issued time.Time
		want   bool
	}{
		{"bob", at, true},                       // gave way to the floor: still refused
		{"alice", at, true},                     // under the floor: refused for anyone
		{"alice", at.Add(time.Second), false},   // above the floor, not revoked
		{"carol", at.Add(time.Second), true},    // on the list
		{"dave", at.Add(2 * time.Second), true}, // on the list
		{"bob", at.Add(time.Second), false},     // issued after bob's revocation
	} {
		if got := l.Revoked(tc.tech, "", tc.issued); got != tc.want {
			t.Errorf("Revoked(%s, %v) = %v, want %v", tc.tech, tc.issued.Sub(at), got, tc.want)
		}
	}
	clock.Advance(Keep)
	if l.Revoked("alice", "", at) {
		t.Fatal("the floor outlived the grants under it")
	}
}

// ender records what it was asked to end.
type ender struct {
	holders []consent.Holder
	ended   []consent.Holder
	reasons []string
}

func (e *ender) EndFor(match func(consent.Holder) bool, actor, reason string) int {
	n := 0
	for _, h := range e.holders {
		if match(h) {
			e.ended = append(e.ended, h)
			e.reasons = append(e.reasons, actor+" "+reason)
			n++
		}
	}
	return n
}

type trail struct {
	mu  sync.Mutex
	evs []wire.AuditEvent
}

func (a *trail) Record(ev wire.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, ev)
	return nil
}

// A revoke message from the presence stream: bob's sessions from older
// grants end, alice's and bob's newer one stay, bob's older grants are
// refused from then on, and the revocation is audited with reason
// "revoked". Messages of other types change nothing.
func TestRevokerHandle(t *testing.T) {
	t.Parallel()
	clock := tstest.NewClock(tstest.ClockOpts{Start: at.Add(time.Second)})
	list := NewList(clock.Now, 0)
	old := at.Add(-time.Minute)
	e := &ender{holders: []consent.Holder{
		{Technician: "bob", NodeKey: keyBob, Issued: old},
		{Technician: "alice", NodeKey: keyLost, Issued: old},
		{Technician: "bob", NodeKey: keyBob, Issued: at.Add(time.Second)},
	}}
	a := &trail{}
	v := New(Config{List: list, End: []Ender{e}, Audit: a, Device: "dev-1", Now: clock.Now})

	v.Handle(wire.PresenceMessage{Type: "later", Technician: "alice", At: at})
	v.Handle(wire.PresenceMessage{Type: wire.PresenceRevoke, At: at}) // names nobody: invalid
	if len(e.ended) != 0 || list.Len() != 0 || len(a.evs) != 0 {
		t.Fatalf("ignored messages acted: ended %v, list %d, audit %v", e.ended, list.Len(), a.evs)
	}
	v.Handle(wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: "bob", Reason: "disabled", At: at})
	if diff := cmp.Diff(e.holders[:1], e.ended); diff != "" {
		t.Fatalf("ended (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"coordinator revoked"}, e.reasons); diff != "" {
		t.Fatalf("reasons (-want +got):\n%s", diff)
	}
	if !list.Revoked("bob", keyBob, old) || list.Revoked("bob", keyBob, at.Add(time.Second)) {
		t.Fatal("the deny list does not hold bob's older grants only")
	}
	want := []wire.AuditEvent{{
		Time: at.Add(time.Second), Actor: "coordinator", Action: "revoke", Target: "dev-1", Outcome: "ok", Reason: "revoked",
		Fields: map[string]string{"technician": "bob", "node_keys": "", "cause": "disabled", "at": "2026-12-07T10:00:00Z", "ended": "1"},
	}}
	if diff := cmp.Diff(want, a.evs); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
}
