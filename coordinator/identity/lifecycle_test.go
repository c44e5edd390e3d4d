package identity

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
)

// revocations records what OnRevoke reports.
func revocations(t *testing.T, a *Accounts) *[]Revocation {
	t.Helper()
	var got []Revocation
	stop := a.OnRevoke(func(r Revocation) { got = append(got, r) })
	t.Cleanup(stop)
	return &got
}

// addBob adds technician bob and logs him in, with an API key too.
func addBob(t *testing.T, a *Accounts) (token, key string) {
	t.Helper()
	if err := a.Add("bob", "correct horse battery", policy.RoleTechnician, nil); err != nil {
		t.Fatal(err)
	}
	res, err := a.Login("bob", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err = a.CreateAPIKey(res.Session, "ticketing", policy.RoleViewer, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Token, key
}

// TestM5DisableStopsSessionsAndKeysAtOnce: a disabled technician cannot
// log in, their open session and API key are refused at the next lookup,
// and the coordinator is told. Before, nothing could disable an account.
func TestM5DisableStopsSessionsAndKeysAtOnce(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	got := revocations(t, a)
	tok, key := addBob(t, a)
	if err := a.Disable("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	if _, err := a.AuthenticateAPIKey(key); !errors.Is(err, ErrNoSession) {
		t.Fatalf("API key of a disabled user: %v", err)
	}
	if _, err := a.Login("bob", "correct horse battery"); !errors.Is(err, ErrDisabled) || !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("login of a disabled user: %v", err)
	}
	if _, err := a.Login("bob", "wrong password!!"); errors.Is(err, ErrDisabled) {
		t.Fatalf("a wrong password learnt the account is disabled: %v", err)
	}
	if diff := cmp.Diff([]Revocation{{User: "bob", Reason: RevokeDisabled}}, *got); diff != "" {
		t.Fatalf("revocations (-want +got):\n%s", diff)
	}
	list, err := a.List()
	if err != nil || len(list) != 2 || !list[1].Disabled {
		t.Fatalf("List = %+v, %v", list, err)
	}
	// Enabled again: a new login works, the old session stays ended, the
	// API key works again.
	if err := a.Enable("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login("bob", "correct horse battery"); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
	if _, err := a.Session(tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("old session after enable: %v", err)
	}
	if s, err := a.AuthenticateAPIKey(key); err != nil || s.User != "bob" {
		t.Fatalf("API key after enable: %+v, %v", s, err)
	}
}

// TestM5DeleteLeavesNothingToInherit: a deleted user's sessions and keys
// are gone, and a new account of the same name inherits none of them, nor
// their saved filters.
func TestM5DeleteLeavesNothingToInherit(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	got := revocations(t, a)
	tok, key := addBob(t, a)
	if err := a.SaveFilter("bob", SavedFilter{Name: "mine", Query: "q=x"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete("bob"); err != nil {
		t.Fatal(err)
	}
	if err := a.Create("bob", "another long password", policy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("old session under the new bob: %v", err)
	}
	if _, err := a.AuthenticateAPIKey(key); !errors.Is(err, ErrNoSession) {
		t.Fatalf("old key under the new bob: %v", err)
	}
	if f, err := a.Filters("bob"); err != nil || len(f) != 0 {
		t.Fatalf("filters = %v, %v", f, err)
	}
	if keys, err := a.APIKeys("bob"); err != nil || len(keys) != 0 {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	if diff := cmp.Diff([]Revocation{{User: "bob", Reason: RevokeDeleted}}, *got); diff != "" {
		t.Fatalf("revocations (-want +got):\n%s", diff)
	}
	if err := a.Delete("nobody"); !errors.Is(err, ErrNoUser) {
		t.Fatalf("delete unknown: %v", err)
	}
}

// TestM5SetPasswordEndsOtherSessions: a new password ends every other
// session of the account, keeps the one asked, and the old password stops
// working.
func TestM5SetPasswordEndsOtherSessions(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	got := revocations(t, a)
	keep, err := a.Login("alice", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Login("alice", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ChangePassword("alice", "wrong password!!", "a brand new password", keep.Token); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("change with a wrong old password: %v", err)
	}
	if err := a.ChangePassword("alice", "correct horse battery", "a brand new password", keep.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(keep.Token); err != nil {
		t.Fatalf("kept session: %v", err)
	}
	if _, err := a.Session(other.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("other session: %v", err)
	}
	if _, err := a.Login("alice", "correct horse battery"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if _, err := a.Login("alice", "a brand new password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// An admin's reset keeps nothing.
	if err := a.SetPassword("alice", "yet another password", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(keep.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after a reset: %v", err)
	}
	if diff := cmp.Diff([]Revocation{{User: "alice", Reason: RevokePassword}, {User: "alice", Reason: RevokePassword}}, *got); diff != "" {
		t.Fatalf("revocations (-want +got):\n%s", diff)
	}
}

// TestM5SetRoleTakesEffectAtOnce: a demoted account's open session acts
// with the new role and companies at its next lookup, and its API keys
// above the new role stop working.
func TestM5SetRoleTakesEffectAtOnce(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	got := revocations(t, a)
	if err := a.Add("carol", "correct horse battery", policy.RoleSenior, nil); err != nil {
		t.Fatal(err)
	}
	res, err := a.Login("carol", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	senior, _, err := a.CreateAPIKey(res.Session, "power", policy.RoleSenior, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	viewer, _, err := a.CreateAPIKey(res.Session, "reports", policy.RoleViewer, policy.Scope{"acme"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetRole("carol", policy.RoleTechnician, policy.Scope{"acme"}); err != nil {
		t.Fatal(err)
	}
	s, err := a.Session(res.Token)
	if err != nil || s.Role != policy.RoleTechnician || !cmp.Equal(s.Companies, policy.Scope{"acme"}) {
		t.Fatalf("session after demotion: %+v, %v", s, err)
	}
	if _, err := a.AuthenticateAPIKey(senior); !errors.Is(err, ErrNoSession) {
		t.Fatalf("senior key of a technician: %v", err)
	}
	if s, err := a.AuthenticateAPIKey(viewer); err != nil || s.Role != policy.RoleViewer || s.APIKey == "" {
		t.Fatalf("viewer key within the new scope: %+v, %v", s, err)
	}
	if diff := cmp.Diff([]Revocation{{User: "carol", Reason: RevokeRoleChanged}}, *got); diff != "" {
		t.Fatalf("revocations (-want +got):\n%s", diff)
	}
	if err := a.SetRole("carol", policy.Role("root"), nil); err == nil {
		t.Fatal("unknown role accepted")
	}
}

// TestM5EndSessions: every session and pending login of an account end;
// its API keys do not; other accounts keep theirs.
func TestM5EndSessions(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	got := revocations(t, a)
	tok, key := addBob(t, a)
	secret, _ := enableTOTP(t, a, c, "bob")
	pending, err := a.Login("bob", "correct horse battery")
	if !errors.Is(err, ErrSecondFactorNeeded) {
		t.Fatal(err)
	}
	mine, err := a.Login("alice", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EndSessions("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session: %v", err)
	}
	if _, err := a.CompleteLogin(pending.Pending, code(t, secret, c.Now())); !errors.Is(err, ErrNoPendingLogin) {
		t.Fatalf("pending login: %v", err)
	}
	if _, err := a.AuthenticateAPIKey(key); err != nil {
		t.Fatalf("API key: %v", err)
	}
	if _, err := a.Session(mine.Token); err != nil {
		t.Fatalf("another account's session: %v", err)
	}
	if diff := cmp.Diff([]Revocation{{User: "bob", Reason: RevokeSessionsEnded}}, *got); diff != "" {
		t.Fatalf("revocations (-want +got):\n%s", diff)
	}
}

// TestLastAdminStays: the last enabled admin cannot be disabled, deleted
// or demoted (the shop would have no one to manage accounts).
func TestLastAdminStays(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	for name, err := range map[string]error{
		"disable": a.Disable("alice"),
		"delete":  a.Delete("alice"),
		"demote":  a.SetRole("alice", policy.RoleSenior, nil),
	} {
		if !errors.Is(err, ErrLastAdmin) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := a.Add("dave", "correct horse battery", policy.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Disable("alice"); err != nil {
		t.Fatalf("with another admin: %v", err)
	}
	if err := a.Delete("dave"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("the other admin, now the last: %v", err)
	}
}

func TestOnRevokeStop(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	n := 0
	stop := a.OnRevoke(func(Revocation) { n++ })
	if err := a.EndSessions("alice"); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := a.EndSessions("alice"); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("called %d times, want 1", n)
	}
}

func TestUnlock(t *testing.T) {
	leak.Check(t)
	a, _ := setup(t)
	for range policy.MaxFailedLogins {
		a.Authenticate("alice", "wrong password!!") //nolint:errcheck // locking
	}
	if err := a.Unlock("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login("alice", "correct horse battery"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}
