// Package agent is the wiring point of the peerdesk agent: it enrolls a
// machine with a coordinator once, then runs as a node of the overlay,
// reporting inventory and heartbeats to the coordinator and answering peer
// calls from technicians — each behind both locks of package gate.
//
// Capabilities live in their own packages (sysinfo, …) and are mounted here.
//
// The agent holds a presence stream to the coordinator, which keeps it
// online and carries the coordinator's messages down: a revoked
// technician's grants are refused from then on and their live sessions
// end (package revoke); the shop's consent rules, as they apply to this
// machine, change what its user is asked (package consent), unless the
// agent was started with its own rules file, which wins.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/agent/assist"
	"github.com/peerdesk/peerdesk/agent/auditlog"
	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/inventory"
	"github.com/peerdesk/peerdesk/agent/localui"
	"github.com/peerdesk/peerdesk/agent/outbox"
	"github.com/peerdesk/peerdesk/agent/peer"
	"github.com/peerdesk/peerdesk/agent/power"
	"github.com/peerdesk/peerdesk/agent/revoke"
	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/agent/sessionhelper"
	"github.com/peerdesk/peerdesk/agent/shot"
	"github.com/peerdesk/peerdesk/agent/state"
	"github.com/peerdesk/peerdesk/agent/sysinfo"
	"github.com/peerdesk/peerdesk/agent/wol"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// ErrAlreadyEnrolled is returned by Enroll when the state directory already
// holds an enrolled agent.
var ErrAlreadyEnrolled = errors.New("agent: already enrolled (remove the state directory to enroll again)")

// EnrollOptions configure an enrollment.
type EnrollOptions struct {
	StateDir       string
	CoordinatorURL string // https://host:port
	Token          string // pde1-…
	Hostname       string // empty means the OS host name
	// MachineID overrides the machine's stable identifier (64 hex
	// digits); empty means inventory.MachineID. Tests and simulated
	// fleets use it to enroll many agents from one machine.
	MachineID string
	Metadata  wire.Metadata // how the shop files the machine (U4)
	Logger    *slog.Logger
}

// Enroll trusts the coordinator by the token's CA pin, redeems the token and
// saves the agent's identity. It sends the machine's stable identifier, so
// a machine enrolls only once.
func Enroll(ctx context.Context, o EnrollOptions) (*state.State, error) {
	if err := o.Metadata.Check(); err != nil {
		return nil, fmt.Errorf("agent.Enroll: %w", err)
	}
	if state.Exists(o.StateDir) {
		return nil, ErrAlreadyEnrolled
	}
	tok, err := wire.ParseEnrollToken(o.Token)
	if err != nil {
		return nil, fmt.Errorf("agent.Enroll: %w", err)
	}
	url := strings.TrimRight(o.CoordinatorURL, "/")
	ca, err := trust.FetchCA(ctx, url, tok.Pin)
	if err != nil {
		return nil, fmt.Errorf("agent.Enroll: %w", err)
	}
	mid := o.MachineID
	if mid == "" {
		if mid, err = inventory.MachineID(ctx); err != nil {
			return nil, fmt.Errorf("agent.Enroll: %w", err)
		}
	}
	host := o.Hostname
	if host == "" {
		host = Hostname()
	}
	resp, err := coordclient.New(url, ca).Enroll(ctx, wire.EnrollRequest{
		Token: o.Token, MachineID: mid, Hostname: host, OS: osName(), Agent: installedServed(),
	})
	if err != nil {
		return nil, fmt.Errorf("agent.Enroll: %w", err)
	}
	st := &state.State{
		CoordinatorURL: url, CAPEM: trust.EncodeCA(ca), DeviceID: resp.DeviceID, DeviceSecret: resp.DeviceSecret,
		GrantKey: resp.GrantKey, AuthKey: resp.AuthKey, Hostname: host, Metadata: o.Metadata,
	}
	if err := state.Save(o.StateDir, st); err != nil {
		return nil, fmt.Errorf("agent.Enroll: %w", err)
	}
	return st, nil
}

// Hostname returns the OS host name reduced to the characters peerdesk
// accepts in names.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "machine"
	}
	h, _, _ = strings.Cut(h, ".")
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, h)
	return h[:min(len(h), wire.MaxNameLen)]
}

// Config configures a running agent.
type Config struct {
	StateDir       string
	Version        string
	HeartbeatEvery time.Duration // zero means 30 s
	InventoryEvery time.Duration // zero means 1 h
	// Display is the X11 display screen sessions show ("" = $DISPLAY).
	Display string
	// Desktop, when set, is where screen sessions capture and inject
	// instead of Display: the Windows service's screen helper in the
	// console session (sessionhelper.Remote). ViewOnly still applies.
	Desktop *sessionhelper.Desktop
	// Unattended turns the end user's consent off (I4): technicians
	// connect without asking, unless ConsentRules say to ask. One-time
	// support agents never are.
	Unattended bool
	// ConsentRules say which capabilities need the end user's answer on
	// this machine (by its company and device id). Set (the agent's
	// -consent-rules file), they win: the coordinator's rules are
	// ignored. Nil means the coordinator's rules for this machine once it
	// sends them (wire.PresenceConsentRules), and until then, or when the
	// shop has none, policy.AttendedRules, or policy.UnattendedRules when
	// Unattended.
	ConsentRules *policy.ConsentRules
	// NoScreen leaves the screen capability out (a headless server).
	NoScreen bool
	// ViewOnly makes screen sessions view-only: no mouse or keyboard is
	// injected whatever the grant says (a kiosk, a shop's policy).
	ViewOnly bool
	// PowerRunner carries out power actions (reboot, Safe Mode); nil means
	// this machine's own commands. Tests record instead of rebooting.
	PowerRunner power.Runner
	// ServicesBus is the D-Bus address the services capability reaches
	// systemd on; "" means the system bus. Tests point it at a fake
	// systemd (package agent/services/systemdtest).
	ServicesBus string
	// JournalDir, if set, is the directory of journal files the logs
	// capability reads (journalctl --directory) instead of the system's
	// journal. Tests point it at journal files they made.
	JournalDir string
	// FilesRoot is the folder technicians see as "/" with the files
	// capability; "" is the whole machine (Windows: its drives). Tests
	// give a temporary folder.
	FilesRoot string
	// Browser opens the end user's page; nil means the desktop's browser.
	Browser func(url string) error
	Logger  *slog.Logger
	Now     func() time.Time

	// Hotkey takes a screenshot ticket (T5): "" is F8, "off" none (see
	// hotkey.ParseKey). Contacts is how to reach the help desk, in words,
	// shown while a report waits to be sent.
	Hotkey   string
	Contacts string
	// ShellIdle and ShellMax bound shells (shell.DefaultIdle and
	// shell.DefaultMax if zero; a technician may ask for less).
	ShellIdle, ShellMax time.Duration
	// TempDir is the user's temporary directory, which the assistant's
	// clear_temp fix empties once the user approves it; "" is
	// os.TempDir().
	TempDir string
}

// Agent is an enrolled agent.
type Agent struct {
	cfg   Config
	log   *slog.Logger
	st    *state.State
	coord *coordclient.Client
	inv   *inventory.Collector
	audit *auditlog.Log

	ready     chan struct{}
	readyOnce sync.Once
	mu        sync.Mutex
	node      *node.Node
	ui        *localui.UI
	network   string // why the overlay is not up, in words; "" when it is
	sh        *screen.Handler
	consent   *consent.Service
	revoker   *revoke.Revoker   // acts on the coordinator's revocations; nil until Run has wired it
	served    wire.Served       // what the peer server answers (protocol 2); zero until Run has built it
	outbox    *outbox.Outbox    // tickets and messages owed to the coordinator (report.go)
	reports   *shot.Service     // the screenshot ticket; nil if the outbox could not open
	assistant *assist.Assistant // the help desk assistant's chat; nil if the outbox could not open
	hotkey    string            // the key that takes a report; "" if none

	// streaming is true while the presence stream is up: it keeps the
	// device online, so no heartbeat request (and no second connection
	// to the coordinator) is needed.
	streaming atomic.Bool
}

// New loads the enrolled identity from cfg.StateDir.
func New(cfg Config) (*Agent, error) {
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = 30 * time.Second
	}
	if cfg.InventoryEvery == 0 {
		cfg.InventoryEvery = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	st, err := state.Load(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	ca, err := st.CA()
	if err != nil {
		return nil, fmt.Errorf("agent.New: %w", err)
	}
	al, err := auditlog.Open(cfg.StateDir, cfg.Now, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Agent{
		cfg: cfg, log: cfg.Logger, st: st,
		coord: coordclient.New(st.CoordinatorURL, ca).WithDevice(st.DeviceID, st.DeviceSecret),
		inv:   newCollector(cfg.Version, cfg.Logger),
		audit: al, ready: make(chan struct{}),
	}, nil
}

func newCollector(version string, log *slog.Logger) *inventory.Collector {
	return inventory.New(inventory.Options{AgentVersion: version, Logger: log})
}

// DeviceID is the agent's device identifier.
func (a *Agent) DeviceID() string { return a.st.DeviceID }

// Ready is closed once the agent answers peer calls.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Audit is the agent's local audit trail.
func (a *Agent) Audit() *auditlog.Log { return a.audit }

// Node is the agent's overlay node, once Ready.
func (a *Agent) Node() *node.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.node
}

// Run joins the overlay and serves until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	defer a.audit.Close()
	ca, err := a.st.CA()
	if err != nil {
		return err
	}
	// Grants the coordinator revoked (over the presence stream) pass
	// neither the gate nor consent. The user's page starts before the
	// overlay comes up, so it can say why it does not (issue 12).
	denied := revoke.NewList(a.cfg.Now, 0)
	// Every capability that acts on the machine asks here (I4).
	cs := consent.New(consent.Config{
		Ask: a.consentRules().For(a.st.Metadata.Company, a.st.DeviceID), Device: a.st.DeviceID,
		Audit: a.audit, Now: a.cfg.Now, Logger: a.log.With("component", "consent"),
		Refuse: func(h consent.Holder) bool { return denied.Revoked(h.Technician, h.NodeKey, h.Issued) },
	})
	a.mu.Lock()
	a.consent = cs
	a.mu.Unlock()
	// Reports (T5) are taken and queued before the overlay is up (T4);
	// they stop after the page has closed (deferred before it).
	defer a.startReports(ctx)()
	// The page closes after the goroutines below end (deferred before
	// wg.Wait): the presence loop may start it later (applyConsentRules).
	defer func() {
		if ui := a.UI(); ui != nil {
			ui.Close() //nolint:errcheck // at exit; Close waits for the page's server
		}
	}()
	if !a.cfg.Unattended || cs.Asks() {
		if _, err := a.startUI(cs); err != nil {
			return err
		}
	}
	n, err := node.New(node.Config{
		Dir: state.NodeDir(a.cfg.StateDir), Hostname: a.st.Hostname, ControlURL: a.st.CoordinatorURL,
		CA: ca, AuthKey: a.st.AuthKey, Logger: a.log, Now: a.cfg.Now,
		OnDiagnosis: func(d node.Diagnosis) {
			a.setNetwork(problemWords(d))
		},
	})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Up(ctx); err != nil {
		return fmt.Errorf("agent.Run: joining the overlay: %w", err)
	}
	if a.st.AuthKey != "" {
		// The key is single use and now spent; the node's own state
		// carries its identity from here on.
		a.st.AuthKey = ""
		if err := state.Save(a.cfg.StateDir, a.st); err != nil {
			return err
		}
	}
	a.mu.Lock()
	a.node = n
	a.mu.Unlock()
	// A machine rebooted into Safe Mode by a technician boots normally
	// the time after, unless they asked to keep it (U2).
	if err := power.OnStart(ctx, a.powerConfig()); err != nil {
		a.log.Error("leaving Safe Mode for the next boot failed; retried at the next start", "err", err)
	}

	grantKey, err := a.st.GrantPublicKey()
	if err != nil {
		return err
	}
	g := &gate.Gate{Device: a.st.DeviceID, GrantKey: grantKey, WhoIs: n, Audit: a.audit, Now: a.cfg.Now, Logger: a.log,
		Revoked: denied.Revoked}
	enders := []revoke.Ender{cs} // a lease's end ends its screen session and cancels its reboot
	caps := []peer.Capability{
		{Routes: []string{"GET " + wire.PeerPathSysInfo}, Handler: sysinfo.Handler{Collector: a.inv}},
		{Routes: []string{"POST " + wire.PeerPathPower}, Handler: &power.Handler{Config: a.powerConfig(), Consent: cs}, Consent: peer.ConsentOwn},
		{Routes: []string{"POST " + wire.PeerPathWake}, Handler: wol.Handler{Logger: a.log}},
	}
	caps = append(caps, backstage(backstageConfig{Logger: a.log, Device: a.st.DeviceID, Audit: a.audit,
		ServicesBus: a.cfg.ServicesBus, JournalDir: a.cfg.JournalDir, FilesRoot: a.cfg.FilesRoot, Now: a.cfg.Now,
		ShellIdle: a.cfg.ShellIdle, ShellMax: a.cfg.ShellMax, PartialsFile: filepath.Join(a.cfg.StateDir, "uploads.json")})...)
	if !a.cfg.NoScreen {
		sh, err := a.screen(n, cs)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.sh = sh
		a.mu.Unlock()
		// Closed by the server, before the page goes (deferred above).
		caps = append(caps, peer.Capability{Routes: []string{"POST " + wire.PeerPathScreenOffer}, Handler: sh, Consent: peer.ConsentOwn, Close: func() error { sh.Close(); return nil }})
		enders = append(enders, sh)
	}
	a.mu.Lock()
	a.revoker = revoke.New(revoke.Config{
		List: denied, End: enders, Audit: a.audit, Device: a.st.DeviceID, Now: a.cfg.Now,
		Logger: a.log.With("component", "revoke"),
	})
	a.mu.Unlock()
	srv, err := peer.New(peer.Config{
		Gate: g, Consent: cs, Capabilities: caps, Now: a.cfg.Now, Logger: a.log.With("component", "peer"),
		Background: []func(context.Context){
			func(ctx context.Context) { a.audit.Forward(ctx, a.coord.Audit, 30*time.Second) },
			a.report,
			a.presence,
		},
	})
	if err != nil {
		return fmt.Errorf("agent.Run: %w", err)
	}
	// Before the background jobs start: the first report says it.
	a.setServed(servedBy(srv.Capabilities()))
	ln, err := n.Listen("tcp", ":"+strconv.Itoa(wire.PeerPort))
	if err != nil {
		return fmt.Errorf("agent.Run: %w", err)
	}
	a.readyOnce.Do(func() { close(a.ready) })
	a.log.Info("agent running", "device", a.st.DeviceID, "capabilities", srv.Capabilities())
	return srv.Serve(ctx, ln)
}

// consentRules are the machine's consent rules: the configured ones, or
// the default for an attended or unattended agent.
func (a *Agent) consentRules() policy.ConsentRules {
	switch {
	case a.cfg.ConsentRules != nil:
		return *a.cfg.ConsentRules
	case a.cfg.Unattended:
		return policy.UnattendedRules()
	}
	return policy.AttendedRules()
}

// startUI starts the end user's page: consent questions, what is allowed
// now, and "Ask for help". Its address is a credential only once, and is
// neither printed nor logged (L4).
func (a *Agent) startUI(cs *consent.Service) (*localui.UI, error) {
	show := a.cfg.Browser
	if show == nil {
		show = localui.OpenBrowser
	}
	a.mu.Lock()
	var rep localui.Reporter
	if a.reports != nil {
		rep = a.reports
	}
	var chat localui.Assistant
	if a.assistant != nil {
		chat = a.assistant
	}
	hk := a.hotkey
	a.mu.Unlock()
	ui, err := localui.Start(localui.Config{
		Hostname: a.st.Hostname, Logger: a.log, Show: show, Consent: cs, Now: a.cfg.Now,
		Report: rep, Contacts: a.cfg.Contacts, Hotkey: hk, Assistant: chat,
		AskHelp: func(ctx context.Context) (string, error) {
			c, err := a.coord.AskForHelp(ctx)
			return c.Code, err
		},
	})
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.ui = ui
	ui.SetNetwork(a.network)
	a.mu.Unlock()
	a.log.Info("the end user's page is served; it opens in the user's browser when a technician asks", "addr", ui.Addr())
	return ui, nil
}

// setNetwork records why the overlay is not up ("" once it is) and shows it
// on the end user's page when that is served.
func (a *Agent) setNetwork(problem string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.network = problem
	if a.ui != nil {
		a.ui.SetNetwork(problem)
	}
}

// screen makes the screen capability; its sessions ask cs.
func (a *Agent) screen(n *node.Node, cs *consent.Service) (*screen.Handler, error) {
	desk := LocalDesktop(a.cfg.Display, a.cfg.ViewOnly)
	if a.cfg.Desktop != nil {
		desk = *a.cfg.Desktop
		if a.cfg.ViewOnly {
			desk.Input = nil
		}
	}
	return screenHandler(desk, n, cs, func(reason string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.coord.EndSupport(ctx, reason); err != nil && coordclient.Code(err) != wire.CodeUnauthorized {
			a.log.Debug("telling the coordinator the session ended", "err", err)
		}
	}, a.log)
}

// Consent is the agent's consent service, once Run has started.
func (a *Agent) Consent() *consent.Service {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.consent
}

// ScreenLive reports whether a screen session is live.
func (a *Agent) ScreenLive() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sh != nil && a.sh.Live()
}

// UI is the end user's page, if the agent shows one.
func (a *Agent) UI() *localui.UI {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ui
}

func (a *Agent) powerConfig() power.Config {
	return power.Config{StateDir: a.cfg.StateDir, Runner: a.cfg.PowerRunner, Logger: a.log}
}

// reportInventory collects and sends the inventory with md; false means
// try again at the next tick.
func (a *Agent) reportInventory(ctx context.Context, md wire.Metadata) bool {
	inv, err := a.inv.Collect(ctx)
	if err != nil {
		a.log.Warn("collecting inventory", "err", err)
		return false
	}
	inv.Metadata = md
	inv.Custom, inv.Metadata.Custom = md.Custom, nil
	inv.Agent = a.servedNow()
	if err := a.coord.Inventory(ctx, inv); err != nil {
		a.log.Debug("reporting inventory deferred", "err", err)
		return false
	}
	return true
}

// Reconfigure changes the metadata of the agent enrolled in dir (U4) and
// returns it; a running agent reports it at its next heartbeat.
func Reconfigure(dir string, change func(*wire.Metadata)) (wire.Metadata, error) {
	st, err := state.Load(dir)
	if err != nil {
		return wire.Metadata{}, err
	}
	change(&st.Metadata)
	if err := st.Metadata.Check(); err != nil {
		return wire.Metadata{}, fmt.Errorf("agent.Reconfigure: %w", err)
	}
	if err := state.Save(dir, st); err != nil {
		return wire.Metadata{}, err
	}
	return st.Metadata, nil
}

// presence keeps the presence stream to the coordinator open (the
// Access view shows a killed agent offline within seconds), reconnecting
// after a break with a growing pause, and acts on what the coordinator
// sends down it (revocations).
func (a *Agent) presence(ctx context.Context) {
	pause := time.Second
	h := coordclient.PresenceHandlers{
		Up: func() {
			a.streaming.Store(true)
			if ob := a.Outbox(); ob != nil {
				ob.Kick() // the coordinator is back: send what waits now
			}
		},
		Message: a.onPresenceMessage,
		Invalid: func(err error) { a.log.Warn("an invalid message from the coordinator", "err", err) },
	}
	for ctx.Err() == nil {
		began := time.Now()
		err := a.coord.PresenceStream(ctx, h)
		a.streaming.Store(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			pause = time.Second // it had been working
		}
		a.log.Debug("presence stream ended; reconnecting", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// onPresenceMessage acts on a message from the coordinator's presence
// stream.
func (a *Agent) onPresenceMessage(m wire.PresenceMessage) {
	if m.Type == wire.PresenceConsentRules {
		a.applyConsentRules(m)
		return
	}
	a.mu.Lock()
	v := a.revoker
	a.mu.Unlock()
	if v == nil {
		a.log.Warn("a message from the coordinator before the agent serves peers; ignored", "type", m.Type)
		return
	}
	v.Handle(m)
}

// applyConsentRules makes what the coordinator's consent rules ask on
// this machine what its consent service asks (NoRules: the agent's own
// default), unless the agent runs with its own rules file, which wins.
// An unattended agent that had no page starts one once it must ask.
func (a *Agent) applyConsentRules(m wire.PresenceMessage) {
	if a.cfg.ConsentRules != nil {
		a.log.Debug("the coordinator's consent rules are ignored: this agent's own rules file wins")
		return
	}
	cs := a.Consent()
	if cs == nil {
		a.log.Warn("consent rules from the coordinator before the agent serves peers; ignored")
		return
	}
	ask, why := []wire.Capability{}, "the coordinator's consent rules"
	if m.NoRules {
		ask, why = a.consentRules().For(a.st.Metadata.Company, a.st.DeviceID), "the shop has no consent rules: the agent's default"
	} else {
		for _, c := range m.Ask {
			if c.Valid() { // the others are a later version's, which this agent does not serve
				ask = append(ask, c)
			}
		}
	}
	if !cs.SetAsk(ask, why) {
		return
	}
	a.log.Info("consent rules changed", "ask", cs.Ask())
	if a.cfg.Unattended && cs.Asks() && a.UI() == nil { // an attended agent's page is always up
		if _, err := a.startUI(cs); err != nil {
			a.log.Error("the end user's page could not start; questions go unanswered", "err", err)
		}
	}
}

// report sends inventory at start and every InventoryEvery, and a heartbeat
// every HeartbeatEvery while the presence stream is down (a proxy that does
// not pass streams). Failures (the coordinator is down) are retried on the
// next tick.
func (a *Agent) report(ctx context.Context) {
	start := a.cfg.Now()
	hb := time.NewTicker(a.cfg.HeartbeatEvery)
	defer hb.Stop()
	invTick := time.NewTicker(a.cfg.InventoryEvery)
	defer invTick.Stop()
	invDue := true
	md := a.st.Metadata
	for {
		// `peerdesk-agent reconfigure` rewrites the state file; a change
		// is reported at the next heartbeat rather than the next hour.
		if st, err := state.Load(a.cfg.StateDir); err == nil && !reflect.DeepEqual(st.Metadata, md) {
			md, invDue = st.Metadata, true
		}
		if invDue {
			invDue = !a.reportInventory(ctx, md)
		}
		if !a.streaming.Load() {
			if err := a.coord.Heartbeat(ctx, wire.Heartbeat{AgentVersion: a.cfg.Version, Uptime: wire.Duration(a.cfg.Now().Sub(start)), Sent: a.cfg.Now().UTC(), Agent: a.servedNow()}); err != nil {
				a.log.Debug("heartbeat failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
		case <-invTick.C:
			invDue = true
		}
	}
}
