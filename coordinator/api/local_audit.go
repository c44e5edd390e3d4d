package api

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/wire"
)

// LocalAuditHandler serves the local administration API's audit routes
// (wire.LocalPathAuditVerify, wire.LocalPathAuditExport) over trail. Like
// LocalHandler it must only be served on the coordinator's Unix socket.
// Each call is itself audited (actor "local"). `peerdesk admin audit
// verify|export` use it through the running coordinator because Badger
// admits one process at a time: a tool opening the store offline would
// need the coordinator stopped. log may be nil.
func LocalAuditHandler(trail *audit.Log, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	record := func(ev wire.AuditEvent) {
		if _, err := trail.Append("coordinator", ev); err != nil {
			log.Error("audit append failed", "action", ev.Action, "err", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+wire.LocalPathAuditVerify, func(w http.ResponseWriter, r *http.Request) {
		res, err := trail.Report()
		if err != nil {
			log.Error("audit verify", "err", err)
			writeError(w, http.StatusInternalServerError, wire.CodeInternal, "reading the audit trail failed")
			return
		}
		ev := wire.AuditEvent{Actor: "local", Action: "audit.verify", Outcome: audit.OK}
		if !res.OK {
			ev.Outcome, ev.Reason = audit.Denied, res.Reason
		}
		record(ev)
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET "+wire.LocalPathAuditExport, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		format := q.Get("format")
		if format != wire.AuditFormatCSV && format != wire.AuditFormatJSON {
			writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "format must be csv or json")
			return
		}
		var since time.Time
		if v := q.Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "since must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z")
				return
			}
			since = t
		}
		ev := wire.AuditEvent{Actor: "local", Action: "audit.export", Outcome: audit.OK,
			Fields: map[string]string{"format": format, "since": q.Get("since")}}
		record(ev)
		if format == wire.AuditFormatCSV {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Trailer", wire.TrailerAuditExportError)
		if err := trail.Export(w, format, since); err != nil {
			if !errors.Is(err, http.ErrHandlerTimeout) {
				log.Error("audit export", "err", err)
			}
			w.Header().Set(wire.TrailerAuditExportError, "the export failed part way: "+err.Error())
		}
	})
	return mux
}
