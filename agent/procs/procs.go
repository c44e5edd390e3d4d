// Package procs is the processes capability (wire.CapProcesses, issue 13
// item 4, R4): the technician lists the machine's processes and ends one.
//
// # Overview
//
// A [Handler] serves two routes behind the gate: wire.PeerPathProcesses
// lists every process (id, parent, name, user, CPU share since the
// previous list, resident memory, start time and a bounded command line,
// read with gopsutil) and wire.PeerPathProcessKill ends one. It is a
// peer.ConsentPerCall row: on an attended machine the user allows the
// technician once for the lease.
//
// # Killing the right process
//
// A kill names the process by its id and its start time, both as the list
// showed them. On Linux the agent opens a pidfd for the id first, then
// reads the start time of the process the id names and signals through the
// pidfd, so a process that ended and whose id was reused by another is
// never signalled: the start times differ and the kill is refused
// ([ErrReused]), or the pidfd refers to the ended process and the signal
// finds nothing ([ErrGone]). On Windows a process handle plays the pidfd's
// part (OpenProcess, GetProcessTimes, TerminateProcess). Elsewhere killing
// is errors.ErrUnsupported. The agent never ends itself ([ErrSelf]).
//
// Every kill is audited on the agent before the signal is sent (an action
// that cannot be recorded is not taken), with the process's name, id and
// start time, and again if it failed.
package procs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shirou/gopsutil/v4/process"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Errors of Kill, checked with errors.Is.
var (
	ErrGone   = errors.New("procs: no such process (it has ended)")
	ErrReused = errors.New("procs: the process id now belongs to another process")
	ErrSelf   = errors.New("procs: the agent does not end itself")
)

// Handler serves wire.PeerPathProcesses and wire.PeerPathProcessKill.
type Handler struct {
	Device string        // this machine's device id, the audit records' target
	Audit  gate.Recorder // where kills are recorded
	Logger *slog.Logger
	Now    func() time.Time // time.Now if nil

	mu   sync.Mutex
	prev map[procKey]sample // CPU time at the previous list
}

type procKey struct {
	pid     int32
	started int64
}

type sample struct {
	cpu float64 // seconds of CPU used
	at  time.Time
}

// Capability is what a caller's grant must include.
func (*Handler) Capability() wire.Capability { return wire.CapProcesses }

// ServePeer lists (GET) or kills (POST).
func (h *Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == wire.PeerPathProcesses:
		l, err := h.List(r.Context())
		if err != nil {
			h.logger().Error("listing processes", "err", err)
			gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the processes could not be listed")
			return
		}
		writeJSON(w, l)
	case r.Method == http.MethodPost && r.URL.Path == wire.PeerPathProcessKill:
		var k wire.ProcessKill
		if err := gate.DecodeRequest(w, r, &k); err != nil {
			gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
			return
		}
		if err := k.Check(); err != nil {
			gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
			return
		}
		res, err := h.Kill(r.Context(), c, k)
		switch {
		case err == nil:
			writeJSON(w, res)
		case errors.Is(err, ErrGone):
			gate.WriteError(w, http.StatusNotFound, wire.CodeNotFound, "that process has ended")
		case errors.Is(err, ErrReused):
			gate.WriteError(w, http.StatusConflict, wire.CodeConflict, "that process has ended and its id belongs to another process now: nothing was killed")
		case errors.Is(err, ErrSelf):
			gate.WriteError(w, http.StatusForbidden, wire.CodeForbidden, "the agent does not end itself")
		case errors.Is(err, errors.ErrUnsupported):
			gate.WriteError(w, http.StatusNotImplemented, wire.CodeBadRequest, "ending processes is not supported on this system")
		case errors.Is(err, errAudit):
			gate.WriteError(w, http.StatusServiceUnavailable, wire.CodeInternal, "the agent cannot write its audit trail")
		case errors.Is(err, os.ErrPermission):
			gate.WriteError(w, http.StatusForbidden, wire.CodeForbidden, "the agent may not end that process")
		default:
			h.logger().Error("killing a process", "pid", k.PID, "err", err)
			gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the process could not be ended")
		}
	default:
		gate.WriteError(w, http.StatusNotFound, wire.CodeNotFound, "no such route")
	}
}

// List reads every process.
func (h *Handler) List(ctx context.Context) (wire.ProcessList, error) {
	ps, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return wire.ProcessList{}, fmt.Errorf("procs.List: %w", err)
	}
	now := h.now()
	var out wire.ProcessList
	if len(ps) > wire.MaxProcesses {
		ps, out.Truncated = ps[:wire.MaxProcesses], true
	}
	users := map[string]string{}
	next := make(map[procKey]sample, len(ps))
	h.mu.Lock()
	prev := h.prev
	h.mu.Unlock()
	out.Processes = make([]wire.Process, 0, len(ps))
	for _, p := range ps {
		if ctx.Err() != nil {
			return wire.ProcessList{}, ctx.Err()
		}
		started, err := p.CreateTimeWithContext(ctx)
		if err != nil {
			continue // it ended while we listed
		}
		e := wire.Process{PID: p.Pid, Started: started}
		e.Name, _ = p.NameWithContext(ctx) //nolint:errcheck // a process that ended mid-list keeps what was read
		e.PPID, _ = p.PpidWithContext(ctx) //nolint:errcheck // as above
		e.User = username(ctx, p, users)
		if m, err := p.MemoryInfoWithContext(ctx); err == nil {
			e.RSS = m.RSS
		}
		if cmd, err := p.CmdlineWithContext(ctx); err == nil {
			e.Command = bound(cmd, wire.MaxCommandLine)
		}
		if t, err := p.TimesWithContext(ctx); err == nil {
			used := t.User + t.System
			k := procKey{p.Pid, started}
			e.CPU = cpuShare(prev[k], used, started, now)
			next[k] = sample{cpu: used, at: now}
		}
		out.Processes = append(out.Processes, e)
	}
	h.mu.Lock()
	h.prev = next
	h.mu.Unlock()
	return out, nil
}

// cpuShare is the percent of one CPU a process used since the previous
// sample, or over its life when there is none.
func cpuShare(prev sample, used float64, started int64, now time.Time) float64 {
	from, base := time.UnixMilli(started), 0.0
	if !prev.at.IsZero() && used >= prev.cpu {
		from, base = prev.at, prev.cpu
	}
	span := now.Sub(from).Seconds()
	if span <= 0 {
		return 0
	}
	share := (used - base) / span * 100
	if share < 0 {
		return 0
	}
	return float64(int64(share*10+0.5)) / 10
}

// bound cuts s to at most n bytes, at the start of a character.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Kill ends the process k names, if it is still the process the list
// showed, recording it first.
func (h *Handler) Kill(ctx context.Context, c gate.Caller, k wire.ProcessKill) (wire.ProcessKilled, error) {
	if k.PID == int32(os.Getpid()) {
		return wire.ProcessKilled{}, ErrSelf
	}
	sig := k.Signal
	if sig == "" {
		sig = wire.SignalTerm
	}
	res := wire.ProcessKilled{PID: k.PID, Signal: sig}
	recorded := false
	err := kill(ctx, k.PID, k.Started, sig == wire.SignalKill, func(name string) error {
		res.Name = name
		if err := h.record(c, k, sig, name, "ok", ""); err != nil {
			return err
		}
		recorded = true
		return nil
	})
	if err != nil && recorded {
		// Recorded as done, then failed: say so.
		if rerr := h.record(c, k, sig, res.Name, "failed", err.Error()); rerr != nil {
			h.logger().Error("audit record failed", "err", rerr)
		}
	}
	if err != nil {
		return wire.ProcessKilled{}, err
	}
	h.logger().Info("process ended", "pid", k.PID, "name", res.Name, "signal", sig, "technician", c.Technician)
	return res, nil
}

var errAudit = errors.New("procs: the audit record could not be written")

func (h *Handler) record(c gate.Caller, k wire.ProcessKill, sig, name, outcome, reason string) error {
	if h.Audit == nil {
		return fmt.Errorf("%w: no audit trail", errAudit)
	}
	err := h.Audit.Record(wire.AuditEvent{
		Time: h.now(), Actor: c.Technician, Action: "processes.kill", Target: h.Device, Outcome: outcome, Reason: reason,
		Fields: map[string]string{"pid": strconv.Itoa(int(k.PID)), "name": name, "started": time.UnixMilli(k.Started).UTC().Format(time.RFC3339Nano),
			"signal": sig, "node_key": c.Node.NodeKey, "grant": c.Grant.ID},
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errAudit, err)
	}
	return nil
}

func (h *Handler) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return // the technician left
	}
}
