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
	"strconv"
	"sync"
	"time"

	hscontrol "github.com/juanfont/headscale/hscontrol"
	"github.com/juanfont/headscale/hscontrol/types"
	"tailscale.com/tailcfg"
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

	// Logger receives Headscale's logs; nil discards them.
	Logger *slog.Logger
}

// Server is the embedded control plane.
type Server struct {
	cfg      Config
	hs       *hscontrol.Headscale
	log      *slog.Logger
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
		DERP: types.DERPConfig{
			ServerEnabled:        true,
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
	s := &Server{cfg: cfg, hs: hs, log: cfg.Logger, requests: newRequests()}
	if err := s.setPolicy(cfg.Policy); err != nil {
		s.hs.GetState().Close()
		return nil, err
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

// stop runs once, when Start's context ends.
func (s *Server) stop() {
	s.drain()
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
		if err := s.hs.GetState().Close(); err != nil {
			return fmt.Errorf("overlay.Close: %w", err)
		}
		return nil
	}
	cancel()
	s.wg.Wait()
	return nil
}

// Handler serves the overlay's routes — the control protocol (/key,
// /ts2021), the DERP relay and its probes — and nothing else of
// Headscale's router: no web registration, API, or Swagger. Close ends
// what it serves, connections taken over included, and waits for it;
// after Close it answers 503.
func (s *Server) Handler() http.Handler {
	h := s.hs.HTTPHandler()
	mux := http.NewServeMux()
	for _, p := range []string{
		"GET /key", "POST /ts2021", "GET /ts2021",
		"/derp", "/derp/probe", "/derp/latency-check",
		"HEAD /machine/ping-response",
	} {
		mux.Handle(p, h)
	}
	return s.requests.serve(mux)
}
