package power

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// answer waits for the question to the technician and answers it; it
// returns what was asked.
func answer(t *testing.T, s *consent.Service, allow bool) []wire.Capability {
	t.Helper()
	var q consent.Question
	wait.For(t, "the question", func() bool {
		st, _ := s.State()
		if st.Question != nil {
			q = *st.Question
		}
		return st.Question != nil
	})
	if err := s.Answer(q.Nonce, allow); err != nil {
		t.Fatal(err)
	}
	return q.Capabilities
}

// powerCall runs a power request in the background; the reboot waits for
// the returned channel.
func powerCall(t *testing.T, h *Handler, body string) (<-chan *httptest.ResponseRecorder, chan<- time.Time) {
	t.Helper()
	delay := make(chan time.Time, 1)
	h.After = func(time.Duration) <-chan time.Time { return delay }
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServePeer(w, httptest.NewRequestWithContext(context.Background(), http.MethodPost, wire.PeerPathPower, strings.NewReader(body)),
			gate.Caller{Technician: "alice"})
		done <- w
	}()
	return done, delay
}

// L5: on an attended machine a power action asks the user first (for
// power, exactly); a refusal runs no step; an Allow runs them; and the
// user's End before the reboot cancels it and reverts the boot flags.
func TestL5PowerAsksTheUser(t *testing.T) {
	leak.Check(t)
	const body = `{"action":"safe-network"}`
	t.Run("denied", func(t *testing.T) {
		leak.Check(t)
		svc := consent.New(consent.Config{Ask: policy.AttendedConsent})
		r := &recorder{}
		done, _ := powerCall(t, &Handler{Config: Config{GOOS: "windows", StateDir: t.TempDir(), Runner: r}, Consent: svc}, body)
		if got := answer(t, svc, false); !slices.Equal(got, []wire.Capability{wire.CapPower}) {
			t.Fatalf("asked about %v", got)
		}
		w := wait.Recv(t, "the refusal", done)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), wire.CodeConsentDenied) || len(r.did) != 0 {
			t.Fatalf("%d %s; did %v", w.Code, w.Body, r.did)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		leak.Check(t)
		svc := consent.New(consent.Config{Ask: policy.AttendedConsent})
		r := &recorder{}
		done, delay := powerCall(t, &Handler{Config: Config{GOOS: "windows", StateDir: t.TempDir(), Runner: r}, Consent: svc}, body)
		answer(t, svc, true)
		delay <- time.Time{}
		if w := wait.Recv(t, "the answer", done); w.Code != http.StatusOK {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if want := []string{setNetwork, delAltShell, winReboot}; !slices.Equal(r.did, want) {
			t.Fatalf("did %v, want %v", r.did, want)
		}
		if st, _ := svc.State(); len(st.Allowed) != 0 {
			t.Fatalf("the power lease outlived the action: %+v", st.Allowed)
		}
	})
	t.Run("ended before the reboot", func(t *testing.T) {
		leak.Check(t)
		svc := consent.New(consent.Config{Ask: policy.AttendedConsent})
		r := &recorder{}
		dir := t.TempDir()
		done, _ := powerCall(t, &Handler{Config: Config{GOOS: "windows", StateDir: dir, Runner: r}, Consent: svc}, `{"action":"safe-network","keep_safe_mode":true}`)
		answer(t, svc, true)
		wait.For(t, "the boot flag to be set", func() bool {
			st, _ := svc.State()
			return len(st.Allowed) == 1 && keepExistsT(t, dir)
		})
		svc.End("ended by the user")
		wait.Recv(t, "the handler to return", done)
		if slices.Contains(r.did, winReboot) || keepExistsT(t, dir) {
			t.Fatalf("after End: did %v, keep marker %v", r.did, keepExistsT(t, dir))
		}
		if !slices.Contains(r.did, delSafeboot) {
			t.Fatalf("the Safe Mode flag was not reverted: %v", r.did)
		}
	})
	// Unattended (no rules): nobody is asked, as before.
	t.Run("unattended", func(t *testing.T) {
		leak.Check(t)
		r := &recorder{}
		done, delay := powerCall(t, &Handler{Config: Config{GOOS: "linux", StateDir: t.TempDir(), Runner: r}, Consent: consent.New(consent.Config{})}, `{"action":"reboot"}`)
		delay <- time.Time{}
		if w := wait.Recv(t, "the answer", done); w.Code != http.StatusOK || !slices.Equal(r.did, []string{"systemctl reboot"}) {
			t.Fatalf("%d %s; did %v", w.Code, w.Body, r.did)
		}
	})
}

func keepExistsT(t *testing.T, dir string) bool {
	t.Helper()
	ok, err := keepExists(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// M5 (agent side): a power action of a technician whose access is revoked
// does not happen — neither one waiting for the user's answer (the
// question is withdrawn and the call refused) nor one allowed and waiting
// for its reboot (cancelled, its boot flags reverted).
func TestM5RevokeStopsPowerActions(t *testing.T) {
	leak.Check(t)
	const body = `{"action":"safe-network","keep_safe_mode":true}`
	t.Run("waiting for the user", func(t *testing.T) {
		leak.Check(t)
		svc := consent.New(consent.Config{Ask: policy.AttendedConsent})
		r := &recorder{}
		done, _ := powerCall(t, &Handler{Config: Config{GOOS: "windows", StateDir: t.TempDir(), Runner: r}, Consent: svc}, body)
		wait.For(t, "the question", func() bool { st, _ := svc.State(); return st.Question != nil })
		svc.EndTechnician("alice", "coordinator", "revoked")
		w := wait.Recv(t, "the refusal", done)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "revoked") || len(r.did) != 0 {
			t.Fatalf("%d %s; did %v", w.Code, w.Body, r.did)
		}
	})
	t.Run("waiting for the reboot", func(t *testing.T) {
		leak.Check(t)
		svc := consent.New(consent.Config{Ask: policy.AttendedConsent})
		r := &recorder{}
		dir := t.TempDir()
		done, _ := powerCall(t, &Handler{Config: Config{GOOS: "windows", StateDir: dir, Runner: r}, Consent: svc}, body)
		answer(t, svc, true)
		wait.For(t, "the boot flag to be set", func() bool {
			st, _ := svc.State()
			return len(st.Allowed) == 1 && keepExistsT(t, dir)
		})
		if n := svc.EndTechnician("alice", "coordinator", "revoked"); n != 1 {
			t.Fatalf("ended %d leases, want alice's 1", n)
		}
		wait.Recv(t, "the handler to return", done)
		if slices.Contains(r.did, winReboot) || keepExistsT(t, dir) || !slices.Contains(r.did, delSafeboot) {
			t.Fatalf("after the revocation: did %v, keep marker %v", r.did, keepExistsT(t, dir))
		}
	})
}
