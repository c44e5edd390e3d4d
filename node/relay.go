package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/trust"
	"tailscale.com/atomicfile"
)

// controlRelay listens on 127.0.0.1 and forwards each connection to the
// coordinator over TLS verified against the pinned CA. It is how tsnet, which
// only trusts system roots, reaches a coordinator with its own CA (see the
// package documentation). It reuses the port of its last run when it can, so
// the control URL in the node's saved state stays the same.
type controlRelay struct {
	ln     net.Listener
	target string // host:port of the coordinator
	tls    *tls.Config
	log    *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	done  chan struct{}
}

const relayPortFile = "control-relay.port"

func startRelay(controlURL string, ca *x509.Certificate, dir string, log *slog.Logger) (*controlRelay, error) {
	u, err := url.Parse(controlURL)
	if err != nil {
		return nil, fmt.Errorf("control relay: %w", err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "443")
	}
	cfg := trust.TLSConfig(ca)
	cfg.ServerName = u.Hostname()
	cfg.NextProtos = []string{"http/1.1"}

	portPath := filepath.Join(dir, relayPortFile)
	var ln net.Listener
	if b, err := os.ReadFile(portPath); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p < 65536 {
			ln, _ = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))) // taken: pick another below
		}
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("control relay: %w", err)
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		if err := atomicfile.WriteFile(portPath, []byte(port+"\n"), 0o600); err != nil {
			ln.Close()
			return nil, fmt.Errorf("control relay: %w", err)
		}
	}
	r := &controlRelay{ln: ln, target: target, tls: cfg, log: log, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	r.wg.Go(r.serve)
	return r, nil
}

// URL is the plain-HTTP control URL tsnet is given.
func (r *controlRelay) URL() string { return "http://" + r.ln.Addr().String() }

func (r *controlRelay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			select {
			case <-r.done:
			default:
				r.log.Warn("control relay stopped accepting", "err", err)
			}
			return
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Go(func() {
			defer r.untrack(c)
			r.forward(c)
		})
	}
}

func (r *controlRelay) forward(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: r.tls}
	up, err := d.DialContext(ctx, "tcp", r.target)
	cancel()
	if err != nil {
		r.log.Debug("control relay: coordinator unreachable", "target", r.target, "err", err)
		return
	}
	if !r.track(up) {
		up.Close()
		return
	}
	defer r.untrack(up)
	errc := make(chan error, 2)
	go func() { _, err := io.Copy(up, c); closeWrite(up); errc <- err }()
	go func() { _, err := io.Copy(c, up); closeWrite(c); errc <- err }()
	<-errc
	<-errc
}

func closeWrite(c net.Conn) {
	switch c := c.(type) {
	case *net.TCPConn:
		c.CloseWrite() //nolint:errcheck // best effort half-close
	case *tls.Conn:
		c.CloseWrite() //nolint:errcheck // best effort half-close
	}
}

func (r *controlRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.done:
		return false
	default:
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *controlRelay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

// Close stops the relay, drops its connections and waits for its goroutines.
func (r *controlRelay) Close() error {
	r.mu.Lock()
	select {
	case <-r.done:
		r.mu.Unlock()
		return nil
	default:
	}
	close(r.done)
	err := r.ln.Close()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
