package api

import (
	"net/http"
	"slices"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// m1Env is a coordinator with an Acme and a Globex machine, each of
// whose users asked for help, and accounts: alice (admin), bob and carol
// (technicians of every company), ann (an Acme technician), vic (a
// viewer). Bob and carol each made a code of their own, and bob one for
// the team.
type m1Env struct {
	*env
	acme, globex                 enrolled
	acmeAsk, globexAsk           string
	bobCode, carolCode, teamCode string
	alice, bob, carol, ann, vic  string // Authorization headers
}

func newM1Env(t *testing.T) *m1Env {
	t.Helper()
	e := &m1Env{env: newEnv(t)}
	e.acme, e.globex = e.enroll(t, "pc-acme", 'a'), e.enroll(t, "pc-globex", 'b')
	for d, company := range map[*enrolled]string{&e.acme: "acme", &e.globex: "globex"} {
		// An admin files the device (M6): the agent's report claims
		// another company, which must not count.
		if _, err := e.registry.Move(d.DeviceID, company, "main"); err != nil {
			t.Fatal(err)
		}
		inv := wire.Inventory{Hostname: d.DeviceID, Metadata: wire.Metadata{Company: "claimed-" + company}}
		if w := e.do(e.pub, "POST", wire.PathInventory, d.auth, mustJSON(t, inv)); w.Code != http.StatusNoContent {
			t.Fatalf("inventory = %d %s", w.Code, w.Body)
		}
	}
	e.acmeAsk, e.globexAsk = askCode(t, e.env, e.pub, e.acme.auth), askCode(t, e.env, e.pub, e.globex.auth)
	user := func(name string, role policy.Role, scope ...string) string {
		// The desk looks up who made a code to know its companies.
		if err := e.accounts.CreateScoped(name, "correct horse battery", role, scope); err != nil {
			t.Fatal(err)
		}
		tok, _, err := e.accounts.NewSession(identity.User{Name: name, Role: role, Companies: scope})
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	e.alice, e.bob, e.carol = user("alice", policy.RoleAdmin), user("bob", policy.RoleTechnician), user("carol", policy.RoleTechnician)
	e.ann, e.vic = user("ann", policy.RoleTechnician, "acme"), user("vic", policy.RoleViewer)
	code := func(auth string, team bool) string {
		w := e.do(e.pub, "POST", wire.PathSupportCodes, auth, mustJSON(t, wire.CodeRequest{Team: team}))
		var c wire.SupportCode
		if w.Code != http.StatusOK {
			t.Fatalf("making a code: %d %s", w.Code, w.Body)
		}
		decodeJSON(t, w, &c)
		return c.Code
	}
	e.bobCode, e.carolCode, e.teamCode = code(e.bob, false), code(e.carol, false), code(e.bob, true)
	return e
}

// board is the JSON support board as auth sees it: its codes' digits.
func (e *m1Env) board(t *testing.T, auth string) []string {
	t.Helper()
	w := e.do(e.pub, "GET", wire.PathSupportSessions, auth, "")
	if w.Code != http.StatusOK {
		t.Fatalf("board: %d %s", w.Code, w.Body)
	}
	var b wire.SupportBoard
	decodeJSON(t, w, &b)
	var codes []string
	for _, c := range b.Codes {
		codes = append(codes, c.Code)
	}
	slices.Sort(codes)
	return codes
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// M1: a viewer-role account can neither list, create, cancel nor redeem
// support codes through the JSON API, as the dashboard already refused.
func TestM1ViewerCannotWorkTheSupportDesk(t *testing.T) {
	leak.Check(t)
	e := newM1Env(t)
	wantError(t, e.do(e.pub, "GET", wire.PathSupportSessions, e.vic, ""), http.StatusForbidden, wire.CodeForbidden)
	wantError(t, e.do(e.pub, "POST", wire.PathSupportCodes, e.vic, `{}`), http.StatusForbidden, wire.CodeForbidden)
	wantError(t, e.do(e.pub, "POST", wire.PathSupportCodes+"/"+e.teamCode+"/cancel", e.vic, ""), http.StatusForbidden, wire.CodeForbidden)
	wantError(t, e.do(e.pub, "POST", wire.PathSupportRedeem, e.vic, mustJSON(t, wire.RedeemRequest{Code: e.acmeAsk})), http.StatusForbidden, wire.CodeForbidden)
	// Nothing was used up, and every refusal is in the trail.
	if got, want := e.board(t, e.alice), sorted(e.acmeAsk, e.globexAsk, e.bobCode, e.carolCode, e.teamCode); !slices.Equal(got, want) {
		t.Errorf("board after the viewer's attempts: %v, want %v", got, want)
	}
	for _, action := range []string{"support.board", "support.code.create", "support.code.cancel", "support.code.redeem"} {
		if recs := e.records(t, action, audit.Denied); len(recs) != 1 || recs[0].Actor != "vic" {
			t.Errorf("%s refusals audited: %+v", action, recs)
		}
	}
}

// M1: GET /v1/support/sessions lists only what the caller may see: their
// own and the team's codes, end users' requests of companies in their
// scope; another technician's own codes never; an admin all.
func TestM1BoardListsOnlyWhatTheCallerMaySee(t *testing.T) {
	leak.Check(t)
	e := newM1Env(t)
	for _, c := range []struct {
		who, auth string
		want      []string
	}{
		{"alice (admin)", e.alice, sorted(e.acmeAsk, e.globexAsk, e.bobCode, e.carolCode, e.teamCode)},
		{"bob", e.bob, sorted(e.acmeAsk, e.globexAsk, e.bobCode, e.teamCode)},
		{"carol", e.carol, sorted(e.acmeAsk, e.globexAsk, e.carolCode, e.teamCode)},
		{"ann (Acme)", e.ann, sorted(e.acmeAsk, e.teamCode)},
	} {
		if got := e.board(t, c.auth); !slices.Equal(got, c.want) {
			t.Errorf("%s sees %v, want %v", c.who, got, c.want)
		}
	}
	// Another technician's code cannot be cancelled either (it reads as
	// absent), and stays live.
	wantError(t, e.do(e.pub, "POST", wire.PathSupportCodes+"/"+e.carolCode+"/cancel", e.bob, ""), http.StatusNotFound, wire.CodeNotFound)
	if !slices.Contains(e.board(t, e.carol), e.carolCode) {
		t.Error("carol's code is gone after bob's attempt to cancel it")
	}
}

// M1: redeeming — or cancelling — an end user's request code of a company
// out of the caller's scope is refused as absent and does not use it up.
func TestM1OutOfScopeRequestCodeIsNotRedeemed(t *testing.T) {
	leak.Check(t)
	e := newM1Env(t)
	wantError(t, e.do(e.pub, "POST", wire.PathSupportRedeem, e.ann, mustJSON(t, wire.RedeemRequest{Code: e.globexAsk})), http.StatusNotFound, wire.CodeNotFound)
	wantError(t, e.do(e.pub, "POST", wire.PathSupportCodes+"/"+e.globexAsk+"/cancel", e.ann, ""), http.StatusNotFound, wire.CodeNotFound)
	// Still waiting: a technician whose scope holds Globex redeems it.
	w := e.do(e.pub, "POST", wire.PathSupportRedeem, e.bob, mustJSON(t, wire.RedeemRequest{Code: e.globexAsk}))
	if w.Code != http.StatusOK {
		t.Fatalf("bob redeeming the Globex code after ann's attempt: %d %s", w.Code, w.Body)
	}
	var ss wire.SupportSession
	decodeJSON(t, w, &ss)
	if ss.Device != e.globex.DeviceID || ss.Technician != "bob" || ss.State != support.Open {
		t.Errorf("session %+v", ss)
	}
	// Ann, in scope for Acme only, redeems the Acme code.
	if w := e.do(e.pub, "POST", wire.PathSupportRedeem, e.ann, mustJSON(t, wire.RedeemRequest{Code: e.acmeAsk})); w.Code != http.StatusOK {
		t.Errorf("ann redeeming the Acme code: %d %s", w.Code, w.Body)
	}
	if recs := e.records(t, "support.code.redeem", audit.Denied); len(recs) != 1 || recs[0].Actor != "ann" {
		t.Errorf("redeem refusals audited: %+v", recs)
	}
}
