package api

import (
	"fmt"
	"io"
	"net/http"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// maxConsentRulesBody bounds a PUT of the consent rules: what fits one
// record of the store, well under policy.MaxConsentRulesSize.
const maxConsentRulesBody = 512 << 10

// handleConsentRules answers the shop's consent rules (admin), or
// CodeNotFound when the shop has none.
func (s *Server) handleConsentRules(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	rules, ok, err := s.desk.ConsentRules(c)
	if err != nil {
		fail(w, err)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, wire.CodeNotFound, "the shop has no consent rules: each agent uses its own default")
		return
	}
	writeJSON(w, http.StatusOK, rules)
}

// handleSetConsentRules replaces the shop's consent rules (admin) with
// the body: policy.ConsentRules as JSON, known fields only, checked.
func (s *Server) handleSetConsentRules(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConsentRulesBody))
	if err != nil {
		s.unreadable(w, c, "consent-rules.set", fmt.Errorf("request body: %w", err))
		return
	}
	rules, err := policy.ParseConsentRules(b)
	if err != nil {
		s.unreadable(w, c, "consent-rules.set", err)
		return
	}
	if err := s.desk.SetConsentRules(c, rules); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rules)
}

// handleClearConsentRules removes the shop's consent rules (admin).
func (s *Server) handleClearConsentRules(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	if err := s.desk.ClearConsentRules(c); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
