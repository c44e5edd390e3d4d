package api

import (
	"net/http"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// apiKeyView is an API key as the wire shows it.
func apiKeyView(k identity.APIKey) wire.APIKey {
	return wire.APIKey{ID: k.ID, Name: k.Name, Owner: k.Owner, Role: string(k.Role), Companies: k.Companies,
		Created: k.Created, Expires: k.Expires}
}

func (s *Server) handleAPIKeys(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	keys, err := s.desk.APIKeys(c)
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]wire.APIKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, apiKeyView(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var req wire.APIKeyRequest
	if err := decode(w, r, &req); err != nil {
		s.unreadable(w, c, "apikey.create", err)
		return
	}
	key, k, err := s.desk.CreateAPIKey(c, req.Name, policy.Role(req.Role), req.Companies, req.Expires)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.APIKeyCreated{Key: key, APIKey: apiKeyView(k)})
}

func (s *Server) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	if err := s.desk.RevokeAPIKey(c, r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
