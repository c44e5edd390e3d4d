package overlay

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"

	"tailscale.com/net/stun"
)

// stunServer answers STUN binding requests so nodes learn their public
// address. tailscale.com/net/stunserver does the same but logs through the
// process-global log package and sleeps on read errors; this one logs to
// the injected logger and stops when its socket is closed.
type stunServer struct {
	pc  *net.UDPConn
	log *slog.Logger
}

func listenSTUN(addr string, log *slog.Logger) (*stunServer, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	return &stunServer{pc: pc, log: log}, nil
}

func (s *stunServer) LocalAddr() net.Addr { return s.pc.LocalAddr() }

func (s *stunServer) Close() error { return s.pc.Close() }

// serve answers requests until the socket is closed.
func (s *stunServer) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := s.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("STUN server stopped", "err", err)
			}
			return
		}
		pkt := buf[:n]
		if !stun.Is(pkt) {
			continue
		}
		txid, err := stun.ParseBindingRequest(pkt)
		if err != nil {
			continue
		}
		res := stun.Response(txid, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
		if _, err := s.pc.WriteToUDPAddrPort(res, from); err != nil {
			s.log.Debug("STUN reply failed", "to", from, "err", err)
		}
	}
}
