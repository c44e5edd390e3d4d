// Package overlaynet lets pion (WebRTC's ICE and the TURN server) use the
// overlay as its network: a transport.Net whose UDP sockets are tsnet
// sockets on the node's overlay address.
//
// A screen session runs WebRTC end to end between the technician's browser
// and the agent. The agent's pion gets this Net through
// SettingEngine.SetNet, so its only candidate is its overlay address. The
// viewer runs a TURN server on loopback whose relay sockets come from this
// Net, so the browser's only candidate is a relay on the viewer's overlay
// address. Media, retransmissions and keyframe requests then flow browser ↔
// viewer (loopback TURN) ↔ agent (WireGuard), with DTLS-SRTP end to end.
//
// What tsnet's sockets lack and pion expects is filled in here: "udp" means
// udp4, an unspecified address means the overlay address, ReadFromUDP/
// WriteToUDP/ReadMsgUDP exist, buffer setters are accepted (tsnet sizes its
// own), and name resolution parses IP literals only — it never asks DNS.
package overlaynet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/transport/v4"
)

// Node is what Net needs of an overlay node (*node.Node).
type Node interface {
	Addr() (netip.Addr, error)
	ListenPacket(network, addr string) (net.PacketConn, error)
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
}

// Errors.
var (
	ErrNotLiteral = errors.New("overlaynet: only IP literals are resolved")
	ErrTCP        = errors.New("overlaynet: TCP is not offered to pion; sessions use UDP")
)

// InterfaceName is the single interface Net reports.
const InterfaceName = "peerdesk0"

// Net is a transport.Net over an overlay node.
type Net struct {
	n Node
}

var _ transport.Net = (*Net)(nil)

// New returns a Net over n, which must be up.
func New(n Node) (*Net, error) {
	if _, err := n.Addr(); err != nil {
		return nil, fmt.Errorf("overlaynet.New: %w", err)
	}
	return &Net{n: n}, nil
}

// ListenPacket implements transport.Net.
func (t *Net) ListenPacket(network, address string) (net.PacketConn, error) {
	return t.listen(network, address)
}

// ListenUDP implements transport.Net.
func (t *Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	addr := ":0"
	if laddr != nil {
		addr = laddr.String()
	}
	return t.listen(network, addr)
}

func (t *Net) listen(network, address string) (*udpConn, error) {
	switch network {
	case "udp", "udp4":
	default:
		return nil, fmt.Errorf("overlaynet: network %q is not offered", network)
	}
	pc, err := t.n.ListenPacket("udp4", address)
	if err != nil {
		return nil, fmt.Errorf("overlaynet: %w", err)
	}
	return &udpConn{PacketConn: pc}, nil
}

// ListenTCP implements transport.Net; sessions use UDP only.
func (t *Net) ListenTCP(string, *net.TCPAddr) (transport.TCPListener, error) {
	return nil, ErrTCP
}

// Dial implements transport.Net.
func (t *Net) Dial(network, address string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return t.n.Dial(ctx, network, address)
}

// DialUDP implements transport.Net: ICE and the TURN relay never dial UDP,
// they listen and write to addresses.
func (t *Net) DialUDP(string, *net.UDPAddr, *net.UDPAddr) (transport.UDPConn, error) {
	return nil, transport.ErrNotSupported
}

// DialTCP implements transport.Net; sessions use UDP only.
func (t *Net) DialTCP(string, *net.TCPAddr, *net.TCPAddr) (transport.TCPConn, error) {
	return nil, ErrTCP
}

// ResolveIPAddr implements transport.Net for IP literals.
func (t *Net) ResolveIPAddr(_, address string) (*net.IPAddr, error) {
	a, err := netip.ParseAddr(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrNotLiteral, address)
	}
	return &net.IPAddr{IP: a.AsSlice()}, nil
}

// ResolveUDPAddr implements transport.Net for IP-literal host:port.
func (t *Net) ResolveUDPAddr(_, address string) (*net.UDPAddr, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrNotLiteral, address)
	}
	return net.UDPAddrFromAddrPort(ap), nil
}

// ResolveTCPAddr implements transport.Net for IP-literal host:port.
func (t *Net) ResolveTCPAddr(_, address string) (*net.TCPAddr, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrNotLiteral, address)
	}
	return net.TCPAddrFromAddrPort(ap), nil
}

// Interfaces implements transport.Net: one up, non-loopback interface
// holding the node's overlay address as a /32.
func (t *Net) Interfaces() ([]*transport.Interface, error) {
	ip, err := t.n.Addr()
	if err != nil {
		return nil, fmt.Errorf("overlaynet: %w", err)
	}
	ifc := transport.NewInterface(net.Interface{
		Index: 1, MTU: 1280, Name: InterfaceName, Flags: net.FlagUp | net.FlagRunning,
	})
	ifc.AddAddress(&net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(32, 32)})
	return []*transport.Interface{ifc}, nil
}

// InterfaceByIndex implements transport.Net.
func (t *Net) InterfaceByIndex(index int) (*transport.Interface, error) {
	ifs, err := t.Interfaces()
	if err != nil {
		return nil, err
	}
	if index != 1 {
		return nil, transport.ErrInterfaceNotFound
	}
	return ifs[0], nil
}

// InterfaceByName implements transport.Net.
func (t *Net) InterfaceByName(name string) (*transport.Interface, error) {
	ifs, err := t.Interfaces()
	if err != nil {
		return nil, err
	}
	if name != InterfaceName {
		return nil, transport.ErrInterfaceNotFound
	}
	return ifs[0], nil
}

// CreateDialer implements transport.Net.
func (t *Net) CreateDialer(*net.Dialer) transport.Dialer { return dialer{t} }

// CreateListenConfig implements transport.Net.
func (t *Net) CreateListenConfig(*net.ListenConfig) transport.ListenConfig { return listenConfig{t} }

type dialer struct{ t *Net }

func (d dialer) Dial(network, address string) (net.Conn, error) { return d.t.Dial(network, address) }

type listenConfig struct{ t *Net }

func (l listenConfig) Listen(context.Context, string, string) (net.Listener, error) {
	return nil, ErrTCP
}

func (l listenConfig) ListenPacket(_ context.Context, network, address string) (net.PacketConn, error) {
	return l.t.ListenPacket(network, address)
}

// udpConn adds to tsnet's packet conn what pion calls.
type udpConn struct {
	net.PacketConn
}

var _ transport.UDPConn = (*udpConn)(nil)

func (c *udpConn) RemoteAddr() net.Addr { return nil }

// Buffer sizes are tsnet's own to manage.
func (c *udpConn) SetReadBuffer(int) error  { return nil }
func (c *udpConn) SetWriteBuffer(int) error { return nil }

func (c *udpConn) Read(b []byte) (int, error) {
	n, _, err := c.PacketConn.ReadFrom(b)
	return n, err
}

func (c *udpConn) Write([]byte) (int, error) {
	return 0, errors.New("overlaynet: Write on an unconnected socket; use WriteTo")
}

func (c *udpConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err != nil {
		return n, nil, err
	}
	ua, err := toUDP(addr)
	return n, ua, err
}

func (c *udpConn) ReadMsgUDP(b, _ []byte) (int, int, int, *net.UDPAddr, error) {
	n, ua, err := c.ReadFromUDP(b)
	return n, 0, 0, ua, err
}

func (c *udpConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	return c.PacketConn.WriteTo(b, addr)
}

func (c *udpConn) WriteMsgUDP(b, _ []byte, addr *net.UDPAddr) (int, int, error) {
	n, err := c.PacketConn.WriteTo(b, addr)
	return n, 0, err
}

func toUDP(a net.Addr) (*net.UDPAddr, error) {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a, nil
	case nil:
		return nil, errors.New("overlaynet: no source address")
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return nil, fmt.Errorf("overlaynet: source address %q: %w", a, err)
	}
	return net.UDPAddrFromAddrPort(ap), nil
}
