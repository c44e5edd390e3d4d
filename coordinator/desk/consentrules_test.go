package desk_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// fakePresence records the messages sent down the streams it pretends are
// open.
type fakePresence struct {
	mu   sync.Mutex
	open map[string]bool
	sent map[string][]wire.PresenceMessage
}

func (p *fakePresence) Seen(string)                          {}
func (p *fakePresence) LastSeen(string) (time.Time, bool)    { return time.Time{}, false }
func (p *fakePresence) Broadcast(wire.PresenceMessage) error { return nil }
func (p *fakePresence) Forget(string)                        {}
func (p *fakePresence) End(string) bool                      { return false }

func (p *fakePresence) Send(device string, msg wire.PresenceMessage) (bool, error) {
	if err := msg.Check(); err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.open[device] {
		return false, nil
	}
	p.sent[device] = append(p.sent[device], msg)
	return true, nil
}

// last is the last message sent to device, and how many were.
func (p *fakePresence) last(device string) (wire.PresenceMessage, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sent[device]
	if len(s) == 0 {
		return wire.PresenceMessage{}, 0
	}
	return s[len(s)-1], len(s)
}

// consentWorld is a desk that keeps consent rules, with a machine filed
// under Acme that claims to be of "claimed" (M6: the claim is ignored),
// one of Globex, and one of Acme whose presence stream is not open.
type consentWorld struct {
	d             *desk.Desk
	p             *fakePresence
	accounts      *identity.Accounts
	acme, globex  string
	offline       string
	ruleAuditRecs func(action string) []audit.Record
}

func newConsentWorld(t *testing.T) *consentWorld {
	t.Helper()
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	accounts, err := identity.New(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	trail := audit.New(db, nil)
	w := &consentWorld{p: &fakePresence{open: map[string]bool{}, sent: map[string][]wire.PresenceMessage{}}, accounts: accounts}
	w.d = desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, nil), Audit: trail, Overlay: &fakeOverlay{},
		Presence: w.p, Support: support.New(db, nil), ConsentRules: consentrules.New(db, nil),
		ControlURL: "https://coord.test", GrantKey: key, Pin: strings.Repeat("ab", 32)})
	w.ruleAuditRecs = func(action string) []audit.Record {
		recs, err := trail.List(audit.Query{Action: action})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	for i, company := range []string{"acme", "globex", "acme"} {
		tok, err := w.d.CreateToken(desk.Local(), enroll.TokenOptions{Company: company})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := w.d.Enroll("192.0.2.1", wire.EnrollRequest{Token: tok.Token, MachineID: fmt.Sprintf("%064x", i+1), Hostname: "pc", OS: "linux"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.d.Inventory(enroll.Device{ID: resp.DeviceID}, "192.0.2.1", wire.Inventory{Metadata: wire.Metadata{Company: "claimed"}}); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			w.acme = resp.DeviceID
		case 1:
			w.globex = resp.DeviceID
		case 2:
			w.offline = resp.DeviceID
		}
	}
	w.p.open[w.acme], w.p.open[w.globex] = true, true
	return w
}

// TestI4ConsentRulesAdminOnly: reading, setting and removing the shop's
// consent rules is for admins, never with an API key; every refusal is
// audited and changes nothing; rules that fail their Check are refused.
func TestI4ConsentRulesAdminOnly(t *testing.T) {
	leak.Check(t)
	w := newConsentWorld(t)
	rules := policy.ConsentRules{Default: []wire.Capability{wire.CapScreen}}
	for _, role := range policy.Roles {
		if role == policy.RoleAdmin {
			continue
		}
		c := desk.Caller{User: "u-" + string(role), Role: role, IP: "192.0.2.5", Via: "api"}
		if _, _, err := w.d.ConsentRules(c); !errors.Is(err, desk.ErrForbidden) {
			t.Errorf("%s reads the rules: %v", role, err)
		}
		if err := w.d.SetConsentRules(c, rules); !errors.Is(err, desk.ErrForbidden) {
			t.Errorf("%s sets the rules: %v", role, err)
		}
		if err := w.d.ClearConsentRules(c); !errors.Is(err, desk.ErrForbidden) {
			t.Errorf("%s clears the rules: %v", role, err)
		}
	}
	key := desk.Caller{User: "boss", Role: policy.RoleAdmin, IP: "192.0.2.5", Via: "api", APIKey: "k1"}
	if err := w.d.SetConsentRules(key, rules); !errors.Is(err, desk.ErrForbidden) {
		t.Errorf("an admin's API key sets the rules: %v", err)
	}
	if err := w.d.ClearConsentRules(key); !errors.Is(err, desk.ErrForbidden) {
		t.Errorf("an admin's API key clears the rules: %v", err)
	}
	admin := desk.Caller{User: "boss", Role: policy.RoleAdmin, IP: "192.0.2.5", Via: "web"}
	if _, set, err := w.d.ConsentRules(admin); err != nil || set {
		t.Fatalf("after the refusals: set %v, %v; want no rules", set, err)
	}
	bad := policy.ConsentRules{Default: []wire.Capability{"root"}}
	if err := w.d.SetConsentRules(admin, bad); !errors.Is(err, desk.ErrInvalid) {
		t.Errorf("unknown capability: %v, want Invalid", err)
	}
	if err := w.d.SetConsentRules(admin, rules); err != nil {
		t.Fatal(err)
	}
	got, set, err := w.d.ConsentRules(admin)
	if err != nil || !set {
		t.Fatalf("set %v, %v", set, err)
	}
	if diff := cmp.Diff(rules, got); diff != "" {
		t.Errorf("(-set +read):\n%s", diff)
	}
	denied := 0
	for _, a := range []string{"consent-rules.read", "consent-rules.set", "consent-rules.clear"} {
		for _, r := range w.ruleAuditRecs(a) {
			if r.Outcome == audit.Denied {
				denied++
			}
		}
	}
	// 3 roles × 3 actions, the API key's 2, the invalid rules.
	if want := 3*3 + 2 + 1; denied != want {
		t.Errorf("%d refusals audited, want %d", denied, want)
	}
	ok := w.ruleAuditRecs("consent-rules.set")
	last := ok[len(ok)-1]
	if last.Outcome != audit.OK || last.Actor != "boss" || last.Fields["default"] != "screen" || last.Fields["agents_told"] != "2" {
		t.Errorf("the change is audited as %+v", last)
	}
}

// TestI4ConsentRulesFollowFiledCompany: each agent with an open stream is
// told what applies to it — by the company the coordinator files it
// under, never the one it claims — when the rules change, when its
// stream opens, when it is moved, and that there are none once removed.
func TestI4ConsentRulesFollowFiledCompany(t *testing.T) {
	leak.Check(t)
	w := newConsentWorld(t)
	admin := desk.Caller{User: "boss", Role: policy.RoleAdmin, IP: "192.0.2.5", Via: "web"}
	ask := func(c ...wire.Capability) wire.PresenceMessage {
		return wire.PresenceMessage{Type: wire.PresenceConsentRules, Ask: c}
	}
	check := func(when, device string, want wire.PresenceMessage, wantN int) {
		t.Helper()
		got, n := w.p.last(device)
		if n != wantN {
			t.Errorf("%s: %d messages to %s, want %d", when, n, device, wantN)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []wire.Capability) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); diff != "" {
			t.Errorf("%s: to %s (-want +got):\n%s", when, device, diff)
		}
	}
	// No rules: a stream that opens hears so.
	w.d.SendConsentRules(w.acme)
	check("no rules, stream opens", w.acme, wire.PresenceMessage{Type: wire.PresenceConsentRules, NoRules: true}, 1)

	rules := policy.ConsentRules{
		Default:   []wire.Capability{wire.CapScreen, wire.CapInput, wire.CapPower},
		ByCompany: map[string][]wire.Capability{"acme": {wire.CapScreen}, "claimed": {}},
		ByDevice:  map[string][]wire.Capability{w.globex: {wire.CapPower}},
	}
	if err := w.d.SetConsentRules(admin, rules); err != nil {
		t.Fatal(err)
	}
	check("rules set", w.acme, ask(wire.CapScreen), 2)
	check("rules set", w.globex, ask(wire.CapPower), 1)
	if _, n := w.p.last(w.offline); n != 0 {
		t.Errorf("a device without a stream was sent %d messages", n)
	}

	w.d.SendConsentRules(w.acme) // a reconnect
	check("stream reopens", w.acme, ask(wire.CapScreen), 3)

	if err := w.d.MoveDevice(admin, w.acme, "globex", ""); err != nil {
		t.Fatal(err)
	}
	check("moved to globex", w.acme, ask(wire.CapInput, wire.CapPower, wire.CapScreen), 4)

	if err := w.d.ClearConsentRules(admin); err != nil {
		t.Fatal(err)
	}
	check("rules removed", w.acme, wire.PresenceMessage{Type: wire.PresenceConsentRules, NoRules: true}, 5)
	check("rules removed", w.globex, wire.PresenceMessage{Type: wire.PresenceConsentRules, NoRules: true}, 2)
}
