package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/wire"
)

// LocalHandler serves the local administration API (wire.LocalPath…). It
// must only ever be served on the coordinator's Unix socket, whose file
// permissions (0600, in a 0700 directory) make "can connect" mean "is the
// coordinator's own operating-system user on this machine"; its caller is
// desk.Local. It is how the first admin is created: there is no setup page
// on the network.
func (s *Server) LocalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.LocalPathUsers, s.handleLocalUser)
	mux.HandleFunc("POST "+wire.LocalPathTokens, s.handleLocalToken)
	mux.HandleFunc("GET "+wire.LocalPathStatus, s.handleLocalStatus)
	mux.HandleFunc("GET "+wire.LocalPathAudit, s.handleLocalAudit)
	return mux
}

func (s *Server) handleLocalUser(w http.ResponseWriter, r *http.Request) {
	var req wire.LocalUserRequest
	if err := decode(w, r, &req); err != nil {
		badRequest(w, err)
		return
	}
	if err := s.desk.CreateUser(desk.Local(), req); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) handleLocalToken(w http.ResponseWriter, r *http.Request) {
	var req wire.TokenRequest
	if err := decode(w, r, &req); err != nil {
		badRequest(w, err)
		return
	}
	resp, err := s.desk.CreateToken(desk.Local(), enroll.TokenOptions{TTL: time.Duration(req.TTL), Note: req.Note, Company: req.Company, Site: req.Site})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleLocalStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.desk.Status(desk.Local())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
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
	recs, err := s.desk.AuditRecords(desk.Local(), q)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, recs)
}
