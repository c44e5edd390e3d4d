package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"

	"github.com/peerdesk/peerdesk/coordinator/assist"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/wire"
)

// The help desk assistant's routes: the agent's chat turns and remediation
// checks (device credentials; package assist relays and decides), and the
// admins' settings (package desk decides).

var assistIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func assistDevice(dev enroll.Device) assist.Device {
	company, _ := dev.Filed()
	return assist.Device{ID: dev.ID, Company: company}
}

// handleAssistChat runs one turn and streams its events, one JSON object
// a line, flushed as each is written.
func (s *Server) handleAssistChat(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	if s.cfg.Assist == nil {
		writeError(w, http.StatusServiceUnavailable, wire.CodeInternal, "this coordinator has no help desk assistant")
		return
	}
	var req wire.AssistRequest
	if err := decode(w, r, &req); err != nil {
		badRequest(w, err)
		return
	}
	if !assistIDRE.MatchString(req.ID) {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "the message id is not 32 lowercase hex digits")
		return
	}
	fl, _ := w.(http.Flusher)
	started := false
	enc := json.NewEncoder(w)
	err := s.cfg.Assist.Turn(r.Context(), assistDevice(dev), req, func(ev wire.AssistEvent) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
		if fl != nil {
			fl.Flush()
		}
		return nil
	})
	switch {
	case err == nil || started:
		if err != nil {
			s.log.Debug("assist: turn ended", "device", dev.ID, "err", err)
		}
	case errors.Is(err, assist.ErrBadRequest):
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
	default:
		s.log.Error("assist: turn", "device", dev.ID, "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "the help desk could not keep the conversation")
	}
}

// handleAssistRemedy re-checks a remediation the user approved, or keeps
// its outcome.
func (s *Server) handleAssistRemedy(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	if s.cfg.Assist == nil {
		writeError(w, http.StatusServiceUnavailable, wire.CodeInternal, "this coordinator has no help desk assistant")
		return
	}
	var req wire.AssistRemedy
	if err := decode(w, r, &req); err != nil {
		badRequest(w, err)
		return
	}
	a, err := s.cfg.Assist.Remedy(assistDevice(dev), req)
	switch {
	case errors.Is(err, assist.ErrBadRequest):
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
	case err != nil:
		s.log.Error("assist: remedy", "device", dev.ID, "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "the help desk could not check the fix")
	default:
		writeJSON(w, http.StatusOK, a)
	}
}

func (s *Server) handleAssistSettings(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	set, err := s.desk.AssistSettings(c)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, set)
}

func (s *Server) handleSetAssistSettings(w http.ResponseWriter, r *http.Request, c desk.Caller, _ string) {
	var set wire.AssistSettings
	if err := decode(w, r, &set); err != nil {
		s.unreadable(w, c, "assistant.settings.set", err)
		return
	}
	if err := s.desk.SetAssistSettings(c, set); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, set)
}
