package desk_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/tstest"
)

// A connect ticket opens its target once, for the technician it was
// minted for, within its minute; it is audited without its text.
func TestConnectTicket(t *testing.T) {
	leak.Check(t)
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
	clock := tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)})
	ov := &fakeOverlay{}
	log := audit.New(db, clock.Now)
	d := desk.New(desk.Config{Accounts: accounts, Registry: enroll.New(db, nil), Audit: log,
		ConsentRules: consentrules.New(db, nil), Overlay: ov, Support: support.New(db, nil),
		ControlURL: "https://coord.test", GrantKey: key, Pin: strings.Repeat("ab", 32), Now: clock.Now})
	ann := desk.Caller{User: "ann", Role: policy.RoleTechnician, IP: "192.0.2.1", Via: "web"}
	bob := desk.Caller{User: "bob", Role: policy.RoleTechnician, IP: "192.0.2.2", Via: "api"}
	session := wire.ConnectTarget{Session: "ses-1"}

	mint := func(c desk.Caller, tg wire.ConnectTarget) desk.ConnectTicket {
		t.Helper()
		tk, err := d.MintConnect(c, tg)
		if err != nil {
			t.Fatalf("MintConnect(%s): %v", c.User, err)
		}
		return tk
	}

	// Good once, then refused.
	tk := mint(ann, session)
	if len(tk.Ticket) != 64 || !tk.Expires.Equal(clock.Now().Add(desk.ConnectTicketTTL)) {
		t.Errorf("ticket %d characters, expires %v", len(tk.Ticket), tk.Expires)
	}
	if tk.ViewerOnline {
		t.Error("ViewerOnline with no technician node on the overlay")
	}
	if got, err := d.RedeemConnect(ann, tk.Ticket); err != nil || got != session {
		t.Fatalf("RedeemConnect = %+v, %v; want %+v", got, err, session)
	}
	if _, err := d.RedeemConnect(ann, tk.Ticket); !errors.Is(err, desk.ErrTicketUnknown) || !errors.Is(err, desk.ErrNotFound) {
		t.Errorf("replayed ticket: %v, want ErrTicketUnknown", err)
	}

	// Another technician's viewer cannot use it, and burns it.
	tk = mint(ann, wire.ConnectTarget{Device: "dev-1"})
	if _, err := d.RedeemConnect(bob, tk.Ticket); !errors.Is(err, desk.ErrTicketNotMine) || !errors.Is(err, desk.ErrForbidden) {
		t.Errorf("another technician's ticket: %v, want ErrTicketNotMine", err)
	}
	if _, err := d.RedeemConnect(ann, tk.Ticket); !errors.Is(err, desk.ErrTicketUnknown) {
		t.Errorf("a ticket tried by another technician still works: %v", err)
	}

	// Expired after its minute.
	tk = mint(ann, session)
	clock.Advance(desk.ConnectTicketTTL)
	if _, err := d.RedeemConnect(ann, tk.Ticket); !errors.Is(err, desk.ErrTicketExpired) || !errors.Is(err, desk.ErrExpired) {
		t.Errorf("expired ticket: %v, want ErrTicketExpired", err)
	}

	// Malformed asks.
	for _, tg := range []wire.ConnectTarget{{}, {Session: "s", Device: "d"}, {Session: strings.Repeat("s", 65)}} {
		if _, err := d.MintConnect(ann, tg); !errors.Is(err, desk.ErrInvalid) {
			t.Errorf("MintConnect(%+v): %v, want ErrInvalid", tg, err)
		}
	}
	if _, err := d.RedeemConnect(ann, strings.Repeat("a", wire.MaxConnectTicket+1)); !errors.Is(err, desk.ErrInvalid) {
		t.Errorf("an overlong ticket: %v, want ErrInvalid", err)
	}
	// A role without support may not mint for a session.
	if _, err := d.MintConnect(desk.Caller{User: "eve", Role: policy.RoleViewer}, session); !errors.Is(err, desk.ErrForbidden) {
		t.Errorf("a viewer role's ticket: %v, want ErrForbidden", err)
	}

	// The viewer of the technician on the overlay is seen.
	k, err := d.TechnicianKey(ann)
	if err != nil {
		t.Fatal(err)
	}
	ov.add(overlay.Node{NodeKey: "nodekey:ann", Tags: []string{wire.TagTech}, AuthKeyID: k.ID, Online: true})
	if !mint(ann, session).ViewerOnline {
		t.Error("ViewerOnline false with ann's viewer online")
	}
	if mint(bob, session).ViewerOnline {
		t.Error("ViewerOnline true for bob, whose viewer does not run")
	}

	// A burst of clicks keeps the newest tickets: the oldest goes.
	first := mint(ann, session)
	var last desk.ConnectTicket
	for range desk.MaxTicketsPerUser {
		last = mint(ann, session)
	}
	if _, err := d.RedeemConnect(ann, first.Ticket); !errors.Is(err, desk.ErrTicketUnknown) {
		t.Errorf("the oldest of a burst: %v, want ErrTicketUnknown", err)
	}
	if _, err := d.RedeemConnect(ann, last.Ticket); err != nil {
		t.Errorf("the newest of a burst: %v", err)
	}

	// The audit trail has every mint and redemption, never a ticket.
	recs, err := log.List(audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.AuditEvent.Action+"/"+r.AuditEvent.Outcome]++
		if strings.Contains(r.AuditEvent.Target+r.AuditEvent.Reason+strings.Join(fieldValues(r.AuditEvent.Fields), " "), tk.Ticket) {
			t.Errorf("a ticket in the audit trail: %+v", r.AuditEvent)
		}
	}
	for what, n := range map[string]int{"connect.ticket/" + audit.OK: 6 + desk.MaxTicketsPerUser, "connect.redeem/" + audit.OK: 2, "connect.redeem/" + audit.Denied: 6} {
		if counts[what] != n {
			t.Errorf("%d %s records, want %d (all: %v)", counts[what], what, n, counts)
		}
	}
}

func fieldValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
