// Package overlay embeds the overlay's control plane — Headscale — together
// with its DERP relay and STUN server, and owns their whole lifecycle.
//
// It is the only package of peerdesk that imports hscontrol. Headscale is
// written to be a process of its own: its Serve installs signal handlers,
// calls log.Fatal when it cannot bind, and logs through zerolog's global
// logger. This package therefore never calls Serve. It builds the same
// pieces Serve would — the map batcher, the ephemeral-node collector, the
// DERP map, STUN — with lifecycles bound to a context, serves Headscale's
// HTTP handler from the coordinator's own TLS listener (only the routes the
// overlay needs), and routes Headscale's zerolog output into an injected
// *slog.Logger.
//
// Trust: the DERP relay is the overlay's own (derp.go) and serves only
// nodes this control plane knows (M4). DeleteNode and RevokeAuthKey
// remove a node — a removed or reset device — so its peers drop it and
// its relayed connections end. Pre-auth keys that expired with no node
// joined with them are deleted on a schedule (PruneAuthKeys, L1).
//
// Usage:
//
//	srv, err := overlay.New(cfg)
//	...
//	err = srv.Start(ctx) // returns once ready; ctx cancellation stops it
//	mux.Handle("/", srv.Handler())
//	...
//	srv.Close() // waits for everything Start started
package overlay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	hscontrol "github.com/juanfont/headscale/hscontrol"
	"github.com/juanfont/headscale/hscontrol/types"
	"tailscale.com/derp/derpserver"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

// Config configures the embedded control plane.
type Config struct {
	// Dir holds Headscale's SQLite database and its Noise and DERP keys.
	Dir string

	// ServerURL is the coordinator's public https URL, as nodes reach it.
	ServerURL string

	// DERPHost is the host name the DERP relay is reached by (the TLS
	// server name), and DERPIPv4/DERPIPv6 the addresses nodes dial: the
	// DERP map always carries IP literals so no node ever needs DNS (or
	// tailscale's DNS fallback, which asks public servers) to find it.
	DERPHost string
	DERPIPv4 string
	DERPIPv6 string
	// DERPPort is the TLS port of the relay (the coordinator's port).
	DERPPort int
	// DERPCertSHA256 pins the relay's TLS leaf certificate (hex SHA-256 of
	// its DER); nodes trust nothing else for DERP.
	DERPCertSHA256 string

	// STUNAddr is the UDP address the STUN server listens on
	// (e.g. "0.0.0.0:3478"; "127.0.0.1:0" picks a free port).
	STUNAddr string

	// Policy is the overlay ACL (Headscale policy v2 JSON).
	Policy []byte

	// PrefixV4 is the overlay's IPv4 range; zero means 100.64.0.0/10.
	PrefixV4 netip.Prefix

	// EphemeralTimeout is how long an ephemeral node may stay offline
	// before it is deleted; zero means 2 minutes.
	EphemeralTimeout time.Duration

	// BatchDelay is how long changes are collected before peers are told;
	// zero means 50 ms (Headscale's own default of 800 ms makes joining
	// take seconds).
	BatchDelay time.Duration

	// WriteBatch is how long node writes (joins, endpoint and online
	// changes) are collected before Headscale rebuilds its peer map; zero
	// means 250 ms. A rebuild pairs every node with every other: 28 ms at
	// 500 nodes, 108 ms at 1,000, 420 ms at 2,000 (BenchmarkBuildPeerMap),
	// so at fleet scale one rebuild per write saturates the coordinator
	// while a fleet joins. Each write waits for its batch: a join takes up
	// to this much longer. Tests use a few milliseconds.
	WriteBatch time.Duration

	// KeyPruneInterval is how often expired pre-auth keys no node joined
	// with are deleted (PruneAuthKeys); zero means 10 minutes.
	KeyPruneInterval time.Duration

	// Now is the clock pre-auth keys are made and pruned by; nil means
	// time.Now. (Headscale checks a key's expiry on its own clock.)
	Now func() time.Time

	// Logger receives Headscale's logs; nil discards them.
	Logger *slog.Logger
}

// Server is the embedded control plane.
type Server struct {
	cfg      Config
	hs       *hscontrol.Headscale
	log      *slog.Logger
	now      func() time.Time
	relay    *relay // the DERP relay, admitting this overlay's nodes only
	stun     *stunServer
	requests *requests // what Handler serves; drained before Headscale stops

	mu       sync.Mutex
	started  bool
	closed   bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	cleanups lifecycle
}

// Errors returned by Server; test with errors.Is.
var (
	ErrNotStarted = errors.New("overlay: not started")
	ErrClosed     = errors.New("overlay: closed")
	ErrNotFound   = errors.New("overlay: node not found")
)

// New prepares the control plane; it opens Headscale's database and keys
// but serves nothing until Start.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" || cfg.ServerURL == "" || cfg.STUNAddr == "" || len(cfg.Policy) == 0 {
		return nil, errors.New("overlay.New: Dir, ServerURL, STUNAddr and Policy are required")
	}
	if cfg.DERPIPv4 == "" && cfg.DERPIPv6 == "" {
		return nil, errors.New("overlay.New: DERPIPv4 or DERPIPv6 is required")
	}
	if !cfg.PrefixV4.IsValid() {
		cfg.PrefixV4 = netip.MustParsePrefix("100.64.0.0/10")
	}
	if cfg.EphemeralTimeout == 0 {
		cfg.EphemeralTimeout = 2 * time.Minute
	}
	if cfg.WriteBatch == 0 {
		cfg.WriteBatch = 250 * time.Millisecond
	}
	if cfg.BatchDelay == 0 {
		cfg.BatchDelay = 50 * time.Millisecond
	}
	if cfg.KeyPruneInterval == 0 {
		cfg.KeyPruneInterval = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("overlay.New: %w", err)
	}
	routeLogs(cfg.Logger)

	prefixV6 := netip.MustParsePrefix("fd7a:115c:a1e0::/48")
	hcfg := &types.Config{
		ServerURL:           cfg.ServerURL,
		NoisePrivateKeyPath: filepath.Join(cfg.Dir, "noise_private.key"),
		PrefixV4:            &cfg.PrefixV4,
		PrefixV6:            &prefixV6,
		IPAllocation:        types.IPAllocationStrategySequential,
		DisableUpdateCheck:  true,
		Node: types.NodeConfig{
			Ephemeral: types.EphemeralConfig{InactivityTimeout: cfg.EphemeralTimeout},
		},
		Database: types.DatabaseConfig{
			Type: types.DatabaseSqlite,
			Sqlite: types.SqliteConfig{
				Path:          filepath.Join(cfg.Dir, "headscale.db"),
				WriteAheadLog: true,
			},
		},
		// The relay is ours (derp.go): Headscale's admits any client.
		DERP: types.DERPConfig{
			ServerEnabled:        false,
			ServerRegionID:       derpRegionID,
			ServerRegionCode:     "peerdesk",
			ServerRegionName:     "peerdesk coordinator",
			ServerPrivateKeyPath: filepath.Join(cfg.Dir, "derp_server_private.key"),
			STUNAddr:             cfg.STUNAddr,
			IPv4:                 cfg.DERPIPv4,
			IPv6:                 cfg.DERPIPv6,
		},
		Policy:   types.PolicyConfig{Mode: types.PolicyModeDB},
		Taildrop: types.TaildropConfig{Enabled: false},
		// Every field of Tuning must be set: Headscale defaults them in its
		// config loader, which an embedder does not run.
		Tuning: types.Tuning{
			NotifierSendTimeout:            800 * time.Millisecond,
			BatchChangeDelay:               cfg.BatchDelay,
			NodeMapSessionBufferedChanSize: 30,
			BatcherWorkers:                 types.DefaultBatcherWorkers(),
			RegisterCacheExpiration:        15 * time.Minute,
			RegisterCacheMaxEntries:        1024,
			NodeStoreBatchSize:             100,
			NodeStoreBatchTimeout:          cfg.WriteBatch,
		},
	}
	hs, err := hscontrol.NewHeadscale(hcfg)
	if err != nil {
		return nil, fmt.Errorf("overlay.New: %w", err)
	}
	s := &Server{cfg: cfg, hs: hs, log: cfg.Logger, now: cfg.Now, requests: newRequests()}
	s.relay, err = newRelay(filepath.Join(cfg.Dir, "derp_server_private.key"), s.isNode, cfg.Logger)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("overlay.New: %w", err), s.hs.GetState().Close())
	}
	if err := s.setPolicy(cfg.Policy); err != nil {
		return nil, errors.Join(err, s.relay.close(), s.hs.GetState().Close())
	}
	return s, nil
}

const derpRegionID = 900

// Start starts the map batcher, the ephemeral-node collector and STUN, and
// publishes the DERP map. It returns once the control plane is ready;
// cancelling ctx stops everything Start started (Close waits for it).
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return errors.New("overlay.Start: already started")
	}
	ctx, s.cancel = context.WithCancel(ctx)

	stun, err := listenSTUN(s.cfg.STUNAddr, s.log)
	if err != nil {
		s.cancel()
		return fmt.Errorf("overlay.Start: STUN: %w", err)
	}
	s.stun = stun
	s.wg.Go(stun.serve)

	s.hs.GetState().SetDERPMap(s.derpMap())
	// Headscale offers these two as test hooks taking a testing.TB; they
	// are exactly the pieces of Serve an embedder needs. lifecycle
	// collects the cleanups they register so Close can run them.
	s.hs.StartBatcherForTest(&s.cleanups)
	s.hs.StartEphemeralGCForTest(&s.cleanups)
	s.started = true

	var collecting sync.WaitGroup
	collecting.Go(func() { s.collectStaleEphemeral(ctx) })
	collecting.Go(func() { s.pruneKeys(ctx) })
	s.wg.Go(func() {
		<-ctx.Done()
		collecting.Wait() // it writes the state stop closes
		s.stop()
	})
	return nil
}

// STUNAddr returns the address the STUN server listens on, once started.
func (s *Server) STUNAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stun == nil {
		return nil
	}
	return s.stun.LocalAddr()
}

func (s *Server) derpMap() *tailcfg.DERPMap {
	_, stunPort, err := net.SplitHostPort(s.cfg.STUNAddr)
	if s.stun != nil {
		_, stunPort, err = net.SplitHostPort(s.stun.LocalAddr().String())
	}
	port, perr := strconv.Atoi(stunPort)
	if err != nil || perr != nil {
		port = 3478
	}
	host := s.cfg.DERPHost
	if host == "" {
		host = cmp.Or(s.cfg.DERPIPv4, s.cfg.DERPIPv6)
	}
	// An empty address would make nodes look the host name up in DNS;
	// "none" switches that family off instead.
	ipv4, ipv6 := cmp.Or(s.cfg.DERPIPv4, "none"), cmp.Or(s.cfg.DERPIPv6, "none")
	return &tailcfg.DERPMap{
		OmitDefaultRegions: true,
		Regions: map[int]*tailcfg.DERPRegion{
			derpRegionID: {
				RegionID:   derpRegionID,
				RegionCode: "peerdesk",
				RegionName: "peerdesk coordinator",
				Nodes: []*tailcfg.DERPNode{{
					Name:     strconv.Itoa(derpRegionID),
					RegionID: derpRegionID,
					HostName: host,
					IPv4:     ipv4,
					IPv6:     ipv6,
					DERPPort: s.cfg.DERPPort,
					STUNPort: port,
					CertName: "sha256-raw:" + s.cfg.DERPCertSHA256,
				}},
			},
		},
	}
}

// collectStaleEphemeral deletes ephemeral nodes left in the database by an
// earlier run that never came back (Serve schedules them; the test hook
// that starts the collector does not).
func (s *Server) collectStaleEphemeral(ctx context.Context) {
	t := time.NewTimer(s.cfg.EphemeralTimeout)
	defer t.Stop()
	stale := s.hs.GetState().ListEphemeralNodes()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	for _, n := range stale.All() {
		cur, ok := s.hs.GetState().GetNodeByID(n.ID())
		if !ok || cur.IsOnline().Valid() && cur.IsOnline().Get() {
			continue
		}
		if err := s.DeleteNode(uint64(n.ID())); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("deleting stale ephemeral node", "node", n.ID(), "err", err)
		}
	}
}

// pruneKeys deletes unused expired pre-auth keys now and then (L1).
func (s *Server) pruneKeys(ctx context.Context) {
	t := time.NewTicker(s.cfg.KeyPruneInterval)
	defer t.Stop()
	for {
		if n, err := s.PruneAuthKeys(); err != nil {
			s.log.Warn("pruning pre-auth keys", "err", err)
		} else if n > 0 {
			s.log.Info("pruned unused expired pre-auth keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// isNode reports whether node key k is one of this overlay's nodes: the
// relay serves those only (M4).
func (s *Server) isNode(k key.NodePublic) bool {
	v, ok := s.hs.GetState().GetNodeByNodeKey(k)
	return ok && v.Valid()
}

// DERPClients lists the node keys ("nodekey:<hex>") with a connection
// to the relay, for diagnostics and tests.
func (s *Server) DERPClients() []string {
	var out []string
	for _, k := range s.relay.clients() {
		out = append(out, k.String())
	}
	slices.Sort(out)
	return out
}

// stop runs once, when Start's context ends.
func (s *Server) stop() {
	s.drain()
	if err := s.relay.close(); err != nil {
		s.log.Warn("closing the DERP relay", "err", err)
	}
	s.cleanups.run()
	if err := s.stun.Close(); err != nil {
		s.log.Warn("closing STUN", "err", err)
	}
	if err := s.hs.GetState().Close(); err != nil {
		s.log.Warn("closing Headscale state", "err", err)
	}
}

// drain ends everything Handler serves and waits for it: the requests
// being served (DERP connections live inside theirs), and the Noise
// connections Headscale serves after their upgrade request returned,
// with their long-polls. Nothing of Headscale's then runs on behalf of a
// node: the map batcher, which the long-polls' cleanup still used, and
// the state may be closed.
func (s *Server) drain() {
	s.requests.close()
	s.hs.CloseNoiseConns()
	s.requests.wait()
}

// Close stops the control plane and waits for everything Start started.
// It is safe to call more than once and without Start.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	cancel := s.cancel
	s.mu.Unlock()
	if !started {
		if cancel != nil {
			cancel()
		}
		s.drain()
		if err := errors.Join(s.relay.close(), s.hs.GetState().Close()); err != nil {
			return fmt.Errorf("overlay.Close: %w", err)
		}
		return nil
	}
	cancel()
	s.wg.Wait()
	return nil
}

// Handler serves the overlay's routes — the control protocol (/key,
// /ts2021), the DERP relay (for this overlay's nodes only) and its
// probes — and nothing else of Headscale's router: no web registration,
// API, or Swagger. Close ends what it serves, connections taken over
// included, and waits for it; after Close it answers 503.
func (s *Server) Handler() http.Handler {
	h := s.hs.HTTPHandler()
	mux := http.NewServeMux()
	for _, p := range []string{
		"GET /key", "POST /ts2021", "GET /ts2021",
		"HEAD /machine/ping-response",
	} {
		mux.Handle(p, h)
	}
	mux.Handle("/derp", s.relay)
	mux.HandleFunc("/derp/probe", derpserver.ProbeHandler)
	mux.HandleFunc("/derp/latency-check", derpserver.ProbeHandler)
	return s.requests.serve(mux)
}
