// Package wol is the agent capability that wakes another machine on this
// agent's LAN (U3): a technician whose grant includes wire.CapWake asks an
// online agent — the relay — to send a Wake-on-LAN magic packet for a
// sleeping machine's hardware address.
//
// # Overview
//
// A WakeRequest names the sleeping machine's MAC and IPv4 subnet. The relay
// sends only from an interface of its own that has an IPv4 address inside
// that subnet; if it has none it refuses with 409 (wire.CodeConflict): a
// relay never sends onto a LAN it is not on, and never routes a wake-up
// elsewhere.
//
// On that interface the magic packet goes out twice:
//
//   - as UDP to the interface network's broadcast address, port 9, from the
//     interface's own address (SO_BROADCAST; on Linux also bound to the
//     device), which every platform can send (on Windows through Winsock
//     directly, so it also works under Wine: lan_windows.go);
//   - as a raw Ethernet frame, EtherType 0x0842, to ff:ff:ff:ff:ff:ff, which
//     reaches NICs that ignore IP (Linux only, through an AF_PACKET socket;
//     elsewhere it is reported as unsupported and left out of the result).
//
// The answer (wire.WakeResult) lists what was actually sent; if nothing
// could be sent the answer is 500.
//
// # Usage
//
//	mux.Handle("POST "+wire.PeerPathWake, g.Handle(wol.Handler{Logger: log})) // g: the agent's *gate.Gate
//
// MagicPacket and ParseMagic encode and decode magic packets.
//
// The raw frame uses golang.org/x/sys/unix directly: github.com/mdlayher/packet
// resolves (v1.2.0) and would be the well-kept choice, but it is not yet a
// dependency of the module and go.mod was not to change with this package;
// the few lines of AF_PACKET code here are tested against a real capture.
package wol

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// ErrNotOnSubnet means this agent has no usable interface on the subnet it
// was asked to wake a machine on.
var ErrNotOnSubnet = errors.New("wol: this agent is not on that subnet")

// iface is what the relay needs to know about one local interface.
type iface struct {
	Name  string
	Index int
	Flags net.Flags
	MAC   net.HardwareAddr
	Addrs []netip.Prefix // interface addresses with their prefix length
}

// lan is the seam between the decisions and the network: the machine's
// own network in production (systemLAN), a fake in the decision tests.
type lan interface {
	interfaces() ([]iface, error)
	// sendUDP sends payload from src to dst, out of ifc, with SO_BROADCAST.
	sendUDP(ifc iface, src netip.Addr, dst netip.AddrPort, payload []byte) error
	// sendEthernet broadcasts payload as an EtherType 0x0842 frame on ifc;
	// it returns an error wrapping errors.ErrUnsupported where raw frames
	// cannot be sent.
	sendEthernet(ifc iface, payload []byte) error
}

// Handler serves wire.PeerPathWake. The zero value uses the machine's
// network and discards logs.
type Handler struct {
	Logger *slog.Logger // nil discards

	lan lan // nil means systemLAN
}

// Capability is what a caller's grant must include.
func (Handler) Capability() wire.Capability { return wire.CapWake }

// ServePeer validates the request, picks the interface on the requested
// subnet and sends the magic packet from it.
func (h Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	log := h.logger().With("technician", c.Technician)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		gate.WriteError(w, http.StatusMethodNotAllowed, wire.CodeBadRequest, "use POST")
		return
	}
	mac, subnet, err := decodeRequest(w, r)
	if err != nil {
		log.Info("wol: bad request", "err", err)
		gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, userMessage(err))
		return
	}
	log = log.With("mac", mac.String(), "subnet", subnet.String())
	l := h.net()
	ifs, err := l.interfaces()
	if err != nil {
		log.Error("wol: listing interfaces", "err", err)
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the agent cannot list its network interfaces")
		return
	}
	out, err := pick(ifs, subnet)
	if err != nil {
		log.Info("wol: refused", "err", err)
		gate.WriteError(w, http.StatusConflict, wire.CodeConflict,
			fmt.Sprintf("this agent is not on %s, so it will not send a wake-up there; ask an agent on that LAN", subnet))
		return
	}
	magic, err := MagicPacket(mac)
	if err != nil { // cannot happen: decodeRequest checked the length
		log.Error("wol: building the magic packet", "err", err)
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the magic packet could not be built")
		return
	}

	var res wire.WakeResult
	var errs []error
	dst := netip.AddrPortFrom(out.broadcast, Port)
	if err := l.sendUDP(out.ifc, out.src, dst, magic); err != nil {
		errs = append(errs, err)
	} else {
		res.Sent = append(res.Sent, fmt.Sprintf("udp %s via %s", dst, out.ifc.Name))
	}
	switch err := l.sendEthernet(out.ifc, magic); {
	case err == nil:
		res.Sent = append(res.Sent, fmt.Sprintf("ethernet 0x%04x via %s", EtherType, out.ifc.Name))
	case errors.Is(err, errors.ErrUnsupported):
		log.Debug("wol: no raw Ethernet on this platform", "err", err)
	default:
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		log.Warn("wol: send failed", "iface", out.ifc.Name, "err", err)
	}
	if len(res.Sent) == 0 {
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the magic packet could not be sent from "+out.ifc.Name)
		return
	}
	log.Info("wol: magic packet sent", "sent", res.Sent)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res) //nolint:errcheck // client gone
}

// requestError is a validation failure whose text is safe to show.
type requestError struct{ msg string }

func (e *requestError) Error() string { return "wol: " + e.msg }

func userMessage(err error) string {
	if re, ok := errors.AsType[*requestError](err); ok {
		return re.msg
	}
	return "the request is not valid"
}

// decodeRequest reads a WakeRequest strictly: bounded, no unknown fields,
// no trailing data, a unicast EUI-48 MAC and a canonical IPv4 subnet that
// can have a broadcast address.
func decodeRequest(w http.ResponseWriter, r *http.Request) (net.HardwareAddr, netip.Prefix, error) {
	var req wire.WakeRequest
	if err := gate.DecodeRequest(w, r, &req); err != nil {
		return nil, netip.Prefix{}, &requestError{"not a valid wake request: " + err.Error()}
	}
	return validate(req)
}

// validate checks a decoded WakeRequest.
func validate(req wire.WakeRequest) (net.HardwareAddr, netip.Prefix, error) {
	mac, err := net.ParseMAC(req.MAC)
	switch {
	case err != nil:
		return nil, netip.Prefix{}, &requestError{fmt.Sprintf("mac %q is not a hardware address", req.MAC)}
	case len(mac) != 6:
		return nil, netip.Prefix{}, &requestError{fmt.Sprintf("mac %q is not a 6-byte hardware address", req.MAC)}
	case mac[0]&1 != 0:
		return nil, netip.Prefix{}, &requestError{fmt.Sprintf("mac %q is a group (multicast or broadcast) address, not a machine's", req.MAC)}
	case [6]byte(mac) == [6]byte{}:
		return nil, netip.Prefix{}, &requestError{"mac 00:00:00:00:00:00 is not a machine's address"}
	}
	subnet, err := netip.ParsePrefix(req.Subnet)
	switch {
	case err != nil || !subnet.Addr().Is4():
		return nil, netip.Prefix{}, &requestError{fmt.Sprintf("subnet %q is not an IPv4 CIDR like 192.168.1.0/24", req.Subnet)}
	case subnet.Masked() != subnet:
		return nil, netip.Prefix{}, &requestError{fmt.Sprintf("subnet %q has host bits set; did you mean %s?", req.Subnet, subnet.Masked())}
	case subnet.Bits() > 30 || subnet.Bits() < 8:
		return nil, netip.Prefix{}, &requestError{fmt.Sprintf("subnet %q is not a LAN: want a prefix length from /8 to /30", req.Subnet)}
	case subnet.Addr().IsLoopback() || subnet.Addr().IsMulticast() || !subnet.Addr().IsGlobalUnicast() && !subnet.Addr().IsLinkLocalUnicast():
		return nil, netip.Prefix{}, &requestError{fmt.Sprintf("subnet %q is not a LAN", req.Subnet)}
	}
	return mac, subnet, nil
}

// outlet is where a magic packet leaves: the interface, the source address
// and the broadcast address of the interface's network.
type outlet struct {
	ifc       iface
	src       netip.Addr
	broadcast netip.Addr
}

// pick chooses the interface to send onto subnet from: up, broadcast
// capable, not loopback or point-to-point, with a 6-byte hardware address
// and an IPv4 address inside subnet. Among several, the lowest index wins.
// The broadcast address is that of the interface's own network (the
// subnet's, when the masks agree as they usually do), which is what the
// kernel sends as a link broadcast. It returns an error wrapping
// ErrNotOnSubnet if no interface fits.
func pick(ifs []iface, subnet netip.Prefix) (outlet, error) {
	var found []outlet
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagBroadcast == 0 ||
			ifc.Flags&(net.FlagLoopback|net.FlagPointToPoint) != 0 || len(ifc.MAC) != 6 {
			continue
		}
		for _, a := range ifc.Addrs {
			if !a.Addr().Is4() || a.Bits() > 30 || !subnet.Contains(a.Addr()) {
				continue
			}
			found = append(found, outlet{ifc: ifc, src: a.Addr(), broadcast: broadcast(a)})
			break
		}
	}
	if len(found) == 0 {
		return outlet{}, fmt.Errorf("wol.pick %s: %w", subnet, ErrNotOnSubnet)
	}
	return slices.MinFunc(found, func(a, b outlet) int { return cmp.Compare(a.ifc.Index, b.ifc.Index) }), nil
}

// broadcast returns the last address of p's network (p is IPv4).
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	for i := range 4 {
		a[i] |= byte(host >> (8 * (3 - i)))
	}
	return netip.AddrFrom4(a)
}

func (h Handler) net() lan {
	if h.lan == nil {
		return systemLAN{}
	}
	return h.lan
}

func (h Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
