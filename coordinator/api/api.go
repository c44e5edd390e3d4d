// Package api serves the coordinator's HTTPS API: enrollment, technician
// login, the device list, session grants, and the agents' own reports. It
// also serves the local administration API on a Unix socket (LocalHandler),
// which is the only way to create the first admin.
//
// Every handler bounds and validates its input, answers errors as a JSON
// wire.Error with a stable code, and audits every privileged action and
// every refusal. Identity comes from the bearer credential, never from the
// request body.
package api

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/wire"
)

// Overlay is what the API needs of the control plane.
type Overlay interface {
	CreateAuthKey(overlay.KeyOptions) (overlay.AuthKey, error)
	DeleteAuthKey(id uint64) error
	Nodes() []overlay.Node
	NodeByKey(nodeKey string) (overlay.Node, error)
}

// Config wires the API to the coordinator's parts.
type Config struct {
	Accounts   *identity.Accounts
	Registry   *enroll.Registry
	Audit      *audit.Log
	Overlay    Overlay
	Presence   *Presence
	Support    *support.Desk
	CA         *x509.Certificate
	Pin        string
	ControlURL string // the coordinator's public https URL
	GrantKey   ed25519.PrivateKey
	Now        func() time.Time
	Logger     *slog.Logger
}

// Server is the API.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	loginIP  *limiter // per client IP, on /v1/login
	enrollIP *limiter // per client IP, on /v1/enroll
	codeIP   *limiter // per client IP: support-code redemptions (portal, one-time agents)
	codeTech *limiter // per technician: redeeming end users' codes
	codeAll  *limiter // all support-code redemptions together
	accesses accesses
}

// New returns the API server.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg: cfg, log: cfg.Logger, now: cfg.Now,
		loginIP:  newLimiter(10, time.Minute, 5, cfg.Now),
		enrollIP: newLimiter(120, time.Minute, 60, cfg.Now), // mass roll-outs behind one NAT
		// A million codes, a handful active: these limits keep a guesser
		// at well under one chance in a thousand per day.
		codeIP:   newLimiter(20, time.Minute, 10, cfg.Now),
		codeTech: newLimiter(20, time.Minute, 10, cfg.Now),
		codeAll:  newLimiter(300, time.Minute, 100, cfg.Now),
	}
}

// Close ends the presence streams, which live on connections net/http no
// longer tracks, and returns once they have ended; call it after the HTTP
// server closed.
func (s *Server) Close() {
	if s.cfg.Presence != nil {
		s.cfg.Presence.Close()
	}
}

// Handler serves the public API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+wire.PathCA, s.handleCA)
	mux.HandleFunc("POST "+wire.PathEnroll, s.handleEnroll)
	mux.HandleFunc("POST "+wire.PathLogin, s.handleLogin)
	mux.HandleFunc("POST /v1/logout", s.technician(s.handleLogout))
	mux.HandleFunc("GET "+wire.PathDevices, s.technician(s.handleDevices))
	mux.HandleFunc("POST "+wire.PathGrant, s.technician(s.handleGrant))
	mux.HandleFunc("POST "+wire.PathWake, s.technician(s.handleWake))
	mux.HandleFunc("POST "+wire.PathTokens, s.technician(s.handleCreateToken))
	mux.HandleFunc("POST "+wire.PathInventory, s.device(s.handleInventory))
	mux.HandleFunc("POST "+wire.PathHeartbeat, s.device(s.handleHeartbeat))
	mux.HandleFunc("POST "+wire.PathPresence, s.device(s.handlePresence))
	mux.HandleFunc("POST "+wire.PathAgentAudit, s.device(s.handleAgentAudit))
	mux.HandleFunc("POST "+wire.PathSupportCodes, s.technician(s.handleCreateCode))
	mux.HandleFunc("POST "+wire.PathSupportCodes+"/{code}/cancel", s.technician(s.handleCancelCode))
	mux.HandleFunc("POST "+wire.PathSupportRedeem, s.technician(s.handleRedeem))
	mux.HandleFunc("GET "+wire.PathSupportSessions, s.technician(s.handleBoard))
	mux.HandleFunc("POST "+wire.PathSupportSessions+"/{id}/end", s.technician(s.handleTechEnd))
	mux.HandleFunc("POST "+wire.PathSupportJoin, s.handleJoin)
	mux.HandleFunc("POST "+wire.PathSupportEnd, s.handleDeviceEnd)
	mux.HandleFunc("POST "+wire.PathSupportAsk, s.device(s.handleAsk))
	return mux
}

func (s *Server) handleCA(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pemCA(s.cfg.CA)) //nolint:errcheck // client gone
}

// clientIP is the TCP peer's address: the coordinator trusts no proxy
// headers.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// decode reads a bounded JSON body into v, refusing unknown fields and
// trailing data.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, wire.MaxRequestBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("request body: trailing data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // client gone
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wire.Error{Code: code, Message: msg})
}

// bearer returns the credential of an "Authorization: <scheme> <value>"
// header.
func bearer(r *http.Request, scheme string) (string, bool) {
	h := r.Header.Get("Authorization")
	v, ok := strings.CutPrefix(h, scheme+" ")
	return strings.TrimSpace(v), ok && len(v) <= 256
}

// record appends an audit record; a failure to audit is logged loudly but
// does not change the answer already decided.
func (s *Server) record(ev wire.AuditEvent) {
	if _, err := s.cfg.Audit.Append("coordinator", ev); err != nil {
		s.log.Error("audit append failed", "action", ev.Action, "err", err)
	}
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, status int, code, msg string, ev wire.AuditEvent) {
	ev.Outcome = audit.Denied
	if ev.Reason == "" {
		ev.Reason = msg
	}
	if ev.Fields == nil {
		ev.Fields = map[string]string{}
	}
	ev.Fields["ip"] = clientIP(r)
	s.record(ev)
	writeError(w, status, code, msg)
}
