// Package api serves the coordinator's HTTPS API — enrollment, technician
// login (with a second factor where the account has one), API keys for
// integrations (sent as "Authorization: Bearer pdk_…"), the device list, session grants, the support desk and the agents'
// own reports, the help desk's tickets (filed by agents with their device
// credentials; read and worked by technicians and integrations) and the
// webhooks that tell a PSA of them — and the local administration API on a Unix socket
// (LocalHandler), which is the only way to create the first admin.
//
// It is a thin adapter over package desk, which decides: a handler
// authenticates the caller (a technician's bearer session or an agent's
// device credentials), decodes and bounds the JSON body (64 KiB, unknown
// fields and trailing data refused), calls one desk method, and maps its
// answer — a desk.Error's Kind to an HTTP status and a wire.Error with a
// stable code and the error's user-safe sentence. Role, company scope,
// rate limits and the audit trail are desk's. Identity comes from the
// credential, never from the request body.
//
// The routes are data (Rules): the mux is built from that table, and the
// tests walk it (every route × role × company scope; every route refuses
// an unauthenticated request unless it is in PublicRoutes).
package api

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Config wires the API to the coordinator's parts.
type Config struct {
	Desk     *desk.Desk
	Presence *Presence
	// Assist relays the help desk assistant's chat; nil answers its
	// routes 503.
	Assist *assist.Service
	CA     *x509.Certificate
	Logger *slog.Logger // nil discards logs
}

// Server is the API.
type Server struct {
	cfg  Config
	desk *desk.Desk
	log  *slog.Logger
}

// New returns the API server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, desk: cfg.Desk, log: cfg.Logger}
}

// Close ends the presence streams, which live on connections net/http no
// longer tracks, and returns once they have ended; call it after the HTTP
// server closed.
func (s *Server) Close() {
	if s.cfg.Presence != nil {
		s.cfg.Presence.Close()
	}
}

// Handler types, one per desk.Auth.
type (
	publicHandler func(s *Server, w http.ResponseWriter, r *http.Request)
	callerHandler func(s *Server, w http.ResponseWriter, r *http.Request, c desk.Caller, token string)
	deviceHandler func(s *Server, w http.ResponseWriter, r *http.Request, dev enroll.Device)
	route         struct {
		desk.Rule
		public publicHandler
		tech   callerHandler
		device deviceHandler
	}
)

// routes is the public API: every route, what authenticates it, the
// policy action it needs and what it acts on. Handler builds the mux from
// it; Rules exposes it.
var routes = []route{
	{Rule: desk.Rule{Pattern: "GET " + wire.PathCA, Auth: desk.Public}, public: (*Server).handleCA},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathEnroll, Auth: desk.Public}, public: (*Server).handleEnroll},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathLogin, Auth: desk.Public}, public: (*Server).handleLogin},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathLoginSecondFactor, Auth: desk.Public}, public: (*Server).handleSecondFactor},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathSupportJoin, Auth: desk.Public}, public: (*Server).handleJoin},
	// Authenticated by the device credentials in its header, which it
	// checks itself (a one-time agent's or an enrolled device's).
	{Rule: desk.Rule{Pattern: "POST " + wire.PathSupportEnd, Auth: desk.Public}, public: (*Server).handleDeviceEnd},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathSupportOverlay, Auth: desk.Public}, public: (*Server).handleOverlayReport},

	{Rule: desk.Rule{Pattern: "POST /v1/logout", Auth: desk.Technician}, tech: (*Server).handleLogout},
	{Rule: desk.Rule{Pattern: "GET " + wire.PathDevices, Auth: desk.Technician, Action: policy.ActionListDevices, Target: desk.ListTarget}, tech: (*Server).handleDevices},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathGrant, Auth: desk.Technician, Action: policy.ActionRequestGrant, Target: desk.DeviceTarget}, tech: (*Server).handleGrant},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathWake, Auth: desk.Technician, Action: policy.ActionWake, Target: desk.DeviceTarget}, tech: (*Server).handleWake},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathTokens, Auth: desk.Technician, Action: policy.ActionCreateEnrollToken}, tech: (*Server).handleCreateToken},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathSupportCodes, Auth: desk.Technician, Action: policy.ActionSupport}, tech: (*Server).handleCreateCode},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathSupportCodes + "/{code}/cancel", Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.CodeTarget}, tech: (*Server).handleCancelCode},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathSupportRedeem, Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.CodeTarget}, tech: (*Server).handleRedeem},
	{Rule: desk.Rule{Pattern: "GET " + wire.PathSupportSessions, Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.ListTarget}, tech: (*Server).handleBoard},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathConnectRedeem, Auth: desk.Technician}, tech: (*Server).handleConnectRedeem},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathSupportSessions + "/{id}/end", Auth: desk.Technician, Action: policy.ActionSupport, Target: desk.SessionTarget}, tech: (*Server).handleTechEnd},

	{Rule: desk.Rule{Pattern: "GET " + wire.PathAPIKeys, Auth: desk.Technician}, tech: (*Server).handleAPIKeys},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathAPIKeys, Auth: desk.Technician}, tech: (*Server).handleCreateAPIKey},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathAPIKeys + "/{id}/revoke", Auth: desk.Technician}, tech: (*Server).handleRevokeAPIKey},

	{Rule: desk.Rule{Pattern: "GET " + wire.PathConsentRules, Auth: desk.Technician, Action: policy.ActionManageConsent}, tech: (*Server).handleConsentRules},
	{Rule: desk.Rule{Pattern: "PUT " + wire.PathConsentRules, Auth: desk.Technician, Action: policy.ActionManageConsent}, tech: (*Server).handleSetConsentRules},
	{Rule: desk.Rule{Pattern: "DELETE " + wire.PathConsentRules, Auth: desk.Technician, Action: policy.ActionManageConsent}, tech: (*Server).handleClearConsentRules},

	{Rule: desk.Rule{Pattern: "GET " + wire.PathTickets, Auth: desk.Technician, Action: policy.ActionReadTickets, Target: desk.ListTarget}, tech: (*Server).handleTickets},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathTickets, Auth: desk.Technician, Action: policy.ActionWorkTickets, Target: desk.DeviceTarget}, tech: (*Server).handleCreateTicket},
	{Rule: desk.Rule{Pattern: "GET " + wire.PathTickets + "/{number}", Auth: desk.Technician, Action: policy.ActionReadTickets, Target: desk.TicketTarget}, tech: (*Server).handleTicket},
	{Rule: desk.Rule{Pattern: "PATCH " + wire.PathTickets + "/{number}", Auth: desk.Technician, Action: policy.ActionWorkTickets, Target: desk.TicketTarget}, tech: (*Server).handleUpdateTicket},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathTickets + "/{number}/comments", Auth: desk.Technician, Action: policy.ActionWorkTickets, Target: desk.TicketTarget}, tech: (*Server).handleCommentTicket},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathTickets + "/{number}/attachments", Auth: desk.Technician, Action: policy.ActionWorkTickets, Target: desk.TicketTarget}, tech: (*Server).handleAttachTicket},
	{Rule: desk.Rule{Pattern: "GET " + wire.PathTickets + "/{number}/attachments/{index}", Auth: desk.Technician, Action: policy.ActionReadTickets, Target: desk.TicketTarget}, tech: (*Server).handleAttachment},
	{Rule: desk.Rule{Pattern: "GET " + wire.PathWebhooks, Auth: desk.Technician, Action: policy.ActionManageWebhooks}, tech: (*Server).handleWebhooks},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathWebhooks, Auth: desk.Technician, Action: policy.ActionManageWebhooks}, tech: (*Server).handleCreateWebhook},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathWebhooks + "/{id}/delete", Auth: desk.Technician, Action: policy.ActionManageWebhooks}, tech: (*Server).handleDeleteWebhook},
	{Rule: desk.Rule{Pattern: "GET " + wire.PathWebhooks + "/{id}/deliveries", Auth: desk.Technician, Action: policy.ActionManageWebhooks}, tech: (*Server).handleWebhookDeliveries},

	{Rule: desk.Rule{Pattern: "GET " + wire.PathAssistSettings, Auth: desk.Technician, Action: policy.ActionManageAssistant}, tech: (*Server).handleAssistSettings},
	{Rule: desk.Rule{Pattern: "PUT " + wire.PathAssistSettings, Auth: desk.Technician, Action: policy.ActionManageAssistant}, tech: (*Server).handleSetAssistSettings},

	{Rule: desk.Rule{Pattern: "POST " + wire.PathAssistChat, Auth: desk.Device}, device: (*Server).handleAssistChat},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathAssistRemedy, Auth: desk.Device}, device: (*Server).handleAssistRemedy},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathInventory, Auth: desk.Device}, device: (*Server).handleInventory},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathHeartbeat, Auth: desk.Device}, device: (*Server).handleHeartbeat},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathPresence, Auth: desk.Device}, device: (*Server).handlePresence},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathAgentAudit, Auth: desk.Device}, device: (*Server).handleAgentAudit},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathSupportAsk, Auth: desk.Device}, device: (*Server).handleAsk},
	{Rule: desk.Rule{Pattern: "POST " + wire.PathAgentTickets, Auth: desk.Device}, device: (*Server).handleAgentTicket},
}

// PublicRoutes are the API's patterns reachable without a technician's
// session or an agent's device credentials, each for a reason: the CA an
// enrolling node pins, enrollment (by token), login and its second step
// (by password, then by pending token and code), the one-time agent's
// join (by code), and the end of a support session by the agent (its
// credentials checked by the handler).
var PublicRoutes = []string{
	"GET " + wire.PathCA, "POST " + wire.PathEnroll, "POST " + wire.PathLogin, "POST " + wire.PathLoginSecondFactor,
	"POST " + wire.PathSupportJoin, "POST " + wire.PathSupportEnd, "POST " + wire.PathSupportOverlay,
}

// Rules lists the public API's routes.
func Rules() []desk.Rule {
	out := make([]desk.Rule, len(routes))
	for i, rt := range routes {
		out[i] = rt.Rule
	}
	return out
}

// Handler serves the public API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		switch rt.Auth {
		case desk.Public:
			h := rt.public
			mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
		case desk.Technician:
			mux.HandleFunc(rt.Pattern, s.technician(rt.tech))
		case desk.Device:
			mux.HandleFunc(rt.Pattern, s.device(rt.device))
		default:
			panic("api: a route without authentication: " + rt.Pattern)
		}
	}
	return mux
}

func (s *Server) handleCA(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cfg.CA.Raw})) //nolint:errcheck // client gone
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

// Status maps a desk error's kind to an HTTP status and a wire error code.
func Status(k desk.Kind) (int, string) {
	switch k {
	case desk.Invalid:
		return http.StatusBadRequest, wire.CodeBadRequest
	case desk.Unauthenticated:
		return http.StatusUnauthorized, wire.CodeUnauthorized
	case desk.Forbidden:
		return http.StatusForbidden, wire.CodeForbidden
	case desk.NotFound:
		return http.StatusNotFound, wire.CodeNotFound
	case desk.Conflict:
		return http.StatusConflict, wire.CodeConflict
	case desk.Expired:
		return http.StatusGone, wire.CodeExpired
	case desk.RateLimited:
		return http.StatusTooManyRequests, wire.CodeRateLimited
	case desk.Locked:
		return http.StatusForbidden, wire.CodeLocked
	case desk.Unavailable:
		return http.StatusServiceUnavailable, wire.CodeInternal
	}
	return http.StatusInternalServerError, wire.CodeInternal
}

// fail answers a desk error: its status, code and user-safe sentence.
func fail(w http.ResponseWriter, err error) {
	status, code := Status(desk.KindOf(err))
	writeError(w, status, code, desk.PublicOf(err))
}

// badRequest answers a body that could not be decoded.
func badRequest(w http.ResponseWriter, err error) {
	writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
}

// unreadable answers, and audits, a body that could not be decoded for
// an action.
func (s *Server) unreadable(w http.ResponseWriter, c desk.Caller, action string, err error) {
	fail(w, s.desk.Unreadable(c, action, err))
}

// bearer returns the credential of an "Authorization: <scheme> <value>"
// header.
func bearer(r *http.Request, scheme string) (string, bool) {
	h := r.Header.Get("Authorization")
	v, ok := strings.CutPrefix(h, scheme+" ")
	return strings.TrimSpace(v), ok && len(v) <= 256
}

// technician authenticates a technician's bearer credential: a session
// token, or an API key (pdk_…) acting with its own role and companies. A
// session that must first set up two-factor authentication is refused.
func (s *Server) technician(h callerHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r, "Bearer")
		if !ok {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "log in first")
			return
		}
		sess, err := s.desk.Bearer(tok)
		if errors.Is(err, desk.ErrSetupFirst) {
			writeError(w, http.StatusForbidden, wire.CodeForbidden, desk.ErrSetupFirst.Error()+" (on the dashboard)")
			return
		}
		if err != nil {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "session expired or unknown; log in again")
			return
		}
		h(s, w, r, desk.CallerOf(sess, clientIP(r), "api"), tok)
	}
}

// device authenticates an agent: "Authorization: Device <id>:<secret>".
func (s *Server) device(h deviceHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred, ok := bearer(r, "Device")
		id, secret, ok2 := strings.Cut(cred, ":")
		if !ok || !ok2 {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "device credentials required")
			return
		}
		// A one-time support agent forwards its audit trail too; it may
		// do nothing else an enrolled device does.
		dev, err := s.desk.AuthenticateDevice(clientIP(r), id, secret, r.URL.Path == wire.PathAgentAudit)
		if err != nil {
			if r.URL.Path == wire.PathPresence && r.ProtoMajor == 1 {
				// A presence stream's body never ends: net/http would read
				// it (up to 256 KiB, a tick a second) before answering, and
				// a refused agent (a removed device) would wait forever.
				w.Header().Set("Connection", "close")
			}
			fail(w, err)
			return
		}
		h(s, w, r, dev)
	}
}
