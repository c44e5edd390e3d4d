package agent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/state"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// rulesCoordinator is a coordinator whose presence stream sends the
// messages put on its channel.
func rulesCoordinator(t *testing.T) (*httptest.Server, chan<- wire.PresenceMessage) {
	t.Helper()
	msgs := make(chan wire.PresenceMessage)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathPresence {
			http.NotFound(w, r)
			return
		}
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex() //nolint:errcheck // HTTP/1.1 here
		w.WriteHeader(http.StatusOK)
		rc.Flush()                     //nolint:errcheck // the test sees the result in the consent service
		go io.Copy(io.Discard, r.Body) //nolint:errcheck // ticks, until the agent goes
		for {
			select {
			case <-r.Context().Done():
				return
			case m := <-msgs:
				line, err := wire.EncodePresenceMessage(m)
				if err != nil {
					t.Error(err)
					return
				}
				w.Write(line) //nolint:errcheck // the test sees the result in the consent service
				rc.Flush()    //nolint:errcheck // likewise
			}
		}
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, msgs
}

// agentWith is an agent of company acme talking to srv, with consent
// service cs.
func agentWith(t *testing.T, srv *httptest.Server, cfg Config, cs *consent.Service) *Agent {
	t.Helper()
	cfg.StateDir, cfg.Now = t.TempDir(), time.Now
	return &Agent{
		cfg: cfg, log: slog.New(slog.DiscardHandler),
		coord:   coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice("dev-1", "secret"),
		st:      &state.State{DeviceID: "dev-1", Metadata: wire.Metadata{Company: "acme"}},
		consent: cs,
	}
}

// TestI4CoordinatorRulesChangeWhatIsAsked: the coordinator's consent
// rules, sent down the presence stream, change what the user is asked at
// once: with rules saying the screen needs no asking for this machine's
// company, a screen request is granted without a question; after a
// message saying it does, the live unasked session ends and the next
// request asks; with no rules, the agent's own (attended) default holds.
func TestI4CoordinatorRulesChangeWhatIsAsked(t *testing.T) {
	leak.Check(t)
	srv, msgs := rulesCoordinator(t)
	cs := consent.New(consent.Config{Ask: policy.AttendedConsent, Device: "dev-1"})
	a := agentWith(t, srv, Config{}, cs)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.presence(ctx) })

	asks := func(want ...wire.Capability) func() bool {
		return func() bool { return slices.Equal(cs.Ask(), want) }
	}
	screen := consent.Request{Technician: "bob", Capabilities: []wire.Capability{wire.CapScreen}}
	msgs <- wire.PresenceMessage{Type: wire.PresenceConsentRules, Ask: []wire.Capability{wire.CapInput, wire.CapPower}}
	wait.For(t, "the rules to ask about input and power only", asks(wire.CapInput, wire.CapPower))
	now, stop := context.WithCancel(ctx)
	stop() // a question would fail at once
	live, err := cs.Acquire(now, screen)
	if err != nil {
		t.Fatalf("a screen request under rules that do not ask about it: %v", err)
	}

	msgs <- wire.PresenceMessage{Type: wire.PresenceConsentRules, Ask: []wire.Capability{wire.CapInput, wire.CapPower, wire.CapScreen, "teleport"}}
	wait.For(t, "the rules to ask about the screen", asks(wire.CapInput, wire.CapPower, wire.CapScreen))
	wait.Recv(t, "the unasked screen session to end", live.Done())
	got := make(chan error, 1)
	go func() {
		l, err := cs.Acquire(ctx, screen)
		if err == nil {
			l.Release("")
		}
		got <- err
	}()
	var q *consent.Question
	wait.For(t, "the screen request to ask the user", func() bool {
		st, _ := cs.State()
		q = st.Question
		return q != nil
	})
	if !slices.Equal(q.Capabilities, []wire.Capability{wire.CapScreen}) {
		t.Errorf("asks about %v, want the screen", q.Capabilities)
	}
	if err := cs.Answer(q.Nonce, false); err != nil {
		t.Fatal(err)
	}
	if err := wait.Recv(t, "the refused request", got); err == nil {
		t.Fatal("a refused request was granted")
	}

	msgs <- wire.PresenceMessage{Type: wire.PresenceConsentRules, Ask: []wire.Capability{}}
	wait.For(t, "the rules to ask about nothing", asks())
	msgs <- wire.PresenceMessage{Type: wire.PresenceConsentRules, NoRules: true}
	wait.For(t, "the agent's attended default", asks(policy.AttendedConsent...))
}

// TestI4LocalRulesFileWins: an agent started with its own rules file
// keeps them whatever the coordinator sends.
func TestI4LocalRulesFileWins(t *testing.T) {
	leak.Check(t)
	local := policy.ConsentRules{Default: []wire.Capability{wire.CapPower}}
	cs := consent.New(consent.Config{Ask: local.For("acme", "dev-1"), Device: "dev-1"})
	a := &Agent{cfg: Config{ConsentRules: &local}, log: slog.New(slog.DiscardHandler), consent: cs,
		st: &state.State{DeviceID: "dev-1", Metadata: wire.Metadata{Company: "acme"}}}
	a.onPresenceMessage(wire.PresenceMessage{Type: wire.PresenceConsentRules, Ask: []wire.Capability{}})
	a.onPresenceMessage(wire.PresenceMessage{Type: wire.PresenceConsentRules, NoRules: true})
	if got := cs.Ask(); !slices.Equal(got, []wire.Capability{wire.CapPower}) {
		t.Errorf("the agent asks about %v, want its own file's power", got)
	}
}
