// Package power is the agent capability that reboots a machine, boots it
// into Safe Mode and back (U2).
//
// # Overview
//
// What each wire.PowerAction does on each operating system is decided by
// [PlanFor], a pure function: it returns a [Plan] of [Step]s (commands and
// registry changes) and how they revert, for any GOOS, so the Windows
// decisions are tested on Linux. A [Runner] carries the steps out; the real
// one is per OS (power_windows.go, power_linux.go; elsewhere every step is
// errors.ErrUnsupported).
//
// # Consent
//
// The handler asks package consent for exactly the power capability before
// any step runs (L5): on an attended machine the user allows or denies the
// restart, and their End during the pause before the reboot cancels it and
// reverts the boot flags. The machine's consent rules decide whether power
// needs asking (unattended machines: not unless the rules say so).
//
// # Safe Mode (Windows)
//
// Safe Mode is a BCD flag (bcdedit /set {current} safeboot …) that holds
// for every boot until deleted. The agent clears it after one boot: when it
// starts in Safe Mode ([OnStart]) it deletes the flag, so the boot after
// that is normal, unless the technician asked to keep Safe Mode; then a
// keep marker in the state directory says so until the "normal" action.
// For the agent to run in Safe Mode at all, its service is registered
// under SafeBoot\Minimal and SafeBoot\Network at install time
// ([SafeBootRegistration]).
//
// # Linux
//
// Reboot and emergency reboot use systemctl. Safe Mode does not exist, and
// a one-time rescue boot is refused (see [ErrRescue]).
package power

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/peerdesk/peerdesk/wire"
)

// Errors of power plans, checked with errors.Is.
var (
	// ErrNotConfirmed refuses an emergency reboot the technician did not
	// confirm.
	ErrNotConfirmed = errors.New("power: an emergency reboot loses unsaved work on the machine; it needs confirm")
	// ErrInvalid means a request that no plan can satisfy as asked.
	ErrInvalid = errors.New("power: invalid request")
	// ErrRescue explains why Linux has no rescue action. It wraps
	// errors.ErrUnsupported.
	ErrRescue = fmt.Errorf("power: a one-time rescue boot is not offered on Linux: "+
		"systemd can only add systemd.unit=rescue.target to the kernel command line through the boot loader's own menu entries, "+
		"which differ from machine to machine (the Boot Loader Interface picks an entry, it does not edit one), "+
		"and in rescue.target there is no network and no agent, so no technician could reach the machine or bring it back: %w",
		errors.ErrUnsupported)
)

// Registry key paths used on Windows (under HKEY_LOCAL_MACHINE).
const (
	safeBootKey    = `HKLM\SYSTEM\CurrentControlSet\Control\SafeBoot`
	SafeBootOption = safeBootKey + `\Option` // exists, with OptionValue, only while Windows runs in Safe Mode
)

// KeepMarker is the file in the agent's state directory that keeps Safe
// Mode across boots.
const KeepMarker = "power-keep-safe-mode"

// RegChange is one registry change (Windows). Values are strings (REG_SZ).
type RegChange struct {
	Key   string // full path, e.g. HKLM\SYSTEM\CurrentControlSet\Control\SafeBoot\Network\peerdesk-agent
	Name  string // value name; "" is the key's default value
	Value string // the value to set
	// Delete removes the value Name, or the whole key (which must have no
	// subkeys) when Name is "".
	Delete bool
}

func (c RegChange) String() string {
	name := c.Name
	if name == "" {
		name = "(default)"
	}
	switch {
	case c.Delete && c.Name == "":
		return "registry: delete key " + c.Key
	case c.Delete:
		return "registry: delete " + c.Key + ` \ ` + name
	}
	return fmt.Sprintf("registry: set %s \\ %s = %q", c.Key, name, c.Value)
}

// Step is one thing to do: a command or a registry change.
type Step struct {
	Argv []string   // a command, when Reg is nil
	Reg  *RegChange // a registry change
	// Optional steps may fail without stopping the plan (bcdedit refuses
	// to delete a value that is not set).
	Optional bool
}

func (s Step) String() string {
	if s.Reg != nil {
		return s.Reg.String()
	}
	return strings.Join(s.Argv, " ")
}

// Plan is what an action does, in order.
type Plan struct {
	Action wire.PowerAction
	// Steps prepare the reboot (boot flags). They run before the answer
	// goes out, so their failure reaches the technician.
	Steps []Step
	// Reboot is the reboot itself, taken after the answer went out.
	Reboot Step
	// Revert undoes Steps: what runs if a later step fails, and what the
	// agent runs when it starts in Safe Mode without a keep marker.
	Revert []Step
	// Keep is true for a Safe Mode plan the technician wants kept across
	// boots; Clear says the keep marker must go.
	Keep, Clear bool
}

// Result is the plan as the technician and the audit log see it.
func (p Plan) Result() wire.PowerResult {
	var r wire.PowerResult
	for _, s := range p.Steps {
		r.Steps = append(r.Steps, s.String())
	}
	r.Steps = append(r.Steps, p.Reboot.String())
	return r
}

func cmd(argv ...string) Step         { return Step{Argv: argv} }
func optionalCmd(argv ...string) Step { return Step{Argv: argv, Optional: true} }

// Windows boot configuration steps.
var (
	bcdSafeboot  = func(mode string) Step { return cmd("bcdedit", "/set", "{current}", "safeboot", mode) }
	bcdAltShell  = cmd("bcdedit", "/set", "{current}", "safebootalternateshell", "yes")
	bcdClearSafe = []Step{
		optionalCmd("bcdedit", "/deletevalue", "{current}", "safeboot"),
		optionalCmd("bcdedit", "/deletevalue", "{current}", "safebootalternateshell"),
	}
)

// PlanFor decides what req does on goos (a GOOS value). It refuses
// undefined actions and unconfirmed emergency reboots, and wraps
// errors.ErrUnsupported for actions goos does not have.
func PlanFor(goos string, req wire.PowerRequest) (Plan, error) {
	if !req.Action.Valid() {
		return Plan{}, fmt.Errorf("%w: unknown action %q", ErrInvalid, req.Action)
	}
	if req.Action == wire.PowerRebootEmergency && !req.Confirm {
		return Plan{}, ErrNotConfirmed
	}
	safe := req.Action == wire.PowerSafeMinimal || req.Action == wire.PowerSafeNetwork || req.Action == wire.PowerSafeCommand
	if req.KeepSafeMode && !safe {
		return Plan{}, fmt.Errorf("%w: keep_safe_mode applies to Safe Mode actions only", ErrInvalid)
	}
	var p Plan
	var err error
	switch goos {
	case "windows":
		p, err = windowsPlan(req)
	case "linux":
		p, err = linuxPlan(req)
	default:
		err = fmt.Errorf("power: %s on %s: %w", req.Action, goos, errors.ErrUnsupported)
	}
	if err != nil {
		return Plan{}, err
	}
	p.Action = req.Action
	p.Keep = safe && req.KeepSafeMode
	p.Clear = (safe && !req.KeepSafeMode) || req.Action == wire.PowerNormal
	return p, nil
}

func windowsPlan(req wire.PowerRequest) (Plan, error) {
	reboot := cmd("shutdown", "/r", "/t", "0")
	switch req.Action {
	case wire.PowerReboot:
		return Plan{Reboot: reboot}, nil
	case wire.PowerRebootEmergency:
		return Plan{Reboot: cmd("shutdown", "/r", "/f", "/t", "0")}, nil
	case wire.PowerSafeMinimal:
		// The alternate shell may be left from an earlier safe-command.
		return Plan{Steps: []Step{bcdSafeboot("minimal"), bcdClearSafe[1]}, Reboot: reboot, Revert: bcdClearSafe}, nil
	case wire.PowerSafeNetwork:
		return Plan{Steps: []Step{bcdSafeboot("network"), bcdClearSafe[1]}, Reboot: reboot, Revert: bcdClearSafe}, nil
	case wire.PowerSafeCommand:
		return Plan{Steps: []Step{bcdSafeboot("minimal"), bcdAltShell}, Reboot: reboot, Revert: bcdClearSafe}, nil
	case wire.PowerNormal:
		return Plan{Steps: bcdClearSafe, Reboot: reboot}, nil
	case wire.PowerRescue:
		return Plan{}, fmt.Errorf("power: rescue is Linux's; on Windows use safe-minimal, safe-network or safe-command: %w", errors.ErrUnsupported)
	}
	return Plan{}, fmt.Errorf("%w: unknown action %q", ErrInvalid, req.Action)
}

func linuxPlan(req wire.PowerRequest) (Plan, error) {
	switch req.Action {
	case wire.PowerReboot:
		return Plan{Reboot: cmd("systemctl", "reboot")}, nil
	case wire.PowerRebootEmergency:
		return Plan{Reboot: cmd("systemctl", "reboot", "--force")}, nil
	case wire.PowerRescue:
		return Plan{}, ErrRescue
	case wire.PowerSafeMinimal, wire.PowerSafeNetwork, wire.PowerSafeCommand, wire.PowerNormal:
		return Plan{}, fmt.Errorf("power: %s: Safe Mode exists on Windows only (the agent sets no boot flag on Linux; use reboot): %w", req.Action, errors.ErrUnsupported)
	}
	return Plan{}, fmt.Errorf("%w: unknown action %q", ErrInvalid, req.Action)
}

// SafeBootRegistration returns the steps that let service start in Safe
// Mode (with and without networking) on goos, to run once the service is
// installed; none where there is no Safe Mode.
func SafeBootRegistration(goos, service string) []Step {
	if goos != "windows" {
		return nil
	}
	return []Step{
		{Reg: &RegChange{Key: safeBootKey + `\Minimal\` + service, Value: "Service"}},
		{Reg: &RegChange{Key: safeBootKey + `\Network\` + service, Value: "Service"}},
	}
}

// SafeBootUnregistration undoes SafeBootRegistration, before the service is
// removed.
func SafeBootUnregistration(goos, service string) []Step {
	var out []Step
	for _, s := range SafeBootRegistration(goos, service) {
		out = append(out, Step{Reg: &RegChange{Key: s.Reg.Key, Delete: true}, Optional: true})
	}
	return out
}

// StartPlan is what the agent does when it starts on goos: in Safe Mode
// without a keep marker it clears the Safe Mode flag, so the next boot is
// normal. It returns no steps otherwise.
func StartPlan(goos string, inSafeMode, keep bool) []Step {
	if goos != "windows" || !inSafeMode || keep {
		return nil
	}
	// In Safe Mode the flag must be there to delete, unless Safe Mode was
	// chosen at the boot menu; a failure is reported either way.
	return []Step{cmd("bcdedit", "/deletevalue", "{current}", "safeboot"), bcdClearSafe[1]}
}

func keepPath(stateDir string) string { return filepath.Join(stateDir, KeepMarker) }

// writeKeep writes or removes the keep marker as p says.
func writeKeep(stateDir string, p Plan, technician string) error {
	if !p.Keep && !p.Clear {
		return nil
	}
	if stateDir == "" {
		return errors.New("power: no state directory for the Safe Mode keep marker")
	}
	if p.Keep {
		return os.WriteFile(keepPath(stateDir), []byte("kept in Safe Mode by "+technician+"\n"), 0o600)
	}
	if err := os.Remove(keepPath(stateDir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func keepExists(stateDir string) (bool, error) {
	if stateDir == "" {
		return false, nil
	}
	_, err := os.Stat(keepPath(stateDir))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, err
}
