package gate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

const (
	device     = "dev-0001"
	techAddr   = "100.64.0.2:41000"
	agentAddr  = "100.64.0.3:41000"
	strayAddr  = "100.64.0.9:41000"
	techKey    = "nodekey:" + "aa"
	otherKey   = "nodekey:" + "bb"
	technician = "alice"
)

// identifier answers WhoIs from a fixed table; unknown addresses are not
// peers.
type identifier map[string]node.Identity

func (m identifier) WhoIs(_ context.Context, remoteAddr string) (node.Identity, error) {
	id, ok := m[remoteAddr]
	if !ok {
		return node.Identity{}, node.ErrNotPeer
	}
	return id, nil
}

var peers = identifier{
	techAddr: {NodeKey: techKey, NodeID: "n1", Name: "viewer-alice", Tags: []string{wire.TagTech},
		User: "tagged-devices", Addr: netip.MustParseAddr("100.64.0.2")},
	agentAddr: {NodeKey: otherKey, NodeID: "n2", Name: "pc-7", Tags: []string{wire.TagAgent},
		User: "tagged-devices", Addr: netip.MustParseAddr("100.64.0.3")},
}

// recorder keeps audit events; while fail is set it refuses them.
type recorder struct {
	mu   sync.Mutex
	evs  []wire.AuditEvent
	fail error
}

func (r *recorder) Record(ev wire.AuditEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.evs = append(r.evs, ev)
	return nil
}

// capability is a handler that remembers who it served.
type capability struct {
	c      wire.Capability
	called []Caller
}

func (h *capability) Capability() wire.Capability { return h.c }

func (h *capability) ServePeer(w http.ResponseWriter, _ *http.Request, c Caller) {
	h.called = append(h.called, c)
	w.WriteHeader(http.StatusTeapot) // distinctive, so the test knows it was reached
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func sign(t *testing.T, key ed25519.PrivateKey, g grant.Grant) string {
	t.Helper()
	s, err := grant.Sign(key, g)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validGrant() grant.Grant {
	return grant.Grant{
		ID: "g-1", Technician: technician, NodeKey: techKey, Device: device,
		Capabilities: []wire.Capability{wire.CapSysInfo},
		IssuedAt:     t0.Unix(), Expires: t0.Add(10 * time.Minute).Unix(),
	}
}

func TestHandle(t *testing.T) {
	leak.Check(t)
	coord := newKey(t)
	impostor := newKey(t)
	with := func(f func(*grant.Grant)) grant.Grant {
		g := validGrant()
		f(&g)
		return g
	}
	good := sign(t, coord, validGrant())

	for _, tc := range []struct {
		name       string
		remote     string
		token      string // X-Peerdesk-Grant; "" sends none
		capability wire.Capability
		now        time.Time
		status     int
		code       string
		message    string // a substring of the error message
	}{
		{name: "not a peer", remote: strayAddr, token: good, status: 403, code: wire.CodeForbidden, message: "not a node"},
		{name: "agent node, not a technician", remote: agentAddr, token: good, status: 403, code: wire.CodeForbidden, message: "not a technician"},
		{name: "no grant", remote: techAddr, status: 401, code: wire.CodeUnauthorized, message: "no session grant"},
		{name: "malformed grant", remote: techAddr, token: "pdg1.bm90IGEgZ3JhbnQ.AAAA", status: 401, code: wire.CodeUnauthorized, message: "not valid"},
		{name: "garbage grant", remote: techAddr, token: strings.Repeat("x", 5000), status: 401, code: wire.CodeUnauthorized, message: "not valid"},
		{name: "signed by another key", remote: techAddr, token: sign(t, impostor, validGrant()), status: 401, code: wire.CodeUnauthorized, message: "not valid"},
		{name: "tampered payload", remote: techAddr, token: swapPayload(good, sign(t, impostor, with(func(g *grant.Grant) { g.Technician = "mallory" }))), status: 401, code: wire.CodeUnauthorized, message: "not valid"},
		{name: "expired", remote: techAddr, token: good, now: t0.Add(time.Hour), status: 401, code: wire.CodeExpired, message: "expired"},
		{name: "not yet valid", remote: techAddr, token: good, now: t0.Add(-time.Hour), status: 401, code: wire.CodeUnauthorized, message: "not valid"},
		{name: "another device", remote: techAddr, token: sign(t, coord, with(func(g *grant.Grant) { g.Device = "dev-0002" })), status: 403, code: wire.CodeForbidden, message: "another device"},
		{name: "another node", remote: techAddr, token: sign(t, coord, with(func(g *grant.Grant) { g.NodeKey = otherKey })), status: 403, code: wire.CodeForbidden, message: "another node"},
		{name: "capability not granted", remote: techAddr, token: good, capability: "files", status: 403, code: wire.CodeForbidden, message: "does not include files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			now := tc.now
			if now.IsZero() {
				now = t0.Add(time.Minute)
			}
			g := &Gate{Device: device, GrantKey: coord.Public().(ed25519.PublicKey), WhoIs: peers, Audit: rec,
				Now: func() time.Time { return now }}
			capName := tc.capability
			if capName == "" {
				capName = wire.CapSysInfo
			}
			h := &capability{c: capName}
			w := serve(g.Handle(h), tc.remote, tc.token)

			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			e := decodeError(t, w)
			if e.Code != tc.code || !strings.Contains(e.Message, tc.message) {
				t.Errorf("error = %+v, want code %q and a message with %q", e, tc.code, tc.message)
			}
			if len(h.called) != 0 {
				t.Errorf("the capability handler ran for a refused call: %+v", h.called)
			}
			if len(rec.evs) != 1 {
				t.Fatalf("%d audit records, want exactly 1: %+v", len(rec.evs), rec.evs)
			}
			ev := rec.evs[0]
			if ev.Outcome != "denied" || ev.Action != "peer."+string(capName) || ev.Target != device ||
				ev.Fields["remote"] != tc.remote || ev.Reason == "" {
				t.Errorf("audit record = %+v", ev)
			}
		})
	}
}

// swapPayload returns a's signature on b's payload.
func swapPayload(a, b string) string {
	return b[:strings.LastIndexByte(b, '.')] + a[strings.LastIndexByte(a, '.'):]
}

func TestHandleValid(t *testing.T) {
	leak.Check(t)
	coord := newKey(t)
	rec := &recorder{}
	now := t0.Add(time.Minute)
	g := &Gate{Device: device, GrantKey: coord.Public().(ed25519.PublicKey), WhoIs: peers, Audit: rec,
		Now: func() time.Time { return now }}
	h := &capability{c: wire.CapSysInfo}
	w := serve(g.Handle(h), techAddr, sign(t, coord, validGrant()))

	if w.Code != http.StatusTeapot {
		t.Fatalf("status = %d, want the handler's %d; body %s", w.Code, http.StatusTeapot, w.Body)
	}
	want := []Caller{{Technician: technician, Node: peers[techAddr], Grant: validGrant()}}
	if diff := cmp.Diff(want, h.called, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("callers (-want +got):\n%s", diff)
	}
	wantEv := []wire.AuditEvent{{
		Actor: technician, Action: "peer.sysinfo", Target: device, Outcome: "ok",
		Fields: map[string]string{"remote": techAddr, "node_key": techKey, "grant": "g-1"},
	}}
	if diff := cmp.Diff(wantEv, rec.evs); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// An action that cannot be audited is not taken.
func TestHandleAuditFailure(t *testing.T) {
	leak.Check(t)
	coord := newKey(t)
	rec := &recorder{fail: errors.New("disk full")}
	g := &Gate{Device: device, GrantKey: coord.Public().(ed25519.PublicKey), WhoIs: peers, Audit: rec,
		Now: func() time.Time { return t0.Add(time.Minute) }}
	h := &capability{c: wire.CapSysInfo}

	w := serve(g.Handle(h), techAddr, sign(t, coord, validGrant()))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503; body %s", w.Code, w.Body)
	}
	if e := decodeError(t, w); e.Code != wire.CodeInternal {
		t.Errorf("code = %q, want %q", e.Code, wire.CodeInternal)
	}
	if len(h.called) != 0 {
		t.Fatal("the capability handler ran although the call could not be audited")
	}

	// A refusal stays a refusal when auditing fails.
	w = serve(g.Handle(h), techAddr, "")
	if w.Code != http.StatusUnauthorized || len(h.called) != 0 {
		t.Fatalf("status = %d, handler calls %d; want 401 and none", w.Code, len(h.called))
	}
}

// Without an injected clock the gate uses the real one, so a grant issued
// now is accepted and one that expired long ago is not.
func TestHandleRealClock(t *testing.T) {
	leak.Check(t)
	coord := newKey(t)
	g := &Gate{Device: device, GrantKey: coord.Public().(ed25519.PublicKey), WhoIs: peers, Audit: &recorder{}}
	h := &capability{c: wire.CapSysInfo}
	fresh := validGrant()
	fresh.IssuedAt, fresh.Expires = time.Now().Unix(), time.Now().Add(10*time.Minute).Unix()
	if w := serve(g.Handle(h), techAddr, sign(t, coord, fresh)); w.Code != http.StatusTeapot {
		t.Fatalf("fresh grant: status %d, body %s", w.Code, w.Body)
	}
	stale := validGrant()
	stale.IssuedAt, stale.Expires = time.Now().Add(-24*time.Hour).Unix(), time.Now().Add(-24*time.Hour+10*time.Minute).Unix()
	if w := serve(g.Handle(h), techAddr, sign(t, coord, stale)); w.Code != http.StatusUnauthorized {
		t.Fatalf("grant from yesterday: status %d, want 401", w.Code)
	}
}

func serve(h http.Handler, remote, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, wire.PeerPathSysInfo, nil)
	r.RemoteAddr = remote
	if token != "" {
		r.Header.Set(wire.HeaderGrant, token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) wire.Error {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var e wire.Error
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("body %q is not a wire.Error: %v", w.Body, err)
	}
	return e
}

// fuzzRequest is a capability request with every kind of field a peer can
// send: strings, numbers, booleans, a text-decoded duration, a list, a map
// and a nested object.
type fuzzRequest struct {
	Action  wire.PowerAction  `json:"action"`
	Confirm bool              `json:"confirm,omitempty"`
	Monitor int               `json:"monitor"`
	TTL     wire.Duration     `json:"ttl"`
	Tags    []string          `json:"tags"`
	Fields  map[string]string `json:"fields"`
	Offer   *wire.ScreenOffer `json:"offer"`
	Events  []wire.InputEvent `json:"events,omitempty"`
	Wake    wire.WakeRequest  `json:"wake"`
}

// FuzzDecodeRequest posts arbitrary bodies to DecodeRequest, in memory: it
// never panics; it accepts only one JSON value, with no unknown field and
// nothing after it, within wire.MaxRequestBody; it says ErrTooLarge only
// for a body over the limit; its other errors say what was wrong with the
// body; and what it accepts re-encodes to a body it decodes to the same
// request.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"action":"reboot","confirm":true,"monitor":-1,"ttl":"1h30m","tags":["a",""],"fields":{"k":"v"},` +
			`"offer":{"sdp":"v=0\r\n","monitor":2},"events":[{"t":"key","c":"KeyA","d":true}],"wake":{"mac":"02:00:00:00:00:01","subnet":"10.0.0.0/8"}}`,
		`{}`, ` {} `, "{}\n", `null`, `[]`, `"x"`, `1`, ``, ` `,
		`{} {}`, `{}x`, `{"action":"reboot"}{"action":"reboot"}`,
		`{"unknown":1}`, `{"Action":"reboot","CONFIRM":true}`, `{"offer":{"sdp":"x","extra":1}}`,
		`{"ttl":"soon"}`, `{"ttl":5}`, `{"monitor":1e3}`, `{"monitor":9223372036854775808}`,
		`{"tags":null,"fields":null,"offer":null}`, `{"fields":{"a":"\ud800"}}`,
		`{"tags":["` + strings.Repeat("x", wire.MaxRequestBody) + `"]}`,
		`{}` + strings.Repeat(" ", wire.MaxRequestBody),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req fuzzRequest
		err := decode(body, &req)
		if err != nil {
			if errors.Is(err, ErrTooLarge) && len(body) <= wire.MaxRequestBody {
				t.Fatalf("ErrTooLarge for %d bytes", len(body))
			}
			if !errors.Is(err, ErrTooLarge) && !strings.HasPrefix(err.Error(), "the request body ") {
				t.Fatalf("error %q does not say it is about the request body", err)
			}
			return
		}
		if len(body) > wire.MaxRequestBody {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		if !json.Valid(body) {
			t.Fatalf("accepted %q, which is not one JSON value", body)
		}
		if err := strictDecode(body, new(fuzzRequest)); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", req, err)
		}
		if len(again) > wire.MaxRequestBody {
			return // escaping can make a body that fitted too large
		}
		var got fuzzRequest
		if err := decode(again, &got); err != nil {
			t.Fatalf("re-encoded %q: %v", again, err)
		}
		if diff := cmp.Diff(req, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-decoded +re-decoded):\n%s", diff)
		}
	})
}

// decode runs DecodeRequest on body as a peer's POST.
func decode(body []byte, v any) error {
	r := httptest.NewRequest(http.MethodPost, wire.PeerPathPower, bytes.NewReader(body))
	return DecodeRequest(httptest.NewRecorder(), r, v)
}

// strictDecode is what DecodeRequest must do, done another way: one JSON
// value of v's type with no unknown field, then only white space.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if rest := b[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return fmt.Errorf("%q after the value", rest)
	}
	return nil
}

// M5 (agent side): a grant the coordinator has revoked — its technician
// disabled, or its node removed, after it was issued — passes no call,
// though it is still valid; one issued after the revocation passes.
func TestM5RevokedGrantStartsNothing(t *testing.T) {
	leak.Check(t)
	coord := newKey(t)
	revokedAt := t0.Add(30 * time.Second)
	for _, tc := range []struct {
		name   string
		issued time.Time
		status int
	}{
		{"issued before the revocation", t0, http.StatusForbidden},
		{"issued at the revocation", revokedAt, http.StatusForbidden},
		{"issued after the revocation", revokedAt.Add(time.Second), http.StatusTeapot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			g := &Gate{Device: device, GrantKey: coord.Public().(ed25519.PublicKey), WhoIs: peers, Audit: rec,
				Now: func() time.Time { return t0.Add(time.Minute) },
				Revoked: func(tech, nodeKey string, issued time.Time) bool {
					return tech == technician && nodeKey == techKey && !issued.After(revokedAt)
				}}
			h := &capability{c: wire.CapSysInfo}
			gr := validGrant()
			gr.IssuedAt = tc.issued.Unix()
			w := serve(g.Handle(h), techAddr, sign(t, coord, gr))
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if tc.status != http.StatusForbidden {
				return
			}
			if e := decodeError(t, w); e.Code != wire.CodeForbidden || !strings.Contains(e.Message, "revoked") {
				t.Errorf("error = %+v", e)
			}
			if len(h.called) != 0 || len(rec.evs) != 1 || rec.evs[0].Outcome != "denied" || rec.evs[0].Reason != "revoked" {
				t.Errorf("handler ran %d times; audit %+v", len(h.called), rec.evs)
			}
		})
	}
}
