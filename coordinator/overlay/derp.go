package overlay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tailscale.com/derp"
	"tailscale.com/derp/derpserver"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
	"tailscale.com/types/logger"
)

// The DERP relay (M4).
//
// Headscale's embedded relay admits any client unless its
// ServerVerifyClients option is on, and that option registers a URL
// scheme on http.DefaultTransport for every Headscale made — the second
// one in a process panics. So the overlay runs the relay itself: a
// tailscale derpserver.Server that asks, for every client, whether its
// node key belongs to one of this control plane's nodes, and refuses the
// rest. The question reaches us through tailscale's admission-controller
// hook (a URL it POSTs to with http.DefaultClient); the scheme behind it
// is registered once per process and routed to the relay named by the
// URL's host, so nothing leaves the process.
//
// Each admitted connection is remembered under its node key, so that
// deleting a node (DeleteNode, RevokeAuthKey) also ends its relayed
// connections at once.

// derpVerifyScheme is the URL scheme of the admission question.
const derpVerifyScheme = "peerdesk-derp-verify"

// relays routes admission questions to the relay named by the URL's host.
var (
	relays         sync.Map // host → *relay
	registerScheme sync.Once
	registerErr    error
)

// relay is the overlay's DERP server with client admission.
type relay struct {
	srv   *derpserver.Server
	id    string // the verify URL's host
	admit func(key.NodePublic) bool
	log   *slog.Logger
	logf  logger.Logf // rate limited: refusals are an attacker's to cause

	mu    sync.Mutex
	conns map[key.NodePublic]map[*relayConn]struct{}
}

// relayConn is one DERP connection being served; end closes it.
type relayConn struct {
	end func()
	key key.NodePublic // set once admitted
}

type relayConnKey struct{}

// newRelay makes the relay with the private key in keyPath (created if
// missing) that admits a client only if admit says so.
func newRelay(keyPath string, admit func(key.NodePublic) bool, log *slog.Logger) (*relay, error) {
	k, err := loadOrCreateDERPKey(keyPath)
	if err != nil {
		return nil, fmt.Errorf("DERP key: %w", err)
	}
	registerScheme.Do(func() {
		t, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			registerErr = errors.New("http.DefaultTransport is not an *http.Transport; DERP clients cannot be verified")
			return
		}
		t.RegisterProtocol(derpVerifyScheme, verifyTransport{})
	})
	if registerErr != nil {
		return nil, registerErr
	}
	r := &relay{
		id:    hex.EncodeToString(randomBytes(16)),
		admit: admit,
		log:   log,
		conns: make(map[key.NodePublic]map[*relayConn]struct{}),
	}
	r.logf = logger.RateLimitedFn(func(format string, args ...any) {
		log.Info(fmt.Sprintf(format, args...), "component", "derp")
	}, 30*time.Second, 5, 100)
	r.srv = derpserver.New(k, func(format string, args ...any) {
		// The server's own chatter (connects, disconnects) is debug
		// output; refusals are logged by admitKey.
		if log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug(fmt.Sprintf(format, args...), "component", "derp")
		}
	})
	r.srv.SetVerifyClientURL(derpVerifyScheme + "://" + r.id + "/verify")
	r.srv.SetVerifyClientURLFailOpen(false)
	relays.Store(r.id, r)
	return r, nil
}

// close ends every connection and stops answering admission questions.
func (r *relay) close() error {
	relays.Delete(r.id)
	return r.srv.Close()
}

// ServeHTTP serves /derp: the plain DERP upgrade tsnet uses. (WebSocket
// DERP serves browsers, which are no overlay nodes here.)
func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !strings.EqualFold(req.Header.Get("Upgrade"), "derp") {
		http.Error(w, "DERP requires connection upgrade", http.StatusUpgradeRequired)
		return
	}
	fastStart := req.Header.Get(derp.FastStartHeader) == "1"
	h, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "DERP needs HTTP/1.1", http.StatusInternalServerError)
		return
	}
	netConn, brw, err := h.Hijack()
	if err != nil {
		r.log.Debug("DERP: hijack failed", "err", err)
		return
	}
	if !fastStart {
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\n"+
			"Upgrade: DERP\r\nConnection: Upgrade\r\n"+
			"Derp-Version: %v\r\nDerp-Public-Key: %s\r\n\r\n",
			derp.ProtocolVersion, r.srv.PublicKey().UntypedHexString())
	}
	// The connection ends with the request's context (Close, or a deleted
	// node's end): derpserver stops only its sender on that, and its
	// reader would wait for the client.
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	c := &relayConn{end: cancel}
	defer context.AfterFunc(ctx, func() { netConn.Close() })()
	defer r.forget(c)
	r.srv.Accept(context.WithValue(ctx, relayConnKey{}, c), netConn, brw, netConn.RemoteAddr().String())
}

// admitKey answers one admission question, from inside Accept. The
// connection is remembered before the question is decided, so a node
// deleted meanwhile is either refused here or ended by end.
func (r *relay) admitKey(ctx context.Context, k key.NodePublic) bool {
	c, _ := ctx.Value(relayConnKey{}).(*relayConn)
	if c != nil {
		r.mu.Lock()
		c.key = k
		if r.conns[k] == nil {
			r.conns[k] = make(map[*relayConn]struct{})
		}
		r.conns[k][c] = struct{}{}
		r.mu.Unlock()
	}
	if !r.admit(k) {
		if c != nil {
			r.forget(c)
		}
		r.logf("DERP: refused a client whose node key is no node of this overlay: %v", k.ShortString())
		return false
	}
	return true
}

func (r *relay) forget(c *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if set := r.conns[c.key]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(r.conns, c.key)
		}
	}
}

// end closes every relayed connection of node key k.
func (r *relay) end(k key.NodePublic) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns[k] {
		c.end()
	}
}

// clients lists the node keys with an admitted connection.
func (r *relay) clients() []key.NodePublic {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]key.NodePublic, 0, len(r.conns))
	for k := range r.conns {
		out = append(out, k)
	}
	return out
}

// verifyTransport answers the DERP server's admission questions in
// process: the URL's host names the relay.
type verifyTransport struct{}

func (verifyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	v, ok := relays.Load(req.URL.Host)
	if !ok {
		return nil, errors.New("overlay: DERP verification: no such relay (closed)")
	}
	var ask tailcfg.DERPAdmitClientRequest
	if req.Method != http.MethodPost || req.Body == nil {
		return nil, errors.New("overlay: DERP verification: not a POST")
	}
	if err := json.NewDecoder(io.LimitReader(req.Body, 4<<10)).Decode(&ask); err != nil {
		return nil, fmt.Errorf("overlay: DERP verification: %w", err)
	}
	ans, err := json.Marshal(tailcfg.DERPAdmitClientResponse{Allow: v.(*relay).admitKey(req.Context(), ask.NodePublic)})
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(ans)),
		ContentLength: int64(len(ans)),
		Request:       req,
	}, nil
}

// loadOrCreateDERPKey reads the relay's private key, in the format
// Headscale wrote it ("privkey:<hex>", a machine key), or makes one.
func loadOrCreateDERPKey(path string) (key.NodePrivate, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		var mk key.MachinePrivate
		if err := mk.UnmarshalText(bytes.TrimSpace(b)); err != nil {
			return key.NodePrivate{}, fmt.Errorf("%s: %w", path, err)
		}
		return key.NodePrivate(mk), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return key.NodePrivate{}, err
	}
	mk := key.NewMachine()
	text, err := mk.MarshalText()
	if err != nil {
		return key.NodePrivate{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".derpkey-*")
	if err != nil {
		return key.NodePrivate{}, err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return key.NodePrivate{}, err
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return key.NodePrivate{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return key.NodePrivate{}, err
	}
	return key.NodePrivate(mk), nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("overlay: crypto/rand failed: " + err.Error()) // never fails on supported OSes
	}
	return b
}
