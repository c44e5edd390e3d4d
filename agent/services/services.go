// Package services is the services capability (wire.CapServices, issue 13
// item 4, R4): the technician lists the machine's services and starts,
// stops or restarts one.
//
// # Overview
//
// A [Handler] serves wire.PeerPathServices (GET, the list: name,
// description, state, enabled) and wire.PeerPathServiceDo (POST a
// wire.ServiceAction). It is a peer.ConsentPerCall row. The work is done by
// a [Manager]: on Linux [Systemd], which speaks to systemd's
// org.freedesktop.systemd1.Manager over D-Bus (godbus; ListUnits,
// ListUnitFiles, StartUnit, StopUnit, RestartUnit, waiting for the job's
// JobRemoved signal); on Windows the service control manager
// (golang.org/x/sys/windows/svc/mgr). Elsewhere every call is
// errors.ErrUnsupported.
//
// # Testing without systemd
//
// The machine these tests run on has no systemd as PID 1, so the D-Bus
// logic is tested against a fake systemd (package systemdtest): a private
// dbus-daemon started by the test, on which the test exports an object
// answering the Manager methods above and emitting JobRemoved. The e2e
// test points the agent at it (agent.Config.ServicesBus). What the fake
// cannot show is how a real systemd's jobs behave (dependencies,
// timeouts, polkit refusals): those paths are untested here.
//
// Every action is audited on the agent before it is taken (an action that
// cannot be recorded is not taken), and again if it failed.
package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// ErrNotFound: no service of that name.
var ErrNotFound = errors.New("services: no such service")

// ErrFailed wraps a job the service manager ran and reported as failed.
var ErrFailed = errors.New("services: the service manager could not do it")

// Manager lists and controls services.
type Manager interface {
	List(ctx context.Context) ([]wire.Service, error)
	// Do starts, stops or restarts name and waits for the manager to
	// finish; it returns the job's name, if the manager has jobs.
	Do(ctx context.Context, name, action string) (job string, err error)
	// Get reads one service.
	Get(ctx context.Context, name string) (wire.Service, error)
}

// Handler serves wire.PeerPathServices and wire.PeerPathServiceDo.
type Handler struct {
	Manager Manager // NewManager("") if nil
	Device  string
	Audit   gate.Recorder
	Logger  *slog.Logger
	Now     func() time.Time
}

// Capability is what a caller's grant must include.
func (*Handler) Capability() wire.Capability { return wire.CapServices }

// actionTimeout bounds one start, stop or restart.
const actionTimeout = 90 * time.Second

// ServePeer lists (GET) or acts (POST).
func (h *Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	m := h.Manager
	if m == nil {
		m = NewManager("")
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == wire.PeerPathServices:
		list, err := m.List(r.Context())
		if err != nil {
			h.fail(w, err, "the services could not be listed")
			return
		}
		out := wire.ServiceList{Services: list}
		if len(list) > wire.MaxServices {
			out.Services, out.Truncated = list[:wire.MaxServices], true
		}
		writeJSON(w, out)
	case r.Method == http.MethodPost && r.URL.Path == wire.PeerPathServiceDo:
		var a wire.ServiceAction
		if err := gate.DecodeRequest(w, r, &a); err != nil {
			gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
			return
		}
		if err := a.Check(); err != nil {
			gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), actionTimeout)
		defer cancel()
		if _, err := m.Get(ctx, a.Name); err != nil {
			h.fail(w, err, "the service could not be read")
			return
		}
		if err := h.record(c, a, "ok", ""); err != nil {
			h.logger().Error("audit record failed", "err", err)
			gate.WriteError(w, http.StatusServiceUnavailable, wire.CodeInternal, "the agent cannot write its audit trail")
			return
		}
		job, err := m.Do(ctx, a.Name, a.Action)
		if err != nil {
			if rerr := h.record(c, a, "failed", err.Error()); rerr != nil {
				h.logger().Error("audit record failed", "err", rerr)
			}
			h.fail(w, err, "the service could not be "+past(a.Action))
			return
		}
		h.logger().Info("service action", "service", a.Name, "action", a.Action, "technician", c.Technician)
		s, err := m.Get(ctx, a.Name)
		if err != nil {
			h.fail(w, err, "the service was "+past(a.Action)+" but could not be read after")
			return
		}
		writeJSON(w, wire.ServiceResult{Service: s, Job: job})
	default:
		gate.WriteError(w, http.StatusNotFound, wire.CodeNotFound, "no such route")
	}
}

func past(action string) string {
	switch action {
	case wire.ServiceStart:
		return "started"
	case wire.ServiceStop:
		return "stopped"
	}
	return "restarted"
}

func (h *Handler) fail(w http.ResponseWriter, err error, msg string) {
	switch {
	case errors.Is(err, ErrNotFound):
		gate.WriteError(w, http.StatusNotFound, wire.CodeNotFound, "no such service")
	case errors.Is(err, errors.ErrUnsupported):
		gate.WriteError(w, http.StatusNotImplemented, wire.CodeBadRequest, "services are not supported on this system")
	case errors.Is(err, ErrFailed):
		gate.WriteError(w, http.StatusConflict, wire.CodeConflict, msg+": "+err.Error())
	default:
		h.logger().Error(msg, "err", err)
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, msg)
	}
}

func (h *Handler) record(c gate.Caller, a wire.ServiceAction, outcome, reason string) error {
	if h.Audit == nil {
		return errors.New("services: no audit trail")
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	return h.Audit.Record(wire.AuditEvent{Time: now, Actor: c.Technician, Action: "services." + a.Action, Target: h.Device,
		Outcome: outcome, Reason: reason, Fields: map[string]string{"service": a.Name, "node_key": c.Node.NodeKey, "grant": c.Grant.ID}})
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

// errorf wraps err with the operation.
func errorf(op string, err error) error { return fmt.Errorf("services.%s: %w", op, err) }
