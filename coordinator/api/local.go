package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/identity"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Local administration messages (the Unix-socket API).
type (
	// LocalUserRequest creates an account.
	LocalUserRequest struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		Role     string `json:"role"`
		// Companies limits the account to these companies' machines.
		Companies []string `json:"companies,omitempty"`
	}
	// LocalStatus describes the running coordinator.
	LocalStatus struct {
		URL     string `json:"url"`
		Pin     string `json:"pin"`
		Users   int    `json:"users"`
		Devices int    `json:"devices"`
	}
)

// Local API paths, served only on the coordinator's Unix socket.
const (
	LocalPathUsers  = "/local/users"
	LocalPathTokens = "/local/tokens"
	LocalPathStatus = "/local/status"
	LocalPathAudit  = "/local/audit"
)

// LocalHandler serves the local administration API. It must only ever be
// served on the coordinator's Unix socket, whose file permissions (0600, in
// a 0700 directory) make "can connect" mean "is the coordinator's own
// operating-system user on this machine". It is how the first admin is
// created: there is no setup page on the network.
func (s *Server) LocalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+LocalPathUsers, s.handleLocalUser)
	mux.HandleFunc("POST "+LocalPathTokens, s.handleLocalToken)
	mux.HandleFunc("GET "+LocalPathStatus, s.handleLocalStatus)
	mux.HandleFunc("GET "+LocalPathAudit, s.handleLocalAudit)
	return mux
}

func (s *Server) handleLocalUser(w http.ResponseWriter, r *http.Request) {
	var req LocalUserRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	err := s.cfg.Accounts.CreateScoped(req.Name, req.Password, policy.Role(req.Role), req.Companies)
	ev := wire.AuditEvent{Actor: "local", Action: "account.create", Target: clip(req.Name), Outcome: audit.OK,
		Fields: map[string]string{"role": clip(req.Role), "companies": clip(strings.Join(req.Companies, ","))}}
	switch {
	case errors.Is(err, identity.ErrExists):
		ev.Outcome, ev.Reason = audit.Denied, "exists"
		s.record(ev)
		writeError(w, http.StatusConflict, wire.CodeConflict, "a user with that name already exists")
		return
	case err != nil:
		ev.Outcome, ev.Reason = audit.Denied, err.Error()
		s.record(ev)
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	s.record(ev)
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) handleLocalToken(w http.ResponseWriter, r *http.Request) {
	var req wire.TokenRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	resp, err := s.createToken(enroll.TokenOptions{TTL: time.Duration(req.TTL), Note: req.Note, CreatedBy: "local",
		Company: req.Company, Site: req.Site})
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleLocalStatus(w http.ResponseWriter, r *http.Request) {
	users, err := s.cfg.Accounts.Count()
	if err != nil {
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, err.Error())
		return
	}
	devs, err := s.cfg.Registry.Devices()
	if err != nil {
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, LocalStatus{URL: s.cfg.ControlURL, Pin: s.cfg.Pin, Users: users, Devices: len(devs)})
}

// handleLocalAudit lists audit records: ?action=&outcome=&after=&limit=.
func (s *Server) handleLocalAudit(w http.ResponseWriter, r *http.Request) {
	q := audit.Query{Action: r.URL.Query().Get("action"), Outcome: r.URL.Query().Get("outcome")}
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "after must be a record number")
			return
		}
		q.After = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "limit must be 1..10000")
			return
		}
		q.Limit = n
	}
	recs, err := s.cfg.Audit.List(q)
	if err != nil {
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, recs)
}
