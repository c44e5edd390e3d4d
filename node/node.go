// Package node makes a process a member of a peerdesk overlay: a userspace
// WireGuard node (tailscale.com/tsnet) that agents and viewers share.
//
// # Overview
//
// A Node joins the overlay run by a peerdesk coordinator, then listens for and
// dials its peers directly over WireGuard. The coordinator is only the control
// plane: once two nodes have each other in their network maps, their traffic
// flows peer to peer (or through the coordinator's DERP relay when no direct
// path exists) and keeps flowing if the coordinator goes away.
//
// # Offline by construction
//
// A Node never talks to anything but the coordinator and its peers: log
// upload is disabled, port-mapper probes (UPnP, NAT-PMP, PCP) are disabled,
// the DERP map comes only from the coordinator and carries IP literals, and
// the control URL is an IP literal on loopback (see below), so nothing needs
// DNS or tailscale's DNS fallback.
//
// # Trusting the coordinator
//
// tsnet verifies the control server and DERP relay against the operating
// system's roots and offers no field for extra roots (tsd.System.ExtraRootCAs
// is built inside tsnet's Start). peerdesk therefore keeps TLS trust out of
// tsnet's hands:
//
//   - Control: the Node runs a small relay on 127.0.0.1 and gives tsnet
//     http://127.0.0.1:<port> as its control URL. The relay forwards each
//     connection to the coordinator over TLS verified against the pinned
//     coordinator CA (package trust). tsnet's control protocol (ts2021) is
//     itself Noise-encrypted to the server key fetched through the relay.
//   - DERP: the coordinator's DERP map pins its TLS leaf certificate by hash
//     (tailcfg.DERPNode.CertName "sha256-raw:<hex>"), which tsnet's DERP
//     client honours on every OS. The map arrives over the control channel
//     above, so it is as trusted as the CA pin.
//
// This works the same on Linux, Windows and macOS, and never touches the OS
// trust store.
//
// # Usage
//
//	n, err := node.New(node.Config{Dir: dir, Hostname: "pc-12", ControlURL: url, CA: ca, AuthKey: key})
//	...
//	if err := n.Up(ctx); err != nil { ... }
//	defer n.Close()
//	ln, err := n.Listen("tcp", ":7070")
//	c, err := n.Dial(ctx, "tcp", "100.64.0.2:7070")
//	id, err := n.WhoIs(ctx, conn.RemoteAddr().String())
package node

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tailscale.com/atomicfile"
	"tailscale.com/client/local"
	"tailscale.com/ipn"
	"tailscale.com/ipn/ipnstate"
	"tailscale.com/ipn/store/mem"
	"tailscale.com/tailcfg"
	"tailscale.com/tsnet"
)

// Config configures a Node.
type Config struct {
	// Dir is the node's state directory (WireGuard keys, overlay state).
	// It must be private to this node.
	Dir string

	// Hostname is the name the node registers with.
	Hostname string

	// ControlURL is the coordinator's https base URL.
	ControlURL string

	// CA is the coordinator's CA certificate, already checked against the
	// pin (trust.FetchCA). Required.
	CA *x509.Certificate

	// AuthKey is the overlay pre-auth key. It is needed only the first
	// time; later starts reuse the identity kept in Dir.
	AuthKey string

	// Port is the UDP port for WireGuard; 0 reuses the port the node had
	// last time (kept in Dir) or picks one. Keeping it matters: a peer
	// that talked to this node before a restart still sends to the old
	// address until its path expires (about 6.5 s), so a restart on a new
	// port had its first WireGuard handshake answered into the void and
	// retried only after 5 s.
	Port uint16

	// InMemory keeps the node's keys and overlay state in memory only:
	// nothing of its identity is written to Dir (one-time support agents,
	// which must leave no key behind).
	InMemory bool

	// Logger receives the node's logs; nil discards them. tsnet's own
	// (verbose) log goes to it at debug level.
	Logger *slog.Logger

	// OnDiagnosis, if set, is told why the node is not up yet while Up
	// waits: first about a second after Up starts, then whenever the
	// reason changes (checked every few seconds), and a last time with
	// ReasonNone once the node is up, if it was told anything before.
	// It is called from one goroutine at a time and must not block.
	OnDiagnosis func(Diagnosis)

	// Now is the clock used to check the coordinator's certificate and
	// Date while diagnosing; nil is time.Now.
	Now func() time.Time
}

// Errors returned by Node; test with errors.Is.
var (
	ErrNotUp       = errors.New("node: not up")
	ErrClosed      = errors.New("node: closed")
	ErrUnreachable = errors.New("node: peer unreachable")
	ErrNotPeer     = errors.New("node: address is not an overlay peer")
)

// Node is one member of the overlay.
type Node struct {
	cfg   Config
	log   *slog.Logger
	ts    *tsnet.Server
	relay *controlRelay
	lc    *local.Client

	mu      sync.Mutex
	diag    Diagnosis // why the node is not up; zero once up
	up      bool
	closed  bool
	reached map[netip.Addr]time.Time // peers that answered a disco ping
}

// New checks cfg and prepares a node; nothing is started until Up.
func New(cfg Config) (*Node, error) {
	if cfg.Dir == "" || cfg.Hostname == "" || cfg.ControlURL == "" || cfg.CA == nil {
		return nil, errors.New("node.New: Dir, Hostname, ControlURL and CA are required")
	}
	u, err := url.Parse(cfg.ControlURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("node.New: control URL %q must be https://host[:port]", cfg.ControlURL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("node.New: %w", err)
	}
	goOffline()
	return &Node{cfg: cfg, log: cfg.Logger, reached: map[netip.Addr]time.Time{}}, nil
}

// Up joins the overlay and returns once the node is running with its
// network map. Peers are pinged on first Dial, not here.
func (n *Node) Up(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	if n.up {
		n.mu.Unlock()
		return nil
	}
	n.mu.Unlock()

	relay, err := startRelay(n.cfg.ControlURL, n.cfg.CA, n.cfg.Dir, n.log)
	if err != nil {
		return fmt.Errorf("node.Up: %w", err)
	}
	tsLog := n.log.With("component", "tsnet", "node", n.cfg.Hostname)
	ts := &tsnet.Server{
		Dir:        n.cfg.Dir,
		Hostname:   n.cfg.Hostname,
		ControlURL: relay.URL(),
		AuthKey:    n.cfg.AuthKey,
		Port:       n.port(),
		Store:      store(n.cfg.InMemory),
		Ephemeral:  n.cfg.InMemory, // tsnet allows a memory store only for ephemeral nodes
		Logf:       func(format string, args ...any) { tsLog.Debug(strings.TrimSpace(fmt.Sprintf(format, args...))) },
		UserLogf:   func(format string, args ...any) { tsLog.Info(strings.TrimSpace(fmt.Sprintf(format, args...))) },
	}
	stopWatch := n.watch(ctx)
	_, err = ts.Up(ctx)
	stopWatch(err == nil)
	if err != nil {
		return errors.Join(fmt.Errorf("node.Up: %w", err), closeServer(ts), relay.Close())
	}
	lc, err := ts.LocalClient()
	if err != nil {
		return errors.Join(fmt.Errorf("node.Up: %w", err), closeServer(ts), relay.Close())
	}
	n.keepPort(ts)
	n.awaitHome(ctx, ts)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.Join(ErrClosed, ts.Close(), relay.Close())
	}
	n.ts, n.relay, n.lc, n.up = ts, relay, lc, true
	return nil
}

// homeWait bounds how long Up waits for the node's home relay. Without a
// relay the overlay still works once direct paths are found, so the wait
// ends quietly (with a log line).
const homeWait = 10 * time.Second

// awaitHome waits until the node is connected to its home relay (DERP).
// tsnet reports Running on the first network map, before its relay probe
// (netcheck) has chosen a home and connected to it. A peer that answers
// this node's first WireGuard handshake through the relay meanwhile loses
// the answer (the relay drops frames for a node not connected to it), and
// the handshake is only retried after 5 s. A restarted node meets this on
// every start, since its peers cleared the direct path of the old process
// with its old disco key and answer through the relay.
func (n *Node) awaitHome(ctx context.Context, ts *tsnet.Server) {
	ms, ok := ts.Sys().MagicSock.GetOK()
	ht, ok2 := ts.Sys().HealthTracker.GetOK()
	if !ok || !ok2 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, homeWait)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if r := ms.GetLastNetcheckReport(ctx); r != nil && r.PreferredDERP != 0 && !ht.GetDERPRegionReceivedTime(r.PreferredDERP).IsZero() {
			n.log.Debug("connected to the home relay", "region", r.PreferredDERP, "after", time.Since(start))
			return
		}
		select {
		case <-ctx.Done():
			n.log.Info("not connected to the overlay's relay yet; the first connections may wait", "err", ctx.Err())
			return
		case <-tick.C:
		}
	}
}

// wgPortFile keeps a node's WireGuard UDP port across restarts (see
// Config.Port).
const wgPortFile = "wireguard.port"

// port is the UDP port tsnet is asked for: the configured one, else the
// one kept from the last start (tsnet falls back to any free port if it
// is taken), else 0.
func (n *Node) port() uint16 {
	if n.cfg.Port != 0 || n.cfg.InMemory || n.cfg.Dir == "" {
		return n.cfg.Port
	}
	b, err := os.ReadFile(filepath.Join(n.cfg.Dir, wgPortFile))
	if err != nil {
		return 0
	}
	p, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 16)
	if err != nil {
		return 0
	}
	return uint16(p)
}

// keepPort records the port the node's WireGuard socket is bound to, for
// the next start. A failure costs only the next start's first handshake,
// so it is logged, not returned.
func (n *Node) keepPort(ts *tsnet.Server) {
	if n.cfg.Port != 0 || n.cfg.InMemory || n.cfg.Dir == "" {
		return
	}
	ms, ok := ts.Sys().MagicSock.GetOK()
	if !ok {
		return
	}
	p := ms.LocalPort()
	if p == 0 || p == n.port() {
		return
	}
	if err := atomicfile.WriteFile(filepath.Join(n.cfg.Dir, wgPortFile), []byte(strconv.Itoa(int(p))+"\n"), 0o600); err != nil {
		n.log.Warn("could not keep the WireGuard port for the next start", "err", err)
	}
}

// Diagnosis says why the node is not up (ReasonConnecting before the
// first check), or ReasonNone once it is.
func (n *Node) Diagnosis() Diagnosis {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.up {
		return Diagnosis{}
	}
	if n.diag.Reason == ReasonNone {
		return Diagnosis{Reason: ReasonConnecting}
	}
	return n.diag
}

// Diagnosis cadence while Up waits: the first check soon enough that a
// person is told within 5 s, then a recheck so a fixed cause clears.
const (
	diagnoseAfter = time.Second
	diagnoseEvery = 3 * time.Second
)

// watch diagnoses until the returned stop is called (with whether the node
// came up); stop waits for the watcher to end.
func (n *Node) watch(ctx context.Context) (stop func(up bool)) {
	ctx, cancel := context.WithCancel(ctx)
	probe := Probe{ControlURL: n.cfg.ControlURL, CA: n.cfg.CA, Now: n.cfg.Now}
	told := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(diagnoseAfter)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			d := probe.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			n.mu.Lock()
			changed := d.Reason != n.diag.Reason
			n.diag = d
			n.mu.Unlock()
			if changed {
				told = true
				n.log.Warn("the overlay is not up yet", "reason", d.Reason.String(), "detail", d.Detail)
				if n.cfg.OnDiagnosis != nil {
					n.cfg.OnDiagnosis(d)
				}
			}
			t.Reset(diagnoseEvery)
		}
	}()
	return func(up bool) {
		cancel()
		<-done
		n.mu.Lock()
		n.diag = Diagnosis{}
		n.mu.Unlock()
		if up && told {
			n.log.Info("the overlay is up")
			if n.cfg.OnDiagnosis != nil {
				n.cfg.OnDiagnosis(Diagnosis{})
			}
		}
	}
}

// closeServer closes a tsnet server whose start may have failed half way:
// tsnet's Close dereferences parts that a failed start never made.
func closeServer(ts *tsnet.Server) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node: closing a half-started tsnet server: %v", r)
		}
	}()
	return ts.Close()
}

// store returns the state store for tsnet: nil (a file in Dir) or memory.
func store(inMemory bool) ipn.StateStore {
	if inMemory {
		return new(mem.Store)
	}
	return nil
}

// running returns the tsnet server if the node is up.
func (n *Node) running() (*tsnet.Server, *local.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
		return nil, nil, ErrClosed
	case !n.up:
		return nil, nil, ErrNotUp
	}
	return n.ts, n.lc, nil
}

// Addr returns the node's overlay IPv4 address.
func (n *Node) Addr() (netip.Addr, error) {
	ts, _, err := n.running()
	if err != nil {
		return netip.Addr{}, err
	}
	ip4, _ := ts.TailscaleIPs()
	if !ip4.IsValid() {
		return netip.Addr{}, errors.New("node: no overlay address yet")
	}
	return ip4, nil
}

// NodeKey returns the node's WireGuard public key ("nodekey:<hex>").
func (n *Node) NodeKey(ctx context.Context) (string, error) {
	_, lc, err := n.running()
	if err != nil {
		return "", err
	}
	st, err := lc.StatusWithoutPeers(ctx)
	if err != nil {
		return "", fmt.Errorf("node.NodeKey: %w", err)
	}
	if st.Self == nil {
		return "", errors.New("node.NodeKey: no self status")
	}
	return st.Self.PublicKey.String(), nil
}

// Listen listens on the overlay, e.g. Listen("tcp", ":7070").
func (n *Node) Listen(network, addr string) (net.Listener, error) {
	ts, _, err := n.running()
	if err != nil {
		return nil, err
	}
	return ts.Listen(network, addr)
}

// ListenPacket listens for UDP on the overlay. Unlike tsnet's, it accepts
// "udp" (meaning udp4) and an unspecified or empty host (meaning the node's
// overlay IPv4 address); port 0 picks a free port.
func (n *Node) ListenPacket(network, addr string) (net.PacketConn, error) {
	ts, _, err := n.running()
	if err != nil {
		return nil, err
	}
	if network == "udp" {
		network = "udp4"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("node.ListenPacket: %w", err)
	}
	if ip, perr := netip.ParseAddr(host); host == "" || perr == nil && ip.IsUnspecified() {
		ip4, _ := ts.TailscaleIPs()
		host = ip4.String()
	}
	return ts.ListenPacket(network, net.JoinHostPort(host, port))
}

// Dial connects to a peer's overlay address ("100.64.0.5:7070"). The first
// dial to a peer first pings it (disco) until it answers, so the WireGuard
// handshake is not sent before the peer knows this node — a handshake the
// peer drops is only retried after 5 s.
func (n *Node) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ts, _, err := n.running()
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("node.Dial: address must be ip:port on the overlay: %w", err)
	}
	if err := n.Reach(ctx, ap.Addr()); err != nil {
		return nil, err
	}
	c, err := ts.Dial(ctx, network, addr)
	if err != nil {
		n.forget(ap.Addr())
		return nil, fmt.Errorf("node.Dial: %w", err)
	}
	return c, nil
}

// reachTTL is how long a successful ping spares later dials a new one.
const reachTTL = time.Minute

// Reach pings peer until it answers or ctx ends. It returns at once if the
// peer answered within the last minute.
func (n *Node) Reach(ctx context.Context, peer netip.Addr) error {
	_, lc, err := n.running()
	if err != nil {
		return err
	}
	n.mu.Lock()
	at, ok := n.reached[peer]
	n.mu.Unlock()
	if ok && time.Since(at) < reachTTL {
		return nil
	}
	var last error
	answered := 0
	for attempt := 0; ; attempt++ {
		// Short attempts: a ping the peer cannot yet authenticate is
		// dropped, and waiting long for its answer wastes the time in
		// which the peer learns about us.
		pctx, cancel := context.WithTimeout(ctx, pingTimeout(attempt))
		res, err := lc.Ping(pctx, peer, tailcfg.PingDisco)
		cancel()
		switch {
		case err == nil && res.Err == "":
			// The first answer proves the peer knows our keys; the
			// second gives it the round trip in which it learns a path
			// back to us. Without it the peer can accept our WireGuard
			// handshake yet have nowhere to send its reply ("no UDP or
			// DERP addr"), and the handshake is only retried after 5 s.
			if answered++; answered < 2 {
				continue
			}
			n.mu.Lock()
			n.reached[peer] = time.Now()
			n.mu.Unlock()
			return nil
		case err != nil:
			last = err
		default:
			last = errors.New(res.Err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %s: %v", ErrUnreachable, peer, last)
		}
		if strings.Contains(last.Error(), "no matching peer") {
			// Not (yet) in our network map: wait for the next update.
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// pingTimeout grows from 60 ms (a LAN or loopback answers in well under
// that) to 1 s (a path through the relay across a slow link).
func pingTimeout(attempt int) time.Duration {
	return min(60*time.Millisecond<<min(attempt, 5), time.Second)
}

func (n *Node) forget(peer netip.Addr) {
	n.mu.Lock()
	delete(n.reached, peer)
	n.mu.Unlock()
}

// Identity is who is at the other end of an overlay connection, as the
// control plane vouches for it.
type Identity struct {
	NodeKey string // "nodekey:<hex>", the WireGuard key
	NodeID  string // the control plane's stable node ID
	Name    string // the node's host name
	Tags    []string
	User    string // login name; "tagged-devices" for tagged nodes
	Addr    netip.Addr
}

// HasTag reports whether the node carries tag.
func (id Identity) HasTag(tag string) bool { return slices.Contains(id.Tags, tag) }

// WhoIs identifies the peer at remoteAddr ("ip:port" of an overlay
// connection). An address that is not a current peer is an error.
func (n *Node) WhoIs(ctx context.Context, remoteAddr string) (Identity, error) {
	_, lc, err := n.running()
	if err != nil {
		return Identity{}, err
	}
	w, err := lc.WhoIs(ctx, remoteAddr)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %s: %v", ErrNotPeer, remoteAddr, err)
	}
	if w.Node == nil {
		return Identity{}, fmt.Errorf("%w: %s", ErrNotPeer, remoteAddr)
	}
	id := Identity{
		NodeKey: w.Node.Key.String(),
		NodeID:  string(w.Node.StableID),
		Name:    w.Node.ComputedName,
		Tags:    slices.Clone(w.Node.Tags),
	}
	if w.Node.Hostinfo.Valid() {
		id.Name = w.Node.Hostinfo.Hostname()
	}
	if w.UserProfile != nil {
		id.User = w.UserProfile.LoginName
	}
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		id.Addr = ap.Addr()
	}
	return id, nil
}

// Peer is another node as this node sees it.
type Peer struct {
	Name     string
	NodeKey  string
	Addr     netip.Addr // overlay IPv4
	Tags     []string
	Online   bool
	LastSeen time.Time
	Direct   string // the direct endpoint in use, "" if relayed or idle
	Relay    string // DERP region in use, if any
}

// Peers lists the peers in this node's network map.
func (n *Node) Peers(ctx context.Context) ([]Peer, error) {
	_, lc, err := n.running()
	if err != nil {
		return nil, err
	}
	st, err := lc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("node.Peers: %w", err)
	}
	out := make([]Peer, 0, len(st.Peer))
	for _, p := range st.Peer {
		out = append(out, peerFrom(p))
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func peerFrom(p *ipnstate.PeerStatus) Peer {
	out := Peer{
		Name:     p.HostName,
		NodeKey:  p.PublicKey.String(),
		Online:   p.Online,
		LastSeen: p.LastSeen,
		Direct:   p.CurAddr,
		Relay:    p.Relay,
	}
	if p.Tags != nil {
		out.Tags = p.Tags.AsSlice()
	}
	for _, ip := range p.TailscaleIPs {
		if ip.Is4() {
			out.Addr = ip
		}
	}
	return out
}

// Close leaves the overlay and stops everything Up started. It is safe to
// call more than once.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	ts, relay := n.ts, n.relay
	n.mu.Unlock()
	var errs []error
	if ts != nil {
		errs = append(errs, ts.Close())
	}
	if relay != nil {
		errs = append(errs, relay.Close())
	}
	return errors.Join(errs...)
}
