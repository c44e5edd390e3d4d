//go:build cgo

package screen

import (
	"context"
	"encoding/json"
	"image"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/transport/v4/vnet"
)

// user answers the consent service's questions as told, and remembers
// what it was asked.
type user struct {
	mu    sync.Mutex
	asked [][]wire.Capability
	allow bool
}

func (u *user) run(ctx context.Context, s *consent.Service) {
	seen := ""
	for {
		st, changed := s.State()
		if q := st.Question; q != nil && q.Nonce != seen {
			seen = q.Nonce
			u.mu.Lock()
			u.asked = append(u.asked, q.Capabilities)
			allow := u.allow
			u.mu.Unlock()
			s.Answer(q.Nonce, allow) //nolint:errcheck // a withdrawn question is no answer
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func (u *user) set(allow bool) [][]wire.Capability {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.allow = allow
	return slices.Clone(u.asked)
}

// keys records input events.
type keys struct {
	mu  sync.Mutex
	evs []wire.InputEvent
}

func (k *keys) Apply(ev wire.InputEvent, _ image.Point) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.evs = append(k.evs, ev)
	return nil
}
func (k *keys) CtrlAltDel() error { return nil }
func (k *keys) ReleaseAll() error { return nil }
func (k *keys) n() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.evs)
}

func consentHandler(t *testing.T) (*Handler, *consent.Service, *user, *keys, *vnet.Net) {
	t.Helper()
	agentNet, techNet := limitedPath(t, 50_000_000)
	svc := consent.New(consent.Config{Ask: policy.AttendedConsent})
	u := &user{allow: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); u.run(ctx, svc) }()
	k := &keys{}
	h := New(Config{
		Net: agentNet, Consent: svc, Coding: CodingScreen,
		OpenSource: func() (Source, error) { return newNoise(64, 48), nil },
		NewEncoder: func(w, hh, fps, bitrate int) (Encoder, error) {
			return h264.NewEncoder(h264.Options{Width: w, Height: hh, FPS: fps, Bitrate: bitrate})
		},
		Input: func() (Injector, error) { return k, nil },
	})
	t.Cleanup(func() { h.Close(); cancel(); <-done })
	return h, svc, u, k, techNet
}

// offer posts a fresh receiver's offer as alice holding a grant for caps.
func offer(t *testing.T, h *Handler, n *vnet.Net, caps ...wire.Capability) (int, wire.ScreenAnswer, string) {
	t.Helper()
	rx := newReceiver(t, n)
	body, _ := json.Marshal(wire.ScreenOffer{SDP: rx.offer(t)})
	rec := httptest.NewRecorder()
	h.ServePeer(rec, httptest.NewRequest("POST", wire.PeerPathScreenOffer, strings.NewReader(string(body))),
		gate.Caller{Technician: "alice", Grant: grant.Grant{Capabilities: caps}})
	var a wire.ScreenAnswer
	if rec.Code == 200 {
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
	}
	return rec.Code, a, rec.Body.String()
}

// key sends a key press on the live session's input channel.
func key(h *Handler) {
	h.mu.Lock()
	s := h.active
	h.mu.Unlock()
	s.onInput([]byte(`{"t":"key","c":"KeyA","d":true}`), false)
}

// H1: alice is allowed to see; her new offer with screen+input while that
// session is live asks the user again (with exactly screen and input), a
// refusal leaves the see-only session running and injecting nothing, and
// only an Allow gives a session that injects. A narrower offer after that
// asks nothing.
func TestH1WideningAsksAgain(t *testing.T) {
	leak.Check(t)
	h, _, u, k, n := consentHandler(t)
	see, control := []wire.Capability{wire.CapScreen}, []wire.Capability{wire.CapInput, wire.CapScreen}

	if code, a, body := offer(t, h, n, wire.CapScreen); code != 200 || !slices.Equal(a.Allowed, see) {
		t.Fatalf("see: %d %s, allowed %v", code, body, a.Allowed)
	}
	key(h)
	if k.n() != 0 {
		t.Fatal("a see-only session injected a key")
	}
	u.set(false)
	if code, _, body := offer(t, h, n, wire.CapScreen, wire.CapInput); code != 403 || !strings.Contains(body, wire.CodeConsentDenied) {
		t.Fatalf("a refused widening: %d %s", code, body)
	}
	if !h.Live() {
		t.Fatal("the refused widening ended the allowed session")
	}
	key(h)
	if k.n() != 0 {
		t.Fatal("input injected after the user refused control")
	}
	u.set(true)
	if code, a, body := offer(t, h, n, wire.CapScreen, wire.CapInput); code != 200 || !slices.Equal(a.Allowed, control) {
		t.Fatalf("an allowed widening: %d %s, allowed %v", code, body, a.Allowed)
	}
	key(h)
	if k.n() != 1 {
		t.Fatalf("%d keys injected after the user allowed control, want 1", k.n())
	}
	// Narrower: asks nothing, and injects nothing.
	if code, a, body := offer(t, h, n, wire.CapScreen); code != 200 || !slices.Equal(a.Allowed, see) {
		t.Fatalf("narrower: %d %s, allowed %v", code, body, a.Allowed)
	}
	key(h)
	if k.n() != 1 {
		t.Fatal("a narrowed session injected a key")
	}
	want := [][]wire.Capability{see, control, control}
	if diff := cmp.Diff(want, u.set(true)); diff != "" {
		t.Fatalf("questions (-want +got):\n%s", diff)
	}
}

// The user's End on their page ends the live session at once.
func TestUserEndEndsSession(t *testing.T) {
	leak.Check(t)
	h, svc, _, _, n := consentHandler(t)
	if code, _, body := offer(t, h, n, wire.CapScreen); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	svc.End("ended by the user")
	wait.For(t, "the session to end", func() bool { return !h.Live() })
	if st, _ := svc.State(); len(st.Allowed) != 0 {
		t.Fatalf("allowed after End: %+v", st.Allowed)
	}
}
