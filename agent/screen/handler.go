package screen

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
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

// ServePeer answers a browser's offer with the agent's answer, once the
// end user allowed what the session will use.
func (h *Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	var offer wire.ScreenOffer
	if err := gate.DecodeRequest(w, r, &offer); err != nil || offer.SDP == "" {
		gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, "an SDP offer is required")
		return
	}
	if h.busy(c.Technician) {
		gate.WriteError(w, http.StatusConflict, wire.CodeConflict, "another technician's session is live on this machine")
		return
	}
	// Exactly what the session will use: the user is asked for that, and
	// again whenever it is more than what they allowed (H1).
	want := []wire.Capability{wire.CapScreen}
	if allows(c, wire.CapInput) && h.cfg.Input != nil {
		want = append(want, wire.CapInput)
	}
	// Asked while a previous session of the same technician still runs:
	// its lease lets a reconnect with no more than it allowed through
	// without a question, and a refused widening leaves it running.
	lease, err := h.cfg.Consent.Acquire(r.Context(), consent.Request{
		Technician: c.Technician, Capabilities: want, NodeKey: c.Node.NodeKey, Issued: time.Unix(c.Grant.IssuedAt, 0),
	})
	switch {
	case errors.Is(err, consent.ErrRevoked):
		gate.WriteError(w, http.StatusForbidden, wire.CodeForbidden, "the technician's access was revoked")
		return
	case errors.Is(err, consent.ErrDenied):
		gate.WriteError(w, http.StatusForbidden, wire.CodeConsentDenied, "the user declined the session")
		return
	case errors.Is(err, consent.ErrNoAnswer):
		gate.WriteError(w, http.StatusForbidden, wire.CodeConsentDenied, "the user did not answer")
		return
	case errors.Is(err, consent.ErrBusy):
		gate.WriteError(w, http.StatusConflict, wire.CodeConflict, "the user is already being asked about another request")
		return
	case err != nil:
		h.cfg.Logger.Warn("consent failed", "err", err)
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the user could not be asked")
		return
	}
	if h.busy(c.Technician) { // another technician started while the user was asked
		lease.Release("")
		gate.WriteError(w, http.StatusConflict, wire.CodeConflict, "another technician's session is live on this machine")
		return
	}
	h.mu.Lock()
	prev := h.active
	h.mu.Unlock()
	if prev != nil {
		prev.end(reasonReconnected)
	}
	_, answer, err := h.start(offer, c, lease)
	if err != nil {
		lease.Release("the session could not start")
		h.cfg.Logger.Warn("screen session failed to start", "err", err)
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the session could not start: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer) //nolint:errcheck // client gone; ICE times out
}

// busy reports whether another technician's session is live.
func (h *Handler) busy(technician string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.active != nil && h.active.technician != technician
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

// EndFor ends the live session if match reports its holder (the
// technician, their node and the grant's issue time): the coordinator
// revoked them. It returns at once (1 if a session is ending, else 0); the
// session's end, and its lease's, are audited by the consent service.
func (h *Handler) EndFor(match func(consent.Holder) bool, _, reason string) int {
	h.mu.Lock()
	s := h.active
	h.mu.Unlock()
	if s == nil || !match(s.holder) {
		return 0
	}
	h.wg.Go(func() { s.end(reason) }) // end tells the browser first, which takes a moment
	return 1
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
	s.lease.Release(reason)
	if h.cfg.OnEnd != nil && reason != reasonReconnected {
		h.cfg.OnEnd(reason)
	}
}

func allows(c gate.Caller, capability wire.Capability) bool {
	return slices.Contains(c.Grant.Capabilities, capability)
}
