package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// startCoordinatorProcess runs the real peerdesk binary on dir and returns
// it with its URL and pin.
func startCoordinatorProcess(t *testing.T, dir string) (*harness.Process, string, string) {
	t.Helper()
	p := harness.Start(t, nil, "peerdesk", "serve", "-data", dir, "-listen", "127.0.0.1:0", "-stun", "127.0.0.1:0", "-log-level", "warn")
	url := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(p.WaitLine(t, "url:")), "url:"))
	pin := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(p.WaitLine(t, "CA pin:")), "CA pin:"))
	admin := adminclient.New(dir + "/" + coordinator.SocketName)
	if err := wait.Until(harness.Timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := admin.Status(ctx)
		return err
	}); err != nil {
		t.Fatalf("coordinator not ready: %v\n%s", err, p.Stderr())
	}
	return p, url, pin
}

// TestCrashLosesNoAcknowledgedWrite: tokens and enrollments the coordinator
// acknowledged survive a SIGKILL that lands right after the
// acknowledgements, while more are still in flight.
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	harness.Begin(t)
	dir := t.TempDir()
	proc, url, pin := startCoordinatorProcess(t, dir)
	admin := adminclient.New(dir + "/" + coordinator.SocketName)
	ca, err := trust.FetchCA(ctx(t), url, pin)
	if err != nil {
		t.Fatal(err)
	}
	cl := coordclient.New(url, ca)

	type enrolled struct{ device, machine string }
	var (
		mu      sync.Mutex
		tokens  []string // acknowledged, not used
		devices []enrolled
		failed  []error // requests that got no answer before the kill
		stop    = make(chan struct{})
		stopped sync.Once
		wg      sync.WaitGroup
	)
	// A request that gets no answer (a timeout on a loaded machine) is
	// not acknowledged and proves nothing: the worker goes on. Only the
	// kill ends the load.
	lost := func(err error) {
		select {
		case <-stop:
		default:
			mu.Lock()
			failed = append(failed, err)
			mu.Unlock()
		}
	}
	// The load ends before the test does, even when a wait fails it.
	kill := func() {
		stopped.Do(func() {
			proc.Kill()
			close(stop)
			wg.Wait()
		})
	}
	t.Cleanup(kill)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				tok, err := admin.CreateToken(c, 0, "crash")
				cancel()
				if err != nil {
					lost(fmt.Errorf("token: %w", err))
					continue
				}
				if (w+i)%2 == 0 {
					mu.Lock()
					tokens = append(tokens, tok.Token)
					mu.Unlock()
					continue
				}
				m := harness.NewMachineID()
				c, cancel = context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := cl.Enroll(c, wire.EnrollRequest{Token: tok.Token, MachineID: m, Hostname: "pc", OS: "linux"})
				cancel()
				if coordclient.Code(err) != "" {
					t.Errorf("enrollment refused: %v", err)
					return
				}
				if err != nil {
					lost(fmt.Errorf("enrollment: %w", err))
					continue
				}
				mu.Lock()
				devices = append(devices, enrolled{resp.DeviceID, m})
				mu.Unlock()
			}
		})
	}
	// Let writes pile up, then kill the coordinator in the middle of them,
	// right after an acknowledgement.
	if err := wait.Until(harness.Timeout, func() error {
		mu.Lock()
		defer mu.Unlock()
		if n := len(tokens) + len(devices); n < 40 {
			return fmt.Errorf("%d acknowledged, %d requests unanswered (%v)", n, len(failed), errors.Join(failed...))
		}
		return nil
	}); err != nil {
		t.Fatalf("waiting for 40 acknowledged writes: %v; the coordinator's log:\n%s", err, proc.Stderr())
	}
	kill()
	t.Logf("acknowledged before the kill: %d unused tokens, %d enrollments; %d requests unanswered", len(tokens), len(devices), len(failed))
	if len(tokens) == 0 || len(devices) == 0 {
		t.Fatal("the load produced no acknowledged writes of one kind")
	}

	// Restart on the same data: everything acknowledged is there.
	_, url, pin = startCoordinatorProcess(t, dir)
	ca, err = trust.FetchCA(ctx(t), url, pin)
	if err != nil {
		t.Fatal(err)
	}
	cl = coordclient.New(url, ca)
	st, err := admin.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Devices < len(devices) {
		t.Fatalf("%d devices after the crash, %d were acknowledged", st.Devices, len(devices))
	}
	// Every acknowledged enrollment is still known: its machine is refused
	// a second enrollment, and its device secret is not needed to see that.
	for _, d := range devices[:min(len(devices), 5)] {
		tok, err := admin.CreateToken(ctx(t), 0, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Enroll(ctx(t), wire.EnrollRequest{Token: tok.Token, MachineID: d.machine, Hostname: "pc"})
		if coordclient.Code(err) != wire.CodeConflict {
			t.Fatalf("device %s was forgotten: re-enrollment gave %v", d.device, err)
		}
	}
	// Every acknowledged token is still valid: each enrolls a new machine.
	for _, tok := range tokens {
		_, err := cl.Enroll(ctx(t), wire.EnrollRequest{Token: tok, MachineID: harness.NewMachineID(), Hostname: "pc"})
		var we *wire.Error
		if err != nil && errors.As(err, &we) {
			t.Fatalf("acknowledged token lost: %v", err)
		} else if err != nil {
			t.Fatal(err)
		}
	}
}
