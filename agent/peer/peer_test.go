package peer

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

const device = "dev-1"

// one technician node, at whatever address the loopback client has.
type anyTech struct{}

func (anyTech) WhoIs(context.Context, string) (node.Identity, error) {
	return node.Identity{NodeKey: "nodekey:aa", Name: "viewer-alice", Tags: []string{wire.TagTech},
		Addr: netip.MustParseAddr("100.64.0.2")}, nil
}

type nopAudit struct{}

func (nopAudit) Record(wire.AuditEvent) error { return nil }

// capHandler answers 200 after block (if set) is closed or its context
// ends, and says which.
type capHandler struct {
	c     wire.Capability
	calls atomic.Int32
	block chan struct{}
	ended chan error // the call's context error, when it ended first
}

func (h *capHandler) Capability() wire.Capability { return h.c }
func (h *capHandler) ServePeer(w http.ResponseWriter, r *http.Request, _ gate.Caller) {
	h.calls.Add(1)
	if h.block != nil {
		select {
		case <-h.block:
		case <-r.Context().Done():
			h.ended <- r.Context().Err()
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

type world struct {
	srv   *Server
	url   string
	token string
	cs    *consent.Service
}

// start serves caps on loopback with a gate that knows one technician and a
// grant for every capability.
func start(t *testing.T, ask []wire.Capability, idle time.Duration, caps ...Capability) *world {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := grant.Sign(priv, grant.Grant{ID: grant.NewID(), Technician: "alice", NodeKey: "nodekey:aa", Device: device,
		Capabilities: wire.KnownCapabilities, IssuedAt: time.Now().Unix(), Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	cs := consent.New(consent.Config{Ask: ask, Device: device, Timeout: time.Minute})
	s, err := New(Config{Gate: &gate.Gate{Device: device, GrantKey: pub, WhoIs: anyTech{}, Audit: nopAudit{}},
		Consent: cs, Capabilities: caps, IdleLease: idle})
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serve(t, s)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return &world{srv: s, url: url, token: tok, cs: cs}
}

// serve serves s on loopback; stop ends it and returns what Serve did.
func serve(t *testing.T, s *Server) (url string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), func() error {
		cancel()
		return <-done
	}
}

// call makes a call with the grant and returns its status, or -1 if it
// got no answer (safe from any goroutine).
func (w *world) call(method, path string) int {
	req, err := http.NewRequest(method, w.url+path, nil)
	if err != nil {
		return -1
	}
	req.Header.Set(wire.HeaderGrant, w.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	resp.Body.Close()
	return resp.StatusCode
}

// answer answers the next question the user is asked.
func answer(t *testing.T, cs *consent.Service, allow bool) {
	t.Helper()
	var nonce string
	wait.For(t, "a question", func() bool {
		st, _ := cs.State()
		if st.Question != nil {
			nonce = st.Question.Nonce
		}
		return nonce != ""
	})
	if err := cs.Answer(nonce, allow); err != nil {
		t.Fatal(err)
	}
}

func TestTableIsChecked(t *testing.T) {
	t.Parallel()
	g := &gate.Gate{Device: device, WhoIs: anyTech{}, Audit: nopAudit{}}
	h := func(c wire.Capability) gate.Handler { return &capHandler{c: c} }
	for _, tc := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"no gate", Config{}, ErrInvalid},
		{"no handler", Config{Gate: g, Capabilities: []Capability{{Routes: []string{"GET /a"}}}}, ErrInvalid},
		{"unknown capability", Config{Gate: g, Capabilities: []Capability{{Routes: []string{"GET /a"}, Handler: h("bogus")}}}, ErrInvalid},
		{"no route", Config{Gate: g, Capabilities: []Capability{{Handler: h(wire.CapSysInfo)}}}, ErrInvalid},
		{"bad route", Config{Gate: g, Capabilities: []Capability{{Routes: []string{"/a"}, Handler: h(wire.CapSysInfo)}}}, ErrInvalid},
		{"per call without consent", Config{Gate: g, Capabilities: []Capability{{Routes: []string{"GET /a"}, Handler: h(wire.CapPower), Consent: ConsentPerCall}}}, ErrInvalid},
		{"capability twice", Config{Gate: g, Capabilities: []Capability{
			{Routes: []string{"GET /a"}, Handler: h(wire.CapSysInfo)}, {Routes: []string{"GET /b"}, Handler: h(wire.CapSysInfo)}}}, ErrDuplicate},
		{"route twice", Config{Gate: g, Capabilities: []Capability{
			{Routes: []string{"GET /a"}, Handler: h(wire.CapSysInfo)}, {Routes: []string{"GET /a"}, Handler: h(wire.CapWake)}}}, ErrDuplicate},
	} {
		if _, err := New(tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: New = %v, want %v", tc.name, err, tc.want)
		}
	}
	s, err := New(Config{Gate: g, Capabilities: []Capability{
		{Routes: []string{"POST /w"}, Handler: h(wire.CapWake)}, {Routes: []string{"GET /a", "GET /b"}, Handler: h(wire.CapSysInfo)}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Capabilities(); len(got) != 2 || got[0] != wire.CapSysInfo || got[1] != wire.CapWake {
		t.Fatalf("Capabilities = %v, want sorted [sysinfo wake]", got)
	}
}

// TestPerCallConsentAsksOnce: a per-call capability asks the user at the
// first call; later calls within the idle time use the same lease; after
// the idle time the lease is gone and the next call asks again.
func TestPerCallConsentAsksOnce(t *testing.T) {
	leak.Check(t)
	h := &capHandler{c: wire.CapPower}
	w := start(t, []wire.Capability{wire.CapPower}, time.Hour, Capability{Routes: []string{"POST /p"}, Handler: h, Consent: ConsentPerCall})
	got := make(chan int, 1)
	go func() { got <- w.call("POST", "/p") }()
	answer(t, w.cs, true)
	if c := <-got; c != http.StatusOK {
		t.Fatalf("first call after allow: %d", c)
	}
	for range 3 {
		if c := w.call("POST", "/p"); c != http.StatusOK {
			t.Fatalf("a later call: %d (asked again?)", c)
		}
	}
	st, _ := w.cs.State()
	if len(st.Allowed) != 1 || st.Question != nil {
		t.Fatalf("consent state after 4 calls: %+v, want one allowance, no question", st)
	}
	// The user ends it: the next call asks again, and is declined.
	w.cs.End("the user ended it")
	go func() { got <- w.call("POST", "/p") }()
	answer(t, w.cs, false)
	if c := <-got; c != http.StatusForbidden {
		t.Fatalf("call after the user declined: %d, want 403", c)
	}
	if n := h.calls.Load(); n != 4 {
		t.Fatalf("the handler ran %d times, want 4", n)
	}
}

// TestLeaseEndCutsTheCall: a call in flight ends the moment the user ends
// its lease (a transfer, a shell).
func TestLeaseEndCutsTheCall(t *testing.T) {
	leak.Check(t)
	h := &capHandler{c: wire.CapPower, block: make(chan struct{}), ended: make(chan error, 1)}
	w := start(t, nil, time.Hour, Capability{Routes: []string{"POST /p"}, Handler: h, Consent: ConsentPerCall})
	go w.call("POST", "/p") // the call is cut; its status is not the point
	wait.For(t, "the call to start", func() bool { return h.calls.Load() == 1 })
	w.cs.End("the user ended it")
	select {
	case err := <-h.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the call ended with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the call ran on after its lease ended")
	}
}

// TestIdleLeaseIsReleased: the lease ends IdleLease after the last call,
// and the user's page shows nothing allowed any more.
func TestIdleLeaseIsReleased(t *testing.T) {
	leak.Check(t)
	h := &capHandler{c: wire.CapPower}
	w := start(t, nil, 50*time.Millisecond, Capability{Routes: []string{"POST /p"}, Handler: h, Consent: ConsentPerCall})
	if c := w.call("POST", "/p"); c != http.StatusOK {
		t.Fatal(c)
	}
	wait.For(t, "the idle lease to be released", func() bool {
		st, _ := w.cs.State()
		return len(st.Allowed) == 0
	})
}

// TestServeWaitsForEverything: Serve returns only after background jobs
// and every row's Close; a refused call never reaches the handler.
func TestServeWaitsForEverything(t *testing.T) {
	leak.Check(t)
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	h := &capHandler{c: wire.CapSysInfo}
	g := &gate.Gate{Device: device, GrantKey: make(ed25519.PublicKey, ed25519.PublicKeySize), WhoIs: anyTech{}, Audit: nopAudit{}}
	s, err := New(Config{Gate: g, Capabilities: []Capability{{Routes: []string{"GET /s"}, Handler: h,
		Close: func() error { note("close"); return errors.New("boom") }}},
		Background: []func(context.Context){func(ctx context.Context) { <-ctx.Done(); note("background") }}})
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serve(t, s)
	resp, err := http.Get(url + "/s") // no grant
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || h.calls.Load() != 0 {
		t.Fatalf("a call without a grant: %d, handler ran %d times", resp.StatusCode, h.calls.Load())
	}
	err = stop()
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Serve = %v, want the Close error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, ",") != "background,close" {
		t.Fatalf("shutdown order %v, want background then close", order)
	}
}
