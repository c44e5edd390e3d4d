package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/auditlog"
	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/localui"
	"github.com/peerdesk/peerdesk/agent/peer"
	"github.com/peerdesk/peerdesk/agent/sysinfo"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// SupportOptions configure a one-time support run (S4).
type SupportOptions struct {
	Config   wire.SupportConfig // from the executable's trailer (package supportpack)
	Display  string             // X11 display; "" means $DISPLAY
	Hostname string             // "" means the OS host name
	Version  string
	// Browser opens the end user's page with a one-time URL; nil means the
	// desktop's browser. The address is neither printed nor logged (L4).
	Browser func(url string) error
	Logger  *slog.Logger
	// Retry is how long the agent waits before it tries the help desk
	// again when it cannot reach it; DefaultRetry if zero.
	Retry time.Duration
}

// DefaultRetry is how often a one-time agent that cannot reach its help
// desk tries again.
const DefaultRetry = 3 * time.Second

// reachHelpDesk fetches the coordinator's CA (checked against the pin) and
// joins with the code. While the help desk cannot be reached — no network,
// the pin does not match, the clock is off — it tells why (tell, each time
// the reason changes, "" once reached) and tries again every o.Retry until
// ctx ends. A refused code (wrong, used, expired) ends it at once.
func reachHelpDesk(ctx context.Context, o SupportOptions, host string, claim wire.Served, tell func(string), log *slog.Logger) (*x509.Certificate, *coordclient.Client, wire.JoinResponse, error) {
	retry := o.Retry
	if retry <= 0 {
		retry = DefaultRetry
	}
	said := ""
	for {
		ca, err := trust.FetchCA(ctx, o.Config.CoordinatorURL, o.Config.Pin)
		if err == nil {
			coord := coordclient.New(o.Config.CoordinatorURL, ca)
			join, jerr := coord.Join(ctx, wire.JoinRequest{Code: o.Config.Code, Hostname: host, OS: osName(), Agent: claim})
			if jerr == nil {
				if said != "" {
					tell("")
				}
				return ca, coord, join, nil
			}
			if coordclient.Code(jerr) != "" { // the help desk answered: the code is refused
				fmt.Println("peerdesk support:", jerr)
				return nil, nil, wire.JoinResponse{}, fmt.Errorf("agent.RunSupport: %w", jerr)
			}
			err = jerr
		}
		if ctx.Err() != nil {
			return nil, nil, wire.JoinResponse{}, fmt.Errorf("agent.RunSupport: reaching the help desk: %w", err)
		}
		if words := node.Classify(err).Words(); words != said {
			said = words
			tell(words)
		}
		log.Info("cannot reach the help desk; trying again", "err", err, "in", retry)
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, wire.JoinResponse{}, fmt.Errorf("agent.RunSupport: reaching the help desk: %w", err)
		case <-t.C:
		}
	}
}

// RunSupport is the one-time support agent: it presents its code, joins the
// overlay as an ephemeral node whose keys live only in memory, shows the end
// user who wants to connect and asks for consent, serves one screen session,
// and exits when that session ends or the user closes it — leaving nothing
// behind: no service, no key, no state (its scratch directory is removed).
func RunSupport(ctx context.Context, o SupportOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	scratch, err := os.MkdirTemp("", "peerdesk-support-")
	if err != nil {
		return fmt.Errorf("agent.RunSupport: %w", err)
	}
	defer os.RemoveAll(scratch)
	audit, err := auditlog.Open(scratch, nil, log)
	if err != nil {
		return err
	}
	defer audit.Close()

	host := o.Hostname
	if host == "" {
		host = Hostname()
	}
	// The user's page opens first, so that whatever stops the agent from
	// reaching the help desk is said there as well as on the terminal. A
	// one-time agent always asks (I4): its rules are fixed.
	cs := consent.New(consent.Config{Ask: policy.AttendedConsent, Audit: audit, Logger: log})
	open := o.Browser
	if open == nil {
		open = localui.OpenBrowser
	}
	ui, err := localui.Start(localui.Config{Hostname: host, OneTime: true, Consent: cs, Show: open, Logger: log})
	if err != nil {
		return err
	}
	defer ui.Close()
	fmt.Printf("peerdesk support %s — your page opens in your browser\n", o.Config.Code)
	if err := open(ui.URL()); err != nil {
		fmt.Println("peerdesk support: your browser could not be opened; it is tried again when your technician connects")
		log.Info("could not open a browser", "err", err)
	}

	claim := oneTimeServed()
	ca, coord, join, err := reachHelpDesk(ctx, o, host, claim, func(words string) {
		ui.SetNetwork(words)
		if words != "" {
			fmt.Println("peerdesk support:", words, "Trying again…")
		}
	}, log)
	if err != nil {
		return err
	}
	cs.SetDevice(join.DeviceID)
	device := coord.WithDevice(join.DeviceID, join.DeviceSecret)
	ended := false
	endSession := func(reason string) {
		if ended {
			return
		}
		ended = true
		ectx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := device.EndSupport(ectx, reason); err != nil {
			log.Warn("telling the help desk the session ended", "err", err)
		}
	}
	defer endSession("the support agent closed")

	// Why the overlay is down also goes to the technician's session row,
	// over HTTPS: it works when the overlay does not.
	reports := startOverlayReporter(ctx, device.ReportOverlay, log)
	defer reports.Close()
	n, err := node.New(node.Config{
		Dir: filepath.Join(scratch, "node"), Hostname: host, ControlURL: o.Config.CoordinatorURL,
		CA: ca, AuthKey: join.AuthKey, InMemory: true, Logger: log,
		OnDiagnosis: func(d node.Diagnosis) {
			reports.Send(string(d.Reason))
			// Said on the user's page and the terminal (issue 12): the
			// technician cannot connect until this is fixed.
			ui.SetNetwork(problemWords(d))
			if w := problemWords(d); w != "" {
				fmt.Println("peerdesk support:", w)
			} else if d.Reason == node.ReasonNone {
				fmt.Println("peerdesk support: connected to the help desk's network")
			}
		},
	})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Up(ctx); err != nil {
		return fmt.Errorf("agent.RunSupport: joining: %w", err)
	}
	reports.Send("") // up: the row shows the overlay address and a live Connect

	done := make(chan string, 1)
	sh, err := screenHandler(LocalDesktop(o.Display, false), n, cs, func(reason string) {
		select {
		case done <- reason:
		default:
		}
	}, log)
	if err != nil {
		return err
	}
	if len(join.GrantKey) == 0 {
		sh.Close()
		return errors.New("agent.RunSupport: the help desk sent no grant key")
	}
	g := &gate.Gate{Device: join.DeviceID, GrantKey: join.GrantKey, WhoIs: n, Audit: audit, Logger: log}
	srv, err := peer.New(peer.Config{
		Gate: g, Consent: cs, Logger: log.With("component", "peer"),
		Capabilities: append([]peer.Capability{
			{Routes: []string{"POST " + wire.PeerPathScreenOffer}, Handler: sh, Consent: peer.ConsentOwn, Close: func() error { sh.Close(); return nil }},
			{Routes: []string{"GET " + wire.PeerPathSysInfo}, Handler: sysinfo.Handler{Collector: newCollector(o.Version, log)}},
		}, backstage(backstageConfig{Logger: log, OneTime: true, Device: join.DeviceID, Audit: audit})...),
		Background: []func(context.Context){func(ctx context.Context) { audit.Forward(ctx, device.Audit, 10*time.Second) }},
	})
	if err != nil {
		sh.Close()
		return fmt.Errorf("agent.RunSupport: %w", err)
	}
	if got := servedBy(srv.Capabilities()); !got.Equal(claim) {
		// A bug, not the user's problem: the technician's viewer may
		// refuse or try what this table does not match.
		log.Error("the one-time agent serves other capabilities than it said at its join", "said", claim.Capabilities, "serves", got.Capabilities)
	}
	ln, err := n.Listen("tcp", ":"+strconv.Itoa(wire.PeerPort))
	if err != nil {
		sh.Close()
		return err
	}
	// The server, its forwarder and the screen session end before the
	// trail closes and the scratch directory goes (deferred above).
	sctx, stopServing := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		stopServing()
		if err := <-served; err != nil {
			log.Warn("the peer server", "err", err)
		}
	}()

	var reason string
	select {
	case <-ctx.Done():
		reason = "the user closed the support agent"
	case reason = <-done:
	}
	// Deliver the trail before leaving: the scratch directory goes with us.
	fctx2, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := audit.ForwardOnce(fctx2, device.Audit); err != nil {
		log.Warn("forwarding the audit trail", "err", err)
	}
	cancel()
	endSession(reason)
	fmt.Printf("peerdesk support session ended: %s\n", reason)
	return nil
}

// problemWords is what the end user's page says about the overlay: the
// reason it cannot come up, or nothing while it is up or merely starting.
func problemWords(d node.Diagnosis) string {
	switch d.Reason {
	case node.ReasonNone, node.ReasonConnecting:
		return ""
	}
	return d.Reason.Words()
}

// overlayReporter tells the coordinator, one report at a time and only the
// latest, why this agent's overlay node is not up ("" once it is).
type overlayReporter struct {
	ch     chan string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startOverlayReporter(ctx context.Context, report func(context.Context, string) error, log *slog.Logger) *overlayReporter {
	ctx, cancel := context.WithCancel(ctx)
	r := &overlayReporter{ch: make(chan string, 1), cancel: cancel}
	r.wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case reason := <-r.ch:
				rctx, done := context.WithTimeout(ctx, 5*time.Second)
				err := report(rctx, reason)
				done()
				if err != nil && ctx.Err() == nil {
					// An older coordinator has no such route (404):
					// the page and the log still say it.
					log.Info("telling the help desk why the overlay is not up", "reason", reason, "err", err)
				}
			}
		}
	})
	return r
}

// Send queues reason, replacing one not yet sent; it never blocks.
func (r *overlayReporter) Send(reason string) {
	for {
		select {
		case r.ch <- reason:
			return
		default:
		}
		select {
		case <-r.ch:
		default:
		}
	}
}

// Close stops the reporter and waits for it; a report not yet sent is dropped.
func (r *overlayReporter) Close() {
	r.cancel()
	r.wg.Wait()
}
