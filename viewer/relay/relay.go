// Package relay is the TURN server inside the technician's viewer that
// carries a browser's WebRTC session onto the overlay.
//
// The browser cannot join the overlay; it can use a TURN server. This one
// listens on 127.0.0.1 and allocates its relay sockets on the viewer's
// overlay address (package overlaynet), so the browser's only candidate is
// a relay that speaks to the agent over WireGuard, and DTLS-SRTP runs end to
// end from the browser to the agent.
//
// Any local process can reach a loopback port, so the relay is locked down:
// each session gets its own credentials, and an allocation made with them
// may only send to that session's agent.
package relay

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/overlaynet"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// Realm is the TURN realm.
const Realm = "peerdesk"

// credentialTTL bounds how long one session's credentials work.
const credentialTTL = 12 * time.Hour

// Relay is the TURN server.
type Relay struct {
	srv *turn.Server
	pc  net.PacketConn
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	users   map[string]user       // username → credentials
	clients map[string]netip.Addr // client address → the agent it may reach
}

type user struct {
	key     []byte
	peer    netip.Addr
	expires time.Time
}

// Credentials let a browser use the relay for one session.
type Credentials struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

// New starts a relay whose relay sockets live on n's overlay address.
func New(n overlaynet.Node, log *slog.Logger) (*Relay, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ip, err := n.Addr()
	if err != nil {
		return nil, fmt.Errorf("relay.New: %w", err)
	}
	onet, err := overlaynet.New(n)
	if err != nil {
		return nil, fmt.Errorf("relay.New: %w", err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("relay.New: %w", err)
	}
	r := &Relay{pc: pc, now: time.Now, log: log, users: map[string]user{}, clients: map[string]netip.Addr{}}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	r.srv, err = turn.NewServer(turn.ServerConfig{
		Realm:         Realm,
		AuthHandler:   r.auth,
		LoggerFactory: lf,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			// The overlay ACL lets agents answer on these ports only.
			RelayAddressGenerator: &turn.RelayAddressGeneratorPortRange{
				RelayAddress: ip.AsSlice(), Address: ip.String(), Net: onet,
				MinPort: wire.RelayPortMin, MaxPort: wire.RelayPortMax,
			},
			PermissionHandler: r.permit,
		}},
	})
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("relay.New: %w", err)
	}
	return r, nil
}

// Addr is the relay's loopback UDP address.
func (r *Relay) Addr() netip.AddrPort {
	return r.pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Allow issues credentials whose allocations may reach only peer.
func (r *Relay) Allow(peer netip.Addr) Credentials {
	b := make([]byte, 24)
	rand.Read(b) //nolint:errcheck // never fails
	username, password := hex.EncodeToString(b[:8]), hex.EncodeToString(b[8:])
	r.mu.Lock()
	now := r.now()
	for u, c := range r.users {
		if now.After(c.expires) {
			delete(r.users, u)
		}
	}
	r.users[username] = user{key: turn.GenerateAuthKey(username, Realm, password), peer: peer, expires: now.Add(credentialTTL)}
	r.mu.Unlock()
	return Credentials{URLs: []string{"turn:" + r.Addr().String() + "?transport=udp"}, Username: username, Credential: password}
}

// Revoke withdraws credentials (the session ended).
func (r *Relay) Revoke(username string) {
	r.mu.Lock()
	delete(r.users, username)
	r.mu.Unlock()
}

func (r *Relay) auth(ra *turn.RequestAttributes) (string, []byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.users[ra.Username]
	r.log.Debug("relay: auth", "user", ra.Username, "known", ok, "from", ra.SrcAddr)
	if !ok || r.now().After(u.expires) || ra.SrcAddr == nil {
		return "", nil, false
	}
	// Only this machine's browser uses the relay.
	if ap, err := netip.ParseAddrPort(ra.SrcAddr.String()); err != nil || !ap.Addr().IsLoopback() {
		return "", nil, false
	}
	r.clients[ra.SrcAddr.String()] = u.peer
	return ra.Username, u.key, true
}

// permit lets an allocation send only to the agent its credentials name.
func (r *Relay) permit(client net.Addr, peerIP net.IP) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	want, ok := r.clients[client.String()]
	got, ok2 := netip.AddrFromSlice(peerIP)
	r.log.Debug("relay: permission", "client", client, "peer", peerIP, "allowed", ok && ok2 && got.Unmap() == want)
	return ok && ok2 && got.Unmap() == want
}

// Close stops the relay.
func (r *Relay) Close() error {
	return errors.Join(r.srv.Close())
}
