// Package peer is the agent's one peer server: the table of capabilities a
// technician can use on this machine over the overlay, served behind the
// gate (package gate) and, where a capability acts on the machine, the end
// user's consent (package consent).
//
// # Overview
//
// Each capability is its own package under agent/ that declares one row, a
// [Capability]: its name (a wire.Capability), its routes (wire constants),
// its handler, and how it needs consent. The installed agent (agent.Run)
// and the one-time support agent (agent.RunSupport) build one list of rows
// and hand it to [New]; the [Server] owns the overlay listener, puts every
// route behind the gate, holds consent leases for the capabilities that ask
// the server to ([ConsentPerCall]), runs the background jobs that live as
// long as it does (audit forwarding), and on shutdown waits for all of it.
//
// Adding a capability touches wire (its route and name), its agent/<cap>
// package and its viewer page, and one line where the list is built.
//
// # Consent
//
// A [ConsentPerCall] capability is used in short calls (a folder listing, a
// file transfer, a process kill): the server acquires a consent lease for
// the caller's technician, node and capability before the handler runs and
// keeps it for [Config.IdleLease] after the last call, so a technician
// browsing a machine is asked once, not at every click. The handler's
// request context ends the moment the lease does (the user pressed End, the
// technician was revoked), which stops a transfer or a shell mid-way.
// [ConsentOwn] capabilities (screen, power) acquire their own leases, whose
// lifetimes are their sessions'. [ConsentNever] capabilities only read what
// the consent rules never ask about (system information, Wake-on-LAN
// relaying).
package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Consent says how a capability's calls get the end user's consent.
type Consent int

const (
	// ConsentNever: the capability reads nothing the consent rules ask
	// about; the gate alone decides.
	ConsentNever Consent = iota
	// ConsentPerCall: the server holds a lease around every call (see the
	// package doc).
	ConsentPerCall
	// ConsentOwn: the handler acquires its own lease for a session whose
	// lifetime it manages.
	ConsentOwn
)

func (c Consent) String() string {
	switch c {
	case ConsentNever:
		return "never"
	case ConsentPerCall:
		return "per call"
	case ConsentOwn:
		return "own"
	}
	return fmt.Sprintf("Consent(%d)", int(c))
}

// Capability is one row of the table.
type Capability struct {
	// Routes are the patterns it serves, "METHOD /path" with the path a
	// wire constant (net/http.ServeMux syntax).
	Routes []string
	// Handler declares the wire.Capability a caller's grant must name
	// (gate.Handler), which is the row's name.
	Handler gate.Handler
	Consent Consent
	// Close, if set, is called once the server has stopped and every
	// call has returned (a screen session's encoder, say).
	Close func() error
}

// Name is the capability's wire name.
func (c Capability) Name() wire.Capability { return c.Handler.Capability() }

// DefaultIdleLease is how long a per-call lease outlives its last call.
const DefaultIdleLease = 2 * time.Minute

// Config configures a Server.
type Config struct {
	Gate         *gate.Gate
	Consent      *consent.Service // required when a row is ConsentPerCall
	Capabilities []Capability
	// Background jobs run while the server serves and are waited for
	// before Serve returns (audit forwarding, say).
	Background []func(ctx context.Context)
	IdleLease  time.Duration // DefaultIdleLease if zero
	Now        func() time.Time
	Logger     *slog.Logger
}

// Errors of New.
var (
	ErrDuplicate = errors.New("peer: a route or capability is declared twice")
	ErrInvalid   = errors.New("peer: invalid capability row")
)

// Server serves the capability table on an overlay listener.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	names  []wire.Capability
	leases *leases
}

// New checks the table and builds the server: every row has routes, a
// handler whose capability is known, no route or capability twice.
func New(cfg Config) (*Server, error) {
	if cfg.Gate == nil {
		return nil, fmt.Errorf("%w: no gate", ErrInvalid)
	}
	if cfg.IdleLease <= 0 {
		cfg.IdleLease = DefaultIdleLease
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.leases = &leases{s: s, held: map[leaseKey]*held{}}
	routes := map[string]bool{}
	for _, c := range cfg.Capabilities {
		if c.Handler == nil {
			return nil, fmt.Errorf("%w: a row without a handler", ErrInvalid)
		}
		name := c.Name()
		if !name.Valid() {
			return nil, fmt.Errorf("%w: unknown capability %q", ErrInvalid, name)
		}
		if slices.Contains(s.names, name) {
			return nil, fmt.Errorf("%w: %s", ErrDuplicate, name)
		}
		if len(c.Routes) == 0 {
			return nil, fmt.Errorf("%w: %s has no route", ErrInvalid, name)
		}
		if c.Consent == ConsentPerCall && cfg.Consent == nil {
			return nil, fmt.Errorf("%w: %s needs consent and the server has no consent service", ErrInvalid, name)
		}
		s.names = append(s.names, name)
		var h gate.Handler = c.Handler
		if c.Consent == ConsentPerCall {
			h = perCall{h: c.Handler, l: s.leases}
		}
		gated := cfg.Gate.Handle(h)
		for _, r := range c.Routes {
			method, path, ok := strings.Cut(r, " ")
			if !ok || method == "" || !strings.HasPrefix(path, "/") {
				return nil, fmt.Errorf("%w: %s route %q is not \"METHOD /path\"", ErrInvalid, name, r)
			}
			if routes[r] {
				return nil, fmt.Errorf("%w: route %q", ErrDuplicate, r)
			}
			routes[r] = true
			s.mux.Handle(r, gated)
		}
	}
	slices.Sort(s.names)
	return s, nil
}

// Capabilities is what this agent offers, sorted.
func (s *Server) Capabilities() []wire.Capability { return slices.Clone(s.names) }

// Handler is the table as one http.Handler (for tests that bring their own
// listener).
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves ln until ctx ends, then shuts down: no new calls, calls in
// flight get shutdownGrace to finish and are cut after, per-call leases are
// released, background jobs and every row's Close are waited for. It
// returns the listener's error if serving failed, joined with any Close
// error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, job := range s.cfg.Background {
		wg.Go(func() { job(ctx) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
		sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close() //nolint:errcheck // the grace is over: cut what is left
		}
		scancel()
		<-errc
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			serveErr = fmt.Errorf("peer.Serve: %w", err)
		}
		srv.Close() //nolint:errcheck // already failed; this ends open calls
	}
	cancel()
	wg.Wait()
	s.leases.closeAll("the agent stopped")
	errs := []error{serveErr}
	for _, c := range s.cfg.Capabilities {
		if c.Close != nil {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("peer: closing %s: %w", c.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// shutdownGrace is how long calls in flight may finish at shutdown.
const shutdownGrace = 5 * time.Second

// perCall wraps a ConsentPerCall handler: the call runs under a lease.
type perCall struct {
	h gate.Handler
	l *leases
}

func (p perCall) Capability() wire.Capability { return p.h.Capability() }

func (p perCall) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	ctx, release, err := p.l.acquire(r.Context(), c, p.h.Capability())
	if err != nil {
		status, code, msg := http.StatusForbidden, wire.CodeConsentDenied, "the user did not allow this"
		switch {
		case errors.Is(err, consent.ErrDenied):
			msg = "the user declined"
		case errors.Is(err, consent.ErrBusy):
			status, code, msg = http.StatusConflict, wire.CodeConflict, "the user is already being asked; try again in a moment"
		case errors.Is(err, consent.ErrNoAnswer):
			msg = "the user did not answer"
		case errors.Is(err, consent.ErrRevoked):
			code, msg = wire.CodeForbidden, "the technician's access was revoked"
		case errors.Is(err, consent.ErrAudit):
			status, code, msg = http.StatusServiceUnavailable, wire.CodeInternal, "the agent cannot write its audit trail"
		}
		gate.WriteError(w, status, code, msg)
		return
	}
	defer release()
	p.h.ServePeer(w, r.WithContext(ctx), c)
}

type leaseKey struct {
	technician, node string
	capability       wire.Capability
}

type held struct {
	lease *consent.Lease
	calls int
	timer *time.Timer // idle end, set while calls == 0
}

// leases holds per-call leases, one per technician, node and capability.
type leases struct {
	s    *Server
	mu   sync.Mutex
	held map[leaseKey]*held
	// acquiring serialises Acquire per key, so two calls at once ask the
	// user once.
	acquiring sync.Map // leaseKey → *sync.Mutex
}

// acquire returns a context that ends with the call or the lease, and the
// function that ends the call.
func (l *leases) acquire(ctx context.Context, c gate.Caller, capability wire.Capability) (context.Context, func(), error) {
	k := leaseKey{c.Technician, c.Node.NodeKey, capability}
	mu, _ := l.acquiring.LoadOrStore(k, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	l.mu.Lock()
	h := l.held[k]
	if h != nil && !h.lease.Allows(capability) { // ended by the user or a revocation
		delete(l.held, k)
		h = nil
	}
	if h == nil {
		l.mu.Unlock()
		lease, err := l.s.cfg.Consent.Acquire(ctx, consent.Request{Technician: c.Technician,
			Capabilities: []wire.Capability{capability}, NodeKey: c.Node.NodeKey, Issued: time.Unix(c.Grant.IssuedAt, 0)})
		if err != nil {
			return nil, nil, err
		}
		l.mu.Lock()
		h = &held{lease: lease}
		l.held[k] = h
	}
	h.calls++
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	lease := h.lease
	l.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-lease.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel()
		l.mu.Lock()
		defer l.mu.Unlock()
		h.calls--
		if h.calls == 0 && l.held[k] == h {
			h.timer = time.AfterFunc(l.s.cfg.IdleLease, func() {
				l.mu.Lock()
				if l.held[k] != h || h.calls > 0 {
					l.mu.Unlock()
					return
				}
				delete(l.held, k)
				l.mu.Unlock()
				h.lease.Release("")
			})
		}
	}, nil
}

// closeAll releases every held lease.
func (l *leases) closeAll(reason string) {
	l.mu.Lock()
	all := l.held
	l.held = map[leaseKey]*held{}
	l.mu.Unlock()
	for _, h := range all {
		if h.timer != nil {
			h.timer.Stop()
		}
		h.lease.Release(reason)
	}
}
