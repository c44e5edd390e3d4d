package webui

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/peerdesk/peerdesk/templates/viewerui"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/wire"
)

// systools serves a machine's system tools page (/device/{id}/system) and
// the routes its script calls, each going to the agent over the overlay
// with a grant for that tool's capability only (viewer.SysTools).
func (s *Server) systools(mux *http.ServeMux) {
	st := viewer.NewSysTools(s.v)
	mux.HandleFunc("GET /device/{id}/system", func(w http.ResponseWriter, r *http.Request) {
		cfg, _ := json.Marshal(map[string]string{"device": r.PathValue("id"), "csrf": s.csrf()}) //nolint:errcheck // strings cannot fail
		s.render(w, r, http.StatusOK, viewerui.SystemPage(viewerui.System{Device: r.PathValue("id"), Config: string(cfg)}))
	})
	mux.HandleFunc("GET /api/system/{device}/processes", func(w http.ResponseWriter, r *http.Request) {
		l, err := st.Processes(r.Context(), r.PathValue("device"))
		answer(w, l, err)
	})
	mux.HandleFunc("POST /api/system/{device}/processes/kill", func(w http.ResponseWriter, r *http.Request) {
		var k wire.ProcessKill
		if !decode(w, r, &k) {
			return
		}
		res, err := st.Kill(r.Context(), r.PathValue("device"), k)
		answer(w, res, err)
	})
	mux.HandleFunc("GET /api/system/{device}/services", func(w http.ResponseWriter, r *http.Request) {
		l, err := st.Services(r.Context(), r.PathValue("device"))
		answer(w, l, err)
	})
	mux.HandleFunc("POST /api/system/{device}/services", func(w http.ResponseWriter, r *http.Request) {
		var a wire.ServiceAction
		if !decode(w, r, &a) {
			return
		}
		res, err := st.Service(r.Context(), r.PathValue("device"), a)
		answer(w, res, err)
	})
	mux.HandleFunc("GET /api/system/{device}/apps", func(w http.ResponseWriter, r *http.Request) {
		l, err := st.Apps(r.Context(), r.PathValue("device"))
		answer(w, l, err)
	})
	mux.HandleFunc("POST /api/system/{device}/logs", func(w http.ResponseWriter, r *http.Request) {
		var q wire.LogQuery
		if !decode(w, r, &q) {
			return
		}
		// The browser gets the agent's stream as it comes: the same
		// newline-delimited LogLine values, re-encoded after checking.
		rc := http.NewResponseController(w)
		enc := json.NewEncoder(w)
		started := false
		end, err := st.Logs(r.Context(), r.PathValue("device"), q, func(e wire.LogEntry) error {
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.WriteHeader(http.StatusOK)
				started = true
			}
			if err := enc.Encode(wire.LogLine{Entry: &e}); err != nil {
				return err
			}
			return rc.Flush()
		})
		if err != nil && !started {
			writeErr(w, readable(err))
			return
		}
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		if err != nil {
			end.Error = "the log stream broke off: " + err.Error()
		}
		enc.Encode(wire.LogLine{End: &end}) //nolint:errcheck // the browser left
	})
}

// decode reads the browser's JSON body strictly.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, wire.MaxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.CodeBadRequest, Message: "the request is not valid: " + err.Error()})
		return false
	}
	return true
}

func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeErr(w, readable(err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// readable turns an agent without the tool into words the page shows.
func readable(err error) error {
	if errors.Is(err, viewer.ErrNotOffered) {
		return &wire.Error{Code: wire.CodeNotFound, Message: err.Error()}
	}
	return err
}
