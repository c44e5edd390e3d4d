package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/coordinator/webhooks"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

var errorCodes = []string{
	wire.CodeBadRequest, wire.CodeUnauthorized, wire.CodeForbidden, wire.CodeLocked, wire.CodeRateLimited,
	wire.CodeNotFound, wire.CodeConflict, wire.CodeExpired, wire.CodeInternal,
}

// FuzzHandlers posts arbitrary bodies, with valid credentials, to every
// endpoint that reads one. The server must never panic, must answer 2xx or
// a JSON wire.Error with a known code, 200 answers must be JSON, and a 2xx
// answer means the body was exactly one JSON value of the endpoint's
// request type, with no unknown fields, within wire.MaxRequestBody.
//
// It runs in memory (newMemEnv): nothing an execution does reaches the
// disk or the network. Each execution gets a fresh Server over the shared
// store, so rate limits (which the frozen clock would never refill) do not
// end the exploration of an endpoint.
//
// Bodies may carry placeholders that are replaced by live values, so that
// the fuzzer can reach the success paths: $TOKEN (a fresh enrollment
// token), $MACHINE (a fresh machine id), $DEVICE (the enrolled device),
// $CODE (a fresh code for the support portal), $ASKED (a fresh code the
// enrolled device asked for, to be redeemed).
func FuzzHandlers(f *testing.F) {
	e, cfg := newMemEnv(f)
	adminTok, adminSess, err := newSession(e.accounts, "alice", policy.RoleAdmin)
	if err != nil {
		f.Fatal(err)
	}
	admin := "Bearer " + adminTok
	dev := e.enroll(f, "pc-1", 'a')
	if err := e.accounts.RecordOverlayKey(100, "alice"); err != nil {
		f.Fatal(err)
	}
	e.overlay.setNodes(
		overlay.Node{ID: 1, NodeKey: "nodekey:a1", Tags: []string{wire.TagTech}, AuthKeyID: 100},
		overlay.Node{ID: 2, NodeKey: "nodekey:b2", Tags: []string{wire.TagAgent}, AuthKeyID: dev.keyID, IPv4: netip.MustParseAddr("100.64.0.7")},
	)
	const supportDevice = "$SUPPORT" // credentials of a fresh one-time agent, made per call
	// Append only: the index of a target is in the seed corpus.
	targets := []fuzzTarget{
		{false, wire.PathEnroll, "", func() any { return new(wire.EnrollRequest) }},
		{false, wire.PathLogin, "", func() any { return new(wire.LoginRequest) }},
		{false, wire.PathGrant, admin, func() any { return new(wire.GrantRequest) }},
		{false, wire.PathTokens, admin, func() any { return new(wire.TokenRequest) }},
		{false, wire.PathInventory, dev.auth, func() any { return new(wire.Inventory) }},
		{false, wire.PathHeartbeat, dev.auth, func() any { return new(wire.Heartbeat) }},
		{false, wire.PathAgentAudit, dev.auth, func() any { return new([]wire.AuditEvent) }},
		{true, wire.LocalPathTokens, "", func() any { return new(wire.TokenRequest) }},
		{false, wire.PathWake, admin, func() any { return new(wire.WakeAsk) }},
		{false, wire.PathSupportCodes, admin, func() any { return new(wire.CodeRequest) }},
		{false, wire.PathSupportRedeem, admin, func() any { return new(wire.RedeemRequest) }},
		{false, wire.PathSupportJoin, "", func() any { return new(wire.JoinRequest) }},
		{false, wire.PathSupportEnd, supportDevice, func() any { return new(wire.EndRequest) }},
		{true, wire.LocalPathUsers, "", func() any { return new(wire.LocalUserRequest) }},
		{false, wire.PathSupportOverlay, supportDevice, func() any { return new(wire.OverlayReport) }},
		{false, wire.PathAgentTickets, dev.auth, func() any { return new(wire.AgentTicket) }},
		{false, wire.PathTickets, admin, func() any { return new(wire.TicketCreate) }},
		{false, wire.PathWebhooks, admin, func() any { return new(wire.WebhookCreate) }},
	}
	seed := func(path string, bodies ...string) {
		i := slices.IndexFunc(targets, func(t fuzzTarget) bool { return t.path == path })
		if i < 0 {
			f.Fatalf("no target %s", path)
		}
		for _, b := range bodies {
			f.Add(uint8(i), []byte(b))
		}
	}
	seed(wire.PathEnroll,
		`{"token":"$TOKEN","machine_id":"$MACHINE","hostname":"pc-2","os":"linux"}`,
		`{"token":"$TOKEN","machine_id":"$MACHINE","hostname":"../x"}`,
		`{"token":"pde1-00000000-`+strings.Repeat("0", 40)+`-`+strings.Repeat("0", 64)+`","machine_id":"$MACHINE","hostname":"h"}`,
		`{"token":"pde1-x"}`, ``, `null`, `[]`, `{"token":1}`)
	seed(wire.PathLogin,
		`{"username":"alice","password":"0123456789"}`, `{"username":1}`, `{"username":"a"} {}`, `{"unknown":true}`)
	seed(wire.PathGrant,
		`{"device_id":"$DEVICE","node_key":"nodekey:a1","capabilities":["sysinfo"]}`,
		`{"device_id":"$DEVICE","node_key":"nodekey:b2","capabilities":["sysinfo"]}`,
		`{"device_id":"$DEVICE","node_key":"nodekey:a1","capabilities":[]}`,
		`{"device_id":"`+strings.Repeat("d", 70000)+`"}`)
	seed(wire.PathTokens, `{}`, `{"ttl":"1h","note":"desk"}`, `{"ttl":"-1h"}`, `{"ttl":5}`)
	seed(wire.PathInventory,
		`{"hostname":"pc-1","os":"linux","disks":[{"mount":"/","total_bytes":1}],"last_boot":"2026-11-21T12:00:00Z"}`,
		`{"last_boot":"9999-12-31T23:59:59-23:59"}`,
		`{"ram_bytes":-1}`, `{"disks":null}`)
	seed(wire.PathHeartbeat, `{"agent_version":"1","uptime":"1h","sent":"2026-11-21T12:00:00Z"}`, `{"uptime":"x"}`, `{}`)
	seed(wire.PathAgentAudit,
		`[{"time":"2026-11-21T12:00:00Z","actor":"bob","action":"peer.sysinfo","outcome":"ok","fields":{"a":"b"}}]`,
		`[{"time":"9999-12-31T23:59:59-23:59","action":"peer.sysinfo"}]`, // once panicked the audit trail
		`[{"reason":"`+strings.Repeat("r", 1000)+`"}]`,
		`[`+strings.Repeat(`{},`, desk.MaxAgentAudit)+`{}]`,
		`null`, `{}`)
	seed(wire.LocalPathTokens, `{}`, `{"ttl":"720h1m"}`)
	seed(wire.PathWake, `{"device_id":"$DEVICE","node_key":"nodekey:a1"}`, `{"device_id":"nope"}`, `{"device_id":1}`)
	seed(wire.PathSupportCodes, `{}`, `{"team":true,"ttl":"10m"}`, `{"ttl":"-5m"}`, `{"ttl":"9999999h"}`, `{"team":"yes"}`)
	seed(wire.PathSupportRedeem, `{"code":"$ASKED"}`, `{"code":" $ASKED "}`, `{"code":"$CODE"}`, `{"code":"000000"}`, `{"code":"12-34-56"}`, `{"code":null}`)
	seed(wire.PathSupportJoin,
		`{"code":"$CODE","hostname":"pc-9","os":"windows"}`,
		`{"code":"$CODE","hostname":"../pc","os":"linux"}`,
		`{"code":"$CODE","hostname":"pc","os":"`+strings.Repeat("o", 65)+`"}`,
		`{"code":"999999","hostname":"pc","os":"linux"}`)
	seed(wire.PathSupportOverlay, `{}`, `{"reason":"no-network"}`, `{"reason":"pin-mismatch"}`, `{"reason":"made-up"}`, `{"reason":""}`, `{"reason":7}`)
	seed(wire.PathSupportEnd, `{}`, `{"reason":"done"}`, `{"session":"sup-x","reason":"`+strings.Repeat("r", 2000)+`"}`, `{"reason":0}`)
	seed(wire.LocalPathUsers,
		`{"name":"bob","password":"correct horse battery","role":"technician"}`,
		`{"name":"carol","password":"correct horse battery","role":"technician","companies":["acme"]}`,
		`{"name":"x y","password":"p","role":"root"}`, `{"name":"alice","password":"correct horse battery","role":"admin"}`)

	seed(wire.PathAgentTickets,
		`{"id":"0123456789abcdef0123456789abcdef","title":"Printer","priority":"high","user":"ACME\\alice","chat":[{"role":"user","text":"help","time":"2026-12-07T09:00:00Z"}],"attachments":[{"name":"a.txt","type":"text/plain","data":"aGk="}]}`,
		`{"id":"0123456789abcdef0123456789abcdef","title":"x","priority":"low","attachments":[{"name":"s.png","type":"image/png","data":"PGh0bWw+"}]}`,
		`{"id":"ABC","title":"","priority":"asap"}`, `{"id":"0123456789abcdef0123456789abcdef","title":"x","priority":"low","created":"9999-12-31T23:59:59-23:59"}`)
	seed(wire.PathTickets, `{"title":"Slow","device":"$DEVICE"}`, `{"title":"Slow","company":"acme","priority":"urgent","assignee":"alice"}`,
		`{"title":"","device":"nope"}`, `{"title":"x","assignee":"nobody"}`)
	seed(wire.PathWebhooks, `{"url":"https://psa.example/x","events":["ticket.created"]}`, `{"url":"ftp://x","events":[]}`,
		`{"url":"https://psa.example/x","events":["ticket.created"],"secret":"short"}`)

	var calls uint32
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		tg := targets[int(sel)%len(targets)]
		calls++
		srv, dk := e.server(cfg)
		pub := srv.Handler()
		h := pub
		if tg.local {
			h = srv.LocalHandler()
		}
		remote := fmt.Sprintf("10.%d.%d.%d:1", byte(calls>>16), byte(calls>>8), byte(calls))
		body = bytes.ReplaceAll(body, []byte("$DEVICE"), []byte(dev.DeviceID))
		body = bytes.ReplaceAll(body, []byte("$MACHINE"), []byte(fmt.Sprintf("%064x", calls)))
		if bytes.Contains(body, []byte("$TOKEN")) {
			resp, err := dk.CreateToken(desk.Local(), enroll.TokenOptions{Note: "fuzz"})
			if err != nil {
				t.Fatal(err)
			}
			body = bytes.ReplaceAll(body, []byte("$TOKEN"), []byte(resp.Token))
		}
		if bytes.Contains(body, []byte("$CODE")) {
			body = bytes.ReplaceAll(body, []byte("$CODE"), []byte(supportCode(t, dk, adminSess)))
		}
		if bytes.Contains(body, []byte("$ASKED")) {
			body = bytes.ReplaceAll(body, []byte("$ASKED"), []byte(askCode(t, e, pub, dev.auth)))
		}
		auth := tg.auth
		if auth == supportDevice {
			auth = joinSupport(t, pub, remote, supportCode(t, dk, adminSess))
		}

		w := e.doFrom(h, remote, "POST", tg.path, auth, string(body))
		switch {
		case w.Code == http.StatusOK:
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("POST %s: 200 with a body that is not JSON: %q", tg.path, w.Body)
			}
		case w.Code == http.StatusNoContent, w.Code == http.StatusCreated:
		case w.Code >= 400 && w.Code < 600:
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("POST %s: %d with Content-Type %q", tg.path, w.Code, ct)
			}
			var we wire.Error
			dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&we); err != nil {
				t.Fatalf("POST %s: %d with a body that is not a wire.Error: %q: %v", tg.path, w.Code, w.Body, err)
			}
			if !slices.Contains(errorCodes, we.Code) || we.Message == "" {
				t.Fatalf("POST %s: %d with error %+v", tg.path, w.Code, we)
			}
			if w.Code == http.StatusInternalServerError && we.Code != wire.CodeInternal {
				t.Fatalf("POST %s: 500 with code %q", tg.path, we.Code)
			}
			return
		default:
			t.Fatalf("POST %s: unexpected status %d", tg.path, w.Code)
		}
		if err := strictJSON(body, tg.req()); err != nil {
			t.Fatalf("POST %s: %d for a body that is not one %T: %q: %v", tg.path, w.Code, tg.req(), body, err)
		}
	})
}

// fuzzTarget is an endpoint FuzzHandlers posts to: on the local or the
// public handler, with the Authorization header auth, reading a body of
// the type req returns.
type fuzzTarget struct {
	local      bool
	path, auth string
	req        func() any
}

// newMemEnv is the coordinator of newEnv over an in-memory store, and the
// desk.Config its desk was made from. Only its setup writes files (the CA and
// the grant key).
func newMemEnv(t testing.TB) (*env, desk.Config) {
	t.Helper()
	db, err := store.OpenInMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, cfg := envOver(t, db, t.TempDir())
	if cfg.Tickets, err = tickets.Open(db, e.clock.Now); err != nil {
		t.Fatal(err)
	}
	if cfg.Webhooks, err = webhooks.New(webhooks.Config{DB: db, Clock: e.clock}); err != nil { // never run: nothing is sent
		t.Fatal(err)
	}
	e.srv, e.desk = e.server(cfg)
	e.pub, e.local = e.srv.Handler(), e.srv.LocalHandler()
	return e, cfg
}

// supportCode is a fresh team support code.
func supportCode(t *testing.T, dk *desk.Desk, admin identity.Session) string {
	t.Helper()
	c, err := dk.GenerateCode(desk.CallerOf(admin, "192.0.2.1", "test"), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c.Code
}

// askCode is a fresh code the device with Authorization header auth asked
// for through the public handler pub.
func askCode(t *testing.T, e *env, pub http.Handler, auth string) string {
	t.Helper()
	w := e.do(pub, "POST", wire.PathSupportAsk, auth, "")
	var c wire.SupportCode
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &c) != nil {
		t.Fatalf("asking for a code: %d %s", w.Code, w.Body)
	}
	return c.Code
}

// joinSupport joins a one-time agent with code through the public handler
// pub and returns its Authorization header.
func joinSupport(t *testing.T, pub http.Handler, remote, code string) string {
	t.Helper()
	r := httptest.NewRequest("POST", wire.PathSupportJoin, strings.NewReader(
		fmt.Sprintf(`{"code":%q,"hostname":"pc-9","os":"windows"}`, code)))
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	pub.ServeHTTP(w, r)
	var j wire.JoinResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &j) != nil {
		t.Fatalf("join: %d %s", w.Code, w.Body)
	}
	return "Device " + j.DeviceID + ":" + j.DeviceSecret
}

// strictJSON decodes b into v as the API must have: one JSON value, no
// unknown fields, nothing after it, within wire.MaxRequestBody.
func strictJSON(b []byte, v any) error {
	if len(b) > wire.MaxRequestBody {
		return fmt.Errorf("%d bytes", len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("data after the value: %v", err)
	}
	return nil
}
