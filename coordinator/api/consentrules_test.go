package api

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// newRulesEnv is the API over a desk that keeps consent rules.
func newRulesEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, cfg := envOver(t, db, dir)
	cfg.ConsentRules = consentrules.New(db, e.clock.Now)
	e.srv, e.desk = e.server(cfg)
	e.pub = e.srv.Handler()
	return e
}

// TestI4ConsentRulesAPI: GET, PUT and DELETE /v1/consent-rules are for
// admins; a body that is not valid rules is refused; a shop without rules
// reads as absent; and an agent's presence stream says what applies to it
// when it opens and again when the rules change.
func TestI4ConsentRulesAPI(t *testing.T) {
	leak.Check(t)
	t.Run("HTTP/1.1", func(t *testing.T) { testConsentRulesAPI(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { testConsentRulesAPI(t, true) })
}

func testConsentRulesAPI(t *testing.T, http2 bool) {
	e := newRulesEnv(t)
	admin, tech := e.session(t, "boss", policy.RoleAdmin), e.session(t, "tina", policy.RoleTechnician)
	if w := e.do(e.pub, "GET", wire.PathConsentRules, admin, ""); w.Code != http.StatusNotFound {
		t.Fatalf("GET without rules: %d %s", w.Code, w.Body)
	}
	for _, bad := range []string{`{"default":["root"]}`, `{"default":["screen"],"extra":1}`, `{"by_device":{"":["screen"]}}`, `[]`,
		`{"default":["screen"]}` + strings.Repeat(" ", maxConsentRulesBody)} {
		if w := e.do(e.pub, "PUT", wire.PathConsentRules, admin, bad); w.Code != http.StatusBadRequest {
			t.Errorf("PUT %.40q: %d, want 400", bad, w.Code)
		}
	}
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		if w := e.do(e.pub, m, wire.PathConsentRules, tech, `{"default":[]}`); w.Code != http.StatusForbidden {
			t.Errorf("%s as a technician: %d, want 403", m, w.Code)
		}
	}

	dev := e.enroll(t, "pc-1", 'a')
	srv := httptest.NewUnstartedServer(e.pub)
	srv.EnableHTTP2 = http2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	st := &streamTest{t: t, e: e, dev: dev, srv: srv}
	l := st.listen(dev)
	l.expect(t, wire.PresenceMessage{Type: wire.PresenceConsentRules, NoRules: true, At: t0})

	if w := e.do(e.pub, "PUT", wire.PathConsentRules, admin, `{"default":["screen","input"],"by_device":{"`+dev.DeviceID+`":["power"]}}`); w.Code != http.StatusOK {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	l.expect(t, wire.PresenceMessage{Type: wire.PresenceConsentRules, Ask: []wire.Capability{wire.CapPower}, At: t0})
	w := e.do(e.pub, "GET", wire.PathConsentRules, admin, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	got, err := policy.ParseConsentRules(w.Body.Bytes())
	if err != nil || got.For("", "x")[0] != wire.CapInput || got.For("", dev.DeviceID)[0] != wire.CapPower {
		t.Errorf("GET answered %s (%v)", w.Body, err)
	}

	// A reconnecting agent hears the rules first.
	l.stop()
	again := st.listen(dev)
	again.expect(t, wire.PresenceMessage{Type: wire.PresenceConsentRules, Ask: []wire.Capability{wire.CapPower}, At: t0})

	if w := e.do(e.pub, "DELETE", wire.PathConsentRules, admin, ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body)
	}
	again.expect(t, wire.PresenceMessage{Type: wire.PresenceConsentRules, NoRules: true, At: t0})
	if w := e.do(e.pub, "GET", wire.PathConsentRules, admin, ""); w.Code != http.StatusNotFound {
		t.Errorf("GET after DELETE: %d", w.Code)
	}
}
