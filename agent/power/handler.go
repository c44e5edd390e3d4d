package power

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Runner carries out steps on this machine.
type Runner interface {
	// Run runs a command and waits for it.
	Run(ctx context.Context, argv []string) error
	// Registry applies a registry change.
	Registry(ctx context.Context, c RegChange) error
	// RegistryValueExists reports whether the value name of key exists
	// (false, nil when the key does not exist).
	RegistryValueExists(key, name string) (bool, error)
}

// Config is what the handler and OnStart share. The zero value plans for
// this OS with the real runner and logs nothing.
type Config struct {
	GOOS     string // plans for this OS; runtime.GOOS if empty
	StateDir string // the agent's state directory, for the keep marker
	Runner   Runner // NewRunner() if nil
	Logger   *slog.Logger
}

func (c Config) goos() string {
	if c.GOOS == "" {
		return runtime.GOOS
	}
	return c.GOOS
}

func (c Config) runner() Runner {
	if c.Runner == nil {
		return NewRunner()
	}
	return c.Runner
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Execute runs steps in order with r. It stops at the first failing step
// that is not optional; failing optional steps are logged.
func Execute(ctx context.Context, r Runner, log *slog.Logger, steps []Step) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, s := range steps {
		var err error
		if s.Reg != nil {
			err = r.Registry(ctx, *s.Reg)
		} else {
			err = r.Run(ctx, s.Argv)
		}
		switch {
		case err == nil:
			log.Debug("power step done", "step", s.String())
		case s.Optional:
			log.Info("optional power step failed", "step", s.String(), "err", err)
		default:
			return fmt.Errorf("power: %s: %w", s, err)
		}
	}
	return nil
}

// OnStart runs when the agent starts: on Windows in Safe Mode it clears the
// Safe Mode flag so the next boot is normal, unless the technician kept
// Safe Mode (the keep marker in cfg.StateDir). Call it once from the
// agent's start, before serving peers; an error is worth logging, not
// worth stopping the agent for (it retries at the next start).
func OnStart(ctx context.Context, cfg Config) error {
	key, name, ok := safeModeProbe(cfg.goos())
	if !ok {
		return nil
	}
	r, log := cfg.runner(), cfg.logger()
	in, err := r.RegistryValueExists(key, name)
	if err != nil {
		return fmt.Errorf("power.OnStart: detecting Safe Mode: %w", err)
	}
	keep, err := keepExists(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("power.OnStart: %w", err)
	}
	if in && keep {
		log.Warn("running in Safe Mode, kept by the technician; the power action normal ends it")
	}
	steps := StartPlan(cfg.goos(), in, keep)
	if len(steps) == 0 {
		return nil
	}
	log.Info("running in Safe Mode: clearing the flag so the next boot is normal")
	if err := Execute(ctx, r, log, steps); err != nil {
		return fmt.Errorf("power.OnStart: %w", err)
	}
	return nil
}

// safeModeProbe names the registry value that exists only in Safe Mode.
func safeModeProbe(goos string) (key, name string, ok bool) {
	if goos != "windows" {
		return "", "", false
	}
	return SafeBootOption, "OptionValue", true
}

// DefaultDelay is the pause between the answer and the reboot.
const DefaultDelay = 2 * time.Second

// Consent asks the end user (package consent).
type Consent interface {
	Acquire(ctx context.Context, r consent.Request) (*consent.Lease, error)
}

// Handler serves wire.PeerPathPower.
type Handler struct {
	Config
	// Consent is asked before any step runs (L5): on an attended machine
	// the user allows or denies the restart, and their End before the
	// reboot cancels it. Nil asks nobody (consent with no rules).
	Consent Consent
	// Delay between the answer and the reboot; DefaultDelay if zero.
	Delay time.Duration
	// After is the clock; time.After if nil.
	After func(time.Duration) <-chan time.Time
}

// Capability is what a caller's grant must include.
func (*Handler) Capability() wire.Capability { return wire.CapPower }

// ServePeer prepares the boot flags, answers with the steps, then reboots.
func (h *Handler) ServePeer(w http.ResponseWriter, r *http.Request, c gate.Caller) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		gate.WriteError(w, http.StatusMethodNotAllowed, wire.CodeBadRequest, "use POST")
		return
	}
	req, err := decode(w, r)
	if err != nil {
		gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	log := h.logger().With("action", string(req.Action), "technician", c.Technician)
	plan, err := PlanFor(h.goos(), req)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		gate.WriteError(w, http.StatusNotImplemented, wire.CodeBadRequest, err.Error())
		return
	case err != nil:
		gate.WriteError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	lease, err := h.consent().Acquire(r.Context(), consent.Request{
		Technician: c.Technician, Capabilities: []wire.Capability{wire.CapPower},
		NodeKey: c.Node.NodeKey, Issued: time.Unix(c.Grant.IssuedAt, 0),
	})
	switch {
	case errors.Is(err, consent.ErrRevoked):
		log.Info("power action refused: the technician's access was revoked")
		gate.WriteError(w, http.StatusForbidden, wire.CodeForbidden, "the technician's access was revoked")
		return
	case errors.Is(err, consent.ErrDenied), errors.Is(err, consent.ErrNoAnswer):
		log.Info("power action refused by the user", "err", err)
		gate.WriteError(w, http.StatusForbidden, wire.CodeConsentDenied, "the user did not allow the restart")
		return
	case errors.Is(err, consent.ErrBusy):
		gate.WriteError(w, http.StatusConflict, wire.CodeConflict, "the user is already being asked about another request")
		return
	case err != nil:
		log.Error("consent failed", "err", err)
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the user could not be asked")
		return
	}
	defer lease.Release("")
	ctx := context.WithoutCancel(r.Context()) // a half-made boot change is worse than a late one
	run := h.runner()
	if err := errors.Join(Execute(ctx, run, log, plan.Steps), writeKeep(h.StateDir, plan, c.Technician)); err != nil {
		log.Error("power action failed", "err", err)
		if rerr := Execute(ctx, run, log, plan.Revert); rerr != nil {
			log.Error("power revert failed", "err", rerr)
		}
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "preparing the reboot failed: "+err.Error())
		return
	}
	res := plan.Result()
	log.Info("power action", "steps", res.Steps)
	body, err := json.Marshal(res)
	if err != nil {
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "encoding the answer failed")
		return
	}
	body = append(body, '\n')
	// A full length lets the client finish reading before the machine
	// goes down.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		log.Info("the technician left before the answer; rebooting anyway", "err", err)
	}
	if err := http.NewResponseController(w).Flush(); err != nil {
		log.Debug("flush", "err", err)
	}
	undo := func() {
		if rerr := errors.Join(Execute(ctx, run, log, plan.Revert), writeKeep(h.StateDir, Plan{Clear: plan.Keep}, "")); rerr != nil {
			log.Error("power revert failed", "err", rerr)
		}
	}
	select {
	case <-h.after(h.delay()):
	case <-lease.Done():
		// The user pressed End before the reboot, or the technician's
		// access was revoked: it does not happen, and no boot flag is
		// left behind for a later, unrelated one.
		log.Info("power action cancelled before the reboot", "reason", lease.Reason())
		undo()
		return
	}
	if err := Execute(ctx, run, log, []Step{plan.Reboot}); err != nil {
		// No reboot: leave no boot flag behind for a later, unrelated one.
		log.Error("reboot failed", "err", err)
		undo()
	}
}

func (h *Handler) consent() Consent {
	if h.Consent == nil {
		return consent.New(consent.Config{Logger: h.logger()})
	}
	return h.Consent
}

func (h *Handler) delay() time.Duration {
	if h.Delay == 0 {
		return DefaultDelay
	}
	return h.Delay
}

func (h *Handler) after(d time.Duration) <-chan time.Time {
	if h.After == nil {
		return time.After(d)
	}
	return h.After(d)
}

// decode reads exactly one PowerRequest with known fields and a defined
// action.
func decode(w http.ResponseWriter, r *http.Request) (wire.PowerRequest, error) {
	var req wire.PowerRequest
	if err := gate.DecodeRequest(w, r, &req); err != nil {
		return req, fmt.Errorf("reading the power request: %w", err)
	}
	if !req.Action.Valid() {
		return req, fmt.Errorf("unknown power action %q", req.Action)
	}
	return req, nil
}
