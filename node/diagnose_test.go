//go:build linux

package node_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/pki"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/trust"
	"tailscale.com/tstest"
)

// oneLink is a machine with a working network interface.
func oneLink() ([]node.Interface, error) {
	return []node.Interface{{Name: "lo", Up: true, Loopback: true, Addrs: 1}, {Name: "eth0", Up: true, Addrs: 1}}, nil
}

func TestProbe(t *testing.T) {
	leak.Check(t)
	coord := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer coord.Close()
	ca := coord.Certificate()
	other, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "https://" + refused.Addr().String()
	refused.Close()
	clock := func(at time.Time) func() time.Time { return tstest.NewClock(tstest.ClockOpts{Start: at}).Now }

	for _, tc := range []struct {
		name  string
		probe node.Probe
		want  node.Reason
	}{
		{"all well", node.Probe{ControlURL: coord.URL, CA: ca, Interfaces: oneLink}, node.ReasonConnecting},
		{"only loopback", node.Probe{ControlURL: coord.URL, CA: ca, Interfaces: func() ([]node.Interface, error) {
			return []node.Interface{{Name: "lo", Up: true, Loopback: true, Addrs: 1}, {Name: "eth0", Up: false, Addrs: 1}}, nil
		}}, node.ReasonNoInterface},
		{"interface up without an address", node.Probe{ControlURL: coord.URL, CA: ca, Interfaces: func() ([]node.Interface, error) {
			return []node.Interface{{Name: "eth0", Up: true}}, nil
		}}, node.ReasonNoInterface},
		{"coordinator refuses", node.Probe{ControlURL: refusedURL, CA: ca, Interfaces: oneLink}, node.ReasonUnreachable},
		{"certificate not from the pinned CA", node.Probe{ControlURL: coord.URL, CA: other.CA, Interfaces: oneLink}, node.ReasonPinMismatch},
		// httptest's certificate is valid until 2084.
		{"clock past the certificate", node.Probe{ControlURL: coord.URL, CA: ca, Interfaces: oneLink, Now: clock(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))}, node.ReasonClockSkew},
		{"clock before the certificate", node.Probe{ControlURL: coord.URL, CA: ca, Interfaces: oneLink, Now: clock(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))}, node.ReasonClockSkew},
		{"clock 10 minutes ahead of the coordinator's Date", node.Probe{ControlURL: coord.URL, CA: ca, Interfaces: oneLink, Now: clock(time.Now().Add(10 * time.Minute))}, node.ReasonClockSkew},
		{"clock 10 minutes behind", node.Probe{ControlURL: coord.URL, CA: ca, Interfaces: oneLink, Now: clock(time.Now().Add(-10 * time.Minute))}, node.ReasonClockSkew},
		{"clock 1 minute off is fine", node.Probe{ControlURL: coord.URL, CA: ca, Interfaces: oneLink, Now: clock(time.Now().Add(time.Minute))}, node.ReasonConnecting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
			defer cancel()
			if got := tc.probe.Run(ctx); got.Reason != tc.want {
				t.Fatalf("reason %q (%s), want %q", got.Reason, got.Detail, tc.want)
			}
		})
	}
}

// In the test's namespace only loopback is up: the machine of issue 12
// whose overlay paused silently ("awaiting unpause").
func TestProbeSystemInterfacesLoopbackOnly(t *testing.T) {
	if !netns.Inside() {
		t.Skip("needs the loopback-only namespace")
	}
	d := node.Probe{ControlURL: "https://127.0.0.1:1", CA: nil}.Run(context.Background())
	if d.Reason != node.ReasonNoInterface {
		t.Fatalf("reason %q (%s), want %q", d.Reason, d.Detail, node.ReasonNoInterface)
	}
}

// Up tells its caller why it waits, within 5 s, and keeps waiting.
func TestUpTellsWhyItWaits(t *testing.T) {
	leak.Check(t)
	if !netns.Inside() {
		t.Skip("needs the loopback-only namespace")
	}
	id, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan node.Diagnosis, 4)
	n, err := node.New(node.Config{
		Dir: t.TempDir(), Hostname: "lonely", ControlURL: "https://127.0.0.1:1", CA: id.CA, AuthKey: "unused",
		InMemory: true, Logger: harness.Logger(t),
		OnDiagnosis: func(d node.Diagnosis) {
			select {
			case got <- d:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	upErr := make(chan error, 1)
	start := time.Now()
	go func() { upErr <- n.Up(ctx) }()
	d := wait.Recv(t, "the first diagnosis", got)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("told after %s, want within 5 s", took)
	}
	if d.Reason != node.ReasonNoInterface {
		t.Fatalf("reason %q (%s), want %q", d.Reason, d.Detail, node.ReasonNoInterface)
	}
	if r := n.Diagnosis().Reason; r != node.ReasonNoInterface {
		t.Fatalf("Diagnosis() = %q while waiting, want %q", r, node.ReasonNoInterface)
	}
	cancel()
	if err := wait.Recv(t, "Up to return", upErr); err == nil {
		t.Fatal("Up succeeded against a coordinator that does not exist")
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want node.Reason
	}{
		{nil, node.ReasonNone},
		{fmt.Errorf("agent: %w", trust.ErrPinMismatch), node.ReasonPinMismatch},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, node.ReasonUnreachable},
		{context.DeadlineExceeded, node.ReasonUnreachable},
	} {
		if got := node.Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestReasonWords(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, r := range node.Reasons {
		w := r.Words()
		if w == "" || seen[w] {
			t.Errorf("%q: words %q empty or shared", r, w)
		}
		seen[w] = true
		if back, ok := node.ParseReason(r.String()); !ok || back != r {
			t.Errorf("ParseReason(%q) = %q, %v", r, back, ok)
		}
	}
	if _, ok := node.ParseReason("<script>"); ok {
		t.Error("ParseReason accepted an unknown code")
	}
}
