package identity

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
)

var testSealKey = bytes.Repeat([]byte{7}, sealKeyLen)

// setup returns accounts over a fresh store with one admin, alice, and
// the clock they read: it stands still until the test advances it.
func setup(t *testing.T) (*Accounts, *tstest.Clock) {
	t.Helper()
	db, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return setupOver(t, db)
}

// setupOver is setup over db.
func setupOver(t *testing.T, db store.DB) (*Accounts, *tstest.Clock) {
	t.Helper()
	c := tstest.NewClock(tstest.ClockOpts{Start: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)})
	a, err := New(db, c.Now, WithSealKey(testSealKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Create("alice", "correct horse battery", policy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	return a, c
}

func TestCreateRefusals(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	for name, err := range map[string]error{
		"duplicate": a.Create("alice", "another long password", policy.RoleTechnician),
		"weak":      a.Create("bob", "short", policy.RoleTechnician),
		"bad name":  a.Create("bob smith", "long enough password", policy.RoleTechnician),
		"bad role":  a.Create("bob", "long enough password", policy.Role("god")),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n, err := a.Count(); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v", n, err)
	}
}

func TestAuthenticateAndSession(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	u, err := a.Authenticate("alice", "correct horse battery")
	if err != nil || u.Role != policy.RoleAdmin {
		t.Fatalf("Authenticate = %+v, %v", u, err)
	}
	if _, err := a.Authenticate("nobody", "correct horse battery"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	tok, _, err := a.NewSession(u)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := a.Session(tok); err != nil || s.User != "alice" {
		t.Fatalf("Session = %+v, %v", s, err)
	}
	forged := tok[:63] + "0"
	if tok[63] == '0' { // a forgery must differ from the real token (1 in 16 did not)
		forged = tok[:63] + "1"
	}
	if _, err := a.Session(forged); !errors.Is(err, ErrNoSession) {
		t.Fatalf("forged token: %v", err)
	}
	c.Advance(sessionTTL)
	if _, err := a.Session(tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired session: %v", err)
	}
}

func TestLockout(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	for i := 1; i <= policy.MaxFailedLogins; i++ {
		_, err := a.Authenticate("alice", "wrong password!!")
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
		if locked := errors.Is(err, ErrLocked); locked != (i == policy.MaxFailedLogins) {
			t.Fatalf("failure %d: locked=%v", i, locked)
		}
	}
	// Locked: even the right password is refused.
	if _, err := a.Authenticate("alice", "correct horse battery"); !errors.Is(err, ErrLocked) {
		t.Fatalf("right password while locked: %v", err)
	}
	c.Advance(policy.LockoutDuration - time.Second)
	if _, err := a.Authenticate("alice", "correct horse battery"); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second before unlock: %v", err)
	}
	c.Advance(time.Second)
	if _, err := a.Authenticate("alice", "correct horse battery"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	// A success resets the count: four failures do not lock.
	for range policy.MaxFailedLogins - 1 {
		a.Authenticate("alice", "wrong password!!") //nolint:errcheck
	}
	if _, err := a.Authenticate("alice", "correct horse battery"); err != nil {
		t.Fatalf("after 4 failures: %v", err)
	}
}

func TestOverlayKeyOwner(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	if err := a.RecordOverlayKey(7, "alice"); err != nil {
		t.Fatal(err)
	}
	if u, err := a.OverlayKeyOwner(7); err != nil || u != "alice" {
		t.Fatalf("owner = %q, %v", u, err)
	}
	if _, err := a.OverlayKeyOwner(8); !errors.Is(err, ErrNoSession) {
		t.Fatalf("unknown key: %v", err)
	}
}

// The unknown-user path must cost what a real check costs: the constant
// dummy hash must use the same parameters as new hashes.
func TestDummyHashMatchesParams(t *testing.T) {
	p, _, _, err := argon2id.DecodeHash(dummyHash)
	if err != nil {
		t.Fatal(err)
	}
	if *p != *hashParams {
		t.Fatalf("dummy hash params %+v, new hashes use %+v", *p, *hashParams)
	}
}

func TestSavedFilters(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	if err := a.SaveFilter("alice", SavedFilter{Name: "Acme offline", Query: "dim=company&value=Acme&smart=offline-30d"}); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveFilter("alice", SavedFilter{Name: "Acme offline", Query: "q=acme"}); err != nil {
		t.Fatal(err) // replaces
	}
	if err := a.SaveFilter("bob", SavedFilter{Name: "mine", Query: "q=bob"}); err != nil {
		t.Fatal(err)
	}
	got, err := a.Filters("alice")
	if err != nil || len(got) != 1 || got[0] != (SavedFilter{Name: "Acme offline", Query: "q=acme"}) {
		t.Fatalf("alice's filters = %v, %v", got, err)
	}
	for _, bad := range []SavedFilter{{Name: ""}, {Name: " "}, {Name: "a\nb"}, {Name: strings.Repeat("x", MaxFilterName+1)},
		{Name: "long", Query: strings.Repeat("q", MaxFilterQuery+1)}} {
		if err := a.SaveFilter("alice", bad); err == nil {
			t.Errorf("saved %q", bad.Name)
		}
	}
	for i := range MaxFilters - 1 {
		if err := a.SaveFilter("alice", SavedFilter{Name: fmt.Sprint("f", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SaveFilter("alice", SavedFilter{Name: "one too many"}); !errors.Is(err, ErrTooManyFilters) {
		t.Fatalf("filter %d: %v", MaxFilters+1, err)
	}
}
