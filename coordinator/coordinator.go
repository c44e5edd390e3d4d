// Package coordinator is the wiring point of the peerdesk coordinator: the
// one small server a shop runs. It holds identity, enrollment and audit in an
// embedded store, embeds the overlay's control plane (Headscale), DERP relay
// and STUN, and serves all of it over TLS from one port with a CA it creates
// on first start (or the shop's own certificate).
//
// It never carries session traffic: agents and viewers talk peer to peer
// over the overlay, and keep talking when the coordinator is down.
package coordinator

import (
	"context"
	"crypto/tls"
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

	"github.com/peerdesk/peerdesk/coordinator/api"
	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/consentrules"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/pki"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/coordinator/tickets"
	"github.com/peerdesk/peerdesk/coordinator/triage"
	"github.com/peerdesk/peerdesk/coordinator/web"
	"github.com/peerdesk/peerdesk/coordinator/webhooks"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Config configures a coordinator.
type Config struct {
	// DataDir holds the store, the CA, the overlay's database and keys.
	DataDir string

	// Listen is the TCP address of the HTTPS listener, e.g. "0.0.0.0:8443".
	Listen string

	// PublicHost is the name or IP address nodes reach the coordinator
	// by; it goes into the server certificate and URLs. Empty means the
	// Listen host (which must then not be unspecified).
	PublicHost string

	// PublicIPv4 and PublicIPv6 are the addresses nodes dial for the DERP
	// relay. Empty means PublicHost if that is an IP address.
	PublicIPv4, PublicIPv6 string

	// STUNListen is the UDP address of the STUN server; empty means
	// ":3478".
	STUNListen string

	// TLSCert, TLSKey and TLSCA, if all set, are the shop's own server
	// certificate, its key, and the CA that issued it directly.
	TLSCert, TLSKey, TLSCA string

	// BatchDelay is the control plane's change batching delay; zero
	// means the overlay package's default.
	BatchDelay time.Duration

	// OverlayWriteBatch is how long the control plane collects node writes
	// before rebuilding its peer map; zero means the overlay package's
	// default (250 ms).
	OverlayWriteBatch time.Duration

	// CodeTTL is how long a support code a technician generates lives
	// when they ask for no lifetime: zero means support.DefaultCodeTTL
	// (30 min), support.NoExpiry until used or cancelled, at most
	// support.MaxCodeTTL.
	CodeTTL time.Duration

	// HeartbeatGrace is how long after an agent's last heartbeat it is
	// shown online; zero means 90 s.
	HeartbeatGrace time.Duration

	// SupportBinaries is the directory of the one-time agent executables
	// the end-user portal offers: peerdesk-agent-linux-amd64,
	// peerdesk-agent-linux-arm64, peerdesk-agent-windows-amd64.exe,
	// peerdesk-agent-darwin-arm64 (those present). Empty offers none.
	SupportBinaries string

	// ViewerURL is the technicians' local viewer page, where the
	// dashboard's Connect buttons lead; empty means the viewer's default,
	// http://127.0.0.1:7071.
	ViewerURL string

	// OllamaURL is the shop's Ollama server for the help desk assistant
	// (package assist); empty leaves the assistant unavailable (users get
	// the shop's contacts). OllamaModel is its model unless the
	// assistant's settings name one; OllamaTimeout bounds each call (zero:
	// triage.DefaultTimeout).
	OllamaURL     string
	OllamaModel   string
	OllamaTimeout time.Duration

	// WebhookBackoff is the wait before a failed webhook delivery's first
	// retry (doubled at each failure); zero means the webhooks package's
	// default (10 s).
	WebhookBackoff time.Duration

	// Logger receives logs; nil discards them.
	Logger *slog.Logger

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Coordinator is a running coordinator.
type Coordinator struct {
	cfg   Config
	log   *slog.Logger
	url   string
	ln    net.Listener
	db    *store.Badger
	id    *pki.Identity
	ov    *overlay.Server
	api   *api.Server
	trail *audit.Log
	desk  *desk.Desk

	tickets   *tickets.Store
	summaries *tickets.Summarizer // nil without a model
	hooks     *webhooks.Dispatcher

	sockDir string

	closeOnce sync.Once
}

// SocketName is the local administration socket's file name in DataDir.
const SocketName = "admin.sock"

// New opens the store, loads or creates the TLS identity and grant key,
// binds the listener and prepares the control plane. Run serves.
func New(cfg Config) (_ *Coordinator, err error) {
	if cfg.DataDir == "" || cfg.Listen == "" {
		return nil, errors.New("coordinator.New: DataDir and Listen are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.STUNListen == "" {
		cfg.STUNListen = ":3478"
	}
	if cfg.HeartbeatGrace == 0 {
		cfg.HeartbeatGrace = 90 * time.Second
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	c := &Coordinator{cfg: cfg, log: cfg.Logger, sockDir: cfg.DataDir}
	defer func() {
		if err != nil {
			c.closeParts()
		}
	}()

	c.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	host, port, err := publicHostPort(cfg, c.ln.Addr())
	if err != nil {
		return nil, err
	}
	c.url = "https://" + net.JoinHostPort(host, strconv.Itoa(port))

	if cfg.TLSCert != "" || cfg.TLSKey != "" || cfg.TLSCA != "" {
		c.id, err = pki.LoadShop(cfg.TLSCert, cfg.TLSKey, cfg.TLSCA)
	} else {
		c.id, err = pki.LoadOrCreate(filepath.Join(cfg.DataDir, "pki"), []string{host}, cfg.Now())
	}
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	grantKey, err := pki.LoadOrCreateSigningKey(filepath.Join(cfg.DataDir, "pki", "grant.key"))
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	c.db, err = store.Open(filepath.Join(cfg.DataDir, "store"), cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	// 2FA secrets are sealed with a key kept outside the store, like the
	// other keys.
	sealKey, err := identity.LoadOrCreateSealKey(filepath.Join(cfg.DataDir, "pki", "identity-seal.key"))
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	accounts, err := identity.New(c.db, cfg.Now, identity.WithSealKey(sealKey))
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}

	ipv4, ipv6 := cfg.PublicIPv4, cfg.PublicIPv6
	if a, perr := netip.ParseAddr(host); perr == nil && ipv4 == "" && ipv6 == "" {
		if a.Is4() {
			ipv4 = a.String()
		} else {
			ipv6 = a.String()
		}
	}
	c.ov, err = overlay.New(overlay.Config{
		Dir: filepath.Join(cfg.DataDir, "overlay"), ServerURL: c.url,
		DERPHost: host, DERPIPv4: ipv4, DERPIPv6: ipv6, DERPPort: port, DERPCertSHA256: c.id.LeafSHA256(),
		STUNAddr: cfg.STUNListen, Policy: policy.OverlayACL(), BatchDelay: cfg.BatchDelay, WriteBatch: cfg.OverlayWriteBatch,
		Logger: cfg.Logger.With("component", "overlay"),
	})
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	// The audit chain's and the support codes' keys live with the other
	// keys, outside the store (L3).
	auditKey, auditKeyNew, err := pki.LoadOrCreateSecretKey(filepath.Join(cfg.DataDir, "pki", "audit.key"))
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	c.trail, err = audit.Open(c.db, audit.Config{Key: auditKey, Now: cfg.Now, AdoptLegacy: auditKeyNew,
		CheckpointFile: filepath.Join(cfg.DataDir, "pki", "audit.checkpoint")})
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	codesKey, _, err := pki.LoadOrCreateSecretKey(filepath.Join(cfg.DataDir, "pki", "codes.key"))
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	codes, err := support.Load(c.db, support.Config{Key: codesKey, Now: cfg.Now, CodeTTL: cfg.CodeTTL})
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	if c.tickets, err = tickets.Open(c.db, cfg.Now); err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	if c.hooks, err = webhooks.New(webhooks.Config{DB: c.db, Backoff: cfg.WebhookBackoff, Logger: cfg.Logger.With("component", "webhooks")}); err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	presence := api.NewPresence(cfg.HeartbeatGrace, cfg.Now)
	assistSettings := assist.NewSettings(c.db, cfg.Now)
	if cfg.OllamaURL != "" {
		model := &shopModel{url: cfg.OllamaURL, model: cfg.OllamaModel, timeout: cfg.OllamaTimeout, settings: assistSettings}
		c.summaries = tickets.NewSummarizer(tickets.SummaryConfig{Store: c.tickets, Model: model,
			Done: func(t wire.Ticket) { c.desk.SummaryWritten(t) }, Logger: cfg.Logger.With("component", "summaries")})
	}
	c.desk = desk.New(desk.Config{
		Accounts: accounts, Registry: enroll.New(c.db, cfg.Now), Audit: c.trail,
		Overlay: c.ov, Presence: presence, Support: codes, ConsentRules: consentrules.New(c.db, cfg.Now),
		Assistant: assistSettings, Tickets: c.tickets, Summaries: c.summaries, Webhooks: c.hooks,
		Pin: c.id.Pin(), ControlURL: c.url, GrantKey: grantKey, Now: cfg.Now, Logger: cfg.Logger,
	})
	helpdesk, err := assist.New(assist.Config{
		OllamaURL: cfg.OllamaURL, Model: cfg.OllamaModel, Timeout: cfg.OllamaTimeout,
		Settings: assistSettings, DB: c.db, Now: cfg.Now, Logger: cfg.Logger,
		Audit: func(ev wire.AuditEvent) {
			if _, err := c.trail.Append("coordinator", ev); err != nil {
				c.log.Error("audit append failed", "action", ev.Action, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("coordinator.New: %w", err)
	}
	c.api = api.New(api.Config{Desk: c.desk, Presence: presence, Assist: helpdesk, CA: c.id.CA, Logger: cfg.Logger})
	return c, nil
}

// shopModel is the shop's model for ticket summaries: the assistant's
// (its settings' model, else Config.OllamaModel), asked through a triage
// client made per call so a change of the settings applies at once.
type shopModel struct {
	url, model string
	timeout    time.Duration
	settings   *assist.Settings
}

func (m *shopModel) Chat(ctx context.Context, req triage.Request, onText func(string)) (*triage.Reply, error) {
	name := m.model
	if set, err := m.settings.Get(); err == nil && set.Model != "" {
		name = set.Model
	}
	c, err := triage.New(triage.Config{URL: m.url, Model: name, Timeout: m.timeout})
	if err != nil {
		return nil, err
	}
	return c.Chat(ctx, req, onText)
}

func publicHostPort(cfg Config, addr net.Addr) (string, int, error) {
	port := addr.(*net.TCPAddr).Port
	host := cfg.PublicHost
	if host == "" {
		h, _, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return "", 0, fmt.Errorf("coordinator.New: listen address: %w", err)
		}
		if ip, err := netip.ParseAddr(h); h == "" || err == nil && ip.IsUnspecified() {
			return "", 0, errors.New("coordinator.New: PublicHost is required when listening on all addresses")
		}
		host = h
	}
	return host, port, nil
}

// URL is the coordinator's public https base URL.
func (c *Coordinator) URL() string { return c.url }

// Pin is the CA pin enrollment tokens carry.
func (c *Coordinator) Pin() string { return c.id.Pin() }

// Identity is the coordinator's TLS identity.
func (c *Coordinator) Identity() *pki.Identity { return c.id }

// API is the coordinator's API server (used by the local command and tests).
func (c *Coordinator) API() *api.Server { return c.api }

// Desk is the coordinator's decisions, which every transport calls (tests
// call it directly, as a desk.Caller of their choosing).
func (c *Coordinator) Desk() *desk.Desk { return c.desk }

// Overlay is the embedded control plane.
func (c *Coordinator) Overlay() *overlay.Server { return c.ov }

// SocketPath is the local administration socket.
func (c *Coordinator) SocketPath() string { return filepath.Join(c.sockDir, SocketName) }

// Run serves until ctx ends, then shuts everything down and returns once
// nothing it started is running.
func (c *Coordinator) Run(ctx context.Context) error {
	defer c.closeParts()
	// The control plane stops when closeParts closes it, after the
	// servers whose handlers use it, not as soon as ctx ends.
	if err := c.ov.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("coordinator.Run: %w", err)
	}
	// The webhooks' deliveries and the tickets' summaries run until the
	// servers have stopped, and end before the store closes.
	workCtx, endWork := context.WithCancel(context.WithoutCancel(ctx))
	var work sync.WaitGroup
	defer func() { endWork(); work.Wait() }()
	work.Go(func() { c.hooks.Run(workCtx) })
	if c.summaries != nil {
		work.Go(func() { c.summaries.Run(workCtx) })
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", c.api.Handler())
	mux.Handle("/", c.ov.Handler())
	// The dashboard answers only its own paths; the rest stays the overlay's.
	dash := web.New(web.Config{
		Backend: c.desk, Desk: c.desk, Portal: c.desk, Accounts: c.desk, Tickets: c.desk, Assistant: c.desk,
		PublicURL: c.url, Pin: c.id.Pin(), SupportBinaries: c.cfg.SupportBinaries,
		ViewerURL: c.cfg.ViewerURL,
		Now:       c.cfg.Now, Logger: c.log.With("component", "web"),
	})
	for _, p := range web.Patterns() {
		mux.Handle(p, dash)
	}
	// Requests end when shutdown begins: a handler that waits on its
	// request (the dashboard's live board) does not hold shutdown up.
	reqCtx, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequests()
	base := func(net.Listener) context.Context { return reqCtx }
	srv := &http.Server{
		Handler:           mux,
		BaseContext:       base,
		TLSConfig:         c.id.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(c.log.With("component", "http").Handler(), slog.LevelDebug),
		// No WriteTimeout: the overlay's control and DERP connections
		// are long-lived.
	}
	sock, err := listenSocket(c.SocketPath())
	if err != nil {
		return fmt.Errorf("coordinator.Run: %w", err)
	}
	localMux := http.NewServeMux()
	// The exact paths: a subtree pattern ("/local/audit/") would make the
	// mux redirect the audit list's own path, /local/audit.
	auditHandler := api.LocalAuditHandler(c.trail, c.log.With("component", "admin"))
	localMux.Handle(wire.LocalPathAuditVerify, auditHandler)
	localMux.Handle(wire.LocalPathAuditExport, auditHandler)
	localMux.Handle("/", c.api.LocalHandler())
	local := &http.Server{Handler: localMux, ReadHeaderTimeout: 10 * time.Second, BaseContext: base}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(tls.NewListener(c.ln, srv.TLSConfig)) }()
	go func() { errc <- local.Serve(sock) }()
	c.log.Info("coordinator serving", "url", c.url, "pin", c.id.Pin())

	var runErr error
	serving := 2
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		serving--
	}
	endRequests()
	shutdownErr := c.shutdown(srv, local)
	for ; serving > 0; serving-- {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			runErr = errors.Join(runErr, err)
		}
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return errors.Join(runErr, shutdownErr)
}

// shutdownTimeout bounds how long shutdown waits for handlers.
const shutdownTimeout = 5 * time.Second

// shutdown stops both servers accepting and waits for their handlers;
// the control plane and the store, which handlers use, are closed after
// it (closeParts). Streams that would keep a handler running are ended
// first: the API's presence streams (Run has already ended the requests'
// contexts, for handlers that wait on those). Connections handlers took
// over are not net/http's to wait for: the presence streams taken from
// srv are the API's, and the control plane's (Noise, DERP) the
// overlay's, which its Close ends and waits for.
func (c *Coordinator) shutdown(srv, local *http.Server) error {
	c.api.Close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range []*http.Server{srv, local} {
		if err := s.Shutdown(sctx); err != nil {
			// Handlers still running past the deadline: drop their
			// connections, so they see their requests end.
			errs = append(errs, fmt.Errorf("coordinator.Run: shutdown: %w", errors.Join(err, s.Close())))
		}
	}
	return errors.Join(errs...)
}

// closeParts releases what New opened; it runs once.
func (c *Coordinator) closeParts() {
	c.closeOnce.Do(func() {
		if c.ov != nil {
			if err := c.ov.Close(); err != nil {
				c.log.Warn("closing the control plane", "err", err)
			}
		}
		if c.ln != nil {
			c.ln.Close()
		}
		if c.trail != nil {
			if err := c.trail.Close(); err != nil {
				c.log.Warn("checkpointing the audit trail", "err", err)
			}
		}
		if c.db != nil {
			if err := c.db.Close(); err != nil {
				c.log.Warn("closing the store", "err", err)
			}
		}
	})
}
