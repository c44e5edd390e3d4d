// Package viewer is the technician's side of peerdesk: it logs in to the
// coordinator, joins the overlay as the technician's own node (tagged for
// technicians, ephemeral), asks the coordinator for session grants and calls
// agents directly over the overlay with them.
package viewer

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/atomicfile"
)

const sessionFile = "viewer.json"

// ErrNotLoggedIn is returned when no session is saved.
var ErrNotLoggedIn = errors.New("viewer: not logged in; run login first")

// Session is a saved technician login.
type Session struct {
	CoordinatorURL string    `json:"coordinator_url"`
	CAPEM          []byte    `json:"ca_pem"`
	Token          string    `json:"token"`
	Expires        time.Time `json:"expires"`
	AuthKey        string    `json:"auth_key"`
	Username       string    `json:"username"`
	Role           string    `json:"role"`
}

// LoginOptions configure a login.
type LoginOptions struct {
	StateDir       string
	CoordinatorURL string
	Pin            string // the coordinator CA's pin (as in enrollment tokens)
	Username       string
	Password       string
	// Code asks the technician for their authenticator's code (or a
	// recovery code) when the account has two-factor authentication;
	// nil refuses such a login with ErrSecondFactor.
	Code func(ctx context.Context) (string, error)
}

// ErrSecondFactor: the account needs a second factor and LoginOptions
// has no Code to ask for it.
var ErrSecondFactor = errors.New("viewer: this account needs a code from its authenticator app")

// Login trusts the coordinator by its CA pin, logs in, and saves the session
// and the overlay key for this technician's node. A previous login's node
// identity is discarded: each login is a fresh, ephemeral node.
func Login(ctx context.Context, o LoginOptions) (*Session, error) {
	url := strings.TrimRight(o.CoordinatorURL, "/")
	ca, err := trust.FetchCA(ctx, url, o.Pin)
	if err != nil {
		// In words first (issue 12): the error itself is for the log.
		return nil, fmt.Errorf("viewer.Login: %s (%w)", node.Classify(err).Words(), err)
	}
	cc := coordclient.New(url, ca)
	resp, err := cc.Login(ctx, o.Username, o.Password)
	if err == nil && resp.SecondFactor {
		if o.Code == nil {
			return nil, fmt.Errorf("viewer.Login: %w", ErrSecondFactor)
		}
		code, cerr := o.Code(ctx)
		if cerr != nil {
			return nil, fmt.Errorf("viewer.Login: %w", cerr)
		}
		resp, err = cc.SecondFactor(ctx, resp.Pending, code)
	}
	if err != nil {
		return nil, fmt.Errorf("viewer.Login: %w", err)
	}
	s := &Session{
		CoordinatorURL: url, CAPEM: trust.EncodeCA(ca), Token: resp.Session, Expires: resp.Expires,
		AuthKey: resp.AuthKey, Username: resp.Username, Role: resp.Role,
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("viewer.Login: %w", err)
	}
	if err := os.RemoveAll(nodeDir(o.StateDir)); err != nil {
		return nil, fmt.Errorf("viewer.Login: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("viewer.Login: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(o.StateDir, sessionFile), b, 0o600); err != nil {
		return nil, fmt.Errorf("viewer.Login: %w", err)
	}
	return s, nil
}

func nodeDir(stateDir string) string { return filepath.Join(stateDir, "node") }

// ErrStateInUse: another viewer process (say `peerdesk-viewer ui`) runs
// on this state directory's overlay node. Two processes with one node's
// keys would fight over it on the overlay; a command beside the page needs
// a state directory of its own (log in there with -state).
var ErrStateInUse = errors.New("another peerdesk-viewer (such as `peerdesk-viewer ui`) is using this state directory's overlay node; give this command a state directory of its own: log in with -state DIR and pass the same -state")

var errLocked = errors.New("locked")

// lockNode takes the state directory's node lock for this process.
func lockNode(stateDir string) (*os.File, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "node.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, ErrStateInUse
		}
		return nil, fmt.Errorf("viewer: locking the node: %w", err)
	}
	return f, nil
}

// Config configures a Viewer.
type Config struct {
	StateDir string
	Logger   *slog.Logger
	// Terminal is where the technician is told, in words, why the overlay
	// cannot come up (no network, coordinator unreachable, certificate
	// not matching the pin, clock skew) while the viewer keeps trying,
	// and when it comes up after all; nil tells nobody (it is logged).
	Terminal io.Writer
}

// Viewer is a logged-in technician.
type Viewer struct {
	cfg   Config
	sess  *Session
	ca    *x509.Certificate
	coord *coordclient.Client

	mu   sync.Mutex
	node *node.Node
	lock *os.File // the state directory's node lock, held while node runs
}

// Open loads the saved session. The overlay node starts on first use.
func Open(cfg Config) (*Viewer, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := os.ReadFile(filepath.Join(cfg.StateDir, sessionFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotLoggedIn
	}
	if err != nil {
		return nil, fmt.Errorf("viewer.Open: %w", err)
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("viewer.Open: damaged session file: %w", err)
	}
	ca, err := trust.ParseCA(s.CAPEM)
	if err != nil {
		return nil, fmt.Errorf("viewer.Open: %w", err)
	}
	return &Viewer{cfg: cfg, sess: &s, ca: ca, coord: coordclient.New(s.CoordinatorURL, ca).WithSession(s.Token)}, nil
}

// Session is the saved login.
func (v *Viewer) Session() Session { return *v.sess }

// Coordinator is the authenticated coordinator client.
func (v *Viewer) Coordinator() *coordclient.Client { return v.coord }

// Devices lists enrolled machines.
func (v *Viewer) Devices(ctx context.Context) ([]wire.Device, error) { return v.coord.Devices(ctx) }

// RedeemConnect exchanges a connect ticket from the dashboard's Connect
// link with the coordinator, under this viewer's own session: the
// coordinator answers what it opens only if it minted the ticket for this
// very technician, and burns it. A refusal is a *wire.Error.
func (v *Viewer) RedeemConnect(ctx context.Context, ticket string) (wire.ConnectTarget, error) {
	var t wire.ConnectTarget
	err := v.coord.Do(ctx, http.MethodPost, wire.PathConnectRedeem, wire.ConnectRedeemRequest{Ticket: ticket}, &t)
	return t, err
}

// Node joins the overlay (once) and returns the technician's node.
func (v *Viewer) Node(ctx context.Context) (*node.Node, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.node != nil {
		return v.node, nil
	}
	lock, err := lockNode(v.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	n, err := node.New(node.Config{
		Dir: nodeDir(v.cfg.StateDir), Hostname: "tech-" + v.sess.Username, ControlURL: v.sess.CoordinatorURL,
		CA: v.ca, AuthKey: v.sess.AuthKey, Logger: v.cfg.Logger,
		OnDiagnosis: TellDiagnosis(v.cfg.Terminal),
	})
	if err != nil {
		lock.Close()
		return nil, err
	}
	if err := n.Up(ctx); err != nil {
		n.Close()
		lock.Close()
		return nil, fmt.Errorf("viewer: joining the overlay: %w", err)
	}
	v.node, v.lock = n, lock
	return n, nil
}

// TellDiagnosis returns a node.Config.OnDiagnosis that writes each
// diagnosis to w as one line of words: the problem and that the viewer
// keeps trying, "still connecting" (once the coordinator answers), and
// "connected" once the overlay is up. A nil w tells nothing.
func TellDiagnosis(w io.Writer) func(node.Diagnosis) {
	if w == nil {
		return nil
	}
	return func(d node.Diagnosis) {
		switch d.Reason {
		case node.ReasonNone:
			fmt.Fprintln(w, "peerdesk-viewer: connected to the overlay.")
		case node.ReasonConnecting:
			fmt.Fprintln(w, "peerdesk-viewer: the coordinator answers; still connecting to the overlay…")
		default:
			fmt.Fprintf(w, "peerdesk-viewer: cannot join the overlay: %s Still trying…\n", d.Reason.Words())
		}
	}
}

// Grant asks the coordinator for a grant to use caps on device from this
// technician's node. When the device's agent, as the coordinator last
// heard from it, does not serve one of caps (protocol 1 has no backstage
// capabilities; a headless agent has no screen), it returns the grant and
// a *NotServedError that says so in words, and the caller does not call.
func (v *Viewer) Grant(ctx context.Context, device string, caps ...wire.Capability) (wire.GrantResponse, error) {
	n, err := v.Node(ctx)
	if err != nil {
		return wire.GrantResponse{}, err
	}
	key, err := n.NodeKey(ctx)
	if err != nil {
		return wire.GrantResponse{}, err
	}
	g, err := v.coord.Grant(ctx, wire.GrantRequest{DeviceID: device, NodeKey: key, Capabilities: caps})
	if err != nil {
		return g, err
	}
	if g.Hostname == "" {
		g.Hostname = device
	}
	return g, CheckServed(g, caps...)
}

// Call makes a GET peer call to the agent at overlayIP with a grant,
// decoding a JSON answer into out. A refusal is returned as a *wire.Error.
func (v *Viewer) Call(ctx context.Context, overlayIP, grantToken, path string, out any) error {
	return v.peer(ctx, http.MethodGet, wire.GrantResponse{OverlayIP: overlayIP, Grant: grantToken}, "", path, nil, out)
}

// Offer asks the device's agent to answer a browser's WebRTC offer, with a
// grant for the screen and, if control, for input.
func (v *Viewer) Offer(ctx context.Context, device string, control bool, offer wire.ScreenOffer) (wire.ScreenAnswer, wire.GrantResponse, error) {
	caps := []wire.Capability{wire.CapScreen}
	if control {
		caps = append(caps, wire.CapInput)
	}
	g, err := v.Grant(ctx, device, caps...)
	if err != nil {
		return wire.ScreenAnswer{}, g, err
	}
	ans, err := v.OfferWith(ctx, g, offer)
	return ans, g, err
}

// OfferWith forwards an offer with a grant already in hand.
func (v *Viewer) OfferWith(ctx context.Context, g wire.GrantResponse, offer wire.ScreenOffer) (wire.ScreenAnswer, error) {
	var ans wire.ScreenAnswer
	err := v.peer(ctx, http.MethodPost, g, wire.CapScreen, wire.PeerPathScreenOffer, offer, &ans)
	return ans, err
}

// peer calls the agent g names, over the overlay, for capability c (""
// when the caller does not say: a 404 is then not taken for a missing
// capability).
func (v *Viewer) peer(ctx context.Context, method string, g wire.GrantResponse, c wire.Capability, path string, in, out any) error {
	n, err := v.Node(ctx)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext:       n.Dial,
		DisableKeepAlives: true,
	}}
	return callAgent(ctx, hc, "http://"+net.JoinHostPort(g.OverlayIP, strconv.Itoa(wire.PeerPort)), method, g, c, path, in, out)
}

// callAgent makes one peer call with hc to the agent at base, with g's
// grant, decoding a JSON answer into out; a refusal is AgentRefusal's.
func callAgent(ctx context.Context, hc *http.Client, base, method string, g wire.GrantResponse, c wire.Capability, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return err
	}
	if g.Grant != "" {
		req.Header.Set(wire.HeaderGrant, g.Grant)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("viewer: calling the agent: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("viewer: calling the agent: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return AgentRefusal(g, c, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// Wake wakes an offline device: the coordinator names an online agent on
// its LAN and grants this node its wol capability; that agent sends the
// magic packet. It returns the relay's device id and what it sent.
func (v *Viewer) Wake(ctx context.Context, device string) (string, wire.WakeResult, error) {
	n, err := v.Node(ctx)
	if err != nil {
		return "", wire.WakeResult{}, err
	}
	key, err := n.NodeKey(ctx)
	if err != nil {
		return "", wire.WakeResult{}, err
	}
	plan, err := v.coord.Wake(ctx, wire.WakeAsk{DeviceID: device, NodeKey: key})
	if err != nil {
		return "", wire.WakeResult{}, err
	}
	var res wire.WakeResult
	if err := CheckServed(plan.Grant, wire.CapWake); err != nil {
		return plan.Relay, res, err
	}
	err = v.peer(ctx, http.MethodPost, plan.Grant, wire.CapWake, wire.PeerPathWake, plan.Request, &res)
	return plan.Relay, res, err
}

// Power asks a device's agent for a power action (reboot, Safe Mode…) with
// a grant for the power capability; the agent answers before it acts.
func (v *Viewer) Power(ctx context.Context, device string, req wire.PowerRequest) (wire.PowerResult, error) {
	g, err := v.Grant(ctx, device, wire.CapPower)
	if err != nil {
		return wire.PowerResult{}, err
	}
	var res wire.PowerResult
	err = v.peer(ctx, http.MethodPost, g, wire.CapPower, wire.PeerPathPower, req, &res)
	return res, err
}

// SysInfo fetches a device's system information directly from its agent,
// after asking the coordinator for a grant.
func (v *Viewer) SysInfo(ctx context.Context, device string) (wire.Inventory, error) {
	g, err := v.Grant(ctx, device, wire.CapSysInfo)
	if err != nil {
		return wire.Inventory{}, err
	}
	var inv wire.Inventory
	err = v.peer(ctx, http.MethodGet, g, wire.CapSysInfo, wire.PeerPathSysInfo, nil, &inv)
	return inv, err
}

// Close leaves the overlay.
func (v *Viewer) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.node == nil {
		return nil
	}
	err := v.node.Close()
	v.node = nil
	if v.lock != nil {
		v.lock.Close() //nolint:errcheck // closing releases the lock
		v.lock = nil
	}
	return err
}
