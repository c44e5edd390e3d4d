package api

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"tailscale.com/tstest"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/pki"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

const (
	controlURL = "https://127.0.0.1:8443"
	grace      = 90 * time.Second
	clientAddr = "192.0.2.1:40000"
)

// newClock is the clock every component of an env shares: it stands at
// t0 and moves only when a test advances it.
func newClock() *tstest.Clock { return tstest.NewClock(tstest.ClockOpts{Start: t0}) }

// fakeOverlay is the control plane as the API sees it: pre-auth keys with
// increasing IDs and a node list the test controls.
type fakeOverlay struct {
	mu      sync.Mutex
	nextID  uint64
	keys    []overlay.KeyOptions
	nodes   []overlay.Node
	deleted []uint64 // DeleteAuthKey's
	fail    error
}

func (o *fakeOverlay) CreateAuthKey(opts overlay.KeyOptions) (overlay.AuthKey, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return overlay.AuthKey{}, o.fail
	}
	o.nextID++
	o.keys = append(o.keys, opts)
	return overlay.AuthKey{ID: o.nextID, Key: fmt.Sprintf("hskey-auth-%d", o.nextID)}, nil
}

func (o *fakeOverlay) DeleteAuthKey(id uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deleted = append(o.deleted, id)
	return nil
}

// RevokeAuthKey deletes the nodes that joined with key id.
func (o *fakeOverlay) RevokeAuthKey(id uint64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(o.nodes)
	o.nodes = slices.DeleteFunc(o.nodes, func(nd overlay.Node) bool { return nd.AuthKeyID == id })
	o.deleted = append(o.deleted, id)
	return n - len(o.nodes), nil
}

func (o *fakeOverlay) Nodes() []overlay.Node {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.nodes)
}

func (o *fakeOverlay) NodeByKey(nodeKey string) (overlay.Node, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, n := range o.nodes {
		if n.NodeKey == nodeKey {
			return n, nil
		}
	}
	return overlay.Node{}, overlay.ErrNotFound
}

func (o *fakeOverlay) setNodes(nodes ...overlay.Node) {
	o.mu.Lock()
	o.nodes = nodes
	o.mu.Unlock()
}

func (o *fakeOverlay) keyOptions() []overlay.KeyOptions {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.keys)
}

// env is a coordinator API over real components, without an overlay.
type env struct {
	srv      *Server
	desk     *desk.Desk
	pub      http.Handler
	local    http.Handler
	accounts *identity.Accounts
	registry *enroll.Registry
	audit    *audit.Log
	presence *Presence
	overlay  *fakeOverlay
	id       *pki.Identity
	grantKey ed25519.PublicKey
	clock    *tstest.Clock
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := envOver(t, db, dir)
	return e
}

// envOver is the coordinator's API over db (closed when the test ends),
// with its CA and grant key in dir, and the desk.Config its desk was made
// from.
func envOver(t testing.TB, db *store.Badger, dir string) (*env, desk.Config) {
	t.Helper()
	t.Cleanup(func() { db.Close() })
	c := newClock()
	accounts, err := identity.New(db, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.LoadOrCreate(filepath.Join(dir, "pki"), []string{"127.0.0.1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.LoadOrCreateSigningKey(filepath.Join(dir, "grant.key"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		accounts: accounts, registry: enroll.New(db, c.Now), audit: audit.New(db, c.Now),
		presence: NewPresence(grace, c.Now), overlay: &fakeOverlay{}, id: id,
		grantKey: key.Public().(ed25519.PublicKey), clock: c,
	}
	cfg := desk.Config{
		Accounts: e.accounts, Registry: e.registry, Audit: e.audit, Overlay: e.overlay, Presence: e.presence,
		Support: support.New(db, c.Now), Pin: id.Pin(), ControlURL: controlURL, GrantKey: key, Now: c.Now,
	}
	e.srv, e.desk = e.server(cfg)
	e.pub, e.local = e.srv.Handler(), e.srv.LocalHandler()
	return e, cfg
}

// server is a fresh desk over cfg (fresh rate limits) and the API over it.
func (e *env) server(cfg desk.Config) (*Server, *desk.Desk) {
	d := desk.New(cfg)
	return New(Config{Desk: d, Presence: e.presence, CA: e.id.CA}), d
}

// session starts an API session for a technician account without paying
// for a password hash.
func (e *env) session(t testing.TB, name string, role policy.Role) string {
	t.Helper()
	tok, _, err := newSession(e.accounts, name, role)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

// newSession starts a session for an account, creating the account first
// if it does not exist (identity keeps sessions for accounts only).
func newSession(a *identity.Accounts, name string, role policy.Role, scope ...string) (string, identity.Session, error) {
	if err := a.CreateScoped(name, "a long enough password", role, scope); err != nil && !errors.Is(err, identity.ErrExists) {
		return "", identity.Session{}, err
	}
	return a.NewSession(identity.User{Name: name, Role: role, Companies: scope})
}

// enrolled is a device enrolled through the JSON API.
type enrolled struct {
	wire.EnrollResponse
	auth    string // Authorization header value
	keyID   uint64 // the overlay key minted for it
	machine string
}

func machineID(c byte) string { return strings.Repeat(string(c), 64) }

func (e *env) token(t testing.TB) string {
	t.Helper()
	resp, err := e.desk.CreateToken(desk.Local(), enroll.TokenOptions{Note: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Token
}

func (e *env) enroll(t testing.TB, host string, machine byte) enrolled {
	t.Helper()
	w := e.do(e.pub, "POST", wire.PathEnroll, "", mustJSON(t, wire.EnrollRequest{
		Token: e.token(t), MachineID: machineID(machine), Hostname: host, OS: "linux",
	}))
	if w.Code != http.StatusOK {
		t.Fatalf("enroll: %d %s", w.Code, w.Body)
	}
	var d enrolled
	decodeJSON(t, w, &d.EnrollResponse)
	d.auth = "Device " + d.DeviceID + ":" + d.DeviceSecret
	d.keyID = uint64(len(e.overlay.keyOptions()))
	d.machine = machineID(machine)
	return d
}

func (e *env) do(h http.Handler, method, path, auth, body string) *httptest.ResponseRecorder {
	return e.doFrom(h, clientAddr, method, path, auth, body)
}

func (e *env) doFrom(h http.Handler, remote, method, path, auth, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// records returns the audit records with action (and outcome, if set).
func (e *env) records(t testing.TB, action, outcome string) []audit.Record {
	t.Helper()
	recs, err := e.audit.List(audit.Query{Action: action, Outcome: outcome, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeJSON(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("answer %q: %v", w.Body, err)
	}
}

// wantError checks a JSON wire.Error answer.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) wire.Error {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e wire.Error
	decodeJSON(t, w, &e)
	if e.Code != code || e.Message == "" {
		t.Fatalf("error = %+v, want code %q and a message", e, code)
	}
	return e
}

func TestDecodeRules(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	admin := e.session(t, "alice", policy.RoleAdmin)
	dev := e.enroll(t, "pc-1", 'a')
	tooBig := `{"note":"` + strings.Repeat("n", wire.MaxRequestBody) + `"}`

	for _, ep := range []struct {
		h      http.Handler
		path   string
		auth   string
		good   string // a body that decodes (whatever the handler then decides)
		field  string // a known field, to build bodies around
		action string // the audit action of a refusal, if any
	}{
		{e.pub, wire.PathLogin, "", `{"username":"x","password":"y"}`, "username", "technician.login"},
		{e.pub, wire.PathEnroll, "", `{"token":"pde1-x"}`, "token", "device.enroll"},
		{e.pub, wire.PathGrant, admin, `{"device_id":"dev-x"}`, "device_id", "grant.issue"},
		{e.pub, wire.PathTokens, admin, `{"note":"n"}`, "note", "enrollment-token.create"},
		{e.pub, wire.PathInventory, dev.auth, `{"hostname":"pc-1"}`, "hostname", ""},
		{e.pub, wire.PathHeartbeat, dev.auth, `{"agent_version":"1"}`, "agent_version", ""},
		{e.pub, wire.PathAgentAudit, dev.auth, `[{"action":"a"}]`, "", ""},
		{e.local, wire.LocalPathUsers, "", `{"name":"x"}`, "name", ""},
		{e.local, wire.LocalPathTokens, "", `{"note":"n"}`, "note", ""},
	} {
		for _, bc := range []struct{ name, body string }{
			{"empty", ""},
			{"not json", "hello"},
			{"unknown field", strings.Replace(ep.good, `"`+ep.field+`"`, `"no_such_field"`, 1)},
			{"trailing value", ep.good + ` {}`},
			{"trailing garbage", ep.good + `x`},
			{"two values", ep.good + ep.good},
			{"over the size limit", tooBig},
			{"truncated", ep.good[:len(ep.good)-1]},
		} {
			if ep.field == "" && bc.name == "unknown field" {
				bc.body = `[{"no_such_field":1}]`
			}
			t.Run(ep.path+"/"+bc.name, func(t *testing.T) {
				before := len(e.records(t, ep.action, audit.Denied))
				w := e.do(ep.h, "POST", ep.path, ep.auth, bc.body)
				wantError(t, w, http.StatusBadRequest, wire.CodeBadRequest)
				if ep.action != "" {
					if n := len(e.records(t, ep.action, audit.Denied)) - before; n != 1 {
						t.Errorf("%d %s refusals audited, want 1", n, ep.action)
					}
				}
			})
		}
	}
}

func TestWrongMethod(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	for _, tc := range []struct {
		h            http.Handler
		method, path string
		allow        string
	}{
		{e.pub, "GET", wire.PathLogin, "POST"},
		{e.pub, "GET", wire.PathEnroll, "POST"},
		{e.pub, "POST", wire.PathCA, "GET"},
		{e.pub, "PUT", wire.PathGrant, "POST"},
		{e.pub, "DELETE", wire.PathDevices, "GET"},
		{e.pub, "GET", wire.PathHeartbeat, "POST"},
		{e.local, "GET", wire.LocalPathUsers, "POST"},
		{e.local, "POST", wire.LocalPathAudit, "GET"},
	} {
		w := e.do(tc.h, tc.method, tc.path, "", "")
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s = %d, want 405", tc.method, tc.path, w.Code)
			continue
		}
		if allow := w.Header().Get("Allow"); !strings.Contains(allow, tc.allow) {
			t.Errorf("%s %s: Allow = %q, want %s", tc.method, tc.path, allow, tc.allow)
		}
	}
	// The local API is not reachable through the public handler.
	if w := e.do(e.pub, "POST", wire.LocalPathUsers, "", `{"name":"eve","password":"0123456789","role":"admin"}`); w.Code != http.StatusNotFound {
		t.Errorf("POST %s on the public API = %d, want 404", wire.LocalPathUsers, w.Code)
	}
}

func TestCA(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	w := e.do(e.pub, "GET", wire.PathCA, "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s = %d", wire.PathCA, w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/x-pem-file" {
		t.Errorf("Content-Type = %q", ct)
	}
	if diff := cmp.Diff(string(trust.EncodeCA(e.id.CA)), w.Body.String()); diff != "" {
		t.Fatalf("CA PEM (-want +got):\n%s", diff)
	}
	ca, err := trust.ParseCA(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if trust.Pin(ca) != e.id.Pin() {
		t.Fatal("served CA does not match the pin")
	}
}

func TestTechnicianAuth(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	good := e.session(t, "bob", policy.RoleTechnician)
	loggedOut := e.session(t, "carol", policy.RoleTechnician)
	if w := e.do(e.pub, "POST", "/v1/logout", loggedOut, ""); w.Code != http.StatusNoContent {
		t.Fatalf("logout = %d %s", w.Code, w.Body)
	}
	if n := len(e.records(t, "technician.logout", audit.OK)); n != 1 {
		t.Fatalf("%d logouts audited, want 1", n)
	}
	for _, auth := range []string{
		"",
		"Bearer",
		"Bearer ",
		"Bearer " + strings.Repeat("0", 64),
		"Bearer short",
		"Bearer " + strings.Repeat("a", 300),
		"Basic " + strings.TrimPrefix(good, "Bearer "),
		"Device " + strings.TrimPrefix(good, "Bearer "),
		loggedOut,
	} {
		for _, ep := range []struct{ method, path, body string }{
			{"GET", wire.PathDevices, ""},
			{"POST", wire.PathGrant, `{"device_id":"d","node_key":"nodekey:00","capabilities":["sysinfo"]}`},
			{"POST", wire.PathTokens, `{}`},
			{"POST", "/v1/logout", ""},
		} {
			w := e.do(e.pub, ep.method, ep.path, auth, ep.body)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with %q = %d, want 401", ep.method, ep.path, auth, w.Code)
				continue
			}
			wantError(t, w, http.StatusUnauthorized, wire.CodeUnauthorized)
		}
	}
	// The good session works, until it expires.
	if w := e.do(e.pub, "GET", wire.PathDevices, good, ""); w.Code != http.StatusOK {
		t.Fatalf("GET %s with a session = %d %s", wire.PathDevices, w.Code, w.Body)
	}
	e.clock.Advance(13 * time.Hour)
	wantError(t, e.do(e.pub, "GET", wire.PathDevices, good, ""), http.StatusUnauthorized, wire.CodeUnauthorized)
}

func TestDeviceAuth(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	dev := e.enroll(t, "pc-1", 'a')
	other := e.enroll(t, "pc-2", 'b')
	bodies := map[string]string{
		wire.PathInventory:  `{"hostname":"pc-1"}`,
		wire.PathHeartbeat:  `{"agent_version":"1"}`,
		wire.PathAgentAudit: `[]`,
	}
	for _, tc := range []struct {
		name    string
		auth    string
		audited string // the audited actor, if the refusal is audited
	}{
		{"no credentials", "", ""},
		{"no secret", "Device " + dev.DeviceID, ""},
		{"bearer scheme", "Bearer " + dev.DeviceID + ":" + dev.DeviceSecret, ""},
		{"wrong secret", "Device " + dev.DeviceID + ":" + strings.Repeat("0", 64), "device:" + dev.DeviceID},
		{"another device's secret", "Device " + dev.DeviceID + ":" + other.DeviceSecret, "device:" + dev.DeviceID},
		{"unknown device", "Device dev-ffffffffffffffff:" + dev.DeviceSecret, "device:dev-ffffffffffffffff"},
		{"empty secret", "Device " + dev.DeviceID + ":", "device:" + dev.DeviceID},
	} {
		for path, body := range bodies {
			t.Run(tc.name+path, func(t *testing.T) {
				before := e.records(t, "device.authenticate", "")
				wantError(t, e.do(e.pub, "POST", path, tc.auth, body), http.StatusUnauthorized, wire.CodeUnauthorized)
				after := e.records(t, "device.authenticate", "")
				if tc.audited == "" {
					if len(after) != len(before) {
						t.Fatalf("a call without credentials was audited: %+v", after[len(before):])
					}
					return
				}
				if len(after) != len(before)+1 {
					t.Fatalf("%d new device.authenticate records, want 1", len(after)-len(before))
				}
				r := after[len(after)-1]
				if r.Outcome != audit.Denied || r.Actor != tc.audited || r.Fields["ip"] != "192.0.2.1" {
					t.Fatalf("audit record = %+v", r)
				}
			})
		}
	}
	// The right credentials pass.
	for path, body := range bodies {
		if w := e.do(e.pub, "POST", path, dev.auth, body); w.Code != http.StatusNoContent {
			t.Errorf("POST %s with the device's credentials = %d %s", path, w.Code, w.Body)
		}
	}
}

func TestEnroll(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	tok := e.token(t)
	parsed, err := wire.ParseEnrollToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Pin != e.id.Pin() {
		t.Fatalf("token pin = %s, want the CA pin %s", parsed.Pin, e.id.Pin())
	}
	w := e.do(e.pub, "POST", wire.PathEnroll, "", mustJSON(t, wire.EnrollRequest{
		Token: tok, MachineID: machineID('a'), Hostname: "pc-1", OS: "linux",
	}))
	if w.Code != http.StatusOK {
		t.Fatalf("enroll = %d %s", w.Code, w.Body)
	}
	var resp wire.EnrollResponse
	decodeJSON(t, w, &resp)
	if !strings.HasPrefix(resp.DeviceID, "dev-") || len(resp.DeviceSecret) != 64 {
		t.Errorf("device id %q, secret %q", resp.DeviceID, resp.DeviceSecret)
	}
	if resp.AuthKey != "hskey-auth-1" || resp.ControlURL != controlURL {
		t.Errorf("auth key %q, control URL %q", resp.AuthKey, resp.ControlURL)
	}
	if len(resp.GrantKey) != ed25519.PublicKeySize || !e.grantKey.Equal(ed25519.PublicKey(resp.GrantKey)) {
		t.Errorf("grant key = %x, want the signing key's public half %x", resp.GrantKey, []byte(e.grantKey))
	}
	if diff := cmp.Diff([]overlay.KeyOptions{{Tags: []string{wire.TagAgent}, TTL: desk.AgentKeyTTL}}, e.overlay.keyOptions()); diff != "" {
		t.Errorf("overlay keys (-want +got):\n%s", diff)
	}
	dev, err := e.registry.Device(resp.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if dev.NodeKeyID != 1 || dev.Hostname != "pc-1" || dev.MachineID != machineID('a') {
		t.Errorf("stored device = %+v", dev)
	}
	recs := e.records(t, "device.enroll", audit.OK)
	if len(recs) != 1 || recs[0].Target != resp.DeviceID || recs[0].Fields["token"] != parsed.ID {
		t.Errorf("enrollment audit = %+v", recs)
	}
	// The secret works on device calls.
	auth := "Device " + resp.DeviceID + ":" + resp.DeviceSecret
	if w := e.do(e.pub, "POST", wire.PathHeartbeat, auth, `{}`); w.Code != http.StatusNoContent {
		t.Fatalf("heartbeat with the new credentials = %d %s", w.Code, w.Body)
	}

	expiring, err := e.desk.CreateToken(desk.Local(), enroll.TokenOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	fresh := e.token(t)
	wrongSecret := parsed
	wrongSecret.Secret = strings.Repeat("0", 40)
	for _, tc := range []struct {
		name   string
		req    wire.EnrollRequest
		status int
		code   string
	}{
		{"token used", wire.EnrollRequest{Token: tok, MachineID: machineID('b'), Hostname: "pc-2"}, 401, wire.CodeUnauthorized},
		{"wrong secret", wire.EnrollRequest{Token: wrongSecret.String(), MachineID: machineID('b'), Hostname: "pc-2"}, 401, wire.CodeUnauthorized},
		{"unknown token", wire.EnrollRequest{Token: "pde1-0000ffff-" + strings.Repeat("a", 40) + "-" + parsed.Pin, MachineID: machineID('b'), Hostname: "pc-2"}, 401, wire.CodeUnauthorized},
		{"token expired", wire.EnrollRequest{Token: expiring.Token, MachineID: machineID('b'), Hostname: "pc-2"}, 410, wire.CodeExpired},
		{"malformed token", wire.EnrollRequest{Token: "pde1-nope", MachineID: machineID('b'), Hostname: "pc-2"}, 400, wire.CodeBadRequest},
		{"machine already enrolled", wire.EnrollRequest{Token: fresh, MachineID: machineID('a'), Hostname: "pc-1"}, 409, wire.CodeConflict},
		{"bad machine id", wire.EnrollRequest{Token: fresh, MachineID: "abc", Hostname: "pc-2"}, 400, wire.CodeBadRequest},
		{"bad host name", wire.EnrollRequest{Token: fresh, MachineID: machineID('b'), Hostname: "../etc"}, 400, wire.CodeBadRequest},
		{"long OS name", wire.EnrollRequest{Token: fresh, MachineID: machineID('b'), Hostname: "pc-2", OS: strings.Repeat("o", 65)}, 400, wire.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.records(t, "device.enroll", audit.Denied))
			wantError(t, e.do(e.pub, "POST", wire.PathEnroll, "", mustJSON(t, tc.req)), tc.status, tc.code)
			if n := len(e.records(t, "device.enroll", audit.Denied)) - before; n != 1 {
				t.Errorf("%d refusals audited, want 1", n)
			}
		})
	}
	// The refusals above spent nothing: the fresh token still enrolls.
	w = e.do(e.pub, "POST", wire.PathEnroll, "", mustJSON(t, wire.EnrollRequest{Token: fresh, MachineID: machineID('b'), Hostname: "pc-2"}))
	if w.Code != http.StatusOK {
		t.Fatalf("enroll with the fresh token = %d %s", w.Code, w.Body)
	}

	// An overlay that cannot mint keys makes enrollment fail without
	// spending the token.
	e.overlay.fail = errors.New("headscale down")
	again := e.token(t)
	wantError(t, e.do(e.pub, "POST", wire.PathEnroll, "", mustJSON(t, wire.EnrollRequest{Token: again, MachineID: machineID('c'), Hostname: "pc-3"})),
		http.StatusInternalServerError, wire.CodeInternal)
	e.overlay.fail = nil
	if w := e.do(e.pub, "POST", wire.PathEnroll, "", mustJSON(t, wire.EnrollRequest{Token: again, MachineID: machineID('c'), Hostname: "pc-3"})); w.Code != http.StatusOK {
		t.Fatalf("enroll after the overlay recovered = %d %s", w.Code, w.Body)
	}
}

func TestEnrollRateLimit(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	body := `{"token":"pde1-bad"}`
	limited := 0
	for range 61 {
		if w := e.do(e.pub, "POST", wire.PathEnroll, "", body); w.Code == http.StatusTooManyRequests {
			limited++
			wantError(t, w, http.StatusTooManyRequests, wire.CodeRateLimited)
		}
	}
	if limited != 1 {
		t.Fatalf("%d of 61 attempts in one instant were rate limited, want 1 (burst 60)", limited)
	}
	// Another address is not affected; the first recovers with time.
	if w := e.doFrom(e.pub, "192.0.2.2:1", "POST", wire.PathEnroll, "", body); w.Code != http.StatusBadRequest {
		t.Fatalf("another address = %d, want 400", w.Code)
	}
	e.clock.Advance(time.Second)
	if w := e.do(e.pub, "POST", wire.PathEnroll, "", body); w.Code != http.StatusBadRequest {
		t.Fatalf("after a second = %d, want 400", w.Code)
	}
}

func TestCreateTokenRoles(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	tech := e.session(t, "bob", policy.RoleTechnician)
	admin := e.session(t, "alice", policy.RoleAdmin)

	wantError(t, e.do(e.pub, "POST", wire.PathTokens, tech, `{}`), http.StatusForbidden, wire.CodeForbidden)
	denied := e.records(t, "enrollment-token.create", audit.Denied)
	if len(denied) != 1 || denied[0].Actor != "bob" {
		t.Fatalf("technician's attempt audited as %+v", denied)
	}
	if toks, err := e.registry.Tokens(); err != nil || len(toks) != 0 {
		t.Fatalf("a refused request created tokens: %+v, %v", toks, err)
	}

	for _, tc := range []struct {
		body string
		ttl  time.Duration
	}{
		{`{}`, policy.DefaultEnrollTokenTTL},
		{`{"ttl":"1h","note":"front desk"}`, time.Hour},
	} {
		w := e.do(e.pub, "POST", wire.PathTokens, admin, tc.body)
		if w.Code != http.StatusOK {
			t.Fatalf("admin %s = %d %s", tc.body, w.Code, w.Body)
		}
		var resp wire.TokenResponse
		decodeJSON(t, w, &resp)
		tok, err := wire.ParseEnrollToken(resp.Token)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Pin != e.id.Pin() || !resp.Expires.Equal(t0.Add(tc.ttl)) {
			t.Errorf("%s: token %+v expiring %v", tc.body, tok, resp.Expires)
		}
	}
	if ok := e.records(t, "enrollment-token.create", audit.OK); len(ok) != 2 || ok[0].Actor != "alice" {
		t.Fatalf("admin's tokens audited as %+v", ok)
	}
	for _, body := range []string{`{"ttl":"1s"}`, `{"ttl":"8760h"}`, `{"ttl":"soon"}`} {
		wantError(t, e.do(e.pub, "POST", wire.PathTokens, admin, body), http.StatusBadRequest, wire.CodeBadRequest)
	}
}

func TestGrant(t *testing.T) {
	leak.Check(t)
	const (
		techKey   = "nodekey:" + "a1"
		agentKey  = "nodekey:" + "b2"
		carolKey  = "nodekey:" + "c3"
		orphanKey = "nodekey:" + "d4"
		bobKeyID  = 100
	)
	e := newEnv(t)
	dev := e.enroll(t, "pc-1", 'a')
	bob := e.session(t, "bob", policy.RoleTechnician)
	for id, user := range map[uint64]string{bobKeyID: "bob", 101: "carol"} {
		if err := e.accounts.RecordOverlayKey(id, user); err != nil {
			t.Fatal(err)
		}
	}
	techNode := overlay.Node{ID: 1, Name: "viewer-bob", NodeKey: techKey, Tags: []string{wire.TagTech}, AuthKeyID: bobKeyID,
		IPv4: netip.MustParseAddr("100.64.0.2")}
	agentNode := overlay.Node{ID: 2, Name: "pc-1", NodeKey: agentKey, Tags: []string{wire.TagAgent}, AuthKeyID: dev.keyID,
		IPv4: netip.MustParseAddr("100.64.0.7")}
	untagged := overlay.Node{ID: 3, NodeKey: "nodekey:e5", Tags: []string{wire.TagAgent}, AuthKeyID: bobKeyID}
	carols := overlay.Node{ID: 4, NodeKey: carolKey, Tags: []string{wire.TagTech}, AuthKeyID: 101}
	orphan := overlay.Node{ID: 5, NodeKey: orphanKey, Tags: []string{wire.TagTech}, AuthKeyID: 102}
	noAddr := agentNode
	noAddr.IPv4 = netip.Addr{}
	joined := []overlay.Node{techNode, agentNode, untagged, carols, orphan}

	req := func(f func(*wire.GrantRequest)) string {
		r := wire.GrantRequest{DeviceID: dev.DeviceID, NodeKey: techKey, Capabilities: []wire.Capability{wire.CapSysInfo}}
		if f != nil {
			f(&r)
		}
		return mustJSON(t, r)
	}
	for _, tc := range []struct {
		name   string
		nodes  []overlay.Node
		auth   string
		body   string
		status int
		code   string
	}{
		{"unknown device", joined, bob, req(func(r *wire.GrantRequest) { r.DeviceID = "dev-ffffffffffffffff" }), 404, wire.CodeNotFound},
		{"node key not on the overlay", joined, bob, req(func(r *wire.GrantRequest) { r.NodeKey = "nodekey:ff" }), 403, wire.CodeForbidden},
		{"node not tagged technician", joined, bob, req(func(r *wire.GrantRequest) { r.NodeKey = untagged.NodeKey }), 403, wire.CodeForbidden},
		{"another technician's node", joined, bob, req(func(r *wire.GrantRequest) { r.NodeKey = carolKey }), 403, wire.CodeForbidden},
		{"node key minted for nobody", joined, bob, req(func(r *wire.GrantRequest) { r.NodeKey = orphanKey }), 403, wire.CodeForbidden},
		{"the agent's own node", joined, bob, req(func(r *wire.GrantRequest) { r.NodeKey = agentKey }), 403, wire.CodeForbidden},
		{"no capability", joined, bob, req(func(r *wire.GrantRequest) { r.Capabilities = nil }), 403, wire.CodeForbidden},
		{"unknown capability", joined, bob, req(func(r *wire.GrantRequest) { r.Capabilities = []wire.Capability{"root"} }), 403, wire.CodeForbidden},
		{"device not joined", []overlay.Node{techNode}, bob, req(nil), 409, wire.CodeConflict},
		{"device without an address", []overlay.Node{techNode, noAddr}, bob, req(nil), 409, wire.CodeConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.overlay.setNodes(tc.nodes...)
			before := len(e.records(t, "grant.issue", audit.Denied))
			wantError(t, e.do(e.pub, "POST", wire.PathGrant, tc.auth, tc.body), tc.status, tc.code)
			if n := len(e.records(t, "grant.issue", audit.Denied)) - before; n != 1 {
				t.Errorf("%d refusals audited, want 1", n)
			}
		})
	}
	if n := len(e.records(t, "grant.issue", audit.OK)); n != 0 {
		t.Fatalf("%d grants issued by refused requests", n)
	}

	e.overlay.setNodes(joined...)
	e.clock.Advance(time.Minute)
	now := e.clock.Now()
	w := e.do(e.pub, "POST", wire.PathGrant, bob, req(func(r *wire.GrantRequest) {
		r.Capabilities = []wire.Capability{wire.CapSysInfo, wire.CapSysInfo}
	}))
	if w.Code != http.StatusOK {
		t.Fatalf("grant = %d %s", w.Code, w.Body)
	}
	var resp wire.GrantResponse
	decodeJSON(t, w, &resp)
	g, err := grant.Verify(e.grantKey, resp.Grant, now)
	if err != nil {
		t.Fatal(err)
	}
	want := grant.Grant{ID: g.ID, Technician: "bob", NodeKey: techKey, Device: dev.DeviceID,
		Capabilities: []wire.Capability{wire.CapSysInfo}, IssuedAt: now.Unix(), Expires: now.Add(policy.GrantLifetime).Unix()}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("grant (-want +got):\n%s", diff)
	}
	if err := g.Check(dev.DeviceID, techKey, wire.CapSysInfo); err != nil {
		t.Error(err)
	}
	if resp.OverlayIP != "100.64.0.7" || !resp.Expires.Equal(now.Add(policy.GrantLifetime)) {
		t.Errorf("response = %+v", resp)
	}
	ok := e.records(t, "grant.issue", audit.OK)
	if len(ok) != 1 || ok[0].Actor != "bob" || ok[0].Target != dev.DeviceID || ok[0].Fields["grant"] != g.ID || ok[0].Fields["node"] != techKey {
		t.Fatalf("issued grant audited as %+v", ok)
	}
	// Another key did not sign it.
	other, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grant.Verify(other, resp.Grant, now); !errors.Is(err, grant.ErrSignature) {
		t.Fatalf("Verify with another key = %v", err)
	}
}

func TestPresenceAndDevices(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	dev := e.enroll(t, "pc-1", 'a')
	tech := e.session(t, "bob", policy.RoleTechnician)
	e.overlay.setNodes(overlay.Node{ID: 1, NodeKey: "nodekey:01", Tags: []string{wire.TagAgent}, AuthKeyID: dev.keyID,
		IPv4: netip.MustParseAddr("100.64.0.7")})

	devices := func() []wire.Device {
		t.Helper()
		w := e.do(e.pub, "GET", wire.PathDevices, tech, "")
		if w.Code != http.StatusOK {
			t.Fatalf("devices = %d %s", w.Code, w.Body)
		}
		var out []wire.Device
		decodeJSON(t, w, &out)
		return out
	}
	want := []wire.Device{{ID: dev.DeviceID, Hostname: "pc-1", OS: "linux", Enrolled: t0, OverlayIP: "100.64.0.7"}}
	if diff := cmp.Diff(want, devices()); diff != "" {
		t.Fatalf("before any heartbeat (-want +got):\n%s", diff)
	}
	if _, online := e.presence.LastSeen(dev.DeviceID); online {
		t.Fatal("online before any heartbeat")
	}

	e.clock.Advance(10 * time.Second)
	seen := e.clock.Now()
	if w := e.do(e.pub, "POST", wire.PathHeartbeat, dev.auth, `{"agent_version":"1.0","uptime":"1h","sent":"2026-11-21T12:00:10Z"}`); w.Code != http.StatusNoContent {
		t.Fatalf("heartbeat = %d %s", w.Code, w.Body)
	}
	if last, online := e.presence.LastSeen(dev.DeviceID); !online || !last.Equal(seen) {
		t.Fatalf("after a heartbeat: last seen %v, online %v", last, online)
	}
	want[0].LastSeen, want[0].Online = seen, true
	if diff := cmp.Diff(want, devices()); diff != "" {
		t.Fatalf("after a heartbeat (-want +got):\n%s", diff)
	}

	e.clock.Advance(grace)
	if _, online := e.presence.LastSeen(dev.DeviceID); !online {
		t.Fatal("offline exactly at the grace period")
	}
	e.clock.Advance(time.Second)
	if _, online := e.presence.LastSeen(dev.DeviceID); online {
		t.Fatal("still online past the grace period")
	}
	want[0].Online = false
	if diff := cmp.Diff(want, devices()); diff != "" {
		t.Fatalf("past the grace period (-want +got):\n%s", diff)
	}

	// An inventory report is stored, shown, and counts as a sign of life.
	inv := wire.Inventory{Hostname: "pc-1", OS: "linux", CPUCores: 4, RAMBytes: 8 << 30,
		Disks: []wire.Disk{{Mount: "/", FSType: "ext4", TotalBytes: 100, FreeBytes: 50}}}
	if w := e.do(e.pub, "POST", wire.PathInventory, dev.auth, mustJSON(t, inv)); w.Code != http.StatusNoContent {
		t.Fatalf("inventory = %d %s", w.Code, w.Body)
	}
	stored := inv
	stored.ExternalIP = "192.0.2.1" // from the connection (clientAddr), not the agent
	want[0].Inventory, want[0].Online, want[0].LastSeen = &stored, true, e.clock.Now()
	if diff := cmp.Diff(want, devices()); diff != "" {
		t.Fatalf("after an inventory report (-want +got):\n%s", diff)
	}
	inv.Disks = make([]wire.Disk, 65)
	wantError(t, e.do(e.pub, "POST", wire.PathInventory, dev.auth, mustJSON(t, inv)), http.StatusBadRequest, wire.CodeBadRequest)

	e.presence.Forget(dev.DeviceID)
	if last, online := e.presence.LastSeen(dev.DeviceID); online || !last.IsZero() {
		t.Fatalf("after Forget: %v, %v", last, online)
	}
}

func TestAgentAudit(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	dev := e.enroll(t, "pc-1", 'a')
	batch := func(n int) string {
		evs := make([]wire.AuditEvent, n)
		for i := range evs {
			evs[i] = wire.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Actor: "bob", Action: "peer.sysinfo",
				Target: dev.DeviceID, Outcome: "ok", Fields: map[string]string{"n": fmt.Sprint(i)}}
		}
		return mustJSON(t, evs)
	}
	wantError(t, e.do(e.pub, "POST", wire.PathAgentAudit, dev.auth, batch(desk.MaxAgentAudit+1)), http.StatusBadRequest, wire.CodeBadRequest)
	if n := len(e.records(t, "peer.sysinfo", "")); n != 0 {
		t.Fatalf("a refused batch stored %d records", n)
	}
	if w := e.do(e.pub, "POST", wire.PathAgentAudit, dev.auth, batch(desk.MaxAgentAudit)); w.Code != http.StatusNoContent {
		t.Fatalf("batch of %d = %d %s", desk.MaxAgentAudit, w.Code, w.Body)
	}
	recs := e.records(t, "peer.sysinfo", "")
	if len(recs) != desk.MaxAgentAudit {
		t.Fatalf("%d records stored, want %d", len(recs), desk.MaxAgentAudit)
	}
	// The coordinator stamps its own receipt time and the device as the
	// actor; the agent's claims are kept as fields (L3).
	for i, r := range recs {
		claimed := t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		if r.Source != "agent:"+dev.DeviceID || r.Fields["n"] != fmt.Sprint(i) || !r.Time.Equal(e.clock.Now()) ||
			r.Actor != "device:"+dev.DeviceID || r.Fields["claimed_actor"] != "bob" || r.Fields["claimed_time"] != claimed {
			t.Fatalf("record %d = %+v", i, r)
		}
	}
	if n, err := e.audit.Verify(); err != nil {
		t.Fatalf("audit chain after agent records: %d, %v", n, err)
	}
}

// A record whose time cannot be written as RFC 3339 once in UTC (a year
// past 9999) is refused instead of breaking the audit trail.
func TestAgentAuditTimeOutOfRange(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	dev := e.enroll(t, "pc-1", 'a')
	for _, ts := range []string{"9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+01:00"} {
		body := `[{"time":"` + ts + `","actor":"bob","action":"peer.sysinfo","outcome":"ok"}]`
		wantError(t, e.do(e.pub, "POST", wire.PathAgentAudit, dev.auth, body), http.StatusBadRequest, wire.CodeBadRequest)
	}
	if n, err := e.audit.Verify(); err != nil {
		t.Fatalf("audit chain: %d, %v", n, err)
	}
}

func TestLocalAPI(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	user := func(name, password, role string) *httptest.ResponseRecorder {
		return e.do(e.local, "POST", wire.LocalPathUsers, "", mustJSON(t, wire.LocalUserRequest{Name: name, Password: password, Role: role}))
	}
	if w := user("alice", "correct horse battery", "admin"); w.Code != http.StatusCreated {
		t.Fatalf("add user = %d %s", w.Code, w.Body)
	}
	wantError(t, user("alice", "another long password", "technician"), http.StatusConflict, wire.CodeConflict)
	wantError(t, user("bob", "short", "technician"), http.StatusBadRequest, wire.CodeBadRequest)
	wantError(t, user("bob", "long enough password", "root"), http.StatusBadRequest, wire.CodeBadRequest)
	wantError(t, user("bob smith", "long enough password", "technician"), http.StatusBadRequest, wire.CodeBadRequest)

	u, err := e.accounts.Get("alice")
	if err != nil || u.Role != policy.RoleAdmin {
		t.Fatalf("stored user = %+v, %v", u, err)
	}

	w := e.do(e.local, "POST", wire.LocalPathTokens, "", `{"ttl":"2h"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("local token = %d %s", w.Code, w.Body)
	}
	var tok wire.TokenResponse
	decodeJSON(t, w, &tok)
	if _, err := wire.ParseEnrollToken(tok.Token); err != nil || !tok.Expires.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("local token %+v: %v", tok, err)
	}
	e.enroll(t, "pc-1", 'a')

	w = e.do(e.local, "GET", wire.LocalPathStatus, "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d %s", w.Code, w.Body)
	}
	var st wire.LocalStatus
	decodeJSON(t, w, &st)
	if diff := cmp.Diff(wire.LocalStatus{URL: controlURL, Pin: e.id.Pin(), Users: 1, Devices: 1}, st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}

	list := func(query string) []audit.Record {
		t.Helper()
		w := e.do(e.local, "GET", wire.LocalPathAudit+query, "", "")
		if w.Code != http.StatusOK {
			t.Fatalf("audit%s = %d %s", query, w.Code, w.Body)
		}
		var out []audit.Record
		decodeJSON(t, w, &out)
		return out
	}
	type row struct{ Action, Target, Outcome, Reason string }
	rows := func(recs []audit.Record) []row {
		var out []row
		for _, r := range recs {
			out = append(out, row{r.Action, r.Target, r.Outcome, r.Reason})
		}
		return out
	}
	if diff := cmp.Diff([]row{
		{"account.create", "alice", "ok", ""},
		{"account.create", "alice", "denied", "exists"},
	}, rows(list("?action=account.create&limit=2"))); diff != "" {
		t.Errorf("?action&limit (-want +got):\n%s", diff)
	}
	denied := list("?action=account.create&outcome=denied")
	if len(denied) != 4 {
		t.Errorf("denied account.create = %d records, want 4: %+v", len(denied), rows(denied))
	}
	all := list("")
	if len(all) < 7 {
		t.Fatalf("unfiltered audit = %d records", len(all))
	}
	after := list(fmt.Sprintf("?after=%d", all[len(all)-2].Seq))
	if len(after) != 1 || after[0].Seq != all[len(all)-1].Seq {
		t.Errorf("?after = %+v", after)
	}
	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=abc", "?limit=10001", "?after=x", "?after=-1"} {
		wantError(t, e.do(e.local, "GET", wire.LocalPathAudit+q, "", ""), http.StatusBadRequest, wire.CodeBadRequest)
	}
}

func TestLogin(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	if err := e.accounts.Create("bob", "correct horse battery", policy.RoleTechnician); err != nil {
		t.Fatal(err)
	}
	w := e.do(e.pub, "POST", wire.PathLogin, "", `{"username":"bob","password":"correct horse battery"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("login = %d %s", w.Code, w.Body)
	}
	var resp wire.LoginResponse
	decodeJSON(t, w, &resp)
	if resp.Username != "bob" || resp.Role != "technician" || resp.ControlURL != controlURL ||
		resp.AuthKey != "hskey-auth-1" || !resp.Expires.After(t0) {
		t.Errorf("login response = %+v", resp)
	}
	if diff := cmp.Diff([]overlay.KeyOptions{{Tags: []string{wire.TagTech}, Ephemeral: true, TTL: desk.TechKeyTTL}}, e.overlay.keyOptions()); diff != "" {
		t.Errorf("overlay keys (-want +got):\n%s", diff)
	}
	if owner, err := e.accounts.OverlayKeyOwner(1); err != nil || owner != "bob" {
		t.Errorf("overlay key 1 belongs to %q, %v", owner, err)
	}
	if w := e.do(e.pub, "GET", wire.PathDevices, "Bearer "+resp.Session, ""); w.Code != http.StatusOK {
		t.Errorf("the new session = %d", w.Code)
	}
	if ok := e.records(t, "technician.login", audit.OK); len(ok) != 1 || ok[0].Actor != "bob" {
		t.Errorf("login audited as %+v", ok)
	}

	// Names too long to exist are refused without a password hash, so the
	// rate limit can be reached cheaply: a burst of 5 attempts per address
	// (the successful login was the first), then 429.
	long := strings.Repeat("x", wire.MaxNameLen+1)
	for i := range 4 {
		wantError(t, e.do(e.pub, "POST", wire.PathLogin, "", `{"username":"`+long+`","password":"p"}`), http.StatusUnauthorized, wire.CodeUnauthorized)
		if i == 0 {
			if d := e.records(t, "technician.login", audit.Denied); len(d) != 1 || len(d[0].Actor) != wire.MaxNameLen {
				t.Errorf("failed login audited as %+v", d)
			}
		}
	}
	wantError(t, e.do(e.pub, "POST", wire.PathLogin, "", `{"username":"bob","password":"correct horse battery"}`), http.StatusTooManyRequests, wire.CodeRateLimited)
}

func TestCompanyScope(t *testing.T) {
	leak.Check(t)
	const techKey = "nodekey:a1"
	e := newEnv(t)
	acme, globex, unfiled := e.enroll(t, "pc-acme", 'a'), e.enroll(t, "pc-globex", 'b'), e.enroll(t, "pc-none", 'c')
	for _, d := range []struct {
		enrolled
		company string
	}{{acme, "acme"}, {globex, "globex"}, {unfiled, ""}} {
		// An admin files the machine (M6); its report's company is ignored.
		if _, err := e.registry.Move(d.DeviceID, d.company, "main"); err != nil {
			t.Fatal(err)
		}
		inv := wire.Inventory{Hostname: "x", Metadata: wire.Metadata{Company: "globex", Site: "main"}}
		if w := e.do(e.pub, "POST", wire.PathInventory, d.auth, mustJSON(t, inv)); w.Code != http.StatusNoContent {
			t.Fatalf("inventory = %d %s", w.Code, w.Body)
		}
	}
	bad := wire.Inventory{Metadata: wire.Metadata{Company: strings.Repeat("x", wire.MaxMetadataField+1)}}
	wantError(t, e.do(e.pub, "POST", wire.PathInventory, acme.auth, mustJSON(t, bad)), http.StatusBadRequest, wire.CodeBadRequest)
	bad = wire.Inventory{Metadata: wire.Metadata{Site: "a\nb"}}
	wantError(t, e.do(e.pub, "POST", wire.PathInventory, acme.auth, mustJSON(t, bad)), http.StatusBadRequest, wire.CodeBadRequest)

	session := func(name string, role policy.Role, scope ...string) string {
		tok, _, err := newSession(e.accounts, name, role, scope...)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	listed := func(auth string) []string {
		w := e.do(e.pub, "GET", wire.PathDevices, auth, "")
		if w.Code != http.StatusOK {
			t.Fatalf("devices = %d %s", w.Code, w.Body)
		}
		var out []wire.Device
		decodeJSON(t, w, &out)
		var hosts []string
		for _, d := range out {
			hosts = append(hosts, d.Hostname)
		}
		slices.Sort(hosts)
		return hosts
	}
	for _, c := range []struct {
		name string
		auth string
		want []string
	}{
		{"admin scoped to acme still sees all", session("ann", policy.RoleAdmin, "acme"), []string{"pc-acme", "pc-globex", "pc-none"}},
		{"unrestricted technician", session("tom", policy.RoleTechnician), []string{"pc-acme", "pc-globex", "pc-none"}},
		{"acme technician", session("bob", policy.RoleTechnician, "acme"), []string{"pc-acme"}},
		{"globex viewer", session("vic", policy.RoleViewer, "globex"), []string{"pc-globex"}},
	} {
		if got := listed(c.auth); !slices.Equal(got, c.want) {
			t.Errorf("%s: sees %v, want %v", c.name, got, c.want)
		}
	}

	// Grants follow the same scope, and roles bound the capabilities.
	bob := session("bob", policy.RoleTechnician, "acme")
	if err := e.accounts.RecordOverlayKey(100, "bob"); err != nil {
		t.Fatal(err)
	}
	nodes := []overlay.Node{{ID: 1, NodeKey: techKey, Tags: []string{wire.TagTech}, AuthKeyID: 100, IPv4: netip.MustParseAddr("100.64.0.2")}}
	for i, d := range []enrolled{acme, globex, unfiled} {
		nodes = append(nodes, overlay.Node{ID: uint64(i + 2), NodeKey: fmt.Sprintf("nodekey:b%d", i), Tags: []string{wire.TagAgent},
			AuthKeyID: d.keyID, IPv4: netip.AddrFrom4([4]byte{100, 64, 0, byte(10 + i)})})
	}
	e.overlay.setNodes(nodes...)
	grantFor := func(d enrolled, caps ...wire.Capability) *httptest.ResponseRecorder {
		return e.do(e.pub, "POST", wire.PathGrant, bob, mustJSON(t, wire.GrantRequest{DeviceID: d.DeviceID, NodeKey: techKey, Capabilities: caps}))
	}
	if w := grantFor(acme, wire.CapScreen, wire.CapWake); w.Code != http.StatusOK {
		t.Fatalf("grant in scope = %d %s", w.Code, w.Body)
	}
	wantError(t, grantFor(globex, wire.CapScreen), http.StatusNotFound, wire.CodeNotFound)
	wantError(t, grantFor(unfiled, wire.CapScreen), http.StatusNotFound, wire.CodeNotFound)
	wantError(t, grantFor(acme, wire.CapPower), http.StatusForbidden, wire.CodeForbidden) // technicians do not power-cycle
	if n := len(e.records(t, "grant.issue", audit.Denied)); n != 3 {
		t.Errorf("%d refusals audited, want 3", n)
	}
}
