package screen

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Handler serves wire.PeerPathScreenOffer behind the gate.
type Handler struct {
	cfg Config

	mu     sync.Mutex
	active *session
	wg     sync.WaitGroup
}

// New returns a Handler.
func New(cfg Config) *Handler {
	cfg.defaults()
	return &Handler{cfg: cfg}
}

// Capability is what a caller's grant must include.
func (*Handler) Capability() wire.Capability { return wire.CapScreen }

// reasonReconnected ends a session that the same technician replaces: it
// is not the end of the support session.
const reasonReconnected = "reconnected"

// consentTimeout bounds how long a technician waits for the end user.
const consentTimeout = 2 * time.Minute

// ServePeer answers a browser's offer with the agent's answer, after the end
// user consented.
func (h *Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	var offer wire.ScreenOffer
	if err := gate.DecodeRequest(w, r, &offer); err != nil || offer.SDP == "" {
		gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, "an SDP offer is required")
		return
	}
	h.mu.Lock()
	if h.active != nil && h.active.technician != c.Technician {
		h.mu.Unlock()
		gate.WriteError(w, http.StatusConflict, wire.CodeConflict, "another technician's session is live on this machine")
		return
	}
	prev := h.active
	h.mu.Unlock()
	if prev != nil {
		prev.end(reasonReconnected)
	}

	if h.cfg.Consent != nil && (prev == nil || !prev.consented) {
		ctx, cancel := context.WithTimeout(r.Context(), consentTimeout)
		ok, err := h.cfg.Consent.Ask(ctx, ConsentRequest{Technician: c.Technician, Capabilities: c.Grant.Capabilities})
		cancel()
		if err != nil {
			gate.WriteError(w, http.StatusForbidden, wire.CodeConsentDenied, "the user did not answer")
			return
		}
		if !ok {
			gate.WriteError(w, http.StatusForbidden, wire.CodeConsentDenied, "the user declined the session")
			return
		}
	}
	s, answer, err := h.start(offer, c)
	if err != nil {
		h.cfg.Logger.Warn("screen session failed to start", "err", err)
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the session could not start: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer) //nolint:errcheck // client gone; ICE times out
	_ = s
}

// End stops the live session, if any (the end user pressed "End").
func (h *Handler) End(reason string) {
	h.mu.Lock()
	s := h.active
	h.mu.Unlock()
	if s != nil {
		s.end(reason)
	}
}

// Close ends the live session and waits for it.
func (h *Handler) Close() {
	h.End("agent stopping")
	h.wg.Wait()
}

// Live reports whether a session is live (capture is running).
func (h *Handler) Live() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.active != nil
}

func (h *Handler) finished(s *session, reason string) {
	h.cfg.Logger.Info("screen session ended", "technician", s.technician, "reason", reason)
	h.mu.Lock()
	if h.active == s {
		h.active = nil
	}
	h.mu.Unlock()
	if h.cfg.Consent != nil {
		h.cfg.Consent.Disconnected(reason)
	}
	if h.cfg.OnEnd != nil && reason != reasonReconnected {
		h.cfg.OnEnd(reason)
	}
}

func allows(c gate.Caller, capability wire.Capability) bool {
	return slices.Contains(c.Grant.Capabilities, capability)
}
