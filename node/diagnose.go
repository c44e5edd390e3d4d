package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// Reason says why a node is not (yet) on the overlay. The zero value means
// it is up. Its String is a stable code for logs and reports; Words is the
// sentence shown to a person.
type Reason string

// Reasons a node is not on the overlay.
const (
	ReasonNone        Reason = ""
	ReasonConnecting  Reason = wire.OverlayConnecting
	ReasonNoInterface Reason = wire.OverlayNoNetwork
	ReasonUnreachable Reason = wire.OverlayUnreachable
	ReasonPinMismatch Reason = wire.OverlayPinMismatch
	ReasonClockSkew   Reason = wire.OverlayClockSkew
)

// Reasons lists every reason but ReasonNone, in a stable order.
var Reasons = []Reason{ReasonConnecting, ReasonNoInterface, ReasonUnreachable, ReasonPinMismatch, ReasonClockSkew}

func (r Reason) String() string { return string(r) }

// Words is a user-safe sentence for r: no address, no key, no error text.
func (r Reason) Words() string {
	switch r {
	case ReasonNone:
		return "Connected to the help desk's network."
	case ReasonNoInterface:
		return "This computer has no working network connection (no network interface is up). Connect it to a network (cable or Wi-Fi)."
	case ReasonUnreachable:
		return "The help desk server cannot be reached from this computer. Check the network connection, or a firewall that blocks it."
	case ReasonPinMismatch:
		return "The help desk server's certificate does not match the one this program trusts. Do not continue; ask your help desk."
	case ReasonClockSkew:
		return "This computer's clock is wrong, so the secure connection to the help desk is refused. Set the correct date and time."
	default:
		return "Connecting to the help desk's network…"
	}
}

// ParseReason maps a reason's code back to it; an unknown code is
// ReasonConnecting and false.
func ParseReason(s string) (Reason, bool) {
	for _, r := range Reasons {
		if string(r) == s {
			return r, true
		}
	}
	return ReasonConnecting, false
}

// Diagnosis is the outcome of a Probe: a Reason and, for logs only, the
// technical detail behind it.
type Diagnosis struct {
	Reason Reason
	Detail string // for logs: may name addresses, never secrets
}

// DefaultMaxSkew is how far the coordinator's clock (its Date header) may
// differ from ours before the node says the clock is wrong.
const DefaultMaxSkew = 5 * time.Minute

// Interface is a network interface as Probe sees it.
type Interface struct {
	Name     string
	Up       bool
	Loopback bool
	Addrs    int // number of unicast addresses
}

// Probe finds out why a node cannot join: whether any network interface
// is usable, and whether the coordinator answers over TLS verified against
// the pinned CA with a clock close to ours.
type Probe struct {
	ControlURL string
	CA         *x509.Certificate
	// Now is the clock (TLS validity and the Date check); nil is time.Now.
	Now func() time.Time
	// Interfaces lists the network interfaces; nil means the system's.
	Interfaces func() ([]Interface, error)
	// MaxSkew bounds the clock difference; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// Timeout bounds the request to the coordinator; 0 means 3 s.
	Timeout time.Duration
}

// SystemInterfaces lists the machine's network interfaces.
func SystemInterfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(ifs))
	for _, ifc := range ifs {
		i := Interface{Name: ifc.Name, Up: ifc.Flags&net.FlagUp != 0, Loopback: ifc.Flags&net.FlagLoopback != 0}
		addrs, err := ifc.Addrs()
		if err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.IsGlobalUnicast() {
					i.Addrs++
				}
			}
		}
		out = append(out, i)
	}
	return out, nil
}

// usable reports whether any interface but loopback is up with an address:
// without one tsnet pauses its control client ("awaiting unpause").
func usable(ifs []Interface) bool {
	for _, i := range ifs {
		if i.Up && !i.Loopback && i.Addrs > 0 {
			return true
		}
	}
	return false
}

// Run diagnoses. It returns ReasonConnecting when it finds nothing wrong.
func (p Probe) Run(ctx context.Context) Diagnosis {
	list := p.Interfaces
	if list == nil {
		list = SystemInterfaces
	}
	ifs, err := list()
	if err != nil {
		return Diagnosis{Reason: ReasonNoInterface, Detail: "listing interfaces: " + err.Error()}
	}
	if !usable(ifs) {
		return Diagnosis{Reason: ReasonNoInterface, Detail: "no interface but loopback is up with an address"}
	}
	return p.reach(ctx)
}

// reach asks the coordinator for its CA (public, nothing secret is sent)
// over TLS verified against the pinned CA at our clock's time.
func (p Probe) reach(ctx context.Context) Diagnosis {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	maxSkew := p.MaxSkew
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	cfg := trust.TLSConfig(p.CA)
	cfg.Time = now
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:             nil,
			DialContext:       (&net.Dialer{Timeout: timeout}).DialContext,
			TLSClientConfig:   cfg,
			DisableKeepAlives: true,
		},
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.ControlURL, "/")+wire.PathCA, nil)
	if err != nil {
		return Diagnosis{Reason: ReasonUnreachable, Detail: err.Error()}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Diagnosis{Reason: Classify(err), Detail: err.Error()}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // only the headers matter
	if d := resp.Header.Get("Date"); d != "" {
		if at, err := http.ParseTime(d); err == nil {
			if skew := now().Sub(at); skew > maxSkew || skew < -maxSkew {
				return Diagnosis{Reason: ReasonClockSkew, Detail: fmt.Sprintf("our clock differs from the coordinator's by %s", skew.Round(time.Second))}
			}
		}
	}
	return Diagnosis{Reason: ReasonConnecting, Detail: "the coordinator answers; the overlay is still starting"}
}

// Classify maps an error from reaching the coordinator (a dial, a TLS
// handshake, trust.FetchCA) to a Reason: a certificate outside its
// validity is a clock problem, one that does not chain to the pin is a pin
// mismatch, anything else is an unreachable coordinator.
func Classify(err error) Reason {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	switch {
	case err == nil:
		return ReasonNone
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return ReasonClockSkew
	case errors.Is(err, trust.ErrPinMismatch), errors.As(err, &unknown), errors.As(err, &host):
		return ReasonPinMismatch
	case errors.As(err, &verify):
		return ReasonPinMismatch
	}
	return ReasonUnreachable
}
