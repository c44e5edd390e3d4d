// Package logs is the event logs capability (wire.CapLogs, issue 13 item
// 4, R4): the technician reads the system's event log, filtered by level
// (priority) and time range, streamed.
//
// # Overview
//
// A [Handler] serves wire.PeerPathLogs: POST a wire.LogQuery, get
// newline-delimited wire.LogLine values, newest entry first, at most
// the query's limit (wire.MaxLogEntries), ending with a wire.LogEnd that
// says whether the limit cut the answer. It is a peer.ConsentPerCall row.
//
// On Linux the journal is read by the journalctl binary (no cgo):
// `journalctl -o json --reverse --priority 0..P --since --until --lines
// N+1` ([JournalArgs]), each line decoded by [ParseJournalLine]; the
// handler's JournalDir reads journal files from a directory instead of the
// system's journal (journalctl --directory), which is how the tests read
// journal files they made. On Windows the Event Log is queried with
// EvtQuery/EvtNext/EvtRender from wevtapi.dll over the Application and
// System channels, the XPath filter built by [XPathQuery] and each event's
// XML decoded by [ParseEventXML], both pure and tested on every system.
// Elsewhere it is errors.ErrUnsupported.
package logs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Handler serves wire.PeerPathLogs.
type Handler struct {
	// JournalDir, if set, is a directory of journal files read instead of
	// the system's journal (Linux).
	JournalDir string
	Device     string
	Audit      gate.Recorder // each query is recorded with its filter
	Logger     *slog.Logger
	Now        func() time.Time
}

// Capability is what a caller's grant must include.
func (*Handler) Capability() wire.Capability { return wire.CapLogs }

// queryTimeout bounds one query.
const queryTimeout = 2 * time.Minute

// ServePeer streams the entries the query asks for.
func (h *Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	if r.Method != http.MethodPost || r.URL.Path != wire.PeerPathLogs {
		gate.WriteError(w, http.StatusNotFound, wire.CodeNotFound, "no such route")
		return
	}
	var q wire.LogQuery
	if err := gate.DecodeRequest(w, r, &q); err != nil {
		gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	if err := q.Check(); err != nil {
		gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	if h.Audit != nil {
		now := time.Now()
		if h.Now != nil {
			now = h.Now()
		}
		f := map[string]string{"priority": strconv.Itoa(q.Priority), "limit": strconv.Itoa(q.Entries()), "node_key": c.Node.NodeKey, "grant": c.Grant.ID}
		if !q.Since.IsZero() {
			f["since"] = q.Since.UTC().Format(time.RFC3339)
		}
		if !q.Until.IsZero() {
			f["until"] = q.Until.UTC().Format(time.RFC3339)
		}
		if q.Unit != "" {
			f["unit"] = q.Unit
		}
		if err := h.Audit.Record(wire.AuditEvent{Time: now, Actor: c.Technician, Action: "logs.query", Target: h.Device, Outcome: "ok", Fields: f}); err != nil {
			h.logger().Error("audit record failed", "err", err)
			gate.WriteError(w, http.StatusServiceUnavailable, wire.CodeInternal, "the agent cannot write its audit trail")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	started := false
	end := wire.LogEnd{}
	err := read(ctx, h.JournalDir, q, func(e wire.LogEntry) error {
		if end.Count == q.Entries() {
			end.Truncated = true
			return errEnough
		}
		started = true
		end.Count++
		if err := enc.Encode(wire.LogLine{Entry: &e}); err != nil {
			return err
		}
		if end.Count%64 == 1 {
			return rc.Flush()
		}
		return nil
	})
	switch {
	case errors.Is(err, errEnough), err == nil:
	case errors.Is(err, errors.ErrUnsupported) && !started:
		gate.WriteError(w, http.StatusNotImplemented, wire.CodeBadRequest, "reading event logs is not supported on this system")
		return
	case !started && ctx.Err() == nil:
		h.logger().Error("reading the event log", "err", err)
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the event log could not be read: "+err.Error())
		return
	default:
		end.Error = "the event log could not be read to the end: " + err.Error()
	}
	if err := enc.Encode(wire.LogLine{End: &end}); err != nil {
		return // the technician left
	}
}

// errEnough stops a read at the limit.
var errEnough = errors.New("logs: enough entries")

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// bound cuts a message to wire.MaxLogMessage bytes at a character start.
func bound(s string) string {
	n := wire.MaxLogMessage
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

// Read reads the system log as the capability does (the journal in
// journalDir, "" for the system's, on Linux; the Event Log on Windows),
// the newest entries matching q first; the help desk's recent_errors
// diagnostic reads Windows' through it.
func Read(ctx context.Context, journalDir string, q wire.LogQuery, fn func(wire.LogEntry) error) error {
	return read(ctx, journalDir, q, fn)
}
