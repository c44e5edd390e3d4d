// Package harness runs real peerdesk parts for tests: a coordinator with its
// embedded Headscale, DERP relay and Badger store, enrolled agents and
// logged-in viewers as real tsnet nodes, all in the test process on
// loopback. Tests that use it run inside a loopback-only network namespace
// (package harness/netns) so no overlay node touches the real network.
//
//	func TestMain(m *testing.M) { netns.Main(m) }
//
//	func TestX(t *testing.T) {
//		harness.Begin(t)
//		c := harness.StartCoordinator(t)
//		a := c.EnrollAgent(t, "pc-1")
//		v := c.LoginViewer(t, c.AddTechnician(t, "alice"))
//		inv, err := v.SysInfo(ctx, a.DeviceID())
//	}
//
// Devices are filed by their enrollment token (TokenFor names a company
// and site; a device's own report cannot). The end user's page is never
// printed by an agent: an Opener stands in for the desktop's browser
// opener and hands the test the one-time URLs the agent opens.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/wire"
)

// Timeout bounds every wait in the harness.
const Timeout = 30 * time.Second

// Begin is the first line of every test that runs harness parts: it skips
// the test in -short mode (SkipShort) and fails it at its end if
// goroutines it started still run (leak.Check), so a test that leaves a
// coordinator, an agent, a viewer's node, a stream or a browser behind
// fails where it leaks. Being first, its check runs after every other
// cleanup of the test has stopped what it started.
func Begin(t testing.TB) {
	t.Helper()
	SkipShort(t)
	leak.Check(t)
}

// SkipShort skips t in -short mode: overlay nodes, real binaries and
// browsers take seconds each. StartCoordinator, StartBrowser and Binaries
// call it, so no such test runs in -short even without Begin.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser/overlay e2e: skipped in -short")
	}
}

// Logger returns a logger for t: silent unless PEERDESK_TEST_LOG is set
// (to "debug" for everything).
func Logger(t testing.TB) *slog.Logger {
	switch os.Getenv("PEERDESK_TEST_LOG") {
	case "":
		return slog.New(slog.DiscardHandler)
	case "debug":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	default:
		return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("test", t.Name())
	}
}

// Coordinator is a running coordinator.
type Coordinator struct {
	*coordinator.Coordinator
	Dir      string
	Admin    *adminclient.Client
	cancel   context.CancelFunc
	done     chan struct{} // closed when Run has returned
	runErr   error         // Run's result, once done is closed
	stopOnce sync.Once
}

// Option adjusts a coordinator's configuration.
type Option func(*coordinator.Config)

// WithClock sets the coordinator's clock, usually a NewClock the test
// moves.
func WithClock(clock interface{ Now() time.Time }) Option {
	return func(c *coordinator.Config) { c.Now = clock.Now }
}

// StartCoordinator runs a coordinator on 127.0.0.1 with a fresh data
// directory; it stops when the test ends. It skips the test in -short mode.
func StartCoordinator(t testing.TB, opts ...Option) *Coordinator {
	t.Helper()
	SkipShort(t)
	dir := t.TempDir()
	return startCoordinatorIn(t, dir, opts...)
}

func startCoordinatorIn(t testing.TB, dir string, opts ...Option) *Coordinator {
	t.Helper()
	cfg := coordinator.Config{
		DataDir: dir, Listen: "127.0.0.1:0", STUNListen: "127.0.0.1:0",
		HeartbeatGrace: 5 * time.Second, Logger: Logger(t).With("part", "coordinator"),
		OverlayWriteBatch: 20 * time.Millisecond, // joins at once; tests have a handful of nodes
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hc := &Coordinator{Coordinator: c, Dir: dir, Admin: adminclient.New(c.SocketPath()), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(hc.done)
		hc.runErr = c.Run(ctx)
	}()
	t.Cleanup(hc.Stop)
	// Ready when it serves both its API (TLS, with the CA the pin names)
	// and its admin socket; a Run that ends first ends the wait at once.
	err = wait.Until(Timeout, func() error {
		select {
		case <-hc.done:
			return nil // reported below
		default:
		}
		wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
		defer wcancel()
		// A coordinator run on a clock far from this machine's (a test of
		// clock skew) answers with certificates not valid here: it is up.
		if _, err := trust.FetchCA(wctx, c.URL(), c.Pin()); err != nil && !(cfg.Now != nil && node.Classify(err) == node.ReasonClockSkew) {
			return err
		}
		_, err := hc.Admin.Status(wctx)
		return err
	})
	select {
	case <-hc.done:
		t.Fatalf("harness: the coordinator stopped while starting: %v", hc.runErr)
	default:
	}
	if err != nil {
		t.Fatalf("harness: coordinator not ready: %v", err)
	}
	return hc
}

// Restart stops the coordinator and starts it again on the same data
// directory and address, as after an upgrade or a crash; agents and viewers
// reconnect by themselves. opts are the new run's options.
func (c *Coordinator) Restart(t testing.TB, opts ...Option) *Coordinator {
	t.Helper()
	u, err := url.Parse(c.URL())
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	c.Stop()
	return startCoordinatorIn(t, c.Dir, append([]Option{func(cfg *coordinator.Config) { cfg.Listen = u.Host }}, opts...)...)
}

// Stop stops the coordinator and waits for it; it is safe to call twice.
func (c *Coordinator) Stop() {
	c.stopOnce.Do(func() {
		c.cancel()
		<-c.done
		if c.runErr != nil {
			slog.Default().Warn("harness: coordinator stopped with an error", "err", c.runErr)
		}
	})
}

// Password is the password the harness gives every account.
const Password = "harness-password-1"

// AddTechnician creates a technician account and returns its name.
func (c *Coordinator) AddTechnician(t testing.TB, name string) string {
	t.Helper()
	return c.AddUser(t, name, policy.RoleTechnician)
}

// AddUser creates an account with role through the local admin socket.
func (c *Coordinator) AddUser(t testing.TB, name string, role policy.Role) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Admin.AddUser(ctx, name, Password, string(role)); err != nil {
		t.Fatalf("harness: adding %s: %v", name, err)
	}
	return name
}

// Token mints an enrollment token through the local admin socket.
func (c *Coordinator) Token(t testing.TB, ttl time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	tok, err := c.Admin.CreateToken(ctx, ttl, "harness")
	if err != nil {
		t.Fatalf("harness: token: %v", err)
	}
	return tok.Token
}

// TokenFor mints an enrollment token that files the device enrolling
// with it under company and site (M6: the device cannot choose them; its
// own report of a company or site is overwritten). It asks the local admin
// socket, as `peerdesk admin token -company -site` does.
func (c *Coordinator) TokenFor(t testing.TB, company, site string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	tok, err := c.Admin.CreateTokenFor(ctx, wire.TokenRequest{Note: "harness", Company: company, Site: site})
	if err != nil {
		t.Fatalf("harness: token for %q/%q: %v", company, site, err)
	}
	return tok.Token
}

// Agent is a running, enrolled agent.
type Agent struct {
	*agent.Agent
	Dir      string
	cancel   context.CancelFunc
	done     chan struct{} // closed when Run has returned
	runErr   error         // Run's result, once done is closed
	stopOnce sync.Once
}

// NewMachineID returns a random machine identifier, so one test process can
// enroll many agents.
func NewMachineID() string {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}

// AgentOption adjusts an agent's configuration.
type AgentOption func(*agent.Config)

// WithDisplay gives the agent view-only screen sessions on an X display,
// with the end user's page for consent (unattended false). WithInput adds
// mouse and keyboard. The page opens in no browser: a test opens it with
// the agent's UI().URL(), or follows what the agent opens (WithOpener).
func WithDisplay(display string, unattended bool) AgentOption {
	return func(c *agent.Config) {
		c.Display, c.NoScreen, c.Unattended, c.ViewOnly = display, false, unattended, true
	}
}

// errNoBrowser is what an in-process agent's opener answers when the test
// gave it none.
var errNoBrowser = errors.New("harness: no browser opener (WithOpener gives one)")

// WithInput lets the agent's sessions inject input (after WithDisplay).
// robotgo keeps one X connection per process, bound to the first display
// it opened and useless once that X server is gone (Xlib then exits the
// process on the next event): in one test binary, only one test may run
// an in-process agent with input, or every such test must share one X
// server — and -count=N runs a test N times in one binary, each on a new
// Xvfb that takes the same display number. Tests run the agent binary for
// input (e2e TestMonitorSwitch does).
func WithInput() AgentOption {
	return func(c *agent.Config) { c.ViewOnly = false }
}

// EnrollAgent enrolls an agent named host with a fresh token and runs it
// until the test ends; it returns once the agent answers peer calls.
// Without WithDisplay it offers no screen sessions.
func (c *Coordinator) EnrollAgent(t testing.TB, host string, opts ...AgentOption) *Agent {
	t.Helper()
	dir := filepath.Join(t.TempDir(), host)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if _, err := agent.Enroll(ctx, agent.EnrollOptions{
		StateDir: dir, CoordinatorURL: c.URL(), Token: c.Token(t, 0), Hostname: host, MachineID: NewMachineID(),
	}); err != nil {
		t.Fatalf("harness: enrolling %s: %v", host, err)
	}
	return RunAgent(t, dir, host, opts...)
}

// RunAgent runs the enrolled agent in dir until the test ends.
func RunAgent(t testing.TB, dir, name string, opts ...AgentOption) *Agent {
	t.Helper()
	// No agent of a test starts the desktop's opener (xdg-open, which on a
	// machine with a display starts a real browser): the end user's page
	// opens nowhere unless the test asks for it (WithOpener).
	cfg := agent.Config{StateDir: dir, Version: "test", HeartbeatEvery: time.Second, NoScreen: true, Logger: Logger(t).With("part", name),
		Browser: func(string) error { return errNoBrowser }}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ha := &Agent{Agent: a, Dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(ha.done)
		ha.runErr = a.Run(ctx)
	}()
	t.Cleanup(ha.Stop)
	select {
	case <-a.Ready():
		return ha
	case <-ha.done:
		t.Fatalf("harness: agent %s stopped: %v", name, ha.runErr)
	case <-time.After(Timeout):
		t.Fatalf("harness: agent %s not ready", name)
	}
	return nil
}

// Stop stops the agent and waits for it; it is safe to call twice.
func (a *Agent) Stop() {
	a.stopOnce.Do(func() {
		a.cancel()
		<-a.done
	})
}

// LoginViewer logs user in with a viewer of its own; the viewer leaves the
// overlay when the test ends.
func (c *Coordinator) LoginViewer(t testing.TB, user string) *viewer.Viewer {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "viewer-"+user)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if _, err := viewer.Login(ctx, viewer.LoginOptions{
		StateDir: dir, CoordinatorURL: c.URL(), Pin: c.Pin(), Username: user, Password: Password,
	}); err != nil {
		t.Fatalf("harness: login %s: %v", user, err)
	}
	v, err := viewer.Open(viewer.Config{StateDir: dir, Logger: Logger(t).With("part", "viewer-"+user)})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// IsCode reports whether err is a *wire.Error with code.
func IsCode(err error, code string) bool {
	var e *wire.Error
	return errors.As(err, &e) && e.Code == code
}
